"""Typed configuration options: parsers, schemas, and validation with helpful errors.

A schema is a mapping of option names to :class:`Option`. Validating a section
coerces every value (strings from YAML, URLs and the environment included),
fills defaults, and raises :class:`ConfigError` naming the key, suggesting the
closest valid one and listing all valid ones. Values of secret options never
appear in any message or ``repr``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

Parser = Callable[[Any], Any]

_REQUIRED: Any = object()


@dataclass(frozen=True)
class Option:
    """One configuration key.

    Attributes:
        parse: Turns a raw value (often a string) into the typed value; raises
            ``ValueError``/``TypeError`` with a short reason ("expected a size").
        default: The value when the key is absent; :data:`REQUIRED` if it must be given.
        secret: Never shown in ``repr``, logs or errors.
        doc: One line for the configuration reference.
    """

    parse: Parser
    default: Any = None
    secret: bool = False
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


REQUIRED: Any = _REQUIRED


# -- parsers --------------------------------------------------------------------------------

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("expected true or false")


def as_str(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError("expected a string")
    return str(value)


def as_int(minimum: int | None = None) -> Parser:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise TypeError("expected an integer")
        if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
            value = int(value)
        if not isinstance(value, int):
            raise TypeError("expected an integer")
        if minimum is not None and value < minimum:
            raise ValueError(f"expected an integer of at least {minimum}")
        return value

    return parse


_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}


def as_size(value: Any) -> int:
    """A byte count: an int, or a string such as ``16MiB``, ``8MB``, ``512k``, ``1.5GiB``.

    ``KiB``/``MiB``/``GiB``/``TiB`` are powers of 1024, ``KB``/``MB``/... of 1000.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError("expected a non-negative size")
        return value
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError("expected a size such as 8MiB, 16MB or a number of bytes")
    number, unit = float(match.group(1)), (match.group(2) or "").lower()
    binary = "i" in unit
    factor = 1024 ** ("kmgt".index(unit[0]) + 1) if binary else _UNITS[unit.rstrip("b")]
    return int(number * factor)


_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", re.IGNORECASE)
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "": 1}


def as_duration(value: Any) -> float:
    """Seconds: a number, or a string such as ``500ms``, ``30s``, ``5m``, ``1h``, ``7d``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError("expected a duration such as 30, 30s, 5m or 1h")
        seconds = float(match.group(1)) * _SECONDS[(match.group(2) or "").lower()]
    if seconds < 0:
        raise ValueError("expected a non-negative duration")
    return seconds


def positive(parse: Parser) -> Parser:
    def checked(value: Any) -> Any:
        parsed = parse(value)
        if parsed <= 0:
            raise ValueError("expected a positive value")
        return parsed

    return checked


def one_of(*choices: str) -> Parser:
    def parse(value: Any) -> str:
        text = as_str(value).strip().lower()
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return text

    return parse


def bool_or_path(value: Any) -> bool | str:
    """``true``/``false``, or a path (a CA bundle for TLS verification)."""
    try:
        return as_bool(value)
    except ValueError:
        return as_str(value)


def optional(parse: Parser) -> Parser:
    """Also accept ``None`` / an empty string as "not set"."""

    def checked(value: Any) -> Any:
        if value is None or value == "":
            return None
        return parse(value)

    return checked


# -- schemas --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """A validated configuration section; ``repr`` hides secret values."""

    name: str
    values: Mapping[str, Any]
    secrets: frozenset[str] = field(default_factory=frozenset)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def __repr__(self) -> str:
        shown = {
            k: ("***" if k in self.secrets and v is not None else v) for k, v in self.values.items()
        }
        return f"Section({self.name!r}, {shown!r})"


def validate(name: str, raw: Any, schema: Mapping[str, Option]) -> Section:
    """Check ``raw`` against ``schema``; return typed values with defaults filled in."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"'{name}' must be a mapping of options, not {type(raw).__name__}; "
            f"valid keys: {', '.join(sorted(schema))}"
        )
    unknown = [key for key in raw if key not in schema]
    if unknown:
        raise unknown_key_error(name, str(unknown[0]), schema)
    values = {}
    for key, option in schema.items():
        path = f"{name}.{key}" if name else key
        if key in raw and raw[key] is not None:
            values[key] = parse_value(path, raw[key], option)
        elif option.required:
            raise ConfigError(f"'{path}' is required: {option.doc or key}")
        else:
            values[key] = option.default
    secrets = frozenset(key for key, option in schema.items() if option.secret)
    return Section(name, values, secrets)


def parse_value(path: str, value: Any, option: Option) -> Any:
    try:
        return option.parse(value)
    except (TypeError, ValueError) as exc:
        shown = "" if option.secret else f", got {_show(value)}"
        raise ConfigError(f"'{path}': {exc}{shown}") from None


def unknown_key_error(section: str, key: str, valid: Mapping[str, Any]) -> ConfigError:
    parts = [f"unknown key '{key}' " + (f"in '{section}'" if section else "at the top level")]
    close = difflib.get_close_matches(key, list(valid), n=1)
    if close:
        parts.append(f"did you mean '{close[0]}'?")
    parts.append(f"valid keys: {', '.join(sorted(valid))}")
    return ConfigError("; ".join(parts))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
