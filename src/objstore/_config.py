"""From a URL, a mapping, a YAML/JSON file or the environment to a ``Store``.

Every source becomes the same raw mapping (SPEC §7), which is interpolated
(``${NAME}``, ``${NAME:-default}``, ``$$``), validated against the shared schema
and the chosen backend's schema, and built into a backend wrapped in the
configured layers (circuit breaker, read-only).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import (
    _builtin,  # noqa: F401 - registers the built-in backends
    _defaults,
)
from ._async_store import AsyncStore
from ._options import (
    Option,
    Section,
    as_bool,
    as_duration,
    as_int,
    as_str,
    optional,
    positive,
    unknown_key_error,
    validate,
)
from ._registry import REGISTRY, BackendSpec, Shared
from ._store import Store
from .backend import Backend
from .errors import ConfigError

EMBEDDED_DEFAULT: Mapping[str, Any] = {"backend": "file", "file": {"root": "./objstore-data"}}

SHARED_SECTIONS: Mapping[str, Mapping[str, Option]] = {
    "retries": {
        "max_attempts": Option(
            as_int(1), _defaults.MAX_ATTEMPTS, doc="attempts per request, the first included"
        ),
    },
    "timeouts": {
        "connect": Option(
            positive(as_duration),
            _defaults.CONNECT_TIMEOUT,
            doc="seconds to establish a connection",
        ),
        "read": Option(
            positive(as_duration), _defaults.READ_TIMEOUT, doc="seconds to wait for data"
        ),
    },
    "circuit_breaker": {
        "enabled": Option(
            optional(as_bool),
            None,
            doc="fail fast while the backend is down; default: on for network backends (s3), "
            "off for file and memory",
        ),
        "fail_max": Option(
            as_int(1), _defaults.FAIL_MAX, doc="consecutive transient failures that open it"
        ),
        "reset_timeout": Option(
            as_duration, _defaults.RESET_TIMEOUT, doc="seconds before a trial call"
        ),
    },
}
SHARED_SCALARS: Mapping[str, Option] = {
    "prefix": Option(as_str, "", doc="every key lives under this namespace (any backend)"),
    "read_only": Option(as_bool, False, doc="refuse every write"),
    "max_workers": Option(as_int(1), _defaults.MAX_WORKERS, doc="AsyncStore's worker pool size"),
}


@dataclass(frozen=True)
class Config:
    """A complete, validated configuration; ``repr`` hides secrets."""

    backend: str
    section: Section
    shared: Shared


# -- entry points ---------------------------------------------------------------------------


def sync_store(config: Config) -> Store:
    return Store(build(config))


def async_store(config: Config) -> AsyncStore:
    return AsyncStore(build(config), max_workers=config.shared.max_workers)


def load(target: str | Mapping[str, Any]) -> Config:
    """``objstore.open``'s argument: a URL or a config mapping."""
    if isinstance(target, str):
        return resolve(parse_url(target))
    if isinstance(target, Mapping):
        return resolve(target)
    raise ConfigError(f"expected a URL or a mapping, not {type(target).__name__}")


# -- sources --------------------------------------------------------------------------------


def parse_url(url: str) -> dict[str, Any]:
    """``scheme://location?key=value`` → a raw config mapping for that backend."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not scheme or "://" not in url:
        raise ConfigError(
            f"{shown_url(url)!r} is not a store URL (expected scheme://..., e.g. file:///data)"
        )
    spec = REGISTRY.get(scheme)
    section = spec.section_from_url(parts)
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in section:
            raise ConfigError(f"{shown_url(url)!r} gives {key!r} twice")
        section[key] = value
    return {"backend": scheme, scheme: section}


def shown_url(url: str) -> str:
    """``url`` as a message may show it: no user info, and query values replaced by
    ``...`` (any of them may be a secret)."""
    head, _, query = url.partition("?")
    head = re.sub(r"^([^/?#]*:/*)[^/?#]*@", r"\1", head)
    names = [key for key, _ in parse_qsl(query.partition("#")[0], keep_blank_values=True)]
    return head + ("?" + "&".join(f"{name}=..." for name in names) if names else "")


def load_config(
    source: str | os.PathLike[str] | Mapping[str, Any], section: str | None = None
) -> Config:
    """``objstore.from_config``'s arguments: a YAML/JSON file path or a mapping, and the
    dotted path of the mapping inside it that holds the store's configuration."""
    raw = source if isinstance(source, Mapping) else read_file(source)
    return resolve(raw if section is None else _section(raw, section))


