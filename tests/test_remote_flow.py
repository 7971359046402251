"""Whole runs into an output folder on object storage (moto's S3 server on loopback): the
published tables at the URL equal a local run's, a second machine continues incrementally
from what the URL publishes, and a run that cannot push fails and says where its tables
are."""

import asyncio

import polars as pl
import pytest
from click.testing import CliRunner

from communique.cli import main
from communique.locations import parse_location
from communique.remote import STATE_DIR_ENV, read_current, read_remote_table, working_copy
from communique.store import read_table
from schemas import TABLES

# Columns that differ between any two runs of the same statements.
RUN_COLUMNS = {
    "documents": ["ingested_at", "run_id"],
    "rejects": ["run_id", "seen_at"],
}


def comparable(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    return frame.drop(RUN_COLUMNS.get(table, [])).sort(pl.all())


def run(raw, out, **parameters) -> dict:
    from flows.process_statements import process_statements

    return asyncio.run(process_statements(raw_dir=raw, out_dir=out, **parameters))


@pytest.fixture
def out_url(s3_bucket, tmp_path, monkeypatch) -> str:
    """An output folder on S3, written from "machine a" (its own working-copy folder)."""
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "machine-a"))
    return f"{s3_bucket}/communique"


@pytest.mark.usefixtures("prefect_server")
def test_a_run_into_s3_publishes_the_tables_of_a_local_run(out_url, devset_raw, tmp_path):
    url = out_url
    out = parse_location(url)

    local = run(devset_raw, tmp_path / "local")
    first = run(devset_raw, url)

    assert first["out_dir"] == url
    assert first["working_copy"] == str(working_copy(out))
    assert first["documents_written"] == local["documents_written"] == 31
    current = read_current(out)
    assert current["run_id"] == read_remote_table(out, "runs")["run_id"].item()
    for table in TABLES:
        if table == "runs":
            continue
        remote = read_remote_table(out, table)
        assert remote.height == current["tables"][table]["rows"]
        expected = comparable(read_table(tmp_path / "local", table), table)
        assert comparable(remote, table).equals(expected), f"{table} differs"


@pytest.mark.usefixtures("prefect_server")
def test_a_second_machine_continues_incrementally_from_the_url(
    out_url, devset_raw, tmp_path, monkeypatch
):
    url = out_url
    out = parse_location(url)
    first = run(devset_raw, url)

    # Another machine: an empty working copy. One statement is added meanwhile.
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "machine-b"))
    (devset_raw / "added.txt").write_text("The partners discussed the fight against ISIS.\n")
    second = run(devset_raw, url)

    assert (second["documents_written"], second["documents_unchanged"]) == (1, 31)
    runs = read_remote_table(out, "runs").sort("started_at")
    assert runs["run_id"].to_list() == [first["run_id"], second["run_id"]]
    assert runs["status"].to_list() == ["completed", "completed"]
    assert read_remote_table(out, "documents").height == 32
    assert read_current(out)["run_id"] == second["run_id"]


@pytest.mark.usefixtures("prefect_server")
def test_a_run_that_cannot_push_fails_and_the_next_run_sends_its_tables(
    out_url, devset_raw, monkeypatch
):
    from communique import remote

    url = out_url
    out = parse_location(url)
    first = run(devset_raw, url)

    (devset_raw / "added.txt").write_text("The partners discussed the fight against ISIS.\n")
    real_push = remote.push

    def unreachable(local, out):
        raise ConnectionError("the store cannot be reached")

    monkeypatch.setattr("flows.process_statements.push", unreachable)
    with pytest.raises(RuntimeError, match="published in the working copy .* but not at"):
        run(devset_raw, url)
    # Readers of the URL still see the first run, whole.
    assert read_current(out)["run_id"] == first["run_id"]
    assert read_remote_table(out, "documents").height == 31

    monkeypatch.setattr("flows.process_statements.push", real_push)
    third = run(devset_raw, url)
    assert (third["documents_written"], third["documents_unchanged"]) == (0, 32)
    assert read_remote_table(out, "documents").height == 32
    runs = read_remote_table(out, "runs")
    assert runs.height == 3 and set(runs["status"]) == {"completed"}


@pytest.mark.usefixtures("prefect_server")
def test_a_failed_run_is_recorded_at_the_url_and_keeps_its_tables(out_url, devset_raw, tmp_path):
    url = out_url
    out = parse_location(url)
    run(devset_raw, url)
    documents = comparable(read_remote_table(out, "documents"), "documents")
    broken = tmp_path / "broken.toml"
    broken.write_text("this is not = = toml")

    with pytest.raises(Exception, match="broken.toml"):
        run(devset_raw, url, taxonomy=broken)

    runs = read_remote_table(out, "runs").sort("started_at")
    assert runs["status"].to_list() == ["completed", "failed"]
    assert "broken.toml" in runs["error"][1]
    assert comparable(read_remote_table(out, "documents"), "documents").equals(documents)


def test_cli_refuses_a_dask_cluster_writing_into_a_url(s3_bucket, devset_raw, tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "run",
            "--raw-dir",
            str(devset_raw),
            "--out-dir",
            f"{s3_bucket}/communique",
            "--task-runner",
            "dask",
            "--dask-address",
            "tcp://127.0.0.1:8786",
        ],
        env={STATE_DIR_ENV: str(tmp_path / "state")},
    )
    assert result.exit_code == 1
    assert "--dask-address needs an --out-dir on storage the workers share" in result.output


@pytest.mark.usefixtures("prefect_server")
def test_the_report_of_a_url_is_drawn_and_uploaded_beside_its_tables(out_url, devset_raw, tmp_path):
    url = out_url
    out = parse_location(url)
    published = run(devset_raw, url)

    # On another machine, whose working copy is empty.
    env = {STATE_DIR_ENV: str(tmp_path / "machine-b")}
    result = CliRunner().invoke(main, ["report", "--out-dir", url], env=env)

    assert result.exit_code == 0, result.output
    page = out.fs.cat_file(out.child("report.html")).decode()
    assert page.startswith("<!DOCTYPE html>")
    assert published["run_id"] in page


def test_the_report_of_an_empty_url_says_there_is_nothing_yet(s3_bucket, tmp_path):
    result = CliRunner().invoke(
        main,
        ["report", "--out-dir", f"{s3_bucket}/communique"],
        env={STATE_DIR_ENV: str(tmp_path / "state")},
    )
    assert result.exit_code == 1
    assert "has no published tables" in result.output
