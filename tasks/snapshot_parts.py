"""A snapshot's document tables, one part at a time.

Every document's rows of every document table are in the part files of one name
(`<table>/part-<run>-NNNNN.parquet`; carried-over parts keep their older name but are
linked or rewritten whole), so work per document can read one part's files at a time
and hold only small results: memory stays that of a batch, whatever the snapshot size.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl

from communique.store import table_files
from schemas import empty_frame


def scan_table(snapshot: Path, table: str) -> pl.LazyFrame:
    """All of a table's part files (an empty frame with the contract when none)."""
    files = table_files(snapshot, table)
    return pl.scan_parquet(files) if files else empty_frame(table).lazy()


def part_names(snapshot: Path, tables: tuple[str, ...]) -> list[str]:
    """Every part name that any of ``tables`` has a file for."""
    return sorted({path.stem for table in tables for path in table_files(snapshot, table)})


def scan_parts(snapshot: Path, tables: tuple[str, ...]) -> Iterator[dict[str, pl.LazyFrame]]:
    """The files of ``tables`` part by part (a table without the part's file is empty)."""
    for part in part_names(snapshot, tables):
        yield {table: _scan_part(snapshot, table, part) for table in tables}


def _scan_part(snapshot: Path, table: str, part: str) -> pl.LazyFrame:
    path = snapshot / table / f"{part}.parquet"
    return pl.scan_parquet(path) if path.is_file() else empty_frame(table).lazy()
