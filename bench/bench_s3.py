#!/usr/bin/env python3
"""Benchmark objstore's S3 backend against raw boto3, s3fs, obstore and opendal on loopback S3.

A local S3 server is started for the run (``rclone serve s3`` over a scratch
directory by default, moto's server with ``--server moto``), and every
contestant does the same jobs against it, each in a bucket of its own: many
small puts, gets, stats and deletes, a listing, then a big upload from a file
and a big download to a file. Rounds are interleaved (every round runs every
job for every contestant, in a shuffled order), the median of the rounds is
reported, and every figure is also given as a ratio to plain boto3 (``raw``):
``ratio = raw_time / contestant_time``, so above 1 is faster than raw. For the
big transfers ``raw`` is boto3's transfer manager (``upload_file`` /
``download_file``).

s3fs needs an older botocore than the dev virtualenv's boto3, so it runs in the
side virtualenv ``bench/.venv-aioboto3`` (bench/README.md says how to make it),
in a child process driven by ``bench/side_worker.py``; without that
virtualenv it is skipped with a note. The server, the buckets and the side
process are ``_loopback.py``'s.

Run from the repository root:

    .venv/bin/python bench/bench_s3.py            # full run (several minutes)
    .venv/bin/python bench/bench_s3.py --quick    # smoke test

bench/README.md explains the options and every column.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import random
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _harness import (
    CHUNK,
    KIB,
    MIB,
    RAW,
    ListSummary,
    ObjstoreCalls,
    ObstoreCalls,
    OpendalCalls,
    PrimedWorkload,
    Results,
    Row,
    SyncAdapter,
    add_options,
    bullets,
    check,
    configure,
    contestant_names,
    delete_all,
    download,
    flat_keys,
    fmt_rate,
    get_all,
    header,
    importable,
    json_document,
    keep_available,
    load_average,
    make_data,
    make_scratch,
    make_source_file,
    new_parser,
    pick_seed,
    publish,
    put_all,
    rate_table,
    ratio_table,
    results_json,
    round_done,
    settle,
    shuffled,
    stat_all,
    table,
    timed_call,
    wait_for_load,
)
from _loopback import (
    Buckets,
    Server,
    bucket_name,
    close_side_process,
    environment,
    running_server,
    side_available,
    side_process,
)

if TYPE_CHECKING:
    pass

# RAW: boto3 client calls; for the big transfers, the transfer manager's defaults
RAW_TM_OBJSTORE = "raw (TM, objstore's sizes)"  # the transfer manager with objstore's part sizes

# objstore's S3 defaults (docs/configuration.md), for the second transfer-manager baseline.
OBJSTORE_THRESHOLD = 16 * MIB
OBJSTORE_PART_SIZE = 8 * MIB
OBJSTORE_CONCURRENCY = 8

# -- contestants ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One timed run: a kind of work, over ``keys`` or one ``key`` and a local ``path``."""

    kind: str  # put_all, get_all, stat_all, delete_all, list, put_file, get_file
    keys: tuple[str, ...] = ()
    key: str = ""
    path: str = ""


class Adapter(SyncAdapter):
    """One library doing the benchmark's jobs in its own bucket."""

    info_only = False  # a configuration shown for information, not a fair contestant
    signs = False  # presign is timed (raw boto3 and objstore only)

    def __init__(self, server: Server, bucket: str, data: bytes) -> None:
        self.server = server
        self.bucket = bucket
        self.data = data  # the small object's content

    def presign(self, key: str) -> str:
        raise NotImplementedError

    def digest(self, key: str) -> str:
        """SHA-256 of an object's content (checks, never timed)."""
        return hashlib.sha256(bytes(self.get(key))).hexdigest()

    def timed(self, job: Job) -> tuple[float, object]:
        """Run ``job`` once; return the seconds it took and what it returned."""
        return timed_call(self._runner(job))

    def _runner(self, job: Job) -> Callable[[], object]:
        keys, data = job.keys, self.data
        if job.kind == "put_all":
            return lambda: put_all(self, keys, data)
        if job.kind == "get_all":
            return lambda: get_all(self, keys)
        if job.kind == "stat_all":
            return lambda: stat_all(self, keys)
        if job.kind == "delete_all":
            return lambda: delete_all(self, keys)
        if job.kind == "list":
            return self.list
        if job.kind == "presign_all":
            return lambda: [self.presign(key) for key in keys]
        if job.kind == "put_file":
            return lambda: self.put_file(job.key, Path(job.path))
        if job.kind == "get_file":
            return lambda: download(self, job.key, Path(job.path))
        raise ValueError(f"unknown job {job.kind!r}")


