"""config/deployments.toml, prefect.yaml, and the refusals of `serve` and `server`.

The live server is exercised in tests/test_prefect_server.py; these checks need none.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import tomllib

import pytest
import yaml

from communique.deployments import (
    DEPLOYMENTS_CONFIG,
    MANUAL,
    SCHEDULED,
    DeploymentConfigError,
    DeploymentSpec,
    build_deployments,
    check_parameters,
    load_deployment_specs,
)
from communique.server import LOOPBACK, check_health, port_in_use, server_command, server_env
from tests.conftest import PROJECT_ROOT

GOOD = """
[scheduled]
cron = "0 6 * * *"
timezone = "UTC"
[scheduled.parameters]
raw_dir = "data/raw"
[manual.parameters]
out_dir = "/srv/tables"
"""


def write(tmp_path, text: str):
    path = tmp_path / "deployments.toml"
    path.write_text(text)
    return path


def test_the_shipped_config_runs_daily_at_six_utc_on_the_project_folders():
    scheduled, manual = load_deployment_specs()
    assert (scheduled.full_name, scheduled.cron, scheduled.timezone) == (
        "process-statements/scheduled",
        "0 6 * * *",
        "UTC",
    )
    assert manual.full_name == "process-statements/manual" and manual.cron is None
    for spec in (scheduled, manual):
        assert spec.parameters == {
            "raw_dir": str(PROJECT_ROOT / "data" / "raw"),
            "out_dir": str(PROJECT_ROOT / "data" / "processed"),
        }


def test_relative_paths_resolve_against_the_project_and_absolute_ones_stay(tmp_path):
    scheduled, manual = load_deployment_specs(write(tmp_path, GOOD), project_root=tmp_path)
    assert scheduled.parameters == {"raw_dir": str(tmp_path / "data" / "raw")}
    assert manual.parameters == {"out_dir": "/srv/tables"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("0 6 * * *", "0 25 * * *"), r"\[scheduled\] cron: .*Invalid cron"),
        (GOOD.replace('"UTC"', '"Mars/Olympus"'), r"\[scheduled\] timezone: .*Mars/Olympus"),
        (GOOD.replace('cron = "0 6 * * *"', ""), r"\[scheduled\] needs a cron"),
        (GOOD + "\n[nightly]\n", r"unknown section\(s\) \['nightly'\]"),
        (GOOD.replace("cron =", "crontab = 1\ncron ="), r"unknown key\(s\) \['crontab'\]"),
        (GOOD + "\n[manual]\ncron = 'x'\n", r"\[manual\] has unknown key\(s\) \['cron'\]"),
        ("[scheduled\n", r"deployments.toml: "),
    ],
)
def test_a_broken_config_is_refused_with_where_and_why(tmp_path, text, message):
    with pytest.raises(DeploymentConfigError, match=message):
        load_deployment_specs(write(tmp_path, text))


def test_a_missing_config_says_so(tmp_path):
    with pytest.raises(DeploymentConfigError, match="does not exist"):
        load_deployment_specs(tmp_path / "nope.toml")


@pytest.fixture(scope="module")
def flow():
    from flows.process_statements import process_statements

    return process_statements


def test_default_parameters_the_flow_would_reject_are_refused_before_serving(flow, tmp_path):
    with pytest.raises(DeploymentConfigError, match=r"unknown parameter\(s\) \['raw_folder'\]"):
        check_parameters(flow, DeploymentSpec(MANUAL, {"raw_folder": str(tmp_path)}))
    with pytest.raises(DeploymentConfigError, match="batch_size"):
        check_parameters(flow, DeploymentSpec(MANUAL, {"batch_size": 0}))
    with pytest.raises(DeploymentConfigError, match="raw_dir"):
        check_parameters(flow, DeploymentSpec(MANUAL, {"raw_dir": str(tmp_path / "nope")}))
    check_parameters(flow, DeploymentSpec(MANUAL, {"raw_dir": str(tmp_path), "batch_size": 5}))


def test_built_deployments_carry_schedule_parameters_and_a_module_entrypoint(flow):
    scheduled, manual = build_deployments(load_deployment_specs())
    assert (scheduled.name, manual.name) == (SCHEDULED, MANUAL)
    [schedule] = scheduled.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 6 * * *", "UTC")
    assert manual.schedules == []
    for deployment in (scheduled, manual):
        assert deployment.entrypoint == "flows.process_statements.process_statements"
        assert deployment.enforce_parameter_schema
        assert deployment.parameters["raw_dir"] == str(PROJECT_ROOT / "data" / "raw")


def test_prefect_yaml_is_valid_and_agrees_with_deployments_toml():
    # The model `prefect deploy` validates prefect.yaml with (a private module: if a
    # Prefect upgrade moves it, the live test of `prefect deploy --all` still checks).
    from prefect.cli.deploy._models import PrefectYamlModel

    model = PrefectYamlModel.model_validate(
        yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())
    )
    by_name = {d.name: d for d in model.deployments}
    config = tomllib.loads(DEPLOYMENTS_CONFIG.read_text())
    assert set(by_name) == {SCHEDULED, MANUAL}
    [schedule] = by_name[SCHEDULED].schedules
    assert (schedule.cron, schedule.timezone) == (
        config[SCHEDULED]["cron"],
        config[SCHEDULED].get("timezone", "UTC"),
    )
    assert not by_name[MANUAL].schedules
    for name, deployment in by_name.items():
        assert deployment.parameters == config[name].get("parameters", {}), name
        assert deployment.entrypoint == "flows/process_statements.py:process_statements"
        assert deployment.enforce_parameter_schema
        assert deployment.work_pool.name == "communique"
    assert (PROJECT_ROOT / "flows" / "process_statements.py").is_file()


def test_server_helpers_bind_loopback_and_keep_a_private_home(tmp_path):
    command = server_command(4321)
    assert command[command.index("--host") + 1] == LOOPBACK
    env = server_env(tmp_path, 4321, base={"PREFECT_API_URL": "http://elsewhere:1/api"})
    assert env["PREFECT_HOME"] == str(tmp_path)
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert env["PREFECT_API_URL"] == "http://127.0.0.1:4321/api"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def test_check_health_reports_a_dead_address_quickly():
    started = time.monotonic()
    problem = check_health(f"http://{LOOPBACK}:{closed_port()}/api", timeout_s=2)
    assert problem and "Connect" in problem
    assert time.monotonic() - started < 3


def communique(tmp_path, *args, **env_extra) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path / "home"), **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "communique.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_without_a_server_url_says_what_to_do(tmp_path):
    done = communique(tmp_path, "serve")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert "PREFECT_API_URL is not set" in done.stderr
    assert "communique server" in done.stderr


def test_serve_with_an_unreachable_server_fails_in_one_line(tmp_path):
    url = f"http://{LOOPBACK}:{closed_port()}/api"
    done = communique(tmp_path, "serve", PREFECT_API_URL=url)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"no Prefect server answers at PREFECT_API_URL={url}" in done.stderr


def test_server_refuses_a_taken_port(tmp_path):
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        port = taken.getsockname()[1]
        assert port_in_use(port)
        done = communique(tmp_path, "server", "--port", str(port), "--home", str(tmp_path))
    assert done.returncode == 1
    assert f"port {port} on {LOOPBACK} is taken" in done.stderr
