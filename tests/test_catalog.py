import shutil

import duckdb
import polars as pl
import pytest

from communique import catalog
from communique.catalog import CATALOG, FINGERPRINT, build_catalog, connect
from communique.store import current_snapshot, read_table
from schemas import TABLES
from tests.bi_tables import publish_snapshot


def test_the_catalog_has_a_described_view_per_table_with_the_tables_rows(tmp_path):
    publish_snapshot(tmp_path)
    with connect(tmp_path) as con:
        views = dict(
            con.execute(
                "select view_name, comment from duckdb_views() where not internal"
            ).fetchall()
        )
        assert set(views) == set(TABLES)
        assert all(views.values())
        undescribed = con.execute(
            "select count(*) from duckdb_columns() where comment is null and not internal"
        ).fetchall()
        assert undescribed == [(0,)]
        for table in TABLES:
            rows = con.execute(f"select count(*) from {table}").fetchall()[0][0]
            assert rows == read_table(tmp_path, table).height, table


def test_the_views_follow_the_published_snapshot(tmp_path):
    publish_snapshot(tmp_path, "run-1")
    with connect(tmp_path) as con:
        assert con.execute("select count(*) from runs").fetchall() == [(1,)]
    publish_snapshot(tmp_path, "run-2")
    with connect(tmp_path) as con:
        assert con.execute("select run_id from runs").fetchall() == [("run-2",)]
    assert sorted(p.name for p in tmp_path.glob("*communique.duckdb*")) == [CATALOG]


def test_a_moved_folder_works_from_its_own_directory_or_with_file_search_path(
    tmp_path, monkeypatch
):
    publish_snapshot(tmp_path / "built")
    moved = tmp_path / "elsewhere" / "tables"
    shutil.copytree(tmp_path / "built", moved, symlinks=True)  # the links are relative
    shutil.rmtree(tmp_path / "built")
    monkeypatch.chdir(tmp_path)
    # Relative paths resolve against the working directory, not the catalog file...
    with duckdb.connect(str(moved / CATALOG), read_only=True) as con:
        with pytest.raises(duckdb.IOException):
            con.execute("select count(*) from documents").fetchall()
    # ...so either set file_search_path to the folder (what `connect` does)...
    with connect(moved) as con:
        assert con.execute("select count(*) from documents").fetchall() == [(4,)]
    # ...or start in the folder.
    monkeypatch.chdir(moved)
    with duckdb.connect(CATALOG, read_only=True) as con:
        assert con.execute("select count(*) from documents").fetchall() == [(4,)]


def test_rebuilding_replaces_the_catalog_a_reader_has_open(tmp_path):
    publish_snapshot(tmp_path)
    with connect(tmp_path) as reader:
        (tmp_path / FINGERPRINT).unlink()  # not known to be up to date: rebuilt
        build_catalog(tmp_path)  # os.replace: the reader keeps the file it opened
        assert reader.execute("select count(*) from paragraphs").fetchall() == [(8,)]
    with connect(tmp_path) as con:
        assert con.execute("select count(*) from paragraphs").fetchall() == [(8,)]


def test_an_up_to_date_catalog_is_left_alone(tmp_path):
    publish_snapshot(tmp_path, "run-1")
    built = (tmp_path / CATALOG).stat().st_ino
    publish_snapshot(tmp_path, "run-2")  # new rows, same tables and columns
    assert (tmp_path / CATALOG).stat().st_ino == built
    with connect(tmp_path) as con:
        assert con.execute("select run_id from runs").fetchall() == [("run-2",)]
    (tmp_path / CATALOG).unlink()
    build_catalog(tmp_path)
    with connect(tmp_path) as con:
        assert con.execute("select run_id from runs").fetchall() == [("run-2",)]


def test_a_new_column_or_description_rebuilds_the_catalog(tmp_path, monkeypatch):
    publish_snapshot(tmp_path)
    built = (tmp_path / CATALOG).stat().st_ino
    # A view records the columns it was bound to: a table with new columns gets a new view.
    runs_part = current_snapshot(tmp_path) / "runs" / "part-0.parquet"
    pl.read_parquet(runs_part).with_columns(extra=pl.lit(1)).write_parquet(runs_part)
    build_catalog(tmp_path)
    assert (tmp_path / CATALOG).stat().st_ino != built
    with connect(tmp_path) as con:
        assert con.execute("select extra from runs").fetchall() == [(1,)]

    statements = catalog.catalog_statements
    monkeypatch.setattr(
        catalog,
        "catalog_statements",
        lambda: [s.replace("IS '", "IS 'Changed: ", 1) for s in statements()],
    )
    build_catalog(tmp_path)
    with connect(tmp_path) as con:
        comment = con.execute(
            "select comment from duckdb_views() where view_name = 'documents'"
        ).fetchall()
    assert comment[0][0].startswith("Changed: ")