class RawAdapter(Adapter):
    """Plain boto3 client calls; big transfers by its transfer manager, default settings."""

    name = RAW

    def __init__(self, server: Server, bucket: str, data: bytes) -> None:
        super().__init__(server, bucket, data)
        self.client = server.boto3_client()

    def transfer_config(self) -> Any:
        from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]

        return TransferConfig()  # 8 MiB threshold and parts, 10 threads

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    signs = True

    def presign(self, key: str) -> str:
        params = {"Bucket": self.bucket, "Key": key}
        url: str = self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=3600)
        return url

    def get(self, key: str) -> bytes:
        data: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return data

    def stat(self, key: str) -> int:
        size: int = self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
        return size

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def list(self) -> ListSummary:
        found = total = 0
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for item in page.get("Contents", []):
                found += bool(item["Key"])
                total += item["Size"]
        return ListSummary(found, total)

    def put_file(self, key: str, src: Path) -> None:
        self.client.upload_file(str(src), self.bucket, key, Config=self.transfer_config())

    def get_file(self, key: str, dst: Path) -> None:
        self.client.download_file(self.bucket, key, str(dst), Config=self.transfer_config())

    def close(self) -> None:
        self.client.close()


class RawTmObjstoreAdapter(RawAdapter):
    """The transfer manager with objstore's sizes: 16 MiB threshold, 8 MiB parts, 8 threads."""

    name = RAW_TM_OBJSTORE

    def transfer_config(self) -> Any:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=OBJSTORE_THRESHOLD,
            multipart_chunksize=OBJSTORE_PART_SIZE,
            max_concurrency=OBJSTORE_CONCURRENCY,
        )


class ObjstoreAdapter(ObjstoreCalls, Adapter):
    """objstore's S3 backend through ``objstore.open``, with the server's provider preset."""

    name = "objstore"

    def __init__(self, server: Server, bucket: str, data: bytes) -> None:
        import objstore

        super().__init__(server, bucket, data)
        self.store = objstore.open({"backend": "s3", "s3": self.section()})

    def section(self) -> dict[str, Any]:
        return self.server.objstore_section(self.bucket)

    signs = True

    def presign(self, key: str) -> str:
        return self.store.presign(key)

    def get_file(self, key: str, dst: Path) -> None:
        with self.store.get_stream(key, chunk_size=CHUNK) as chunks, open(dst, "wb") as out:
            for chunk in chunks:
                out.write(chunk)


class ObjstoreBoto3Adapter(ObjstoreAdapter):
    """objstore on its ``boto3`` transport (the one before the native transport)."""

    name = "objstore-boto3"

    def section(self) -> dict[str, Any]:
        return {**super().section(), "transport": "boto3"}


class ObjstoreNoProbeAdapter(ObjstoreAdapter):
    """objstore with ``nested_keys=true``: no conflict probes (unsafe on rclone; information)."""

    name = "objstore-noprobe"
    info_only = True

    def section(self) -> dict[str, Any]:
        return {**super().section(), "nested_keys": True}


class ObstoreAdapter(ObstoreCalls, Adapter):
    """obstore's ``S3Store`` (object_store in Rust)."""

    name = "obstore"

    def __init__(self, server: Server, bucket: str, data: bytes) -> None:
        super().__init__(server, bucket, data)
        self.store = server.obstore_store(bucket)

    def get_file(self, key: str, dst: Path) -> None:
        import obstore

        # open_reader sends ranged GETs, which rclone answers with the whole object.
        result = obstore.get(self.store, key)
        with open(dst, "wb") as out:
            for chunk in result.stream(min_chunk_size=CHUNK):
                out.write(chunk)


class OpendalAdapter(OpendalCalls, Adapter):
    """opendal's ``s3`` service, configuration from the environment and EC2 turned off."""

    name = "opendal"

    def __init__(self, server: Server, bucket: str, data: bytes) -> None:
        import opendal

        super().__init__(server, bucket, data)
        self.op = opendal.Operator(
            "s3",
            bucket=bucket,
            endpoint=server.endpoint_url,
            region=server.region,
            access_key_id=server.access_key_id,
            secret_access_key=server.secret_access_key,
            disable_config_load="true",
            disable_ec2_metadata="true",
        )


