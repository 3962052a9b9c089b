"""One writer of the counter test: ``python meta_worker.py CONFIG_JSON COUNT GO_FILE``.

Waits until GO_FILE exists (so every writer starts at once), then increments the
counter COUNT times, one sync each, and prints how many uploads it lost.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import objstore
from examples.meta_store import BucketDatabase


def main(config: str, count: int, go: Path) -> None:
    while not go.exists():
        time.sleep(0.01)
    lost = 0
    with objstore.open(json.loads(config)) as store, BucketDatabase(store, "counter.db") as db:
        for _ in range(count):
            db.execute("UPDATE counter SET n = n + 1")
            before = db.query("SELECT n FROM counter")[0][0]
            db.sync()
            lost += db.query("SELECT n FROM counter")[0][0] != before
    print(lost)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]))
