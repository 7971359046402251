"""An output folder on object storage: snapshots mirrored to S3 (moto's server on loopback).

The local snapshots are built with the store's own API, as tests/test_store.py does, so
these tests need no Prefect.
"""

import json
import re
from pathlib import Path

import duckdb
import fsspec
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from s3fs import S3FileSystem

from communique.locations import Location, parse_location
from communique.remote import (
    CURRENT_JSON,
    STATE_DIR_ENV,
    pull,
    push,
    read_current,
    read_remote_table,
    working_copy,
)
from communique.store import (
    KEEP_SNAPSHOTS,
    SNAPSHOTS,
    SnapshotWriter,
    carry_over_all,
    read_manifest,
    read_table,
)
from schemas import TABLES
from tests.conftest import PROJECT_ROOT
from tests.tables import document_tables


class ObjectCalls:
    """Every object the S3 filesystem writes or downloads, in the order they complete.

    ``fail_after = n`` makes every write after the first n fail, as a dropped connection
    would.
    """

    # method, kind, index of the argument that names the object
    METHODS = (
        ("_put_file", "upload", 1),
        ("_cp_file", "copy", 1),
        ("_pipe_file", "put", 0),
        ("_get_file", "download", 0),
    )

    def __init__(self, root: str):
        self.root = root
        self.calls: list[tuple[str, str]] = []
        self.started = 0
        self.fail_after: int | None = None

    def wrap(self, method, kind, argument):
        async def recorded(fs, *args, **kwargs):
            if kind != "download":
                if self.fail_after is not None and self.started >= self.fail_after:
                    raise ConnectionError("injected: connection dropped")
                self.started += 1
            result = await method(fs, *args, **kwargs)
            self.calls.append((kind, args[argument].removeprefix("s3://")))
            return result

        return recorded

    def of(self, *kinds: str) -> list[str]:
        """Objects written (or downloaded), relative to the output folder."""
        return [path.removeprefix(self.root + "/") for kind, path in self.calls if kind in kinds]

    def clear(self) -> None:
        self.calls.clear()
        self.started = 0


@pytest.fixture
def calls(s3_bucket, monkeypatch) -> ObjectCalls:
    recorder = ObjectCalls(f"{s3_bucket.removeprefix('s3://')}/out")
    for name, kind, argument in ObjectCalls.METHODS:
        monkeypatch.setattr(
            S3FileSystem, name, recorder.wrap(getattr(S3FileSystem, name), kind, argument)
        )
    return recorder


@pytest.fixture
def out(s3_bucket, calls) -> Location:
    """``s3://<bucket>/out`` on a new s3fs instance: its sync methods bind the recorded ones."""
    return Location(fsspec.filesystem("s3", skip_instance_cache=True), calls.root)


def publish(local: Path, run_id: str, docs: dict[str, list[str]], carry: bool = False) -> None:
    """A snapshot of ``docs`` written as part ``part-<run_id>``, the previous parts carried
    over (hard links) when ``carry``."""
    writer = SnapshotWriter(local, run_id)
    if carry:
        carry_over_all(writer)
    for table, frame in document_tables(docs, run_id).items():
        writer.write_part(table, f"part-{run_id}", frame)
    writer.publish({"taxonomy_version": "v1"})


def local_tables(local: Path) -> dict[str, pl.DataFrame]:
    return {table: read_table(local, table) for table in TABLES}


def assert_remote_tables(out: Location, expected: dict[str, pl.DataFrame]) -> None:
    for table in TABLES:
        assert_frame_equal(read_remote_table(out, table), expected[table])