class S3fsAdapter(Adapter):
    """s3fs, run by ``side_worker.py`` in the side virtualenv; the worker times each job."""

    name = "s3fs"

    def __init__(self, server: Server, bucket: str, data: bytes) -> None:
        super().__init__(server, bucket, data)
        self.side = side_process()
        self.handle = self.side.call(
            cmd="open", contestant="s3fs", server=server.describe(), bucket=bucket
        )["handle"]
        self._seed = 0

    def with_data_seed(self, seed: int) -> S3fsAdapter:
        self._seed = seed  # the side process makes the same bytes from the same seed
        return self

    def timed(self, job: Job) -> tuple[float, object]:
        answer = self.side.call(
            cmd="run",
            handle=self.handle,
            job=job.kind,
            keys=list(job.keys),
            key=job.key,
            path=job.path,
            size=len(self.data),
            seed=self._seed,
        )
        out = answer["result"]
        if job.kind == "list":
            out = ListSummary(*out)
        return float(answer["seconds"]), out

    def digest(self, key: str) -> str:
        digest: str = self.side.call(cmd="digest", handle=self.handle, key=key)["digest"]
        return digest

    def close(self) -> None:
        self.side.call(cmd="close", handle=self.handle)


ADAPTERS: dict[str, type[Adapter]] = {
    cls.name: cls
    for cls in (
        RawAdapter,
        RawTmObjstoreAdapter,
        ObjstoreAdapter,
        ObjstoreBoto3Adapter,
        ObjstoreNoProbeAdapter,
        S3fsAdapter,
        ObstoreAdapter,
        OpendalAdapter,
    )
}
DEFAULT_CONTESTANTS = (
    "objstore", "objstore-boto3", "objstore-noprobe", "s3fs", "obstore", "opendal"
)  # fmt: skip
PACKAGES = {
    "objstore": "objstore",
    "objstore-boto3": "objstore",
    "objstore-noprobe": "objstore",
    "s3fs": "s3fs",
    "obstore": "obstore",
    "opendal": "opendal",
}


# -- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """What to run: sizes in bytes, the server, who competes."""

    rounds: int = 5
    objects: int = 500
    object_size: int = 4 * KIB
    file_size: int = 256 * MIB
    server: str = "rclone"
    contestants: tuple[str, ...] = DEFAULT_CONTESTANTS
    settle: bool = True  # os.sync() and memory priming before each timed run
    seed: int = 0


def warmup_config(cfg: Config) -> Config:
    """A round, not counted, that runs every code path once (imports, runtimes, connections)."""
    return replace(cfg, objects=min(cfg.objects, 50))


# -- workloads --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """What every round shares: settings, the server, the shuffle, the inputs and the results."""

    cfg: Config
    server: Server
    buckets: Buckets
    scratch: Path
    rng: random.Random
    data: bytes  # the small object
    source: Path  # the big file
    source_digest: str
    results: Results | None  # None in the warm-up round: nothing is recorded


def measure(
    session: Session, workload: PrimedWorkload, adapter: Adapter, job: Job, expect: object
) -> None:
    """Time one run of ``job``, check what it returned and record the time."""
    settle(session.cfg.settle, session.scratch, workload.fresh_memory)
    seconds, out = adapter.timed(job)
    check(adapter.name, workload, out, expect)
    if session.results is not None:
        session.results.add(workload, adapter.name, seconds)


def run_phase(
    session: Session,
    workload: PrimedWorkload,
    adapters: dict[str, Adapter],
    job: Job,
    expect: object,
) -> None:
    """Time every contestant's run of ``job``, in a fresh shuffled order."""
    for name in shuffled(session.rng, adapters):
        measure(session, workload, adapters[name], job, expect)


def small_workloads(cfg: Config) -> dict[str, PrimedWorkload]:
    n, size = cfg.objects, cfg.object_size
    what = f"{n} x {size // KIB} KiB"
    return {
        "put": PrimedWorkload("put", f"put {what}", ops=n, fresh_memory=2 * n * size),
        "get": PrimedWorkload("get", f"get {what}", ops=n),
        "stat": PrimedWorkload("stat", f"stat {n}", ops=n),
        "list": PrimedWorkload("list", f"list {n}", ops=n),
        "delete": PrimedWorkload("delete", f"delete {n}", ops=n),
        "presign": PrimedWorkload("presign", f"presign {n} GET URLs", ops=n),
    }