def _section(raw: Mapping[str, Any], section: str) -> Mapping[str, Any]:
    """The mapping at the dotted path ``section`` (``"app.storage"``) of ``raw``."""
    if not isinstance(section, str) or not section or "" in section.split("."):
        raise ConfigError(f"section must be a dotted name such as 'storage', not {section!r}")
    node: Any = raw
    walked: list[str] = []
    for name in section.split("."):
        walked.append(name)
        if not isinstance(node, Mapping) or name not in node:
            where = ".".join(walked[:-1]) or "the top level"
            keys = ", ".join(sorted(map(str, node))) if isinstance(node, Mapping) else "none"
            raise ConfigError(f"no section {'.'.join(walked)!r} at {where} (keys there: {keys})")
        node = node[name]
    if not isinstance(node, Mapping):
        raise ConfigError(f"section {section!r} must be a mapping, not {type(node).__name__}")
    return node


def load_env(prefix: str = "OBJSTORE_", environ: Mapping[str, str] | None = None) -> Config:
    """``objstore.from_env``: ``<prefix>CONFIG``, ``<prefix>URL``, then key overrides."""
    return resolve(env_config(prefix, environ))


def read_file(path: str | os.PathLike[str]) -> Mapping[str, Any]:
    """Read a YAML (``.yaml``/``.yml``, needs PyYAML) or JSON configuration file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {str(file)!r}: {exc.strerror}") from exc
    if file.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{str(file)!r} is not valid JSON: {exc}") from None
    else:
        data = _yaml(text, file)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{str(file)!r} must hold a mapping at the top level")
    return data


def _yaml(text: str, file: Path) -> Any:
    try:
        import yaml
    except ImportError:
        raise ConfigError(
            f"reading {str(file)!r} needs PyYAML: install objstore[yaml] (or use a .json file)"
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
    # Never quote the offending line, nor chain the parser's error that does: it may
    # hold a secret. Say where it is.
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    raise ConfigError(f"{str(file)!r} is not valid YAML{where}")


def env_config(prefix: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Assemble the raw config from the environment (precedence: docs/configuration.md)."""
    env = os.environ if environ is None else environ
    base: dict[str, Any] = {}
    if env.get(prefix + "CONFIG"):
        base = _merge(base, read_file(env[prefix + "CONFIG"]))
    if env.get(prefix + "URL"):
        base = _merge(base, parse_url(env[prefix + "URL"]))
    if not base:
        base = _merge({}, EMBEDDED_DEFAULT)
    overrides: dict[str, Any] = {}
    for name in sorted(env):
        if name.startswith(prefix) and name not in (prefix + "CONFIG", prefix + "URL"):
            _override(overrides, name, name[len(prefix) :].lower(), env[name])
    return _merge(base, overrides)


def _override(overrides: dict[str, Any], var: str, rest: str, value: str) -> None:
    if rest == "backend" or rest in SHARED_SCALARS:
        overrides[rest] = value
        return
    sections = sorted([*SHARED_SECTIONS, *REGISTRY.names()], key=len, reverse=True)
    section = next((s for s in sections if rest.startswith(s + "_")), None)
    if section is None:
        return  # not ours to interpret: probably a variable for ${...} interpolation
    key = rest[len(section) + 1 :]
    schema = _schema(section)
    if key not in schema:
        raise ConfigError(f"environment variable {var}: {unknown_key_error(section, key, schema)}")
    overrides.setdefault(section, {})[key] = value


def _merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# -- interpolation --------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\})")


