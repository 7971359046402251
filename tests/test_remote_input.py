"""A raw folder on object storage: discover, read and whole runs from s3:// (moto's S3
server on loopback) give what the same files give on local disk."""

import asyncio
import hashlib
import importlib.util
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import fsspec
import polars as pl
import pytest
from click.testing import CliRunner
from polars.testing import assert_frame_equal
from s3fs import S3FileSystem

from communique.cli import main
from communique.locations import parse_location
from communique.store import read_table
from schemas import TABLES
from tasks import decode
from tasks.decode import read_decode
from tasks.discover import discover, listing_mtime_ns

MAX_BYTES = 5_000


def odd_tree(devset: Path) -> dict[str, bytes]:
    """A few statements and every kind of entry discover sorts out, by relative path."""
    docs = sorted((devset / "docs").iterdir())[:4]
    return {
        **{doc.name: doc.read_bytes()[:MAX_BYTES] for doc in docs},
        "sub/deeper/nested.md": b"# Title\n\nA nested statement.\n",
        "empty.txt": b"",
        "with space [1].txt": b"A name fsspec must not take for a glob.\n",
        ".hidden.txt": b"hidden\n",
        ".git/config": b"[core]\n",
        "sub/.DS_Store": b"\x00\x01",
        "notes.pdf": b"%PDF-1.4",
        "noextension": b"text\n",
        "big.txt": b"x" * (MAX_BYTES + 1),
    }


def write_local(root: Path, tree: dict[str, bytes]) -> Path:
    for rel, data in tree.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def write_remote(url: str, tree: dict[str, bytes]) -> str:
    fs, root = fsspec.url_to_fs(url)
    fs.pipe({f"{root}/{rel}": data for rel, data in tree.items()})
    return url