def big_workloads(cfg: Config) -> dict[str, PrimedWorkload]:
    big = cfg.file_size
    return {
        # rclone keeps the parts, then writes the object: twice the size in new pages
        "put_file": PrimedWorkload(
            "put-file", f"put {big // MIB} MiB from a file", nbytes=big, fresh_memory=2 * big
        ),
        "get_file": PrimedWorkload(
            "get-file", f"get {big // MIB} MiB to a file", nbytes=big, fresh_memory=big
        ),
    }


def open_adapter(session: Session, name: str, bucket_prefix: str) -> Adapter:
    bucket = session.buckets.new(bucket_name(bucket_prefix, name))
    adapter = ADAPTERS[name](session.server, bucket, session.data)
    if isinstance(adapter, S3fsAdapter):
        adapter.with_data_seed(session.cfg.seed)
    return adapter


def run_small(session: Session, prefix: str) -> None:
    """put, get, stat, list, delete of many small objects, each phase over all contestants."""
    cfg = session.cfg
    keys = tuple(flat_keys(cfg.objects))
    nbytes = cfg.objects * cfg.object_size
    work = small_workloads(cfg)
    adapters: dict[str, Adapter] = {}
    try:
        for name in (RAW, *cfg.contestants):
            adapters[name] = open_adapter(session, name, prefix)
        run_phase(session, work["put"], adapters, Job("put_all", keys), None)
        if session.results is None:  # warm-up: check every contestant stored the data
            want = hashlib.sha256(session.data).hexdigest()
            for name, adapter in adapters.items():
                if adapter.digest(keys[-1]) != want:
                    raise AssertionError(f"{name} returned other bytes than it was given")
        run_phase(session, work["get"], adapters, Job("get_all", keys), nbytes)
        run_phase(session, work["stat"], adapters, Job("stat_all", keys), nbytes)
        run_phase(session, work["list"], adapters, Job("list"), ListSummary(cfg.objects, nbytes))
        signers = {name: a for name, a in adapters.items() if a.signs}
        run_phase(session, work["presign"], signers, Job("presign_all", keys), None)
        run_phase(session, work["delete"], adapters, Job("delete_all", keys), None)
        for name, adapter in adapters.items():
            remaining = count_objects(session.buckets, adapter.bucket)
            if remaining:
                raise AssertionError(f"{name} left {remaining} objects after deleting every key")
    finally:
        for adapter in adapters.values():
            adapter.close()
            with contextlib.suppress(Exception):
                session.buckets.remove(adapter.bucket)


def count_objects(buckets: Buckets, bucket: str) -> int:
    answer = buckets.client.list_objects_v2(Bucket=bucket)
    return int(answer.get("KeyCount", len(answer.get("Contents", []))))


def run_big(session: Session, prefix: str) -> None:
    """Big transfers, one contestant after another in a shuffled order."""
    work = big_workloads(session.cfg)
    size = session.cfg.file_size
    for name in shuffled(session.rng, [RAW, RAW_TM_OBJSTORE, *session.cfg.contestants]):
        adapter = open_adapter(session, name, prefix)
        dst = session.scratch / f"download-{adapter.bucket}.bin"
        try:
            put = Job("put_file", key="big-file", path=str(session.source))
            measure(session, work["put_file"], adapter, put, None)
            get = Job("get_file", key="big-file", path=str(dst))
            measure(session, work["get_file"], adapter, get, size)
            if session.results is None and file_digest(dst) != session.source_digest:
                raise AssertionError(f"{name} downloaded other bytes than it uploaded")
        finally:
            dst.unlink(missing_ok=True)
            adapter.close()
            session.buckets.remove(adapter.bucket)  # frees the server's copy at once


def run_round(session: Session, number: int) -> None:
    """One round: every workload for every contestant, each in fresh buckets."""
    prefix = f"r{number}-{session.cfg.seed % 10_000}"
    run_small(session, f"{prefix}-small")
    run_big(session, f"{prefix}-big")


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# -- report -----------------------------------------------------------------------------------


TM_DEFAULT_NOTE = "raw = TransferManager, defaults (8 MiB parts, 10 threads)"
TM_OBJSTORE_NOTE = (
    f"raw = TransferManager, objstore's sizes ({OBJSTORE_PART_SIZE // MIB} MiB parts, "
    f"{OBJSTORE_CONCURRENCY} threads, {OBJSTORE_THRESHOLD // MIB} MiB threshold)"
)


