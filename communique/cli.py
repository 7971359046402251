"""`communique`: the command line. Heavy imports (Prefect, polars) happen inside commands
so that `communique --help` answers at once."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from communique.settings import DEFAULT_BATCH_SIZE, DEFAULT_OUT_DIR, DEFAULT_RAW_DIR

if TYPE_CHECKING:
    from communique.locations import Location


def prefect_defaults() -> None:
    """Settings that suit an offline batch job, unless the user has set them."""
    # No telemetry: the machines this runs on are often offline, and it only logs errors.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # A cold embedded server (database migrations) can take ~25 s on a small machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def preflight(
    raw_dir: str | Path,
    out_dir: str | Path,
    taxonomy: Path | None,
    gazetteer: Path | None = None,
) -> Location:
    """Refuse at once, with one clear line, what cannot run (before Prefect starts);
    return the output folder's Location."""
    from communique.gazetteer import DEFAULT_GAZETTEER_PATH, load_gazetteer
    from communique.lexicon import DEFAULT_LEXICON_PATH, LexiconError, load_lexicon
    from communique.locations import parse_location

    try:
        raw = parse_location(raw_dir)
        raw_exists = raw.fs.isdir(raw.path)
    except Exception as exc:  # a missing package (fsspec's error names it), credentials, …
        fail(f"raw directory {raw_dir} cannot be read: {exc}")
    if not raw_exists:
        fail(f"raw directory {raw_dir} does not exist or is not a directory")
    try:
        out = parse_location(out_dir)
    except ImportError as exc:
        fail(f"output directory {out_dir} cannot be written: {exc}")
    if not out.is_local:
        from communique.remote import working_copy

        # its tables are built in a local working copy, then pushed (docs/scale-out.md)
        out_dir = working_copy(out)
    try:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".write-test-"):
            pass
    except OSError as exc:
        fail(f"output directory {out_dir} is not writable: {exc.strerror or exc}")
    try:
        load_lexicon(taxonomy or DEFAULT_LEXICON_PATH)
    except (LexiconError, OSError) as exc:
        fail(f"lexicon {taxonomy or DEFAULT_LEXICON_PATH} is broken:\n{exc}")
    try:
        load_gazetteer(gazetteer or DEFAULT_GAZETTEER_PATH)
    except (LexiconError, OSError) as exc:  # GazetteerError is a LexiconError
        fail(f"gazetteer {gazetteer or DEFAULT_GAZETTEER_PATH} is broken:\n{exc}")
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Turn security-cooperation statements into validated, analysis-ready tables."""


path_option = click.Path(path_type=Path)


@main.command()
@click.option(
    "--raw-dir",
    default=str(DEFAULT_RAW_DIR),
    show_default=True,
    help="Folder of statements (.txt, .md, .html), read recursively: a local path or an "
    "fsspec URL such as s3://bucket/raw.",
)
@click.option(
    "--out-dir",
    default=str(DEFAULT_OUT_DIR),
    show_default=True,
    help="Folder the Parquet tables are written to: a local path or an fsspec URL such as "
    "s3://bucket/communique (built in a local working copy, then pushed).",
)
@click.option(
    "--taxonomy",
    type=path_option,
    default=None,
    help="Theme lexicon (TOML); default config/themes.toml.",
)
@click.option(
    "--gazetteer",
    type=path_option,
    default=None,
    help="Gazetteer of countries, organisations and programmes (TOML); default "
    "config/gazetteer.toml.",
)
@click.option("--full-refresh", is_flag=True, help="Reprocess every file, not only changed ones.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Documents per batch (bounds memory).",
)
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds to wait for another run on the same out-dir before failing.",
)
@click.option(
    "--task-runner",
    type=click.Choice(["thread", "dask"]),
    default="thread",
    show_default=True,
    help="Where batch tasks run: threads of this process, or a Dask cluster.",
)
@click.option(
    "--dask-address",
    default=None,
    metavar="tcp://HOST:PORT",
    help="Scheduler of a running Dask cluster (with --task-runner dask); default: a "
    "local cluster of 2 worker processes on 127.0.0.1.",
)
def run(
    raw_dir,
    out_dir,
    taxonomy,
    gazetteer,
    full_refresh,
    batch_size,
    lock_timeout,
    task_runner,
    dask_address,
) -> None:
    """Run the process-statements flow once and print a summary."""
    if dask_address and task_runner != "dask":
        fail("--dask-address needs --task-runner dask")
    out = preflight(raw_dir, out_dir, taxonomy, gazetteer)
    # workers write their parts into the out-dir; a URL's working copy is on this machine
    if dask_address and not out.is_local:
        fail("--dask-address needs an --out-dir on storage the workers share (a path)")
    prefect_defaults()
    import asyncio

    from communique.summary import RunSummary, render_text
    from flows.process_statements import process_statements

    flow = process_statements
    if task_runner == "dask":
        from communique.scaleout import dask_task_runner

        flow = process_statements.with_options(task_runner=dask_task_runner(dask_address))
    try:
        result = asyncio.run(
            flow(
                raw_dir=raw_dir,
                out_dir=out_dir,
                taxonomy=taxonomy,
                gazetteer=gazetteer,
                full_refresh=full_refresh,
                batch_size=batch_size,
                lock_timeout_s=lock_timeout,
            )
        )
    except Exception as exc:  # the flow has logged the details; the user gets one line
        fail(f"run failed: {type(exc).__name__}: {exc}")
    click.echo(render_text(RunSummary(**result)))


@main.command()
@click.option(
    "--gold-dir",
    type=path_option,
    required=True,
    help="Labelled set: docs/, gold.jsonl, meta.jsonl (the devset format).",
)
@click.option("--taxonomy", type=path_option, default=None, help="Lexicon to evaluate.")
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
def evaluate(gold_dir: Path, taxonomy: Path | None, as_json: bool) -> None:
    """Run the pipeline on a labelled set and score it."""
    import json

    from communique.evaluate import GoldError, load_labelled_set, render_report, score

    try:
        labelled = load_labelled_set(gold_dir)
    except GoldError as exc:
        fail(f"bad labelled set: {exc}")
    with tempfile.TemporaryDirectory(prefix="communique-evaluate-") as scratch:
        out_dir = Path(scratch)
        preflight(labelled.docs_dir, out_dir, taxonomy)
        prefect_defaults()
        import asyncio

        from communique.store import read_table
        from flows.process_statements import process_statements

        asyncio.run(
            process_statements(raw_dir=labelled.docs_dir, out_dir=out_dir, taxonomy=taxonomy)
        )
        tables = {
            t: read_table(out_dir, t) for t in ("documents", "paragraphs", "paragraph_themes")
        }
    result = score(labelled, tables)
    click.echo(json.dumps(result, indent=2, default=str) if as_json else render_report(result))


@main.group()
def taxonomy() -> None:
    """Work with theme lexicon files."""


@taxonomy.command("check")
@click.argument("path", type=path_option, required=False)
@click.option("--gazetteer", "gazetteer_path", type=path_option, help="Gazetteer to check.")
def taxonomy_check(path: Path | None, gazetteer_path: Path | None) -> None:
    """Validate the theme lexicon and the gazetteer.

    With no arguments, checks config/themes.toml and config/gazetteer.toml. PATH is
    checked as a gazetteer when it holds [[entity]] tables, else as a lexicon.
    """
    from communique.gazetteer import DEFAULT_GAZETTEER_PATH, check_gazetteer, is_gazetteer
    from communique.lexicon import DEFAULT_LEXICON_PATH, check_lexicon

    targets = [] if path or gazetteer_path else [DEFAULT_LEXICON_PATH, DEFAULT_GAZETTEER_PATH]
    targets += [p for p in (path, gazetteer_path) if p]
    total = 0
    for target in targets:
        if not target.is_file():
            fail(f"{target} does not exist")
        gazetteer = target == gazetteer_path or is_gazetteer(target)
        problems = (check_gazetteer if gazetteer else check_lexicon)(target)
        for problem in problems:
            click.echo(f"{target}:{problem.line or '?'}: {problem.message}", err=True)
        total += len(problems)
        if not problems:
            click.echo(f"{target}: ok")
    if total:
        fail(f"{total} problem(s) in {', '.join(str(t) for t in targets)}")


@main.command()
@click.option(
    "--out-dir",
    default=str(DEFAULT_OUT_DIR),
    show_default=True,
    help="Folder of the published tables, a local path or an fsspec URL; the report is "
    "written into it.",
)
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds to wait for a run on the same out-dir URL's working copy.",
)
def report(out_dir: str, lock_timeout: float) -> None:
    """Write <out-dir>/report.html: charts of the published tables that open offline."""
    from communique.locations import parse_location
    from communique.report import REPORT, write_report
    from communique.store import current_snapshot, exclusive_lock

    try:
        out = parse_location(out_dir)
    except ImportError as exc:
        fail(f"output directory {out_dir} cannot be read: {exc}")
    if out.is_local:
        folder = out.local_path()
        if current_snapshot(folder) is None:
            fail(f"{out_dir} has no published tables: run `communique run` first")
        click.echo(f"wrote {write_report(folder)}")
        return
    from communique.remote import pull, working_copy

    # Drawn from the working copy, brought up to what the URL publishes, then uploaded
    # (one PUT: readers get the old page or the new one).
    folder = working_copy(out)
    with exclusive_lock(folder, lock_timeout):
        pull(out, folder)
        if current_snapshot(folder) is None:
            fail(f"{out_dir} has no published tables: run `communique run` first")
        page = write_report(folder)
        out.fs.put_file(str(page), out.child(REPORT))
    click.echo(f"wrote {page} and {out.fs.unstrip_protocol(out.child(REPORT))}")


@main.command()
@click.option("--check", is_flag=True, help="Fail if docs/data-dictionary.md is stale.")
def dictionary(check: bool) -> None:
    """Write docs/data-dictionary.md from the pandera models."""
    from communique.settings import PROJECT_ROOT
    from schemas.dictionary import render_markdown

    target = PROJECT_ROOT / "docs" / "data-dictionary.md"
    text = render_markdown()
    if check:
        if not target.is_file() or target.read_text() != text:
            fail(f"{target} is stale: run `communique dictionary`")
        click.echo(f"{target}: up to date")
        return
    target.write_text(text)
    click.echo(f"wrote {target}")


@main.command()
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Most flow runs executed at once by this process (each holds its batches in memory).",
)
def serve(limit: int) -> None:
    """Serve the `scheduled` and `manual` deployments to the server at PREFECT_API_URL.

    Runs until stopped (Ctrl-C); the scheduled deployment's schedule is paused on exit.
    Schedule and default parameters: config/deployments.toml.
    """
    prefect_defaults()
    # The runner asks the server for due runs every 10 s by default; 5 s makes a manual
    # trigger start sooner for the cost of one small local query.
    os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", "5")
    from communique.deployments import (
        DeploymentConfigError,
        build_deployments,
        load_deployment_specs,
    )
    from communique.server import ServerError, require_server

    try:
        require_server()  # before the flow import: a wrong URL should fail in a second
        deployments = build_deployments(load_deployment_specs())
    except (ServerError, DeploymentConfigError) as exc:
        fail(str(exc))
    from prefect import serve as prefect_serve

    prefect_serve(*deployments, limit=limit)


@main.command()
@click.option(
    "--port", type=click.IntRange(1, 65535), default=4200, show_default=True,
    help="Port on 127.0.0.1 for the API and the UI.",
)  # fmt: skip
@click.option(
    "--home",
    type=path_option,
    default=None,
    help="PREFECT_HOME of the server (its SQLite database); default .prefect/ in the project.",
)
def server(port: int, home: Path | None) -> None:
    """Start a local Prefect server (API, UI, scheduler) on 127.0.0.1 until Ctrl-C."""
    from communique.server import DEFAULT_HOME, ServerError, run_server

    try:
        code = run_server(port, (home or DEFAULT_HOME).resolve(), echo=click.echo)
    except ServerError as exc:
        fail(str(exc))
    sys.exit(code)


if __name__ == "__main__":
    main()
