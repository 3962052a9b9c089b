"""Write tokens: how a write whose answer was lost learns whether it happened.

A conditional put and every multipart upload carry a fresh random token in the
reserved metadata name ``objstore-write`` (hidden from the metadata objstore
returns). A write also records the tokens of the versions it replaced, with
their etags, up to :data:`HISTORY` of them: a conditional update knows the
etag it replaces (its ``If-Match``), and the token of that version from the
answers this backend has seen or from one HEAD.

When the answer to such a write is lost and the retry fails (412, or
``NoSuchUpload`` for a completed multipart upload), the backend reads the key:
its own token on the current version, or in the history of the versions that
replaced it, means the write happened, and the put succeeds with that
version's etag. Two writers writing the same bytes (two increments of one
counter) have different tokens, so neither mistakes the other's write for its
own (no lost update), and a write that happened and was then replaced is
still recognised (no update applied twice). docs/s3.md, "Lost answers", has
the bounds.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

NAME = "objstore-write"
HISTORY = 3  # replaced versions remembered in a write's token
METADATA_LIMIT = 2048  # S3's limit on user metadata: names and values, in bytes


@dataclass(frozen=True, slots=True)
class Token:
    """One write's token and the ``(token, etag)`` of the versions it replaced, newest first."""

    value: str
    replaced: tuple[tuple[str, str], ...] = ()

    @classmethod
    def new(cls, previous: Token | None = None, previous_etag: str | None = None) -> Token:
        history: tuple[tuple[str, str], ...] = ()
        if previous is not None and previous_etag is not None:
            history = ((previous.value, previous_etag), *previous.replaced)[:HISTORY]
        return cls(secrets.token_urlsafe(12), history)

    def header(self) -> str:
        return " ".join([self.value, *(f"{t}:{e}" for t, e in self.replaced)])

    @classmethod
    def parse(cls, text: str | None) -> Token | None:
        if not text:
            return None
        first, *rest = text.split(" ")
        pairs = tuple(tuple(item.split(":", 1)) for item in rest if ":" in item)
        return cls(first, pairs)  # type: ignore[arg-type]

    def fitting(self, metadata: dict[str, str]) -> Token | None:
        """This token, with as much history as fits beside ``metadata`` (as sent) in S3's
        2 KiB of user metadata; ``None`` when not even the bare token fits."""
        room = METADATA_LIMIT - len(NAME) - sum(len(k) + len(v) for k, v in metadata.items())
        replaced = self.replaced
        while True:
            token = Token(self.value, replaced)
            if len(token.header()) <= room:
                return token
            if not replaced:
                return None
            replaced = replaced[:-1]

    def etag_of(self, token: str) -> str | None:
        """The etag the version written with ``token`` had, if this write replaced it."""
        return next((etag for value, etag in self.replaced if value == token), None)


class Seen:
    """The latest token seen for each key with its etag (bounded; thread-safe)."""

    LIMIT = 1024

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, Token]] = {}

    def remember(self, key: str, etag: str, token: Token | None) -> None:
        with self._lock:
            if token is None:
                self._tokens.pop(key, None)
                return
            if len(self._tokens) >= self.LIMIT:
                self._tokens.clear()
            self._tokens[key] = (etag, token)

    def token_of(self, key: str, etag: str) -> Token | None:
        """The token of the version of ``key`` whose etag is ``etag``, if known."""
        found = self._tokens.get(key)
        return found[1] if found is not None and found[0] == etag else None
