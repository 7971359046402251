"""An unchanged rerun links the previous aggregates instead of recomputing them."""

import asyncio

import pytest

from communique.store import current_snapshot, read_table, scan_snapshot
from flows.process_statements import process_statements
from tasks.aggregate import AGGREGATE_TABLES, aggregate

pytestmark = pytest.mark.usefixtures("prefect_server")


def _inode(out, table):
    (path,) = sorted((current_snapshot(out) / table).glob("*.parquet"))
    return path.stat().st_ino


def test_unchanged_rerun_links_aggregates_and_an_edit_recomputes_them(devset_raw, tmp_path):
    out = tmp_path / "out"
    asyncio.run(process_statements(raw_dir=devset_raw, out_dir=out))
    first = {table: _inode(out, table) for table in AGGREGATE_TABLES}

    second = asyncio.run(process_statements(raw_dir=devset_raw, out_dir=out))
    assert second["documents_written"] == 0
    assert {table: _inode(out, table) for table in AGGREGATE_TABLES} == first

    (devset_raw / "hcc-2015-washington.txt").unlink()
    third = asyncio.run(process_statements(raw_dir=devset_raw, out_dir=out))
    assert third["documents_deleted"] == 1
    assert all(_inode(out, table) != first[table] for table in AGGREGATE_TABLES)
    expected = aggregate(scan_snapshot(current_snapshot(out)))
    for table in AGGREGATE_TABLES:
        assert read_table(out, table).equals(expected[table]), table
