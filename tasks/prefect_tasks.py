"""Thin Prefect task wrappers around the pure stages.

Tasks take whole batches (thousands of documents), never one document, and a batch's
stages run in one task (`tasks.batch.run_batch`): Prefect costs ~10 ms per task run and
more on Dask. Inputs are frames, so caching by
input hash is off (hashing a frame costs more than the stage); retries apply only to
transient I/O errors, never to validation failures.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from communique.gazetteer import Gazetteer, load_gazetteer
from communique.lexicon import Lexicon, load_lexicon
from communique.locations import Location
from communique.store import SnapshotWriter
from tasks.batch import BatchResult, run_batch
from tasks.discover import discover
from tasks.plan import RunPlan, plan_changes


def is_transient_io(task, task_run, state) -> bool:
    error = state.result(raise_on_failure=False)
    return isinstance(error, OSError) and not isinstance(
        error, FileNotFoundError | NotADirectoryError | PermissionError
    )


stage = task(cache_policy=NO_CACHE, persist_result=False)
io_stage = task(
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=2,
    retry_delay_seconds=[1, 5],
    retry_condition_fn=is_transient_io,
)


@task(name="load-taxonomy", cache_policy=NO_CACHE, persist_result=False)
def load_taxonomy(path: Path) -> Lexicon:
    return load_lexicon(path)


@task(name="load-gazetteer", cache_policy=NO_CACHE, persist_result=False)
def load_gazetteer_task(path: Path) -> Gazetteer:
    return load_gazetteer(path)


@io_stage(name="discover")
def discover_files(raw: Location, max_file_bytes: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    return discover(raw, max_bytes=max_file_bytes)


@stage(name="plan")
def plan_run(files: pl.DataFrame, previous: pl.DataFrame, full_refresh: bool) -> RunPlan:
    return plan_changes(files, previous, full_refresh)


@io_stage(name="process-batch")
def process_batch(
    part: str,
    files: pl.DataFrame,
    source: Location,
    lexicon: Lexicon,
    gazetteer: Gazetteer,
    writer: SnapshotWriter,
    run_id: str,
    ingested_at: datetime,
    max_file_bytes: int,
) -> BatchResult:
    result = run_batch(
        part, files, source, lexicon, gazetteer, writer, run_id, ingested_at, max_file_bytes
    )
    # The stages are not task runs of their own: this line shows where the batch's time went.
    get_run_logger().info(
        "%s: %d files, %d documents and %d paragraphs written, %d unchanged, %d rejected; %s",
        part,
        files.height,
        result.documents_written,
        result.paragraphs_written,
        result.unchanged.height,
        result.rejects.height,
        ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in result.stage_seconds.items()),
    )
    return result
