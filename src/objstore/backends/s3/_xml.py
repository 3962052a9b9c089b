"""The XML of S3's request and answer bodies, read and written with the standard library.

S3 qualifies its elements with a namespace that some compatible services
leave out; everything here compares local names only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from xml.etree import ElementTree
from xml.sax.saxutils import escape


class NotXmlError(ValueError):
    """A body that should be S3 XML is not (an endpoint that does not speak S3)."""


def parse(body: bytes) -> ElementTree.Element:
    """The root element of ``body``.

    Raises:
        NotXmlError: ``body`` is not well-formed XML.
    """
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise NotXmlError(f"not XML ({exc})") from None


def local(tag: str) -> str:
    return tag.rpartition("}")[2]


def children(element: ElementTree.Element, name: str) -> Iterator[ElementTree.Element]:
    for child in element:
        if local(child.tag) == name:
            yield child


def text(element: ElementTree.Element, name: str, default: str = "") -> str:
    for child in children(element, name):
        return child.text or ""
    return default


def fields(element: ElementTree.Element) -> dict[str, str]:
    """The text of each child of ``element``, by local name (one pass over the children)."""
    return {local(child.tag): child.text or "" for child in element}


def error_fields(body: bytes) -> tuple[str, str] | None:
    """``(code, message)`` of an S3 ``<Error>`` body, else ``None``."""
    try:
        root = parse(body)
    except NotXmlError:
        return None
    if local(root.tag) != "Error":
        return None
    return text(root, "Code"), text(root, "Message")


def delete_request(keys: Sequence[str]) -> bytes:
    objects = "".join(f"<Object><Key>{escape(key)}</Key></Object>" for key in keys)
    return f"<Delete><Quiet>true</Quiet>{objects}</Delete>".encode()


def complete_request(parts: Sequence[dict[str, str]]) -> bytes:
    """The CompleteMultipartUpload body; each part maps element names to values."""
    body = "".join(
        "<Part>" + "".join(f"<{n}>{escape(v)}</{n}>" for n, v in part.items()) + "</Part>"
        for part in parts
    )
    return f"<CompleteMultipartUpload>{body}</CompleteMultipartUpload>".encode()
