"""fsspec support: any objstore store as an fsspec filesystem, protocol ``objstore`` (SPEC §11).

>>> import fsspec
>>> fs = fsspec.filesystem("objstore", target="memory://")
>>> fs.pipe_file("data/hello.txt", b"hi")
>>> fs.ls("data", detail=False)
['data/hello.txt']

Registered with fsspec through the ``fsspec.specs`` entry point, so
``objstore://`` URLs work wherever fsspec does (pandas, pyarrow, dask, xarray):
``pandas.read_parquet("objstore://data/x.parquet", storage_options={"target": url})``.
Needs the ``objstore[fsspec]`` extra; docs/fsspec.md has the details.
"""

from __future__ import annotations

try:
    import fsspec as _fsspec  # noqa: F401  # the extra's dependency, checked first
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "objstore.fsspec needs fsspec: install the extra with pip install 'objstore[fsspec]'"
    ) from exc

from ._file import ObjstoreFile
from ._filesystem import ObjstoreFileSystem

__all__ = ["ObjstoreFile", "ObjstoreFileSystem"]
