"""``ObjstoreFile``: fsspec's buffered file over one object.

Reading: fsspec's caches (``cache_type``, ``block_size``) ask for byte ranges,
and each is one ranged ``get``. Every range must come from the version that was
opened: a range served from another version raises ``PreconditionFailedError``
instead of splicing two versions into one read.

Writing: nothing is visible until the file is closed, and then the whole object
at once (an atomic ``put``). A file smaller than one block is one plain ``put``
at close. A larger one streams: each full block goes to a :class:`PipedPut`,
whose thread feeds one ``put`` (multipart on S3), so memory stays bounded by a
few blocks whatever the size. Mode ``"xb"`` writes only if the key is absent
(``if_none_match="*"``), checked again at the commit, race-free.

Leaving a ``with`` block by an exception, or dropping the file unclosed,
abandons the write: the old object stays, and no trace of the new one.
"""

from __future__ import annotations

import contextlib
import errno
import io
from types import TracebackType
from typing import TYPE_CHECKING, Any

from fsspec.spec import AbstractBufferedFile

from .._defaults import FSSPEC_UPLOAD_DEPTH
from ..errors import PreconditionFailedError
from ._pipe import PipedPut

if TYPE_CHECKING:
    from ._filesystem import ObjstoreFileSystem

PUT_OPTIONS = ("content_type", "metadata")


class ObjstoreFile(AbstractBufferedFile):  # type: ignore[misc]  # fsspec is untyped
    """A binary file object over one object of an :class:`ObjstoreFileSystem`.

    Open one with ``fs.open(path, mode)``: ``"rb"``, ``"wb"`` or ``"xb"``. In
    write modes, ``content_type`` and ``metadata`` are passed on to ``put``.
    """

    _closed: bool  # fsspec's storage behind ``closed``

    def __init__(
        self,
        fs: ObjstoreFileSystem,
        path: str,
        mode: str = "rb",
        block_size: int | str | None = "default",
        autocommit: bool = True,
        cache_type: str = "readahead",
        cache_options: dict[str, Any] | None = None,
        size: int | None = None,
        **kwargs: Any,
    ):
        unknown = sorted(set(kwargs) - set(PUT_OPTIONS if mode != "rb" else ()))
        if unknown:
            raise TypeError(f"unexpected option(s) for mode {mode!r}: {', '.join(unknown)}")
        self._upload: PipedPut | None = None
        self._pending: bytes | None = None  # a one-block object waiting for commit()
        self._etag: str | None = None
        if mode == "rb":
            entry = fs.file_entry(path)
            self._details = entry
            self._etag = entry["etag"]
            size = entry["size"]
        super().__init__(
            fs, path, mode, block_size, autocommit, cache_type, cache_options, size, **kwargs
        )

    # -- reading ------------------------------------------------------------------------------

    def _fetch_range(self, start: int, end: int) -> bytes:
        """One ranged ``get`` of ``[start, end)`` from the version that was opened."""
        if end <= start or start >= self.size:
            return b""
        length = end - start
        stream = self.fs.store.get_stream(self.path, offset=start, length=length, chunk_size=length)
        with contextlib.closing(stream):
            if stream.info.etag != self._etag:
                raise PreconditionFailedError(
                    f"{self.path!r} changed since it was opened for reading",
                    key=self.path,
                    backend=self.fs.store_name,
                )
            return b"".join(stream)

    # -- writing ------------------------------------------------------------------------------

    def _initiate_upload(self) -> None:
        """Nothing to start yet: a one-block file becomes a plain ``put`` at close."""

    def _upload_chunk(self, final: bool = False) -> bool:
        block = self.buffer.getvalue()
        if self._upload is None and final:
            self._pending = block
            if self.autocommit:
                self.commit()
            return True
        if self._upload is None:
            options = self._put_options()
            self._upload = PipedPut(self.fs.store, self.path, options, FSSPEC_UPLOAD_DEPTH)
        if block:
            self._upload.send(block)
        if final and self.autocommit:
            self.commit()
        return True

    def commit(self) -> None:
        """Make the written object visible (at close, or at the end of a transaction).

        Raises:
            FileExistsError: the mode is ``"xb"`` and the key exists by now.
        """
        pending, self._pending = self._pending, None
        upload, self._upload = self._upload, None
        try:
            if upload is not None:
                upload.finish()
            elif pending is not None:
                self.fs.store.put(self.path, pending, **self._put_options())
        except PreconditionFailedError as exc:
            raise FileExistsError(errno.EEXIST, "the object exists already", self.path) from exc

    def discard(self) -> None:
        """Abandon the write: nothing becomes visible, nothing is left behind."""
        self._pending = None
        upload, self._upload = self._upload, None
        if upload is not None:
            upload.abandon()

    def close(self) -> None:
        """Close the file; in a write mode, commit the object (unless in a transaction)."""
        if self._closed or self.mode == "rb":
            super().close()
            return
        try:
            if not self.forced:
                self.flush(force=True)
        except BaseException:
            self.discard()
            raise
        finally:
            self._closed = True

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is not None and self.writable():
            self._abandon()
        else:
            self.close()

    def __del__(self) -> None:
        if getattr(self, "_closed", True):
            return  # closed, or never fully opened
        if self.writable():
            self._abandon()  # never commit a file its writer did not close
        else:
            super().__del__()

    def _abandon(self) -> None:
        self._closed = True
        self.discard()

    def _put_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {k: self.kwargs[k] for k in PUT_OPTIONS if k in self.kwargs}
        if self.mode == "xb":
            options["if_none_match"] = "*"
        return options


class TextWriter(io.TextIOWrapper):
    """A text-mode writer that, like the binary file, abandons the write on an exception."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None and isinstance(self.buffer, ObjstoreFile):
            self.buffer._abandon()
        super().__exit__(exc_type, exc, traceback)
