"""The backend registry: names (which are also URL schemes) → :class:`BackendSpec`.

Built-in backends are registered here; third-party backends arrive through the
``objstore.backends`` entry-point group and are loaded on first use, one at a
time, so a broken plugin only affects configurations that name it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from importlib import metadata
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, unquote

from . import _defaults, _signed_urls
from ._options import Option, Section
from .errors import ConfigError

if TYPE_CHECKING:
    from .backend import Backend

ENTRY_POINT_GROUP = "objstore.backends"


@dataclass(frozen=True)
class Shared:
    """The validated settings every backend shares (top-level config keys)."""

    max_attempts: int = _defaults.MAX_ATTEMPTS
    connect_timeout: float = _defaults.CONNECT_TIMEOUT
    read_timeout: float = _defaults.READ_TIMEOUT
    breaker: bool | None = None
    fail_max: int = _defaults.FAIL_MAX
    reset_timeout: float = _defaults.RESET_TIMEOUT
    prefix: str = ""
    read_only: bool = False
    max_workers: int = _defaults.MAX_WORKERS


@dataclass(frozen=True)
class BackendSpec:
    """How to configure and build one kind of backend.

    Attributes:
        name: The ``backend:`` value and URL scheme.
        options: The schema of the backend's own config section.
        factory: Builds the backend from the validated section and the shared
            settings (retries, timeouts).
        url_option: The option that receives a URL's location (``netloc + path``),
            as ``root`` does for ``file:///srv/data``; ``None`` if URLs carry none.
        parse_url: A custom URL reader returning the section's raw values, for
            schemes whose location has structure (``s3://bucket/prefix``).
        doc: One line for listings and error messages.
        network: The backend talks to a service over the network, so the circuit
            breaker is on by default (SPEC §7).
        native_presign: The backend's ``presign`` makes URLs of its own (S3). Every
            other backend gets objstore's signed URLs (SPEC §8): the registry adds
            their keys (``base_url``, ``signing_key``, ``max_upload_size``,
            ``cors_origins``) to its section.
    """

    name: str
    options: Mapping[str, Option]
    factory: Callable[[Section, Shared], Backend]
    url_option: str | None = None
    parse_url: Callable[[SplitResult], dict[str, Any]] | None = None
    doc: str = ""
    network: bool = False
    native_presign: bool = False
    origin: str = field(default="objstore", compare=False)

    def section_from_url(self, url: SplitResult) -> dict[str, Any]:
        if self.parse_url is not None:
            return self.parse_url(url)
        location = unquote(url.netloc + url.path)
        if not location:
            return {}
        if self.url_option is None:
            raise ConfigError(f"a {self.name}:// URL takes no location, only ?key=value options")
        return {self.url_option: location}


class _Registry:
    def __init__(self) -> None:
        self._specs: dict[str, BackendSpec] = {}
        self._plugins: set[str] = set()  # names whose spec came from an entry point
        self._lock = threading.Lock()

    def register(self, spec: BackendSpec) -> BackendSpec:
        """Register ``spec`` (with the signed-URL keys added); return what was registered."""
        spec = _with_signed_url_options(spec)
        with self._lock:
            if spec.name in self._specs:
                other = self._specs[spec.name].origin
                raise ConfigError(
                    f"a backend named {spec.name!r} is already registered (by {other}); "
                    "backend names must be unique"
                )
            self._specs[spec.name] = spec
        return spec

    def get(self, name: str) -> BackendSpec:
        spec = self._specs.get(name)
        if spec is None:
            return self._load_entry_point(name)
        if name not in self._plugins and any(ep.name == name for ep in _entry_points()):
            plugin = next(_dist_name(ep) for ep in _entry_points() if ep.name == name)
            raise ConfigError(
                f"backend {name!r} is registered twice: by {spec.origin} and by {plugin}'s "
                f"{ENTRY_POINT_GROUP!r} entry point"
            )
        return spec

    def names(self) -> list[str]:
        return sorted(set(self._specs) | {ep.name for ep in _entry_points()})

    def _load_entry_point(self, name: str) -> BackendSpec:
        found = [ep for ep in _entry_points() if ep.name == name]
        if not found:
            raise ConfigError(
                f"unknown backend {name!r}; available: {', '.join(self.names())} "
                f"(third-party backends register under the {ENTRY_POINT_GROUP!r} entry points)"
            )
        if len(found) > 1:
            sources = ", ".join(sorted(_dist_name(ep) for ep in found))
            raise ConfigError(f"backend {name!r} is registered twice, by {sources}")
        entry = found[0]
        try:
            spec = entry.load()
        except Exception as exc:
            raise ConfigError(f"cannot load backend {name!r} from {entry.value}: {exc}") from exc
        if not isinstance(spec, BackendSpec) or spec.name != name:
            raise ConfigError(
                f"entry point {name!r} ({entry.value}) must be a BackendSpec named {name!r}"
            )
        registered = self.register(replace(spec, origin=_dist_name(entry)))
        self._plugins.add(name)
        return registered


def _with_signed_url_options(spec: BackendSpec) -> BackendSpec:
    """``spec`` with the signed-URL keys in its section, unless it presigns natively."""
    if spec.native_presign:
        return spec
    taken = sorted(set(spec.options) & set(_signed_urls.OPTIONS))
    if taken:
        raise ConfigError(
            f"backend {spec.name!r} declares {', '.join(taken)}, which objstore adds to every "
            "backend for its signed URLs; rename them, or set native_presign=True if the "
            "backend presigns by itself"
        )
    return replace(spec, options={**spec.options, **_signed_urls.OPTIONS})


@functools.cache
def _entry_points() -> tuple[metadata.EntryPoint, ...]:
    # Scanning installed distributions is slow; installing one while running is rare.
    return tuple(metadata.entry_points(group=ENTRY_POINT_GROUP))


def _dist_name(entry: metadata.EntryPoint) -> str:
    dist = entry.dist
    return dist.name if dist is not None else entry.value


REGISTRY = _Registry()


def register_backend(spec: BackendSpec) -> None:
    """Register a backend programmatically; registering a name twice is a ``ConfigError``."""
    REGISTRY.register(spec)