def report_rows(results: Results) -> list[Row]:
    rows = [
        Row(wid, results.workloads[wid].label)
        for wid in ("put", "get", "stat", "delete", "list", "presign")
        if wid in results.workloads
    ]
    for wid in ("put-file", "get-file"):
        if wid in results.workloads:
            label = results.workloads[wid].label
            rows.append(Row(wid, f"{label}, {TM_DEFAULT_NOTE}"))
            rows.append(Row(wid, f"{label}, {TM_OBJSTORE_NOTE}", RAW_TM_OBJSTORE))
    return rows


def mark(name: str) -> str:
    return " ‡" if ADAPTERS[name].info_only else ""


def info_mark(_workload_id: str, name: str) -> str:
    return mark(name)


# Issue 10's targets for objstore: (workload, baseline, minimum ratio).
TARGETS = (
    ("put", RAW, 1.5),
    ("get", RAW, 3.0),
    ("stat", RAW, 3.0),
    ("delete", RAW, 1.5),
    ("put", "obstore", 0.8),
    ("get", "obstore", 0.8),
    ("stat", "obstore", 0.8),
    ("delete", "obstore", 0.8),
    ("list", "obstore", 1.0),
    ("presign", RAW, 20.0),
    ("put-file", RAW, 1.0),
    ("put-file", RAW_TM_OBJSTORE, 1.0),
    ("get-file", RAW, 1.0),
    ("get-file", RAW_TM_OBJSTORE, 1.0),
)


def target_table(results: Results, cfg: Config) -> str:
    names = [n for n in ("objstore", "objstore-noprobe") if n in cfg.contestants]
    if not names:
        return ""
    body = []
    for wid, baseline, minimum in TARGETS:
        base = results.median(wid, baseline)
        if wid not in results.workloads or not base:
            continue
        which = (
            baseline
            if baseline not in (RAW, RAW_TM_OBJSTORE)
            else "boto3 client"
            if wid in ("put", "get", "stat", "delete", "list", "presign")
            else ("TM defaults" if baseline == RAW else "TM, objstore's sizes")
        )
        cells = [results.workloads[wid].label, which, f"≥ {minimum:.1f}x"]
        for name in names:
            median = results.median(wid, name)
            if median is None:
                cells.append("n/a")
                continue
            ratio = base / median
            cells.append(f"{ratio:.2f}x {'met' if ratio >= minimum else 'missed'}{mark(name)}")
        body.append(cells)
    return table(["workload", "baseline", "target", *names], body, "llr" + "r" * len(names))


def footnotes(cfg: Config) -> str:
    notes = [
        "Cells: ratio = raw median / contestant median (>1 = faster than raw), then the "
        "contestant's median time. raw is plain boto3 client calls for the small objects, "
        "and boto3's transfer manager (upload_file / download_file) for the big transfers.",
    ]
    if any(ADAPTERS[n].info_only for n in cfg.contestants):
        notes.append(
            "‡ (information only): objstore with nested_keys=true, which skips the probes "
            "the rclone preset makes before each put (a listing) and delete (a HEAD) to "
            "detect keys rclone cannot hold side by side (a and a/b). Not safe on rclone; "
            "it is what objstore costs on servers that need no probes (AWS, MinIO, ...)."
        )
    return bullets(notes)


def library_versions(cfg: Config, side: dict[str, Any] | None) -> dict[str, str]:
    versions = {}
    for package in ("objstore", "boto3", "botocore"):
        versions[package] = importlib.metadata.version(package)
    for name in cfg.contestants:
        package = PACKAGES[name]
        if side is not None and package in side.get("libraries", {}):
            versions[package] = side["libraries"][package]
            for extra in ("aiobotocore", "botocore"):
                if extra in side["libraries"]:
                    versions[f"{extra} (side venv)"] = side["libraries"][extra]
            continue
        try:
            versions.setdefault(package, importlib.metadata.version(package))
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def settings_line(cfg: Config) -> str:
    return (
        f"rounds: {cfg.rounds} (median reported), objects: {cfg.objects} x "
        f"{cfg.object_size // KIB} KiB, big: {cfg.file_size // MIB} MiB files, "
        f"settle before each run: {'yes' if cfg.settle else 'no'}, seed: {cfg.seed}"
    )


