"""Decide what a run must read: new and changed files, not the unchanged ones."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

PREVIOUS_COLUMNS = ["doc_id", "size_bytes", "mtime_ns", "content_sha256"]


@dataclass(frozen=True)
class RunPlan:
    to_read: pl.DataFrame  # discovered files + previous_sha256 (null for new files)
    unchanged: pl.DataFrame  # doc_id of documents carried over without reading
    previous_doc_ids: pl.DataFrame  # doc_id of every document in the previous snapshot


def plan_changes(files: pl.DataFrame, previous: pl.DataFrame, full_refresh: bool) -> RunPlan:
    """Split discovered files into those to read and those unchanged since the last run.

    A file whose size and modification time equal the previous run's is unchanged without
    being read (the stat shortcut of make, rsync and git); any other file is read, and is
    still unchanged if its content hash is the same (see `drop_unchanged`).
    """
    previous = previous.select(PREVIOUS_COLUMNS)
    if full_refresh:
        previous = previous.clear()
    joined = files.join(
        previous.rename({c: f"previous_{c}" for c in PREVIOUS_COLUMNS[1:]}),
        on="doc_id",
        how="left",
    )
    same_stat = (pl.col("size_bytes") == pl.col("previous_size_bytes")) & (
        pl.col("mtime_ns") == pl.col("previous_mtime_ns")
    )
    same_stat = same_stat.fill_null(False)
    return RunPlan(
        to_read=joined.filter(~same_stat)
        .drop("previous_size_bytes", "previous_mtime_ns")
        .sort("source_path"),
        unchanged=joined.filter(same_stat).select("doc_id"),
        previous_doc_ids=previous.select("doc_id"),
    )


def drop_unchanged(docs: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split read documents into changed ones and ones whose bytes did not change."""
    same = (pl.col("content_sha256") == pl.col("previous_content_sha256")).fill_null(False)
    return (
        docs.filter(~same).drop("previous_content_sha256"),
        docs.filter(same).select("doc_id"),
    )
