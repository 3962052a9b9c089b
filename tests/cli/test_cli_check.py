"""``objstore check``: the conformance kit against a live store, as a report."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from cli_run import entries, environment, run, s3_url, start, wait_for
from wheels import build_wheel, pip_install

SUMMARY = "check: {passed} passed, {failed} failed, {skipped} skipped on "

# moto pairs an object's headers with its data loosely under concurrent overwrites
# (docs/s3.md, "Deviations"): the one behaviour it may fail, and only that way.
MOTO_DEVIATION = "readers_see_whole_versions_during_overwrites"

BROKEN_BACKEND = '''
"""A store whose stat answers in local time, whose listing invents content types, and
which cannot write conditionally: check must say so."""
import dataclasses
from datetime import timedelta, timezone

from objstore.backends.memory import MemoryBackend
from objstore.backend import Capabilities, ObjectInfo
from objstore.plugin import BackendSpec


class SloppyBackend(MemoryBackend):
    name = "sloppy"
    capabilities = Capabilities(server_side_copy=True, batch_delete=True)

    def stat(self, key):
        info = super().stat(key)
        return dataclasses.replace(info, last_modified=info.last_modified.astimezone(
            timezone(timedelta(hours=2))))

    def list(self, prefix, *, delimiter, start_after):
        for item in super().list(prefix, delimiter=delimiter, start_after=start_after):
            if isinstance(item, ObjectInfo):
                item = dataclasses.replace(item, content_type="text/wrong")
            yield item


SPEC = BackendSpec(name="sloppy", options={}, factory=lambda section, shared: SloppyBackend())
'''


def outcomes(stdout: str) -> dict[str, str]:
    """behaviour → the rest of its line (``passed``, ``failed: why``...)."""
    lines = {}
    for line in stdout.splitlines()[:-1]:
        outcome, _, rest = line.partition(" ")
        name, _, reason = rest.strip().partition(": ")
        lines[name] = outcome + (f": {reason}" if reason else "")
    return lines


def test_check_passes_on_memory(tmp_path: Path) -> None:
    result = run("check", "memory://", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    seen = outcomes(result.stdout)
    assert len(seen) > 190 and "failed" not in "".join(seen.values())
    assert seen["keys_longest_valid_key"] == "passed"  # with the scratch prefix's budget
    assert seen["state_machine_agrees_with_the_model"] == "passed"
    last = result.stdout.splitlines()[-1]
    assert last.startswith("check: ") and " 0 failed, " in last and "keeps the contract" in last
    assert list(tmp_path.iterdir()) == []  # no .hypothesis, no pytest cache


@pytest.mark.slow
def test_check_on_a_directory_under_a_prefix_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "mine.txt").write_text("the user's own object")
    (tmp_path / "store.yaml").write_text(
        f"backend: file\nprefix: some/namespace-\nfile:\n  root: {tmp_path / 'root'}\n"
    )
    result = run("check", "store.yaml", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert {line["outcome"] for line in lines[:-1]} <= {"passed", "skipped"}
    assert lines[-1]["summary"]["failed"] == 0 and lines[-1]["summary"]["passed"] > 190
    assert entries(tmp_path / "root") == ["mine.txt"]


@pytest.mark.slow
def test_check_passes_on_moto(moto_http: Any, tmp_path: Path) -> None:
    with moto_http.bucket() as bucket:
        result = run("check", s3_url(moto_http, bucket, "team/"), cwd=tmp_path)
        seen = outcomes(result.stdout)
        failed = {name for name, outcome in seen.items() if outcome.startswith("failed")}
        assert failed <= {MOTO_DEVIATION}, result.stdout
        assert len(seen) > 190 and result.returncode == (1 if failed else 0)
        assert moto_http.secret_access_key not in result.stdout + result.stderr
        assert moto_http.client().list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def build_plugin(directory: Path) -> Path:
    """Install a wheel whose entry point registers the ``sloppy`` backend; return its path."""
    sources = {"objstore_sloppy.py": textwrap.dedent(BROKEN_BACKEND)}
    wheel = build_wheel(directory, "objstore_sloppy", sources, {"sloppy": "objstore_sloppy:SPEC"})
    target = directory / "site"
    pip_install(wheel, target)
    return target


def test_check_names_what_a_broken_plugin_store_breaks(tmp_path: Path) -> None:
    site = build_plugin(tmp_path)
    env = environment(tmp_path, PYTHONPATH=str(site))
    result = run("check", "sloppy://", cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stderr
    seen = outcomes(result.stdout)
    for behaviour in ("stat_fills_everything", "list_content_type_and_metadata_are_real_or_none"):
        assert seen[behaviour].startswith("failed: "), seen[behaviour]
    assert seen["if_none_match_refuses_an_existing_key"] == (
        "skipped: the store declares no conditional_put"
    )
    assert seen["keys_are_case_sensitive"] == "passed"
    last = result.stdout.splitlines()[-1]
    assert last.startswith("check: ") and " 0 failed" not in last and "breaks it" in last


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_check_cleans_up(tmp_path: Path, signum: int, status: int) -> None:
    root = tmp_path / "root"
    root.mkdir()
    proc = start("check", "root", cwd=tmp_path)
    wait_for(lambda: bool(entries(root)), "the kit's first object")
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err
    assert entries(root) == []
    assert not out.decode().splitlines()[-1:] or "check:" not in out.decode().splitlines()[-1]


def test_check_without_the_extra_names_it(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "from objstore.cli import main\n"
        "sys.exit(main(['check', 'memory://']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert result.returncode == 1
    assert result.stderr == (
        "objstore: error: objstore check runs the conformance kit, which needs hypothesis: "
        "pip install 'objstore[check]'\n"
    )


def test_an_unreachable_store_is_one_error(tmp_path: Path) -> None:
    url = "s3://bucket/?endpoint_url=http://127.0.0.1:9&access_key_id=k&secret_access_key=hush"
    result = run("check", url, cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("objstore: error: s3: ") and "unavailable" in result.stderr
    assert result.stderr.count("\n") == 1
    assert "hush" not in result.stderr