def test_push_then_read_back_gives_the_local_tables(out, tmp_path):
    local = tmp_path / "local"
    publish(local, "run-1", {"a.txt": ["One.", "Two."], "b.txt": ["Three."]})
    pushed = push(local, out)
    assert pushed.run_id == "run-1" and not pushed.copied
    assert_remote_tables(out, local_tables(local))
    assert read_remote_table(out, "paragraphs")["text"].to_list() == ["One.", "Two.", "Three."]
    current = read_current(out)
    manifest = read_manifest(local)
    assert current["run_id"] == "run-1" and current["snapshot"] == f"{SNAPSHOTS}/run-1"
    assert current["taxonomy_version"] == "v1"
    for table in TABLES:
        entry = current["tables"][table]
        assert entry["rows"] == manifest["tables"][table]["rows"]
        assert entry["files"] == [
            f"{SNAPSHOTS}/run-1/{f}" for f in manifest["tables"][table]["files"]
        ]
    remote_manifest = out.fs.cat_file(out.child(f"{SNAPSHOTS}/run-1/_manifest.json"))
    assert json.loads(remote_manifest) == manifest


def test_a_second_push_of_the_same_snapshot_writes_nothing(out, calls, tmp_path):
    local = tmp_path / "local"
    publish(local, "run-1", {"a.txt": ["One."]})
    push(local, out)
    assert calls.of("upload")
    calls.clear()
    assert push(local, out).run_id == "run-1"
    assert calls.calls == []


def test_carried_over_parts_are_copied_server_side_not_uploaded(out, calls, tmp_path):
    local = tmp_path / "local"
    publish(local, "run-1", {"a.txt": ["One."]})
    push(local, out)
    publish(local, "run-2", {"b.txt": ["Two."]}, carry=True)
    calls.clear()
    pushed = push(local, out)
    carried = [
        f"{SNAPSHOTS}/run-2/{table}/part-run-1.parquet" for table in ("documents", "paragraphs")
    ]
    new = f"{SNAPSHOTS}/run-2/paragraphs/part-run-2.parquet"
    assert set(carried) <= set(calls.of("copy"))
    assert not set(carried) & set(calls.of("upload"))
    assert new in calls.of("upload")
    assert "paragraphs/part-run-1.parquet" in pushed.copied
    # the manifest after every part, _current.json last
    assert calls.of("put") == [f"{SNAPSHOTS}/run-2/_manifest.json", CURRENT_JSON]
    assert_remote_tables(out, local_tables(local))
    assert read_remote_table(out, "paragraphs")["text"].to_list() == ["One.", "Two."]


def test_a_rewritten_part_of_the_same_name_and_size_is_uploaded(out, calls, tmp_path):
    # carry-over rewrites a part under its old name when a document of it went or the
    # lexicon changed; aggregates are `part-0` in every snapshot
    local = tmp_path / "local"
    publish(local, "run-1", {"a.txt": ["One."]})
    push(local, out)
    writer = SnapshotWriter(local, "run-2")
    for table, frame in document_tables({"a.txt": ["Two."]}, "run-1").items():
        writer.write_part(table, "part-run-1", frame)
    writer.publish({"taxonomy_version": "v2"})
    name = "paragraphs/part-run-1.parquet"
    sizes = {run: (local / SNAPSHOTS / run / name).stat().st_size for run in ("run-1", "run-2")}
    assert sizes["run-1"] == sizes["run-2"]
    calls.clear()
    push(local, out)
    assert f"{SNAPSHOTS}/run-2/{name}" in calls.of("upload")
    assert not calls.of("copy")
    assert read_remote_table(out, "paragraphs")["text"].to_list() == ["Two."]


