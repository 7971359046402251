"""Entities through the whole flow: published tables, re-tagging on a gazetteer change,
and the BI question the issue asks for, answered from the DuckDB catalog alone."""

import asyncio
import json
from pathlib import Path

import polars as pl
import pytest

from communique.catalog import connect
from communique.store import read_manifest, read_table
from flows.process_statements import process_statements
from tests.conftest import PROJECT_ROOT
from tests.test_entities_devset import PARTNER_EXACT_FLOOR

pytestmark = pytest.mark.usefixtures("prefect_server")
GOLD = json.loads((Path(__file__).parent / "partners_gold.json").read_text())


def partners_by_file(out) -> dict[str, list[str]]:
    documents = read_table(out, "documents")
    return {
        row["source_path"]: [c for c in row["partner_countries"].split(";") if c]
        for row in documents.iter_rows(named=True)
    }


def test_a_devset_run_publishes_mentions_and_partners_a_bi_user_can_chart(devset_raw, tmp_path):
    out = tmp_path / "out"
    asyncio.run(process_statements(raw_dir=devset_raw, out_dir=out))

    got = partners_by_file(out)
    exact = sum(got[doc] == gold for doc, gold in GOLD.items()) / len(GOLD)
    assert exact >= PARTNER_EXACT_FLOOR
    mentions = read_table(out, "mentions")
    paragraphs = read_table(out, "paragraphs")
    spans = mentions.join(paragraphs, on=["doc_id", "paragraph_index"]).with_columns(
        quoted=pl.col("text").str.slice(
            pl.col("char_start"), pl.col("char_end") - pl.col("char_start")
        )
    )
    assert spans.height == mentions.height
    assert (spans["quoted"] == spans["surface"]).all()
    assert read_manifest(out)["gazetteer_version"]

    # Theme share over time per partner, from the catalog alone.
    with connect(out) as con:
        rows = con.execute(
            """
            select country_name, year, theme,
                   sum(paragraphs) / sum(paragraphs_total) as share
            from theme_trends_by_partner
            where year is not null
            group by all order by country_name, year, theme
            """
        ).fetchall()
        partners = con.execute(
            "select count(*) from document_partners join documents using (doc_id)"
        ).fetchone()[0]
    assert {row[0] for row in rows} >= {"Iraq", "Syria", "Kuwait"}
    assert all(0.0 <= row[3] <= 1.0 for row in rows)
    assert partners == sum(len(codes) for codes in got.values())


def test_a_changed_gazetteer_retags_kept_documents(devset_raw, tmp_path):
    out = tmp_path / "out"
    asyncio.run(process_statements(raw_dir=devset_raw, out_dir=out))
    assert "TR" not in partners_by_file(out)["syria-drawdown-2019.txt"]

    # An analyst lowers the bar to one paragraph: no statement changed, all are re-tagged.
    edited = tmp_path / "gazetteer.toml"
    source = (PROJECT_ROOT / "config" / "gazetteer.toml").read_text()
    edited.write_text(source.replace("min_paragraphs = 2", "min_paragraphs = 1"))
    summary = asyncio.run(process_statements(raw_dir=devset_raw, out_dir=out, gazetteer=edited))
    assert summary["documents_written"] == 0
    assert "TR" in partners_by_file(out)["syria-drawdown-2019.txt"]
    trends = read_table(out, "theme_trends_by_partner")
    assert "TR" in trends["country_code"].to_list()