def to_json(results: Results, cfg: Config, env: dict[str, Any]) -> dict[str, Any]:
    def info(wid: str, name: str, median: float) -> dict[str, Any]:
        entry: dict[str, Any] = {"info_only": ADAPTERS[name].info_only}
        if tm := results.median(wid, RAW_TM_OBJSTORE):
            entry["ratio_to_tm_objstore_sizes"] = tm / median
        return entry

    out = results_json(results, RAW, "ratio_to_raw", info)
    return json_document(cfg, {**env, "load_at_end": load_average()}, out)


# -- main -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> tuple[Config, Path | None, float | None]:
    parser = new_parser(__doc__)
    parser.add_argument("--rounds", type=int, help="counted rounds (default 5; 1 with --quick)")
    parser.add_argument(
        "--objects", type=int, help="small objects per workload (default 500; 50 with --quick)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 1 round, 50 objects, 32 MiB file"
    )
    add_options(parser, "--server")
    parser.add_argument(
        "--contestants",
        default=",".join(DEFAULT_CONTESTANTS),
        help=f"comma-separated, from {', '.join(DEFAULT_CONTESTANTS)} (raw always runs)",
    )
    add_options(parser, "--dir", "--no-settle", "--seed", "--wait-load")
    args = parser.parse_args(argv)

    cfg = Config(
        server=args.server,
        contestants=contestant_names(parser, args.contestants, PACKAGES),
        settle=not args.no_settle,
        seed=pick_seed(args.seed),
    )
    quick = {"rounds": 1, "objects": 50, "file_size": 32 * MIB}
    cfg = configure(parser, args, cfg, quick, ("rounds", "objects"))
    return cfg, args.dir, args.wait_load


def available(cfg: Config) -> Config:
    """Drop contestants that cannot run here, saying why."""

    def why_not(name: str) -> str | None:
        if name == "objstore-noprobe" and cfg.server != "rclone":
            return "only differs on rclone"
        if name == "s3fs":
            why = side_available()
            return f"{why}; see bench/README.md" if why else None
        return None if importable(PACKAGES[name]) else f"{PACKAGES[name]} is not installed"

    return replace(cfg, contestants=keep_available(cfg.contestants, why_not))


def run(cfg: Config, scratch: Path) -> tuple[Results, dict[str, Any]]:
    """Start the server, run the warm-up and the counted rounds; return results and setting."""
    results = Results()
    with running_server(cfg.server, scratch) as server:
        side = side_process().hello if "s3fs" in cfg.contestants else None
        env = environment(server, scratch, library_versions(cfg, side))
        print(header("objstore S3 benchmark", env, settings_line(cfg)), flush=True)
        buckets = Buckets(server)
        source = make_source_file(scratch, cfg.file_size)
        session = Session(
            cfg=warmup_config(cfg),
            server=server,
            buckets=buckets,
            scratch=scratch,
            rng=random.Random(cfg.seed),
            data=make_data(cfg.seed, cfg.object_size),
            source=source,
            source_digest=file_digest(source),
            results=None,
        )
        started = time.perf_counter()
        try:
            run_round(session, 0)
            session = replace(session, cfg=cfg, results=results)
            for number in range(1, cfg.rounds + 1):
                run_round(session, number)
                round_done(number, cfg.rounds, started)
        finally:
            buckets.remove_all()
    return results, env


def main(argv: Sequence[str] | None = None) -> int:
    cfg, parent, load_limit = parse_args(argv)
    cfg = available(cfg)
    if load_limit is not None:
        wait_for_load(load_limit)
    scratch = make_scratch(parent, "objstore-bench-s3-")
    try:
        results, env = run(cfg, scratch)
    finally:
        close_side_process()
        shutil.rmtree(scratch, ignore_errors=True)
    sections = [
        (
            "Time, as a ratio to raw boto3",
            ratio_table(results, report_rows(results), cfg.contestants, info_mark)
            + "\n\n"
            + footnotes(cfg),
        ),
        (
            "Throughput (medians)",
            rate_table(
                results, results.workloads, (RAW, RAW_TM_OBJSTORE, *cfg.contestants), fmt_rate, "—"
            ),
        ),
        ("objstore against the targets", target_table(results, cfg)),
    ]
    publish(sections, to_json(results, cfg, env), f"s3-{cfg.server}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