def test_an_interrupted_push_leaves_the_old_snapshot_and_the_next_push_completes(
    s3_bucket, calls, tmp_path
):
    fs = fsspec.filesystem("s3", skip_instance_cache=True)

    def run_2_to_push(name: str) -> tuple[Location, Path, dict[str, pl.DataFrame]]:
        """A folder that publishes run-1, and a working copy with run-2 to push."""
        out = Location(fs, f"{s3_bucket.removeprefix('s3://')}/{name}")
        calls.root = out.path
        local = tmp_path / name
        publish(local, "run-1", {"a.txt": ["One."]})
        push(local, out)
        run_1 = local_tables(local)
        publish(local, "run-2", {"b.txt": ["Two."]}, carry=True)
        calls.clear()
        return out, local, run_1

    out, local, _ = run_2_to_push("complete")
    push(local, out)
    writes = len(calls.of("upload", "copy", "put"))
    parts = sum(len(entry["files"]) for entry in read_manifest(local)["tables"].values())
    assert writes == parts + 2  # every part, the snapshot's manifest, _current.json
    for interruption in sorted({0, 1, writes // 3, writes // 2, writes - 2, writes - 1}):
        out, local, run_1 = run_2_to_push(f"interrupted-{interruption}")
        calls.fail_after = interruption
        with pytest.raises(ConnectionError):
            push(local, out)
        assert read_current(out)["run_id"] == "run-1"
        assert_remote_tables(out, run_1)
        done_before = set(calls.of("upload", "copy"))
        calls.clear()
        calls.fail_after = None
        push(local, out)
        assert read_current(out)["run_id"] == "run-2"
        assert_remote_tables(out, local_tables(local))
        assert not done_before & set(calls.of("upload", "copy")), "sent twice"


def test_pull_onto_an_empty_working_copy_continues_from_the_remote(out, calls, tmp_path):
    first, second = tmp_path / "first-machine", tmp_path / "second-machine"
    publish(first, "run-1", {"a.txt": ["One."], "b.txt": ["Two."]})
    push(first, out)
    assert pull(out, second) == "run-1"
    assert read_manifest(second) == read_manifest(first)
    for table in TABLES:
        assert_frame_equal(read_table(second, table), read_table(first, table))
    calls.clear()
    assert pull(out, second) is None  # nothing to do: it has the remote's snapshot
    assert calls.calls == []
    # the next run on the second machine is incremental against the pulled snapshot
    publish(second, "run-2", {"c.txt": ["Three."]}, carry=True)
    pushed = push(second, out)
    assert "paragraphs/part-run-1.parquet" in pushed.copied
    assert "paragraphs/part-run-1.parquet" not in pushed.uploaded
    assert_remote_tables(out, local_tables(second))


def test_pull_leaves_the_working_copy_alone_when_the_remote_is_empty_or_behind(out, tmp_path):
    local = tmp_path / "local"
    assert pull(out, local) is None
    assert not local.exists()
    publish(local, "run-1", {"a.txt": ["One."]})
    push(local, out)
    # runs whose pushes failed, so many that run-1 is no longer among the local snapshots
    for number in range(2, KEEP_SNAPSHOTS + 3):
        publish(local, f"run-{number}", {f"{number}.txt": ["Two."]}, carry=True)
    assert not (local / SNAPSHOTS / "run-1").exists()
    assert pull(out, local) is None
    newest = f"run-{KEEP_SNAPSHOTS + 2}"
    assert read_manifest(local)["run_id"] == newest
    assert push(local, out).run_id == newest
    assert_remote_tables(out, local_tables(local))


def test_a_pulled_snapshot_older_by_name_than_the_local_ones_stays_current(out, tmp_path):
    # another machine's run started before this machine's unpushed ones (or its clock lags)
    other, local = tmp_path / "other", tmp_path / "local"
    publish(other, "20240101T000000Z-aaaa", {"a.txt": ["Theirs."]})
    push(other, out)
    for day in range(2, 3 + KEEP_SNAPSHOTS):
        publish(local, f"202401{day:02d}T000000Z-bbbb", {"b.txt": ["Ours."]})
    assert pull(out, local) == "20240101T000000Z-aaaa"
    assert read_table(local, "paragraphs")["text"].to_list() == ["Theirs."]
    assert len(list((local / SNAPSHOTS).iterdir())) == KEEP_SNAPSHOTS


def remote_snapshots(out: Location) -> list[str]:
    out.fs.invalidate_cache()
    return sorted(path.rsplit("/", 1)[-1] for path in out.fs.ls(out.child(SNAPSHOTS), detail=False))


def test_push_keeps_the_newest_snapshots_and_never_the_current_or_previous_one(out, tmp_path):
    local = tmp_path / "local"
    publish(local, "run-1", {"a.txt": ["One."]})
    push(local, out)
    for number in range(2, KEEP_SNAPSHOTS + 3):
        publish(local, f"run-{number}", {f"{number}.txt": ["More."]}, carry=True)
        pushed = push(local, out)
    assert pushed.deleted == ("run-2",)
    names = [f"run-{n}" for n in range(3, KEEP_SNAPSHOTS + 3)]
    assert remote_snapshots(out) == names
    assert_remote_tables(out, local_tables(local))
    # a machine whose run ids sort first (a clock set back): its snapshots stay while
    # they are the current or the previous one
    behind = tmp_path / "behind"
    pull(out, behind)
    publish(behind, "run-0a", {"x.txt": ["Behind."]}, carry=True)
    push(behind, out)
    publish(behind, "run-0b", {"y.txt": ["Behind again."]}, carry=True)
    push(behind, out)
    snapshots = remote_snapshots(out)
    assert {"run-0a", "run-0b"} <= set(snapshots)
    assert snapshots[-KEEP_SNAPSHOTS:] == names[-KEEP_SNAPSHOTS:]
    assert len(snapshots) == KEEP_SNAPSHOTS + 2
    assert_remote_tables(out, local_tables(behind))


def test_working_copies_are_named_after_their_url_under_the_state_dir(monkeypatch, tmp_path):
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "state"))
    one = working_copy(parse_location("memory://bucket/processed"))
    other = working_copy(parse_location("memory://bucket-processed"))
    assert one.parent == other.parent == tmp_path / "state"
    assert one.name.startswith("memory-bucket-processed-")
    assert one != other
    assert working_copy(parse_location("memory://bucket/processed/")) == one
    monkeypatch.delenv(STATE_DIR_ENV)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert working_copy(parse_location("memory://bucket/processed")).parent == (
        tmp_path / "home" / ".cache" / "communique" / "outputs"
    )
    with pytest.raises(ValueError, match="local folder"):
        working_copy(parse_location(tmp_path))


