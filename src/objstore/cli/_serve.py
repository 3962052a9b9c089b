"""``objstore serve``: the store's signed URLs over HTTP (``objstore.server.serve``)."""

from __future__ import annotations

import argparse
import asyncio
import logging

from .. import _config, _defaults
from ._base import Command, Context


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=_defaults.SERVE_HOST, help="address to listen on")
    parser.add_argument("--port", type=int, default=_defaults.SERVE_PORT, help="port to listen on")


def _serve(ctx: Context) -> int:
    from ..server import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    store = _config.async_store(ctx.config())
    try:
        serve(store, ctx.args.host, ctx.args.port)  # until SIGINT or SIGTERM
    finally:
        asyncio.run(store.aclose())
    return 0


SERVE = Command(
    "serve",
    "serve the store's signed URLs over HTTP until stopped (needs objstore[server])",
    "objstore --config objstore.yaml serve --host 0.0.0.0 --port 8080",
    _serve,
    _serve_arguments,
)
