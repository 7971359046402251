"""Aggregates and consistency checks computed part by part over a snapshot folder agree
with the same computations over whole tables."""

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from schemas import DOCUMENT_TABLES
from tasks.aggregate import aggregate, aggregate_snapshot
from tasks.validate import consistency_problems, snapshot_consistency_problems
from tests.bi_tables import snapshot_tables
from tests.tables import doc_id

PARTS = [["jan-a.txt", "mar.txt"], ["jan-b.txt"], ["undated.txt"]]


def write_parts(snapshot: Path, tables: dict[str, pl.DataFrame], parts: list[list[str]]) -> None:
    """The document tables as the flow writes them: each part holds whole documents."""
    for number, paths in enumerate(parts):
        ids = pl.Series([doc_id(path) for path in paths])
        for table in DOCUMENT_TABLES:
            (snapshot / table).mkdir(parents=True, exist_ok=True)
            part = tables[table].filter(pl.col("doc_id").is_in(ids.implode()))
            part.write_parquet(snapshot / table / f"part-r1-{number:05d}.parquet")


def whole(tables: dict[str, pl.DataFrame]) -> dict[str, pl.LazyFrame]:
    return {name: frame.lazy() for name, frame in tables.items()}


def test_aggregates_part_by_part_equal_those_of_the_whole_tables(tmp_path):
    tables = snapshot_tables()
    write_parts(tmp_path, tables, PARTS)
    expected = aggregate(whole(tables))
    result = aggregate_snapshot(tmp_path)
    assert list(result) == list(expected)
    for table, frame in expected.items():
        assert_frame_equal(result[table], frame)
    assert_frame_equal(result["document_themes"].sort("doc_id", "theme"), result["document_themes"])


def test_an_empty_snapshot_folder_gives_the_empty_aggregates(tmp_path):
    expected = aggregate(whole({name: f.clear() for name, f in snapshot_tables().items()}))
    for table, frame in aggregate_snapshot(tmp_path).items():
        assert_frame_equal(frame, expected[table])


def test_consistency_part_by_part_finds_what_the_whole_tables_show(tmp_path):
    tables = snapshot_tables()
    write_parts(tmp_path / "clean", tables, PARTS)
    assert snapshot_consistency_problems(tmp_path / "clean") == []

    broken = dict(tables)
    broken["paragraphs"] = tables["paragraphs"].filter(pl.col("paragraph_index") != 1)
    broken["document_partners"] = tables["document_partners"].with_columns(
        pl.lit(doc_id("gone.txt")).alias("doc_id")
    )
    write_parts(tmp_path / "broken", broken, [*PARTS, ["gone.txt"]])
    problems = snapshot_consistency_problems(tmp_path / "broken")
    assert problems == consistency_problems(whole(broken))
    assert any("theme rows whose paragraph is missing" in p for p in problems)
    assert any("document_partners rows whose document is missing" in p for p in problems)


def test_a_doc_id_in_two_parts_is_a_duplicate(tmp_path):
    write_parts(tmp_path, snapshot_tables(), [*PARTS, ["mar.txt"]])
    assert snapshot_consistency_problems(tmp_path) == ["1 duplicate doc_id in documents"]


@pytest.mark.parametrize("table", ["paragraphs", "paragraph_themes"])
def test_rows_apart_from_their_document_are_reported(tmp_path, table):
    """Per-part work relies on a document's rows sharing its part."""
    tables = snapshot_tables()
    write_parts(tmp_path, tables, PARTS)
    moved = tables[table].filter(pl.col("doc_id") == doc_id("mar.txt"))
    first, second = (tmp_path / table / f"part-r1-{n:05d}.parquet" for n in (0, 1))
    pl.read_parquet(first).filter(pl.col("doc_id") != doc_id("mar.txt")).write_parquet(first)
    pl.concat([pl.read_parquet(second), moved]).write_parquet(second)
    assert snapshot_consistency_problems(tmp_path) != []