def without(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    return frame.drop(*columns)


def test_discover_on_s3_equals_discover_on_local_disk(s3_bucket, devset, tmp_path):
    tree = odd_tree(devset)
    local = write_local(tmp_path / "raw", tree)
    before_upload = int(time.time())  # S3 keeps whole seconds
    remote = write_remote(f"{s3_bucket}/raw", tree)
    # a folder marker, as the S3 console writes them: a folder, not a file
    fsspec.url_to_fs(s3_bucket)[0].pipe(f"{s3_bucket}/raw/empty-folder/", b"")
    after_upload = time.time_ns()

    local_files, local_rejects = discover(parse_location(local), max_bytes=MAX_BYTES)
    files, rejects = discover(parse_location(remote), max_bytes=MAX_BYTES)

    assert_frame_equal(without(files, "path", "mtime_ns"), without(local_files, "path", "mtime_ns"))
    assert_frame_equal(rejects, local_rejects)
    assert dict(zip(rejects["source_path"], rejects["reason"], strict=True)) == {
        ".git": "hidden_file",
        ".hidden.txt": "hidden_file",
        "big.txt": "too_large",
        "noextension": "unsupported_format",
        "notes.pdf": "unsupported_format",
        "sub/.DS_Store": "hidden_file",
    }
    fs = parse_location(remote).fs
    for path, source_path in files.select("path", "source_path").iter_rows():
        assert fs.cat_file(path) == tree[source_path]
    assert files["mtime_ns"].is_between(before_upload * 10**9, after_upload).all()


def test_a_missing_remote_folder_is_the_same_reject_as_a_missing_local_one(s3_bucket, tmp_path):
    _, local_rejects = discover(parse_location(tmp_path / "nope"))
    files, rejects = discover(parse_location(f"{s3_bucket}/nope"))
    assert files.is_empty()
    assert_frame_equal(rejects, local_rejects)
    assert rejects.rows() == [
        (".", "unreadable", "The raw folder cannot be read: No such file or directory.")
    ]
    files, rejects = discover(parse_location("s3://no-such-bucket-anywhere/raw"))
    assert files.is_empty()
    assert rejects.rows() == [
        (".", "unreadable", "The raw folder cannot be read: The specified bucket does not exist.")
    ]


def test_a_remote_raw_dir_that_is_a_file_is_unreadable():
    fs = fsspec.filesystem("memory")
    fs.pipe("/remote-input-file/statement.txt", b"A statement.\n")
    try:
        files, rejects = discover(parse_location("memory://remote-input-file/statement.txt"))
    finally:
        fs.rm("/remote-input-file", recursive=True)
    assert files.is_empty()
    assert rejects.select("source_path", "reason").rows() == [(".", "unreadable")]


def test_a_rewritten_memory_file_gets_a_new_mtime():
    fs = fsspec.filesystem("memory")
    raw = parse_location("memory://remote-input-mtime")
    try:
        fs.pipe(raw.child("a.txt"), b"first\n")
        (first,) = discover(raw)[0]["mtime_ns"]
        time.sleep(0.01)
        fs.pipe(raw.child("a.txt"), b"again\n")
        (second,) = discover(raw)[0]["mtime_ns"]
    finally:
        fs.rm(raw.path, recursive=True)
    assert 0 < first < second <= time.time_ns()


MOMENT = datetime(2024, 7, 23, 12, 30, 5, 250_000, tzinfo=UTC)


@pytest.mark.parametrize(
    "info",
    [
        {"mtime": MOMENT.timestamp()},  # local
        {"LastModified": MOMENT.astimezone(timezone(timedelta(hours=3)))},  # s3
        {"updated": "2024-07-23T12:30:05.250Z"},  # gcs
        {"last_modified": MOMENT},  # abfs
        {"created": MOMENT.timestamp()},  # memory
        {"LastModified": MOMENT.replace(tzinfo=None)},  # a naive UTC time
    ],
    ids=["local", "s3", "gcs", "abfs", "memory", "naive"],
)
def test_every_backends_modification_time_is_the_same_ns(info):
    assert listing_mtime_ns({"name": "a.txt", **info}, fallback=-1) == 1_721_737_805_250_000_000


def test_without_a_modification_time_the_listing_time_is_used():
    # so size and time never match the previous run: the file is read and its hash decides
    assert listing_mtime_ns({"name": "a.txt", "size": 3, "LastModified": ""}, fallback=7) == 7


def test_read_decode_from_s3_equals_reading_local_disk(s3_bucket, devset, tmp_path, monkeypatch):
    monkeypatch.setattr(decode, "FETCH_FILES", 2)  # several fetches, in order
    tree = {rel: data for rel, data in odd_tree(devset).items() if len(data) <= MAX_BYTES}
    tree |= {"gone.txt": b"soon gone\n", "grows.txt": b"small\n"}
    local = parse_location(write_local(tmp_path / "raw", tree))
    remote = parse_location(write_remote(f"{s3_bucket}/raw", tree))
    local_files, _ = discover(local, max_bytes=MAX_BYTES)
    files, _ = discover(remote, max_bytes=MAX_BYTES)
    # changes between discovery and reading
    for root in (local, remote):
        root.fs.rm(root.child("gone.txt"))
        root.fs.pipe(root.child("grows.txt"), b"y" * (MAX_BYTES + 10))

    local_docs, local_rejects = read_decode(local_files, source=local, max_bytes=MAX_BYTES)
    docs, rejects = read_decode(files, source=remote, max_bytes=MAX_BYTES)

    assert docs.height == 6
    assert_frame_equal(without(docs, "path", "mtime_ns"), without(local_docs, "path", "mtime_ns"))
    reasons = dict(zip(rejects["source_path"], rejects["reason"], strict=True))
    assert reasons == {
        "empty.txt": "empty_file",
        "gone.txt": "unreadable",
        "grows.txt": "too_large",
    }
    assert_frame_equal(rejects.drop("detail"), local_rejects.drop("detail"))


# Columns that differ between two runs of the same files: when they ran, and the objects'
# modification times (S3 keeps whole seconds, a local filesystem nanoseconds).
RUN_COLUMNS = {"documents": ["mtime_ns", "ingested_at", "run_id"], "rejects": ["run_id", "seen_at"]}


def tables(out: Path) -> dict[str, pl.DataFrame]:
    return {
        table: read_table(out, table).drop(RUN_COLUMNS.get(table, [])).sort(pl.all())
        for table in TABLES
        if table != "runs"
    }


class Fetches:
    """The objects the S3 filesystem downloads (every read goes through `_cat_file`)."""

    def __init__(self, monkeypatch):
        self.paths: list[str] = []
        original = S3FileSystem._cat_file

        async def cat_file(fs, path, *args, **kwargs):
            self.paths.append(path)
            return await original(fs, path, *args, **kwargs)

        monkeypatch.setattr(S3FileSystem, "_cat_file", cat_file)

    def take(self) -> list[str]:
        paths, self.paths = sorted(self.paths), []
        return paths


@pytest.mark.usefixtures("prefect_server")
def test_a_run_from_s3_equals_a_run_from_local_disk_and_rereads_only_edits(
    s3_bucket, devset_raw, tmp_path, monkeypatch
):
    from flows.process_statements import process_statements

    (devset_raw / "notes.pdf").write_bytes(b"%PDF-1.4")
    tree = {path.name: path.read_bytes() for path in devset_raw.iterdir()}
    raw = write_remote(f"{s3_bucket}/raw", tree)
    raw_path = parse_location(raw).path
    fetches = Fetches(monkeypatch)

    local = asyncio.run(process_statements(raw_dir=devset_raw, out_dir=tmp_path / "local"))
    first = asyncio.run(process_statements(raw_dir=raw, out_dir=tmp_path / "s3"))

    assert fetches.take() == sorted(f"{raw_path}/{name}" for name in tree if name != "notes.pdf")
    got, expected = tables(tmp_path / "s3"), tables(tmp_path / "local")
    assert got.keys() == expected.keys()
    for table in expected:
        assert got[table].equals(expected[table]), f"{table} differs"
    assert got["documents"].height == 31
    assert got["rejects"].select("source_path", "reason").rows() == [
        ("notes.pdf", "unsupported_format")
    ]
    counts = ("files_seen", "documents_written", "files_rejected", "paragraphs_total")
    assert {key: first[key] for key in counts} == {key: local[key] for key in counts}

    second = asyncio.run(process_statements(raw_dir=raw, out_dir=tmp_path / "s3"))
    assert (second["documents_written"], second["documents_unchanged"]) == (0, 31)
    assert fetches.take() == []

    # Same size, new bytes: only the object's new modification time tells the edit.
    edited = "syria-drawdown-2019.txt"
    fs = parse_location(raw).fs
    previous_mtime = fs.info(f"{raw_path}/{edited}", refresh=True)["LastModified"]
    new_bytes = tree[edited].replace(b"Syria", b"SYRIA")
    assert new_bytes != tree[edited]
    fs.pipe(f"{raw_path}/{edited}", new_bytes)
    assert fs.info(f"{raw_path}/{edited}", refresh=True)["LastModified"] > previous_mtime

    third = asyncio.run(process_statements(raw_dir=raw, out_dir=tmp_path / "s3"))
    assert (third["documents_written"], third["documents_unchanged"]) == (1, 30)
    assert fetches.take() == [f"{raw_path}/{edited}"]
    documents = read_table(tmp_path / "s3", "documents")
    (sha,) = documents.filter(pl.col("source_path") == edited)["content_sha256"]
    assert sha == hashlib.sha256(new_bytes).hexdigest()


def test_cli_refuses_a_missing_remote_raw_dir(s3_bucket, tmp_path):
    result = CliRunner().invoke(
        main, ["run", "--raw-dir", f"{s3_bucket}/nope", "--out-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"error: raw directory {s3_bucket}/nope does not exist or is not a directory"
    )


def test_cli_names_the_package_a_raw_dir_url_needs(tmp_path):
    if importlib.util.find_spec("gcsfs"):
        pytest.skip("gcsfs is installed")
    result = CliRunner().invoke(
        main, ["run", "--raw-dir", "gs://bucket/raw", "--out-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: raw directory gs://bucket/raw cannot be read:")
    assert "gcsfs" in result.output


@pytest.mark.usefixtures("prefect_server")
def test_dask_workers_read_their_batches_from_s3(s3_bucket, devset_raw, tmp_path):
    from communique.scaleout import dask_task_runner
    from flows.process_statements import process_statements

    raw = write_remote(f"{s3_bucket}/raw", {p.name: p.read_bytes() for p in devset_raw.iterdir()})
    # started after the S3 server: the worker processes get its endpoint and credentials
    on_dask = process_statements.with_options(task_runner=dask_task_runner(n_workers=1))
    summary = asyncio.run(on_dask(raw_dir=raw, out_dir=tmp_path / "dask", batch_size=8))
    asyncio.run(process_statements(raw_dir=devset_raw, out_dir=tmp_path / "local"))
    assert summary["documents_written"] == 31
    got, expected = tables(tmp_path / "dask"), tables(tmp_path / "local")
    for table in expected:
        assert got[table].equals(expected[table]), f"{table} differs"


def test_a_deployment_keeps_a_raw_dir_url_and_the_flow_accepts_it(tmp_path):
    from communique.deployments import check_parameters, load_deployment_specs
    from flows.process_statements import process_statements

    config = tmp_path / "deployments.toml"
    config.write_text(
        '[scheduled]\ncron = "0 6 * * *"\n[scheduled.parameters]\nraw_dir = "s3://statements/raw"\n'
    )
    scheduled, _ = load_deployment_specs(config, project_root=tmp_path)
    assert scheduled.parameters == {"raw_dir": "s3://statements/raw"}
    check_parameters(process_statements, scheduled, config)
