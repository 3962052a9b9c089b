"""pandas through ``objstore://`` URLs: Parquet (pyarrow) and CSV round trips on the file
backend and moto's S3 server, and a column subset read with a few ranged gets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pd = pytest.importorskip("pandas", reason="pandas is not installed (the test extra has it)")
pytest.importorskip("pyarrow", reason="pyarrow is not installed (the test extra has it)")
pytest.importorskip("fsspec", reason="the fsspec extra is not installed")

from stores import s3_target  # noqa: E402
from test_fsspec_filesystem import CountingLayer  # noqa: E402

import objstore  # noqa: E402
from objstore.backends.local import FileBackend  # noqa: E402

ROWS = 100_000


@pytest.fixture(scope="module")
def frame() -> Any:
    return pd.DataFrame(
        {
            "id": range(ROWS),
            "price": [i * 0.25 for i in range(ROWS)],
            "qty": [i % 97 for i in range(ROWS)],
            "city": [f"city-{i % 13}" for i in range(ROWS)],
        }
    )


@pytest.fixture(params=["file", "moto"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """A store target for pandas (URL or mapping), and the backend behind it."""
    if request.param == "file":
        yield f"file://{tmp_path / 'store'}", FileBackend(tmp_path / "store")
    else:
        server = request.getfixturevalue("moto_http")
        with server.bucket() as bucket:
            yield s3_target(server, bucket), server.backend(bucket)


def test_parquet_and_csv_round_trip_through_objstore_urls(frame: Any, where: Any) -> None:
    target, _ = where
    options = {"target": target}
    frame.to_parquet("objstore://tables/sales.parquet", storage_options=options)
    frame.to_csv("objstore://tables/sales.csv", index=False, storage_options=options)
    back = pd.read_parquet("objstore://tables/sales.parquet", storage_options=options)
    pd.testing.assert_frame_equal(back, frame)
    csv = pd.read_csv("objstore://tables/sales.csv", storage_options=options)
    pd.testing.assert_frame_equal(csv, frame)
    with objstore.open(target) as store:
        assert [info.key for info in store.list("tables/")] == [
            "tables/sales.csv", "tables/sales.parquet",
        ]  # fmt: skip


def test_a_column_subset_is_read_with_ranged_gets(frame: Any, where: Any) -> None:
    target, backend = where
    frame.to_parquet(
        "objstore://cols.parquet", compression=None, storage_options={"target": target}
    )
    layer = CountingLayer(backend)
    with objstore.Store(layer) as store:
        size = store.stat("cols.parquet").size
        subset = pd.read_parquet(
            "objstore://cols.parquet", columns=["qty"], storage_options={"store": store}
        )
    pd.testing.assert_series_equal(subset["qty"], frame["qty"])
    assert layer.gets, "no get reached the store"
    assert all(length is not None for _, _, length in layer.gets)  # only ranged gets
    fetched = sum(min(length, size - offset) for _, offset, length in layer.gets)
    assert len(layer.gets) >= 2  # the footer, then the column's pages
    assert fetched < size / 2  # the footer and one column of four
