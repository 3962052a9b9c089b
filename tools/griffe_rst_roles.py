"""A griffe extension for the API reference: reStructuredText roles in docstrings as code.

objstore's docstrings are Google style, and some name other objects the Sphinx way
(``:class:`~objstore.Store```). Markdown has no such roles, so the site would show
them literally; this turns each into a code span (``Store``, the ``~`` form keeping
the last component, as Sphinx does). mkdocs.yml loads it for mkdocstrings.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|exc|mod|data|obj|const):`(~?)([^`]+)`")


def plain(docstring: str) -> str:
    """``:class:`~a.b.C``` → ```C```, ``:meth:`a.b``` → ```a.b```."""
    return ROLE.sub(lambda m: f"`{m[2].rsplit('.', 1)[-1] if m[1] else m[2]}`", docstring)


class RstRoles(Extension):
    """Rewrite the roles of every docstring griffe loads."""

    def on_instance(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain(obj.docstring.value)
