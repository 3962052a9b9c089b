"""What a third-party backend needs to register itself, besides the contract.

The contract (``Backend``, ``WriteMode``, ``Payload``, ...) is in
:mod:`objstore.backend`; this module has the registration side: a
:class:`BackendSpec` naming the backend, the schema of its configuration
section (:class:`Option` and the value parsers), the shared settings every
backend receives (:class:`Shared`), and two listing helpers. Publish the spec
under the ``objstore.backends`` entry-point group, or call
:func:`register_backend`. docs/backends.md walks through a whole plugin.
"""

from __future__ import annotations

from ._listing import collapse, prefix_end
from ._options import (
    REQUIRED,
    Option,
    Section,
    as_bool,
    as_duration,
    as_int,
    as_size,
    as_str,
    bool_or_path,
    one_of,
    optional,
)
from ._registry import ENTRY_POINT_GROUP, BackendSpec, Shared, register_backend

__all__ = [
    "BackendSpec",
    "ENTRY_POINT_GROUP",
    "Option",
    "REQUIRED",
    "Section",
    "Shared",
    "as_bool",
    "as_duration",
    "as_int",
    "as_size",
    "as_str",
    "bool_or_path",
    "collapse",
    "one_of",
    "optional",
    "prefix_end",
    "register_backend",
]
