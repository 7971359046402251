import multiprocessing
import os
import time

import duckdb
import polars as pl
import pytest

from communique.store import (
    CURRENT,
    KEEP_SNAPSHOTS,
    SNAPSHOTS,
    OutDirBusy,
    SnapshotWriter,
    carry_over_all,
    exclusive_lock,
    read_manifest,
    read_table,
)
from schemas import TABLES
from tests.tables import document_tables


def publish(out_dir, run_id, docs):
    writer = SnapshotWriter(out_dir, run_id)
    for table, frame in document_tables(docs, run_id).items():
        writer.write_part(table, f"part-{run_id}", frame)
    writer.publish({"taxonomy_version": "v1"})
    return writer


def duckdb_count(out_dir, table):
    pattern = f"{out_dir}/{table}/**/*.parquet"
    query = f"select count(*) from read_parquet('{pattern}', hive_partitioning=true)"
    return duckdb.connect().execute(query).fetchone()[0]


def test_publish_makes_every_table_readable_by_duckdb(tmp_path):
    publish(tmp_path, "run-1", {"a.txt": ["One.", "Two."]})
    assert duckdb_count(tmp_path, "paragraphs") == 2
    assert duckdb_count(tmp_path, "documents") == 1
    for table in TABLES:  # also the empty ones
        assert duckdb_count(tmp_path, table) >= 0
        assert read_table(tmp_path, table).columns == list(read_table(tmp_path, table).schema)
    manifest = read_manifest(tmp_path)
    assert manifest["run_id"] == "run-1"
    assert manifest["tables"]["paragraphs"]["rows"] == 2


def test_nothing_is_visible_before_publish_and_abandon_keeps_the_previous_tables(tmp_path):
    publish(tmp_path, "run-1", {"a.txt": ["One."]})
    writer = SnapshotWriter(tmp_path, "run-2")
    for table, frame in document_tables({"b.txt": ["X.", "Y.", "Z."]}).items():
        writer.write_part(table, "part-run-2", frame)
    assert duckdb_count(tmp_path, "paragraphs") == 1
    writer.abandon()
    assert read_table(tmp_path, "documents")["source_path"].to_list() == ["a.txt"]


def test_a_killed_runs_leftovers_are_swept_by_the_next_run(tmp_path):
    publish(tmp_path, "run-1", {"a.txt": ["One."]})
    (tmp_path / SNAPSHOTS / "run-2.partial" / "documents").mkdir(parents=True)
    (tmp_path / f".{CURRENT}.run-2").symlink_to("nowhere")
    publish(tmp_path, "run-3", {"b.txt": ["Two."]})
    names = sorted(p.name for p in (tmp_path / SNAPSHOTS).iterdir())
    assert names == ["run-1", "run-3"]
    assert not list(tmp_path.glob(f".{CURRENT}.*"))


def test_unchanged_parts_are_hard_links_and_old_snapshots_are_dropped(tmp_path):
    publish(tmp_path, "run-1", {"a.txt": ["One."]})
    for number in range(2, 2 + KEEP_SNAPSHOTS + 1):
        writer = SnapshotWriter(tmp_path, f"run-{number}")
        carry_over_all(writer)
        writer.publish({})
    first = (
        tmp_path / SNAPSHOTS / f"run-{1 + KEEP_SNAPSHOTS + 1}" / "paragraphs" / "part-run-1.parquet"
    )
    assert first.stat().st_nlink >= 2
    assert len(list((tmp_path / SNAPSHOTS).iterdir())) == KEEP_SNAPSHOTS
    assert read_table(tmp_path, "paragraphs")["text"].to_list() == ["One."]


def test_publish_flushes_written_files_and_every_folder_but_not_linked_parts(tmp_path, monkeypatch):
    publish(tmp_path, "run-1", {"a.txt": ["One."]})
    writer = SnapshotWriter(tmp_path, "run-2")
    carry_over_all(writer, ("documents", "paragraphs"))
    for table, frame in document_tables({"b.txt": ["Two."]}, "run-2").items():
        writer.write_part(table, "part-run-2", frame)
    flushed = []
    fsync = os.fsync
    monkeypatch.setattr(
        os, "fsync", lambda fd: (flushed.append(os.readlink(f"/proc/self/fd/{fd}")), fsync(fd))
    )
    staging = writer.staging
    writer.publish({})
    flushed = {os.path.relpath(path, staging) for path in flushed}
    # linked parts were flushed when run-1 was published
    assert "documents/part-run-1.parquet" not in flushed
    assert "paragraphs/part-run-2.parquet" in flushed and "_manifest.json" in flushed
    assert "rejects/part-empty.parquet" in flushed
    assert {".", "..", "../.."} <= flushed  # the snapshot, the rename, the `current` swap
    assert set(TABLES) <= flushed  # every table's folder


def _hold_lock(out_dir, ready, seconds):
    with exclusive_lock(out_dir, timeout_s=0):
        ready.set()
        time.sleep(seconds)


def test_a_second_writer_waits_then_fails_clearly(tmp_path):
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(tmp_path, ready, 3))
    holder.start()
    try:
        assert ready.wait(10)
        started = time.monotonic()
        with pytest.raises(OutDirBusy, match=f"pid {holder.pid}"):
            with exclusive_lock(tmp_path, timeout_s=0.5):
                pass
        assert time.monotonic() - started >= 0.5
        holder.join(10)
        with exclusive_lock(tmp_path, timeout_s=5):  # free again once the holder is gone
            pass
    finally:
        holder.kill()


def test_a_killed_holder_releases_the_lock(tmp_path):
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(tmp_path, ready, 60))
    holder.start()
    assert ready.wait(10)
    os.kill(holder.pid, 9)
    holder.join(10)
    with exclusive_lock(tmp_path, timeout_s=2):
        pass


def test_read_table_of_a_new_folder_is_empty_with_the_contract(tmp_path):
    frame = read_table(tmp_path, "documents")
    assert frame.is_empty()
    assert frame.schema["published_date"] == pl.Date