def documented_duckdb_recipe() -> list[str]:
    """The statements of the docs' DuckDB recipe for an object-storage output folder,
    without those that load httpfs and credentials."""
    for doc in (PROJECT_ROOT / "docs").glob("*.md"):
        for block in re.findall(r"```sql\n(.*?)```", doc.read_text(), re.S):
            if "_current.json" in block:
                statements = [s.strip() for s in block.split(";")]
                return [
                    s
                    for s in statements
                    if s and not s.startswith(("INSTALL", "LOAD", "CREATE SECRET"))
                ]
    raise AssertionError("no DuckDB recipe for _current.json in docs/")


def test_the_documented_duckdb_recipe_reads_the_current_snapshot(out, tmp_path):
    local = tmp_path / "local"
    publish(local, "run-1", {"a.txt": ["One.", "Two."]})
    push(local, out)
    publish(local, "run-2", {"b.txt": ["Three."]}, carry=True)
    push(local, out)
    # a copy of the bucket stands in for s3:// (httpfs reads s3:// URLs the same way)
    copy = tmp_path / "bucket-copy"
    out.fs.get(out.path + "/", str(copy), recursive=True)
    assert len(list((copy / SNAPSHOTS).iterdir())) == 2  # the recipe must pick the current one
    connection = duckdb.connect()
    *setup, run_id_query, join_query = documented_duckdb_recipe()
    for statement in setup:
        connection.execute(statement.replace("s3://my-bucket/communique", str(copy)))
    assert connection.execute(run_id_query).fetchall() == [("run-2",)]
    assert connection.execute(join_query).fetchall() == [
        ("a.txt", 1, "One."),
        ("a.txt", 2, "Two."),
        ("b.txt", 1, "Three."),
    ]
