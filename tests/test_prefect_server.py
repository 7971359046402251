"""Scheduled and manual runs on a real Prefect server, end to end.

Starts `communique server` (a real `prefect server start` on 127.0.0.1 with a temporary
PREFECT_HOME and SQLite) and `communique serve` as subprocesses, triggers the manual
deployment through the API, reads the tables back with DuckDB, and checks that bad
parameters fail clearly. Each process started here runs in its own session and is
killed, with everything it started, on teardown whatever happens. Timings are printed
(`pytest -s` shows them).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import psutil
import pytest

from communique.server import LOOPBACK, api_url, wait_until_healthy
from tests.conftest import PROJECT_ROOT

SERVER_START_TIMEOUT_S = 90.0  # ~15 s with a new database on a 2-core machine
SERVE_START_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 60.0
REFERENCE = PROJECT_ROOT / "data" / "raw" / "jscd-2024.txt"
TIMINGS: dict[str, float] = {}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment minus any PREFECT_* of the developer's shell, plus a private home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **extra}
    return env


@dataclass
class Live:
    url: str
    tmp: Path
    env: dict[str, str]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    def start(self, name: str, args: list[str], cwd: Path) -> subprocess.Popen:
        self.logs[name] = self.tmp / f"{name}.log"
        with open(self.logs[name], "wb") as log:
            # A new session: teardown can kill the process and all it started in one go.
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "communique.cli", *args],
                cwd=cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self.processes[name]

    def log(self, name: str) -> str:
        return self.logs[name].read_text(errors="replace")[-3000:]


def stop(process: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM the process's session, then SIGKILL whatever is left."""
    try:
        family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(True)]
    except psutil.NoSuchProcess:
        family = []
    for signum in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            pass
        _, alive = psutil.wait_procs(family, timeout=grace_s)
        if not alive:
            break
        for proc in alive:  # a child that left the session
            try:
                proc.send_signal(signum)
            except psutil.NoSuchProcess:
                pass
    process.wait(timeout=grace_s)


def listeners(live: Live) -> list[tuple[int, str, str, int]]:
    """(pid, name, ip, port) of every listening socket of the sessions started here."""
    sessions = {p.pid for p in live.processes.values()}
    found = []
    for proc in psutil.process_iter(["name"]):
        try:
            if os.getsid(proc.pid) not in sessions:
                continue
            for conn in proc.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN:
                    found.append((proc.pid, proc.info["name"], conn.laddr.ip, conn.laddr.port))
        except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
            continue
    return found


def assert_loopback_only(live: Live) -> list[tuple[int, str, str, int]]:
    found = listeners(live)
    exposed = [entry for entry in found if entry[2] != LOOPBACK]
    assert not exposed, f"listening beyond {LOOPBACK}: {exposed}"
    return found


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    url = api_url(port)
    # Clients (serve, the flow runs, the prefect CLI) get their own home too, so nothing
    # reads or writes the developer's ~/.prefect profile. A 1 s runner poll keeps the
    # trigger-to-start delay short (`communique serve` defaults to 5 s).
    # The UI is not under test: without it a new server is healthy ~3 s sooner.
    env = isolated_env(
        tmp / "client-home",
        PREFECT_API_URL=url,
        PREFECT_RUNNER_POLL_FREQUENCY="1",
        PREFECT_SERVER_UI_ENABLED="false",
    )
    live = Live(url=url, tmp=tmp, env=env)
    try:
        started = time.monotonic()
        server = live.start(
            "server", ["server", "--port", str(port), "--home", str(tmp / "server-home")], tmp
        )
        try:
            wait_until_healthy(url, SERVER_START_TIMEOUT_S, server)
        except Exception as exc:
            pytest.fail(f"{exc}\n{live.log('server')}")
        TIMINGS["server start (new database)"] = time.monotonic() - started
        assert f"export PREFECT_API_URL={url}" in _wait_for_text(live, "server", "communique serve")

        started = time.monotonic()
        # Not the project folder: the deployments must not depend on the working directory.
        serve = live.start("serve", ["serve"], tmp)
        with _client(url) as client:
            _wait_for_deployments(client, serve, live)
        TIMINGS["serve start (deployments registered)"] = time.monotonic() - started
        yield live
    finally:
        # serve first: on SIGTERM it pauses its schedules, which needs the server alive.
        for name in ("serve", "server"):
            if name in live.processes:
                stop(live.processes[name])
        print("\n" + "\n".join(f"  {what}: {seconds:.1f} s" for what, seconds in TIMINGS.items()))


@contextmanager
def _client(url: str):
    """A sync Prefect client for the test's server, whatever else the session set up."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: url}), get_client(sync_client=True) as c:
        yield c


def _wait_for_text(live: Live, name: str, text: str, timeout_s: float = 10.0) -> str:
    deadline = time.monotonic() + timeout_s
    while text not in (log := live.log(name)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return log


def _wait_for_deployments(client, serve: subprocess.Popen, live: Live) -> None:
    from prefect.exceptions import ObjectNotFound

    deadline = time.monotonic() + SERVE_START_TIMEOUT_S
    for name in ("process-statements/scheduled", "process-statements/manual"):
        while True:
            try:
                client.read_deployment_by_name(name)
                break
            except ObjectNotFound:
                pass
            if serve.poll() is not None:
                pytest.fail(
                    f"`communique serve` exited with {serve.returncode}:\n{live.log('serve')}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"{name} not registered after {SERVE_START_TIMEOUT_S:g} s")
            time.sleep(0.2)


def _wait_for_final_state(client, flow_run_id, live: Live):
    """Poll the run until it ends; check the listeners while it runs."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        run = client.read_flow_run(flow_run_id)
        if run.state is not None and run.state.is_final():
            return run
        assert_loopback_only(live)
        if time.monotonic() > deadline:
            pytest.fail(
                f"flow run still {run.state} after {RUN_TIMEOUT_S:g} s\n{live.log('serve')}"
            )
        time.sleep(0.25)