def interpolate(value: Any, environ: Mapping[str, str] | None = None) -> Any:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in every string; ``$$`` is a ``$``."""
    env = os.environ if environ is None else environ
    if isinstance(value, str):
        return _VARIABLE.sub(lambda match: _substitute(match, env), value)
    if isinstance(value, Mapping):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [interpolate(item, env) for item in value]
    return value


def _substitute(match: re.Match[str], env: Mapping[str, str]) -> str:
    if match.group(1):
        return "$"
    name, default = match.group(2), match.group(3)
    if name in env:
        return env[name]
    if default is not None:
        return default
    raise ConfigError(
        f"environment variable {name} is not set (the configuration refers to ${{{name}}}); "
        f"set it, or give a default with ${{{name}:-value}}"
    )


# -- validation and assembly ----------------------------------------------------------------


def resolve(raw: Mapping[str, Any]) -> Config:
    """Interpolate and validate a raw config mapping.

    Only what is used is interpolated and validated: the top-level keys, the
    shared sections and the chosen backend's section. Other backends' sections
    may be present (one file for several environments), ``${VAR}``s unset.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"expected a configuration mapping, not {type(raw).__name__}")
    backends = REGISTRY.names()
    valid = {"backend", *SHARED_SECTIONS, *SHARED_SCALARS, *backends}
    for key in raw:
        if key not in valid:
            raise unknown_key_error("", str(key), dict.fromkeys(valid))
    name = interpolate(raw.get("backend"))
    if not isinstance(name, str) or not name:
        raise ConfigError(f"the configuration needs 'backend' (one of: {', '.join(backends)})")
    used = {key: interpolate(value) for key, value in raw.items() if key not in backends}
    spec = REGISTRY.get(name)
    return Config(name, validate(name, interpolate(raw.get(name)), spec.options), _shared(used))


def _schema(section: str) -> Mapping[str, Option]:
    if section in SHARED_SECTIONS:
        return SHARED_SECTIONS[section]
    spec: BackendSpec = REGISTRY.get(section)
    return spec.options


def _shared(raw: Mapping[str, Any]) -> Shared:
    retries = validate("retries", raw.get("retries"), SHARED_SECTIONS["retries"])
    timeouts = validate("timeouts", raw.get("timeouts"), SHARED_SECTIONS["timeouts"])
    breaker = validate(
        "circuit_breaker", raw.get("circuit_breaker"), SHARED_SECTIONS["circuit_breaker"]
    )
    scalars = validate("", {k: raw[k] for k in SHARED_SCALARS if k in raw}, SHARED_SCALARS)
    return Shared(
        max_attempts=retries["max_attempts"],
        connect_timeout=timeouts["connect"],
        read_timeout=timeouts["read"],
        breaker=breaker["enabled"],
        fail_max=breaker["fail_max"],
        reset_timeout=breaker["reset_timeout"],
        prefix=scalars["prefix"],
        read_only=scalars["read_only"],
        max_workers=scalars["max_workers"],
    )


def build(config: Config) -> Backend:
    """Build the backend and wrap it in the configured layers.

    Signed URLs sit above the prefix (URLs name the keys the user sees) and the
    breaker (signing does no I/O), below read-only (which refuses ``PUT`` URLs).
    """
    from .layers import CircuitBreakerLayer, PrefixLayer, ReadOnlyLayer, SignedUrlLayer

    spec = REGISTRY.get(config.backend)
    section = config.section
    backend = spec.factory(section, config.shared)
    shared = config.shared
    if shared.prefix:
        backend = PrefixLayer(backend, shared.prefix)
    if spec.network if shared.breaker is None else shared.breaker:
        backend = CircuitBreakerLayer(
            backend, fail_max=shared.fail_max, reset_timeout=shared.reset_timeout
        )
    if not spec.native_presign and (section["base_url"] or section["signing_key"]):
        backend = SignedUrlLayer.from_section(backend, section)
    if shared.read_only:
        backend = ReadOnlyLayer(backend)
    return backend
