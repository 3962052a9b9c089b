"""Credentials and region for the native transport, read through botocore.

The section's keys, or botocore's default chain (environment, shared files and
profiles, SSO, web identity, container and instance metadata). botocore's
``RefreshableCredentials`` refresh themselves before they expire, so a
long-running process reads them again at every request (``current()``), which
costs a lock-free check of the expiry time until a refresh is due.
"""

from __future__ import annotations

import functools
from typing import Any

from ...errors import ConfigError
from ._presets import S3Options
from ._signing import Keys

DEFAULT_REGION = "us-east-1"


class NoCredentialsError(Exception):
    """No credentials anywhere in the chain (mapped to ``ConfigError``)."""


class Credentials:
    """Where a backend's keys come from, read at each request."""

    def __init__(self, options: S3Options):
        session = botocore_session(options)
        try:
            self._source: Any = session.get_credentials()
            region = options.region or session.get_config_variable("region")
        except Exception as exc:  # botocore's own errors: ProfileNotFound, a broken file...
            raise ConfigError(
                f"cannot read the S3 credentials: {type(exc).__name__}", backend="s3"
            ) from None
        self.region: str = region or DEFAULT_REGION
        self.ca_bundle: str | None = session.get_config_variable("ca_bundle")
        self._last: tuple[Any, Keys] | None = None

    def __repr__(self) -> str:
        return f"Credentials(region={self.region!r})"

    def current(self) -> Keys:
        """The keys to sign with now (refreshed first if they are about to expire).

        Raises:
            NoCredentialsError: the chain found none.
        """
        if self._source is None:
            raise NoCredentialsError("no credentials")
        frozen = self._source.get_frozen_credentials()
        last = self._last
        if last is not None and last[0] == frozen:
            return last[1]  # the same keys as last time: no new object to make
        keys = Keys(frozen.access_key, frozen.secret_key, frozen.token or None)
        self._last = (frozen, keys)
        return keys

    def secrets(self) -> tuple[str, ...]:
        """The secret values in use now, to scrub from any text that leaves objstore."""
        if self._source is None:
            return ()
        try:
            keys = self.current()
        except Exception:
            return ()
        return tuple(s for s in (keys.secret_key, keys.token) if s)


def boto3_missing() -> ConfigError:
    """The error when boto3 (and botocore with it) cannot be imported."""
    return ConfigError(
        "the s3 backend needs boto3, which is not installed: install objstore[s3]", backend="s3"
    )


def botocore_session(options: S3Options, explicit: bool = True) -> Any:
    """A botocore session (sharing the parsed models of earlier ones), carrying the keys
    or profile of ``options`` when ``explicit``."""
    try:
        from botocore.session import get_session  # type: ignore[import-untyped]
    except ImportError as exc:
        raise boto3_missing() from exc
    session = get_session()
    session.register_component("data_loader", shared_loader())
    if not explicit:
        return session
    if options.profile is not None:
        session.set_config_variable("profile", options.profile)
    if options.access_key_id is not None:
        session.set_credentials(
            options.access_key_id, options.secret_access_key, options.session_token
        )
    return session


@functools.cache
def shared_loader() -> Any:
    """One botocore data loader per process: parsing S3's model is most of a client's cost."""
    from botocore.loaders import create_loader  # type: ignore[import-untyped]

    return create_loader()
