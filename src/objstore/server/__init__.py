"""The server side of objstore's signed URLs (SPEC §8).

A store whose backend cannot presign natively (file, memory, most plugins)
signs URLs under its ``base_url`` with its ``signing_key``. These apps check
them and serve the objects:

- :func:`wsgi_app` for a :class:`~objstore.Store`, mountable in Flask or Django;
- :func:`asgi_app` for an :class:`~objstore.AsyncStore`, mountable in FastAPI or
  Starlette;
- :func:`serve` runs the ASGI app on uvicorn (``objstore serve``).

They answer requests whose full path (mount point included) starts with the
path of ``base_url``; the rest of the path is the percent-encoded key.
docs/signed-urls.md describes the scheme, the HTTP behaviour and mounting.
"""

from __future__ import annotations

from .. import _defaults
from .._async_store import AsyncStore
from .._store import Store
from ._asgi import AsgiApp
from ._serve import serve
from ._wsgi import WsgiApp

__all__ = ["AsgiApp", "WsgiApp", "asgi_app", "serve", "wsgi_app"]


def wsgi_app(store: Store) -> WsgiApp:
    """The WSGI application that serves ``store``'s signed URLs.

    ``GET``/``HEAD`` stream the object (``Range``, ``If-None-Match`` and the other
    conditions honoured); ``PUT`` streams the body into ``put`` (``If-Match``,
    ``If-None-Match: *``, ``max_upload_size``); ``OPTIONS`` answers CORS
    preflight for ``cors_origins``. Run it on a threaded WSGI server so that a
    slow client does not hold the others up.

    Raises:
        ConfigError: the store has no ``base_url`` or ``signing_key``.
        TypeError: ``store`` is not a :class:`~objstore.Store`.
    """
    return WsgiApp(store)


def asgi_app(store: AsyncStore, *, idle_timeout: float = _defaults.UPLOAD_IDLE_TIMEOUT) -> AsgiApp:
    """The ASGI application that serves ``store``'s signed URLs; see :func:`wsgi_app`.

    Args:
        store: The store, whose calls never block the event loop.
        idle_timeout: Seconds to wait for the next piece of an upload before
            answering 408 and storing nothing.

    Raises:
        ConfigError: the store has no ``base_url`` or ``signing_key``.
        TypeError: ``store`` is not an :class:`~objstore.AsyncStore`.
    """
    return AsgiApp(store, idle_timeout=idle_timeout)
