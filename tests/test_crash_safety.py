"""Killed and concurrent runs: real `communique run` processes against a Prefect server."""

import os
import random
import shutil
import signal
import subprocess
import sys
import time

import polars as pl
import pytest

from communique.store import read_manifest, read_table, scan_snapshot
from tasks.validate import consistency_problems
from tests.conftest import PROJECT_ROOT
from tests.test_flow import assert_same_content, content

KILLS = 6
COMMUNIQUE = [sys.executable, "-m", "communique.cli", "run"]


def _start(raw, out, api_url, *extra):
    env = {**os.environ, "PREFECT_API_URL": api_url}
    return subprocess.Popen(
        [*COMMUNIQUE, "--raw-dir", str(raw), "--out-dir", str(out), *extra],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


start_run = _start


def assert_consistent(out):
    """The published tables agree with each other and with their manifest."""
    manifest = read_manifest(out)
    if manifest is None:  # killed before the first publish: nothing is visible at all
        assert not (out / "documents").exists()
        return
    snapshot = out / "current"
    assert consistency_problems(scan_snapshot(snapshot)) == []
    for table, entry in manifest["tables"].items():
        assert read_table(out, table).height == entry["rows"], table


def make_corpus(devset, raw, copies):
    for copy in range(copies):
        shutil.copytree(devset / "docs", raw / f"batch-{copy:03d}")
    for path in raw.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def mutate(raw, rng):
    """One random edit, addition or deletion, like a day of new statements."""
    files = sorted(p for p in raw.rglob("*") if p.is_file())
    victim = rng.choice(files)
    action = rng.choice(["edit", "add", "delete"])
    if action == "edit":
        victim.write_bytes(victim.read_bytes() + b"\n\nA new paragraph on ISIS detainees.\n")
    elif action == "add":
        shutil.copy(victim, victim.with_name(f"new-{rng.randrange(10**6)}{victim.suffix}"))
    else:
        victim.unlink()


def test_sigkill_at_random_moments_never_breaks_the_tables(prefect_server, devset, tmp_path):
    raw, out, rebuilt = tmp_path / "raw", tmp_path / "out", tmp_path / "rebuilt"
    raw.mkdir()
    make_corpus(devset, raw, copies=40)
    rng = random.Random(20240722)
    for _ in range(KILLS):
        mutate(raw, rng)
        process = start_run(raw, out, prefect_server, "--batch-size", "200")
        time.sleep(rng.uniform(0.5, 8.0))
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
        assert_consistent(out)

    finished = start_run(raw, out, prefect_server)
    stdout, stderr = finished.communicate(timeout=300)
    assert finished.returncode == 0, stderr
    assert_consistent(out)
    assert not list((out / "_snapshots").glob("*.partial"))

    full = start_run(raw, rebuilt, prefect_server, "--full-refresh")
    _, stderr = full.communicate(timeout=300)
    assert full.returncode == 0, stderr
    assert_same_content(content(out), content(rebuilt))
    runs = read_table(out, "runs").filter(pl.col("status") == "completed").tail(1)
    assert runs["files_seen"][0] == (
        runs["documents_written"][0] + runs["documents_unchanged"][0] + runs["files_rejected"][0]
    )


def test_concurrent_runs_wait_or_fail_clearly_and_never_write_together(
    prefect_server, devset, tmp_path
):
    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    make_corpus(devset, raw, copies=5)
    first = start_run(raw, out, prefect_server)
    deadline = time.monotonic() + 60
    while not (out / ".communique.lock").exists() or not _locked(out):
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the first run never took the lock"
        time.sleep(0.02)
    # Freeze the first run while it holds the lock, so the overlap is certain.
    os.killpg(first.pid, signal.SIGSTOP)
    impatient = start_run(raw, out, prefect_server, "--lock-timeout", "0")
    _, impatient_err = impatient.communicate(timeout=120)
    patient = start_run(raw, out, prefect_server, "--lock-timeout", "120")
    time.sleep(5)  # the patient run is now waiting for the lock
    assert patient.poll() is None
    os.killpg(first.pid, signal.SIGCONT)
    _, first_err = first.communicate(timeout=300)
    _, patient_err = patient.communicate(timeout=300)

    assert impatient.returncode == 1
    assert "another run is writing to" in impatient_err
    assert first.returncode == 0, first_err
    assert patient.returncode == 0, patient_err
    runs = read_table(out, "runs").sort("started_at")
    assert runs["status"].to_list() == ["completed", "completed"]
    assert_consistent(out)


def _locked(out) -> bool:
    import fcntl

    with open(out / ".communique.lock") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


@pytest.fixture(autouse=True)
def _no_leftover_processes(monkeypatch):
    """Kill every run a test started, by its process group, even when the test fails."""
    started = []

    def tracked(*args):
        process = _start(*args)
        started.append(process)
        return process

    monkeypatch.setattr(sys.modules[__name__], "start_run", tracked)
    yield
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
