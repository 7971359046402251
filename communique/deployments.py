"""Deployments of the `process-statements` flow: what `communique serve` offers a server.

The operator's knobs (cron, timezone, default parameters) live in config/deployments.toml
so that changing the schedule is a data edit, not a code change. prefect.yaml repeats
them for the work-pool route; tests/test_deployments.py keeps the two in step.

Loading the file checks the schedule with Prefect's own model; building the deployments
imports the flow (and so polars and every stage), and is done by `communique serve` only.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from communique.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.deployments.runner import RunnerDeployment

DEPLOYMENTS_CONFIG = PROJECT_ROOT / "config" / "deployments.toml"
FLOW_NAME = "process-statements"
SCHEDULED = "scheduled"
MANUAL = "manual"
# Parameters holding paths: relative values in the config are resolved against the
# project folder, so a run does not depend on where `communique serve` was started
# (URLs such as s3://bucket/raw are kept as they are).
PATH_PARAMETERS = ("raw_dir", "out_dir", "taxonomy")
TAGS = ["communique"]

DESCRIPTIONS = {
    SCHEDULED: "Scheduled run of process-statements (schedule in config/deployments.toml).",
    MANUAL: "Run process-statements on demand; every parameter can be given per run.",
}


class DeploymentConfigError(ValueError):
    """config/deployments.toml is missing, malformed or names impossible values."""


@dataclass(frozen=True)
class DeploymentSpec:
    name: str
    parameters: dict[str, Any] = field(default_factory=dict)
    cron: str | None = None
    timezone: str | None = None

    @property
    def full_name(self) -> str:
        return f"{FLOW_NAME}/{self.name}"

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self.name]


def load_deployment_specs(
    path: Path = DEPLOYMENTS_CONFIG, project_root: Path = PROJECT_ROOT
) -> list[DeploymentSpec]:
    """Read and check the config; every problem is reported as `path: [section] ...`."""
    try:
        config = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise DeploymentConfigError(f"{path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise DeploymentConfigError(f"{path}: {exc}") from None

    unknown = set(config) - {SCHEDULED, MANUAL}
    if unknown:
        raise DeploymentConfigError(
            f"{path}: unknown section(s) {sorted(unknown)}; expected [{SCHEDULED}] and [{MANUAL}]"
        )
    scheduled = _section(config, SCHEDULED, path, allowed={"cron", "timezone", "parameters"})
    manual = _section(config, MANUAL, path, allowed={"parameters"})
    if "cron" not in scheduled:
        raise DeploymentConfigError(f"{path}: [{SCHEDULED}] needs a cron, e.g. '0 6 * * *'")
    cron, timezone = scheduled["cron"], scheduled.get("timezone", "UTC")
    _check_schedule(cron, timezone, path)
    return [
        DeploymentSpec(
            name=SCHEDULED,
            parameters=_parameters(scheduled, SCHEDULED, path, project_root),
            cron=cron,
            timezone=timezone,
        ),
        DeploymentSpec(name=MANUAL, parameters=_parameters(manual, MANUAL, path, project_root)),
    ]


def _section(config: dict, name: str, path: Path, allowed: set[str]) -> dict:
    section = config.get(name, {})
    if not isinstance(section, dict):
        raise DeploymentConfigError(f"{path}: [{name}] must be a table")
    unknown = set(section) - allowed
    if unknown:
        raise DeploymentConfigError(
            f"{path}: [{name}] has unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
        )
    return section


def _check_schedule(cron: Any, timezone: Any, path: Path) -> None:
    # Prefect's own schedule model: the server accepts exactly what this accepts.
    import pydantic
    from prefect.client.schemas.schedules import CronSchedule

    try:
        CronSchedule(cron=cron, timezone=timezone)
    except pydantic.ValidationError as exc:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        raise DeploymentConfigError(f"{path}: [{SCHEDULED}] {problems}") from None


def _parameters(section: dict, name: str, path: Path, project_root: Path) -> dict[str, Any]:
    parameters = section.get("parameters", {})
    if not isinstance(parameters, dict):
        raise DeploymentConfigError(f"{path}: [{name}.parameters] must be a table")
    from fsspec.core import split_protocol

    resolved = dict(parameters)
    for key in PATH_PARAMETERS:
        value = resolved.get(key)
        if isinstance(value, str) and split_protocol(value)[0] is None:
            resolved[key] = str((project_root / value).resolve())
    return resolved


def check_parameters(flow: Flow, spec: DeploymentSpec, path: Path = DEPLOYMENTS_CONFIG) -> None:
    """Refuse default parameters the flow would reject, before the server ever sees them."""
    from prefect.exceptions import ParameterTypeError

    unknown = set(spec.parameters) - set(flow.parameters.properties)
    if unknown:
        raise DeploymentConfigError(
            f"{path}: [{spec.name}.parameters] unknown parameter(s) {sorted(unknown)}; "
            f"the flow takes {sorted(flow.parameters.properties)}"
        )
    try:
        flow.validate_parameters(spec.parameters)
    except ParameterTypeError as exc:
        raise DeploymentConfigError(f"{path}: [{spec.name}.parameters] {exc}") from None


def build_deployments(specs: list[DeploymentSpec]) -> list[RunnerDeployment]:
    """One runner deployment per spec, ready for `prefect.serve`."""
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    from flows.process_statements import process_statements

    deployments = []
    for spec in specs:
        check_parameters(process_statements, spec)
        deployments.append(
            process_statements.to_deployment(
                name=spec.name,
                schedules=[Cron(spec.cron, timezone=spec.timezone)] if spec.cron else None,
                parameters=spec.parameters,
                description=spec.description,
                tags=TAGS,
                # The server rejects runs whose parameters break the flow's JSON schema
                # (wrong type, batch_size < 1) when they are created; what the schema
                # cannot say (a folder that does not exist) fails the run at its start.
                enforce_parameter_schema=True,
                # Import by module name, not file path: the run then works whatever the
                # working directory of `communique serve` (the package is installed).
                entrypoint_type=EntrypointType.MODULE_PATH,
            )
        )
    return deployments