def test_both_deployments_exist_and_scheduled_carries_its_cron(live):
    with _client(live.url) as client:
        scheduled = client.read_deployment_by_name("process-statements/scheduled")
        manual = client.read_deployment_by_name("process-statements/manual")
    [schedule] = scheduled.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 6 * * *", "UTC")
    assert schedule.active
    assert manual.schedules == []
    for deployment in (scheduled, manual):
        assert deployment.enforce_parameter_schema
        assert deployment.parameters["raw_dir"] == str(PROJECT_ROOT / "data" / "raw")
        assert deployment.parameters["out_dir"] == str(PROJECT_ROOT / "data" / "processed")


def test_a_manual_run_completes_and_duckdb_reads_its_tables(live):
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.deployments import run_deployment

    raw, out = live.tmp / "raw", live.tmp / "out"
    raw.mkdir()
    shutil.copy(REFERENCE, raw)
    started = time.monotonic()
    with _client(live.url) as client:
        # timeout=0: create the run and return; we poll ourselves to watch the sockets.
        run = run_deployment(
            "process-statements/manual",
            parameters={"raw_dir": str(raw), "out_dir": str(out), "batch_size": 100},
            timeout=0,
        )
        run = _wait_for_final_state(client, run.id, live)
        TIMINGS["manual run, trigger to Completed"] = time.monotonic() - started
        assert run.state.is_completed(), f"{run.state}\n{live.log('serve')}"
        artifacts = client.read_artifacts(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id]))
        )
    assert {a.key for a in artifacts} >= {"run-summary", "run-themes"}
    assert {a.type for a in artifacts} >= {"markdown", "table"}

    connection = duckdb.connect()
    [(paragraphs,)] = connection.execute(
        f"select count(*) from read_parquet('{out}/paragraphs/**/*.parquet', "
        "hive_partitioning=true)"
    ).fetchall()
    [(documents, status)] = connection.execute(
        f"select (select count(*) from read_parquet('{out}/documents/**/*.parquet', "
        "hive_partitioning=true)), "
        f"(select status from read_parquet('{out}/runs/*.parquet'))"
    ).fetchall()
    assert paragraphs > 0
    assert (documents, status) == (1, "completed")


def test_a_missing_raw_dir_fails_the_run_naming_the_parameter(live):
    from prefect.deployments import run_deployment

    started = time.monotonic()
    with _client(live.url) as client:
        run = run_deployment(
            "process-statements/manual",
            parameters={"raw_dir": str(live.tmp / "no-such-folder"), "out_dir": str(live.tmp)},
            timeout=0,
        )
        run = _wait_for_final_state(client, run.id, live)
    TIMINGS["bad raw_dir, trigger to Failed"] = time.monotonic() - started
    assert run.state.is_failed()
    assert "raw_dir" in run.state.message
    assert "does not point to a directory" in run.state.message


def test_a_schema_violation_is_rejected_when_the_run_is_created(live):
    from prefect.deployments import run_deployment
    from prefect.exceptions import PrefectHTTPStatusError

    with _client(live.url):
        with pytest.raises(PrefectHTTPStatusError, match="batch_size") as raised:
            run_deployment("process-statements/manual", parameters={"batch_size": 0}, timeout=0)
    assert raised.value.response.status_code == 409
    assert "less than the minimum of 1" in str(raised.value)


def test_the_scheduler_plans_runs_at_the_configured_hour(live):
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    deadline = time.monotonic() + 30
    with _client(live.url) as client:
        while True:
            planned = client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["scheduled"])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(
                        type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])
                    )
                ),
            )
            if planned or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert planned, "the server's scheduler planned no run for process-statements/scheduled"
    for run in planned:
        assert (run.expected_start_time.hour, run.expected_start_time.minute) == (6, 0)


def test_every_listener_is_on_loopback(live):
    found = assert_loopback_only(live)
    port = int(live.url.rsplit(":", 1)[1].split("/")[0])
    assert any(entry[3] == port for entry in found), f"no listener on the API port: {found}"


def test_prefect_yaml_deploys_to_a_process_work_pool(live):
    """The work-pool route: `prefect deploy --all` accepts prefect.yaml as it is."""

    def prefect(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "prefect", *args, "--no-prompt"],
            cwd=PROJECT_ROOT,
            env=live.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    from prefect.client.schemas.actions import WorkPoolCreate

    with _client(live.url) as client:
        # What `prefect work-pool create communique --type process` does, minus a CLI start.
        client.create_work_pool(WorkPoolCreate(name="communique", type="process"))
        started = time.monotonic()
        prefect("deploy", "--all")
        TIMINGS["prefect deploy --all (work-pool route)"] = time.monotonic() - started
        scheduled = client.read_deployment_by_name("process-statements/scheduled")
    assert scheduled.work_pool_name == "communique"
    assert scheduled.entrypoint == "flows/process_statements.py:process_statements"
    assert scheduled.schedules[0].schedule.cron == "0 6 * * *"
    assert scheduled.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(PROJECT_ROOT)}}
    ]
