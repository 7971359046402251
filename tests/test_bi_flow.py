"""A flow run on the devset leaves BI-ready outputs: aggregates, catalog, and a report."""

import asyncio

import polars as pl
import pytest
from click.testing import CliRunner

from communique.catalog import CATALOG, connect
from communique.cli import main
from communique.store import read_table
from flows.process_statements import process_statements
from schemas import TABLES

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_a_run_publishes_aggregates_and_a_catalog_and_the_report_is_written(devset_raw, tmp_path):
    out_dir = tmp_path / "out"
    summary = asyncio.run(process_statements(raw_dir=devset_raw, out_dir=out_dir))

    per_theme = (
        read_table(out_dir, "document_themes")
        .group_by("theme")
        .agg(pl.col("assigned_paragraphs").sum())
    )
    assert dict(per_theme.iter_rows()) == summary["assigned_per_theme"]
    trends = read_table(out_dir, "theme_trends")
    assert trends.group_by("theme").agg(pl.col("paragraphs").sum())["paragraphs"].sum() == sum(
        summary["assigned_per_theme"].values()
    )

    assert (out_dir / CATALOG).is_file()
    with connect(out_dir) as con:
        for table in TABLES:
            rows = con.execute(f"select count(*) from {table}").fetchall()[0][0]
            assert rows == read_table(out_dir, table).height, table

    result = CliRunner().invoke(main, ["report", "--out-dir", str(out_dir)])
    assert result.exit_code == 0, result.output
    assert summary["run_id"] in (out_dir / "report.html").read_text()
