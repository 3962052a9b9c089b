"""Every command of SPEC §10 but sync and check, through the console script, on a local
directory and on moto's S3 server."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from cli_run import environment, run, s3_url

import objstore
from objstore.cli import COMMANDS
from objstore.cli._transfer import atomic_file
from objstore.testing._helpers import pattern


@pytest.fixture(params=["file", "s3"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "file":
        yield f"file://{tmp_path / 'store'}"
        return
    server = request.getfixturevalue("moto_http")
    with server.bucket() as bucket:
        yield s3_url(server, bucket, "cli/")


def test_every_command(url: str, tmp_path: Path) -> None:
    (tmp_path / "cat.jpg").write_bytes(pattern(300_000))
    put = run("--url", url, "put", "cat.jpg", "photos/cat.jpg", "-m", "owner=zoë", cwd=tmp_path)
    assert put.returncode == 0, put.stderr
    assert put.stdout.startswith("photos/cat.jpg (300000 bytes, etag ") and put.stderr == ""
    piped = run("--url", url, "put", "-", "notes/ünï code.txt", cwd=tmp_path, input=b"hi\n")
    assert piped.returncode == 0, piped.stderr

    assert run("--url", url, "ls", cwd=tmp_path).stdout.splitlines() == ["notes/", "photos/"]
    assert run("--url", url, "ls", "-r", cwd=tmp_path).stdout.splitlines() == [
        "notes/ünï code.txt",
        "photos/cat.jpg",
    ]
    long = run("--url", url, "ls", "-l", "photos/", cwd=tmp_path).stdout.split()
    assert long[0] == "300000" and long[-1] == "photos/cat.jpg"
    listed = [
        json.loads(line)
        for line in run("--url", url, "ls", "--json", cwd=tmp_path).stdout.splitlines()
    ]
    assert listed == [{"key": "notes/"}, {"key": "photos/"}]
    item = json.loads(run("--url", url, "ls", "-r", "--json", "photos/", cwd=tmp_path).stdout)
    assert set(item) == {"key", "size", "etag", "last_modified", "content_type", "metadata"}
    assert (item["key"], item["size"]) == ("photos/cat.jpg", 300_000)

    info = json.loads(run("--url", url, "stat", "photos/cat.jpg", "--json", cwd=tmp_path).stdout)
    assert info["etag"] == item["etag"] and info["content_type"] == "image/jpeg"
    assert info["metadata"] == {"owner": "zoë"}
    assert datetime.fromisoformat(info["last_modified"]).utcoffset() is not None
    human = run("--url", url, "stat", "photos/cat.jpg", cwd=tmp_path).stdout
    assert "content_type: image/jpeg" in human and "metadata.owner: zoë" in human

    cat = run("--url", url, "cat", "notes/ünï code.txt", cwd=tmp_path)
    assert cat.stdout == "hi\n"
    got = run("--url", url, "get", "photos/cat.jpg", cwd=tmp_path)
    assert got.returncode == 0 and (tmp_path / "cat.jpg").read_bytes() == pattern(300_000)
    (tmp_path / "downloads").mkdir()
    run("--url", url, "get", "notes/ünï code.txt", "downloads", cwd=tmp_path)
    assert (tmp_path / "downloads" / "ünï code.txt").read_bytes() == b"hi\n"
    assert run("--url", url, "get", "notes/ünï code.txt", "-", cwd=tmp_path).stdout == "hi\n"

    copied = run("--url", url, "cp", "photos/cat.jpg", "backup/cat.jpg", cwd=tmp_path)
    assert copied.returncode == 0, copied.stderr
    with objstore.open(url) as store:
        assert store.get("backup/cat.jpg") == pattern(300_000)
        assert dict(store.stat("backup/cat.jpg").metadata or {}) == {"owner": "zoë"}

    removed = run("--url", url, "rm", "photos/cat.jpg", "notes/ünï code.txt", "never", cwd=tmp_path)
    assert removed.returncode == 0 and removed.stdout == ""
    assert run("--url", url, "ls", "-r", cwd=tmp_path).stdout.splitlines() == ["backup/cat.jpg"]


def test_presign_on_s3_gives_working_urls(moto_http: object, tmp_path: Path) -> None:
    with moto_http.bucket() as bucket:  # type: ignore[attr-defined]
        url = s3_url(moto_http, bucket)
        run("--url", url, "put", "-", "report.txt", cwd=tmp_path, input=b"q3")
        signed = run("--url", url, "presign", "report.txt", "--expires", "30m", cwd=tmp_path)
        assert signed.returncode == 0, signed.stderr
        assert "X-Amz-Expires=1800" in signed.stdout
        with urllib.request.urlopen(signed.stdout.strip()) as answer:
            assert answer.read() == b"q3"
        upload = run(
            "--url",
            url,
            "presign",
            "new.txt",
            "--put",
            "--content-type",
            "text/plain",
            "--expires",
            "90",
            cwd=tmp_path,
        ).stdout.strip()
        request = urllib.request.Request(
            upload, data=b"up", method="PUT", headers={"Content-Type": "text/plain"}
        )
        urllib.request.urlopen(request).close()
        assert run("--url", url, "cat", "new.txt", cwd=tmp_path).stdout == "up"


def test_presign_without_signing_config_is_one_line(tmp_path: Path) -> None:
    result = run("--url", f"file://{tmp_path}", "presign", "k", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("objstore: error: ") and result.stderr.count("\n") == 1


def test_store_from_config_file_and_environment(tmp_path: Path) -> None:
    (tmp_path / "objstore.yaml").write_text(f"backend: file\nfile:\n  root: {tmp_path / 'a'}\n")
    assert (
        run("--config", "objstore.yaml", "put", "-", "k", cwd=tmp_path, input=b"1").returncode == 0
    )
    assert (tmp_path / "a" / "k").read_bytes() == b"1"
    env = environment(tmp_path, OBJSTORE_URL=f"file://{tmp_path / 'b'}")
    assert run("put", "-", "k", cwd=tmp_path, input=b"2", env=env).returncode == 0
    assert (tmp_path / "b" / "k").read_bytes() == b"2"
    assert run("ls", cwd=tmp_path).returncode == 0  # nothing set: ./objstore-data
    assert (tmp_path / "objstore-data").is_dir()


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["stat", "missing"], 1, "objstore: error: no object 'missing'"),
        (["get", "missing", "out"], 1, "objstore: error: no object 'missing'"),
        (["put", "no-such-file"], 1, "objstore: error: [Errno 2] No such file or directory"),
        (["put", "-", "bad//key"], 1, "objstore: error: "),
        (["--url", "nope://x", "ls"], 1, "objstore: error: unknown backend 'nope'"),
        (["put", "-"], 2, "objstore put: error: put - needs a KEY"),
        (["presign", "k", "--expires", "soon"], 2, "invalid duration 'soon'"),
        (["--config", "a.yaml", "--url", "memory://", "ls"], 2, "not allowed with argument"),
        (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
    ],
)
def test_errors(tmp_path: Path, args: list[str], status: int, message: str) -> None:
    result = run(*args, cwd=tmp_path, input=b"x")
    assert result.returncode == status
    assert message in result.stderr
    if status == 1:
        assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.*"))


def test_secrets_stay_out_of_errors(moto_http: object, tmp_path: Path) -> None:
    url = s3_url(moto_http, "no-such-bucket-here")
    result = run("--url", url, "ls", cwd=tmp_path)
    assert result.returncode == 1
    assert moto_http.secret_access_key not in result.stderr + result.stdout  # type: ignore[attr-defined]


def test_every_command_has_help_with_an_example(tmp_path: Path) -> None:
    names = [command.name for command in COMMANDS]
    assert {"ls", "stat", "cat", "get", "put", "rm", "cp", "sync", "presign", "check"} <= set(names)
    overview = run("--help", cwd=tmp_path).stdout
    for name in names:
        assert name in overview
        text = run(name, "--help", cwd=tmp_path)
        assert text.returncode == 0 and "example:\n  objstore" in text.stdout


def test_ctrl_c_during_put_stores_nothing(tmp_path: Path) -> None:
    import signal
    import subprocess

    from cli_run import start

    url = f"file://{tmp_path / 'store'}"
    proc = start("--url", url, "put", "-", "partial", cwd=tmp_path, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    # The pipe holds 64 KiB: once these 4 MiB are written, the put has read the rest.
    proc.stdin.write(b"x" * (4 << 20))
    proc.stdin.flush()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.decode() == "objstore: interrupted\n"
    with objstore.open(url) as store:
        assert list(store.list()) == []
    assert not [p for p in (tmp_path / "store").rglob("*") if p.is_file()]


def test_get_writes_a_temporary_file_and_removes_it_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with pytest.raises(KeyboardInterrupt), atomic_file(target) as out:
        out.write(b"half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    with atomic_file(target) as out:
        out.write(b"whole")
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    assert target.read_bytes() == b"whole"
