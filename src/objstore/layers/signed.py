"""``SignedUrlLayer``: objstore's own signed URLs for a backend that cannot presign.

``objstore.open`` and friends add it when the backend's section sets
``base_url`` or ``signing_key`` (SPEC §8); ``objstore.server`` finds it in the
store to check the URLs it serves. It sits above the prefix layer, so URLs name
the keys the store's user sees, and answers ``presign`` itself, so signing never
passes through the circuit breaker.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from .. import _defaults
from .._models import Capabilities
from .._options import Section
from .._signed_urls import SignedUrls, as_base_url, as_origins, as_signing_keys
from ..backend import Backend
from ._base import Layer


class SignedUrlLayer(Layer):
    """Answer ``presign`` with URLs signed for ``objstore.server``.

    Args:
        inner: The backend to wrap.
        base_url: Where the server runs (``http://localhost:8080/files``).
        signing_key: The HMAC key, or several: the first signs, all verify.
        max_upload_size: The largest body the server accepts for a signed ``PUT``.
        cors_origins: Web origins allowed to use the URLs from a browser (``*``: any).
        section: The configuration section named in messages.

    Raises:
        ValueError: an argument is malformed (a URL without scheme, a short key).
    """

    def __init__(
        self,
        inner: Backend,
        *,
        base_url: str | None,
        signing_key: str | Sequence[str] | None,
        max_upload_size: int = _defaults.MAX_UPLOAD_SIZE,
        cors_origins: Sequence[str] = (),
        section: str | None = None,
    ):
        super().__init__(inner)
        self.signed_urls = SignedUrls(
            section=section or inner.name,
            base_url=as_base_url(base_url) if base_url else None,
            signing_keys=as_signing_keys(_listed(signing_key)) if signing_key else (),
            max_upload_size=max_upload_size,
            cors_origins=as_origins(_listed(cors_origins)) if cors_origins else (),
        )

    @classmethod
    def from_section(cls, inner: Backend, section: Section) -> SignedUrlLayer:
        """Wrap ``inner`` with the signed-URL keys of its validated configuration section."""
        return cls(
            inner,
            base_url=section["base_url"],
            signing_key=section["signing_key"],
            max_upload_size=section["max_upload_size"],
            cors_origins=section["cors_origins"] or (),
            section=section.name,
        )

    def __repr__(self) -> str:
        return f"SignedUrlLayer({self.inner!r}, base_url={self.signed_urls.base_url!r})"

    @property
    def capabilities(self) -> Capabilities:
        complete = self.signed_urls.missing is None
        return dataclasses.replace(self.inner.capabilities, presign=complete)

    def presign(self, key: str, *, method: str, expires: int, content_type: str | None) -> str:
        return self.signed_urls.sign(key, method, expires, content_type)


def _listed(value: str | Sequence[str]) -> str | list[str]:
    return value if isinstance(value, str) else list(value)
