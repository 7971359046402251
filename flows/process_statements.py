"""Flow `process-statements`: raw statements in, validated Parquet tables out.

discover -> plan -> (per batch, one task) read and decode -> extract text -> segment ->
classify -> tag entities -> validate -> write -> carry over unchanged documents ->
aggregates -> consistency check -> publish the snapshot.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import polars as pl
from prefect import flow, get_run_logger
from prefect.context import FlowRunContext, SyncClientContext
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import AfterValidator, BeforeValidator, Field, FilePath

from communique.catalog import build_catalog
from communique.gazetteer import DEFAULT_GAZETTEER_PATH, Gazetteer
from communique.lexicon import DEFAULT_LEXICON_PATH, Lexicon
from communique.locations import Location, parse_location
from communique.remote import pull, push, working_copy
from communique.settings import DEFAULT_BATCH_SIZE, DEFAULT_OUT_DIR, DEFAULT_RAW_DIR
from communique.store import (
    SnapshotWriter,
    carry_over_all,
    exclusive_lock,
    read_manifest,
)
from communique.summary import RunSummary, publish_artifacts, summarise_snapshot
from schemas import DOCUMENT_TABLES, TABLES, conform
from tasks.aggregate import AGGREGATE_TABLES, aggregate_snapshot
from tasks.batch import REJECT_COLUMNS, BatchResult
from tasks.carry_over import Rederive, carry_over
from tasks.classify import classify
from tasks.entities import tag_documents
from tasks.prefect_tasks import (
    discover_files,
    load_gazetteer_task,
    load_taxonomy,
    plan_run,
    process_batch,
)
from tasks.validate import snapshot_consistency_problems, validate_table

# Batches processed at once (the thread runner's workers): each holds a batch of frames in
# memory, so this (with batch_size) bounds the run's memory whatever the corpus size.
PARALLEL_BATCHES = 2


# Benchmarks set this to a file path: the flow then writes its phase timings there as JSON
# (a perf_counter pair per phase, nothing else: the run itself is unchanged).
PHASE_TIMINGS_ENV = "COMMUNIQUE_PHASE_TIMINGS"


def _peak_rss_bytes() -> int:
    """This process's RSS high-water mark so far (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class PhaseTimer:
    """Wall seconds per flow phase (the parts of a run that are not task runs) and, when
    benchmarking, the process's peak RSS at the end of each phase (where memory peaks)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_rss: dict[str, int] = {}
        self.stages: dict[str, float] = {}  # summed over batches (they run concurrently)
        self.enabled = bool(os.environ.get(PHASE_TIMINGS_ENV))

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
            if self.enabled:
                self.peak_rss[name] = _peak_rss_bytes()

    def save(self) -> None:
        if path := os.environ.get(PHASE_TIMINGS_ENV):
            with open(path, "w") as handle:
                json.dump(
                    {
                        "seconds": self.seconds,
                        "peak_rss_bytes": self.peak_rss,
                        "stage_seconds": self.stages,
                    },
                    handle,
                )


def new_run_id(started_at: datetime) -> str:
    return f"{started_at:%Y%m%dT%H%M%S}Z-{uuid.uuid4().hex[:8]}"


def _batches(frame: pl.DataFrame, size: int, workers: int) -> list[pl.DataFrame]:
    """Slices of at most `size` rows, and at least one per worker when there are rows
    enough (10,000 files in one batch would leave a worker idle)."""
    size = max(1, min(size, -(-frame.height // workers)))
    return [frame.slice(offset, size) for offset in range(0, frame.height, size)]


def _folder_location(value: str) -> Location:
    """The folder's Location; a URL whose filesystem package is missing is refused before
    the run starts (fsspec's message names it: "Install s3fs to access S3")."""
    try:
        return parse_location(value)
    except ImportError as exc:
        raise ValueError(str(exc)) from None


def _existing_if_local(raw_dir: str) -> str:
    """Refuse a local raw folder that does not exist; a missing remote folder is
    discover's `unreadable` reject."""
    raw = _folder_location(raw_dir)
    if raw.is_local and not os.path.isdir(raw.path):
        raise ValueError(f"Path does not point to a directory: {raw_dir}")
    return raw_dir


def _known_filesystem(out_dir: str) -> str:
    _folder_location(out_dir)
    return out_dir


_as_text = BeforeValidator(
    lambda value: os.fspath(value) if isinstance(value, os.PathLike) else value
)
# Local paths or fsspec URLs (s3://bucket/raw); strings in the flow's parameter schema.
RawFolder = Annotated[str, _as_text, AfterValidator(_existing_if_local)]
OutFolder = Annotated[str, _as_text, AfterValidator(_known_filesystem)]


@flow(
    name="process-statements",
    task_runner=ThreadPoolTaskRunner(max_workers=PARALLEL_BATCHES),
    validate_parameters=True,
)
async def process_statements(
    raw_dir: RawFolder = str(DEFAULT_RAW_DIR),
    out_dir: OutFolder = str(DEFAULT_OUT_DIR),
    taxonomy: FilePath | None = None,
    gazetteer: FilePath | None = None,
    full_refresh: bool = False,
    batch_size: Annotated[int, Field(ge=1, le=1_000_000)] = DEFAULT_BATCH_SIZE,
    max_file_bytes: Annotated[int, Field(ge=1)] = 50_000_000,
    lock_timeout_s: Annotated[float, Field(ge=0)] = 60.0,
) -> dict:
    """Turn the statements below `raw_dir` into validated tables under `out_dir`.

    Either may be a local path or an fsspec URL (``s3://bucket/raw``). An output URL is
    built in a local working copy and mirrored to the URL (`communique.remote`).
    Call it with ``asyncio.run(process_statements(...))``.
    """
    # Async only at the top: Prefect's sync flow engine joins the flow-run heartbeat
    # thread on exit, which sleeps in one-second steps, so every run took up to ~1 s
    # longer (measured: a one-task flow 1.08 s sync, 0.23 s async). The work itself is
    # blocking code (threads, polars, files), so it runs in a worker thread, which sees
    # the flow run's context, and leaves the event loop to Prefect.
    phase = PhaseTimer()
    summary = await asyncio.to_thread(
        _with_shared_client,
        _run,
        parse_location(raw_dir),
        parse_location(out_dir),
        Path(taxonomy or DEFAULT_LEXICON_PATH),
        Path(gazetteer or DEFAULT_GAZETTEER_PATH),
        full_refresh,
        batch_size,
        max_file_bytes,
        lock_timeout_s,
        phase,
    )
    with phase("artifacts"):
        await publish_artifacts(summary)
    phase.save()
    return asdict(summary)


def _with_shared_client(run, *args):
    """Call ``run`` with one sync API client for every task run it starts, as Prefect's
    sync flow engine does: in an async flow each sync task run otherwise builds its own
    client (~40-55 ms each, mostly an SSL context; 2-6 ms with the shared one)."""
    with SyncClientContext.get_or_create():
        return run(*args)


def _run(
    raw: Location,
    out: Location,
    taxonomy: Path,
    gazetteer: Path,
    full_refresh: bool,
    batch_size: int,
    max_file_bytes: int,
    lock_timeout_s: float,
    phase: PhaseTimer,
) -> RunSummary:
    logger = get_run_logger()
    started_at = datetime.now(UTC)
    run_id = new_run_id(started_at)
    out_dir = out.local_path() if out.is_local else working_copy(out)
    with exclusive_lock(out_dir, lock_timeout_s):
        if not out.is_local:
            with phase("pull"):
                if pulled := pull(out, out_dir):
                    logger.info("pulled run %s from %s into %s", pulled, out, out_dir)
        writer = SnapshotWriter(out_dir, run_id)
        lexicon = None
        try:
            with phase("load-taxonomy"):
                lexicon = load_taxonomy(taxonomy)
                entities = load_gazetteer_task(gazetteer)
            summary = _build_snapshot(
                writer, raw, lexicon, entities, full_refresh, batch_size, max_file_bytes,
                started_at, phase,
            )  # fmt: skip
        except BaseException as exc:
            writer.abandon()
            version = lexicon.version if lexicon else None
            _record_failed_run(out_dir, run_id, started_at, full_refresh, version, exc)
            logger.error("run %s failed: %s", run_id, exc)
            if not out.is_local:
                _push_failed_run(out_dir, out)
            raise
        # The views read the stable table links, so the catalog shows the new rows as is;
        # it is rebuilt only when its tables or their columns changed.
        with phase("catalog"):
            build_catalog(out_dir)
        if not out.is_local:
            with phase("push"):
                _push(out_dir, out)
            summary = replace(summary, out_dir=out.url, working_copy=str(out_dir))
    logger.info(
        "run %s: %d files seen, %d documents written, %d unchanged, %d deleted, %d rejected; "
        "%d documents and %d paragraphs in the tables",
        run_id,
        summary.files_seen,
        summary.documents_written,
        summary.documents_unchanged,
        summary.documents_deleted,
        summary.files_rejected,
        summary.documents_total,
        summary.paragraphs_total,
    )
    return summary


def _push(out_dir: Path, out: Location) -> None:
    """Mirror the published working copy to the output URL, or fail the run saying where
    its tables are: the working copy keeps them and the next run's push sends them."""
    try:
        pushed = push(out_dir, out)
    except Exception as exc:
        raise RuntimeError(
            f"the tables were published in the working copy {out_dir} but not at {out}: "
            f"{type(exc).__name__}: {exc}. The next run sends them."
        ) from exc
    get_run_logger().info(
        "pushed run %s to %s: %d files uploaded, %d copied on the store, %d old snapshots deleted",
        pushed.run_id,
        out,
        len(pushed.uploaded),
        len(pushed.copied),
        len(pushed.deleted),
    )


def _push_failed_run(out_dir: Path, out: Location) -> None:
    """Send the `failed` row of `runs` to the URL too, if the store can be reached."""
    try:
        push(out_dir, out)
    except Exception as exc:
        get_run_logger().warning("the failed run could not be recorded at %s: %s", out, exc)


def _build_snapshot(
    writer: SnapshotWriter,
    raw: Location,
    lexicon: Lexicon,
    gazetteer: Gazetteer,
    full_refresh: bool,
    batch_size: int,
    max_file_bytes: int,
    started_at: datetime,
    phase: PhaseTimer,
) -> RunSummary:
    run_id = writer.run_id
    with phase("discover"):
        files, rejects = discover_files(raw, max_file_bytes)
    with phase("plan"):
        previous_manifest = read_manifest(writer.out_dir) or {}
        taxonomy_changed = previous_manifest.get("taxonomy_version") != lexicon.version
        gazetteer_changed = previous_manifest.get("gazetteer_version") != gazetteer.version
        plan = plan_run(
            files,
            writer.previous_table(
                "documents", columns=["doc_id", "size_bytes", "mtime_ns", "content_sha256"]
            ),
            full_refresh,
        )
        # plan.to_read is a copy: the discovered list (~200 MB per million files) can go.
        files_seen = files.height + rejects.height
        del files

    workers = _batch_workers()
    batches = _batches(plan.to_read, batch_size, workers)
    with phase("batches"):
        # One batch more than the runner's workers is in flight, so a worker never waits
        # for the flow; finished batches return only their small BatchResult. Memory is
        # bounded by the batches in flight, whatever the corpus size.
        in_flight: deque[PrefectFuture[BatchResult]] = deque()
        results: list[BatchResult] = []
        for number, files_batch in enumerate(batches):
            if len(in_flight) > workers:
                results.append(in_flight.popleft().result())
            part = f"part-{run_id}-{number:05d}"
            in_flight.append(
                process_batch.submit(
                    part,
                    files_batch,
                    raw,
                    lexicon,
                    gazetteer,
                    writer,
                    run_id,
                    started_at,
                    max_file_bytes,
                )
            )
        results.extend(future.result() for future in in_flight)
        for result in results:
            for stage, seconds in result.stage_seconds.items():
                phase.stages[stage] = phase.stages.get(stage, 0.0) + seconds
    # The batches are slices of plan.to_read (paths of every file read): not needed now.
    del batches
    plan = replace(plan, to_read=plan.to_read.clear())
    with phase("carry-over"):
        unchanged = pl.concat([plan.unchanged, *(r.unchanged for r in results)])
        stages = _rederive_stages(lexicon, gazetteer, taxonomy_changed, gazetteer_changed)
        carried = carry_over(writer, unchanged, stages)
    with phase("rejects-and-runs"):
        all_rejects = pl.concat(
            [rejects.select(list(REJECT_COLUMNS)), *(r.rejects for r in results)]
        )
        finished_at = datetime.now(UTC)
        rejects_table = conform(
            "rejects",
            all_rejects.sort("source_path").with_columns(
                pl.lit(run_id).alias("run_id"), pl.lit(finished_at).alias("seen_at")
            ),
        )
        writer.write_part("rejects", "part-0", validate_table("rejects", rejects_table))
        summary = summarise_snapshot(
            writer.staging,
            run_id=run_id,
            flow_run_id=flow_run.get_id(),
            started_at=started_at,
            finished_at=finished_at,
            full_refresh=full_refresh,
            files_seen=files_seen,
            documents_written=sum(r.documents_written for r in results),
            documents_unchanged=carried,
            documents_deleted=plan.previous_doc_ids.join(
                pl.concat([unchanged, *(r.written for r in results)]), on="doc_id", how="anti"
            ).height,
            rejects=all_rejects,
            taxonomy_version=lexicon.version,
        )
        _write_runs(writer, summary.run_row())
    # Parts that are hard links to the previous snapshot's files hold the same rows, so
    # when every document table is linked unchanged the previous aggregates and its
    # passed consistency check still hold (an unchanged rerun skips both computations).
    unchanged_tables = not (taxonomy_changed or gazetteer_changed) and (
        writer.same_parts_as_previous(DOCUMENT_TABLES)
    )
    with phase("aggregates"):
        if unchanged_tables and writer.previous_has_parts(AGGREGATE_TABLES, "part-0"):
            carry_over_all(writer, AGGREGATE_TABLES)
        else:
            # part by part: memory of a batch plus one row per document (not whole tables)
            for table, frame in aggregate_snapshot(writer.staging).items():
                writer.write_part(table, "part-0", validate_table(table, frame))
    with phase("consistency"):
        problems = [] if unchanged_tables else snapshot_consistency_problems(writer.staging)
    if problems:
        raise RuntimeError("snapshot is inconsistent: " + "; ".join(problems))
    with phase("publish"):
        writer.publish(
            {
                "taxonomy_version": lexicon.version,
                "gazetteer_version": gazetteer.version,
                "finished_at": finished_at,
            }
        )
    return summary


def _batch_workers() -> int:
    """How many batches the flow's task runner processes at once."""
    runner = FlowRunContext.get().task_runner
    if client := getattr(runner, "client", None):  # Dask: every worker thread of the cluster
        return max(1, sum(client.nthreads().values()))
    return PARALLEL_BATCHES


def _rederive_stages(
    lexicon: Lexicon, gazetteer: Gazetteer, taxonomy_changed: bool, gazetteer_changed: bool
) -> list[Rederive]:
    """The stages carry-over re-runs over kept paragraphs when their config changed."""

    def classify_kept(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
        themes, evidence = classify(tables["paragraphs"], lexicon)
        return {"paragraph_themes": themes, "theme_evidence": evidence}

    def tag_kept(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
        documents, mentions, partners = tag_documents(
            tables["documents"], tables["paragraphs"], gazetteer
        )
        return {
            "documents": conform("documents", documents),
            "mentions": mentions,
            "document_partners": partners,
        }

    return [
        Rederive(("paragraph_themes", "theme_evidence"), taxonomy_changed, classify_kept),
        Rederive(("mentions", "document_partners"), gazetteer_changed, tag_kept),
    ]


def _write_runs(writer: SnapshotWriter, row: dict) -> None:
    runs = pl.concat([writer.previous_table("runs"), conform("runs", pl.DataFrame([row]))])
    writer.write_part("runs", "part-0", validate_table("runs", runs.sort("started_at")))


def _record_failed_run(
    out_dir: Path,
    run_id: str,
    started_at: datetime,
    full_refresh: bool,
    taxonomy_version: str | None,
    error: BaseException,
) -> None:
    """Publish the previous tables unchanged plus a `failed` row in `runs`."""
    writer = SnapshotWriter(out_dir, run_id)
    try:
        carry_over_all(writer, tuple(table for table in TABLES if table != "runs"))
        row = RunSummary.failed_row(
            run_id=run_id,
            flow_run_id=flow_run.get_id(),
            started_at=started_at,
            full_refresh=full_refresh,
            taxonomy_version=taxonomy_version,
            error=f"{type(error).__name__}: {error}",
        )
        _write_runs(writer, row)
        previous = read_manifest(out_dir) or {}
        writer.publish(
            {
                "taxonomy_version": previous.get("taxonomy_version"),
                "gazetteer_version": previous.get("gazetteer_version"),
                "failed": True,
            }
        )
    except Exception:
        writer.abandon()
        raise
