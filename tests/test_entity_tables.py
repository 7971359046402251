"""The entity tables against their contracts: validation blames bad rows on their
documents, and `theme_trends_by_partner` counts each document once per partner."""

from datetime import date

import polars as pl

from communique.gazetteer import load_gazetteer
from schemas import TABLES, conform
from tasks.aggregate import aggregate
from tasks.entities import tag_documents
from tasks.validate import validate_batch
from tests.bi_tables import snapshot_tables
from tests.tables import doc_id, document_tables


def tagged_tables() -> dict[str, pl.DataFrame]:
    tables = document_tables(
        {
            "iraq.txt": ["Talks in Baghdad.", "Iraqi forces and the SDF in Syria."],
            "none.txt": ["Nothing here."],
        }
    )
    documents, mentions, partners = tag_documents(
        tables["documents"], tables["paragraphs"], load_gazetteer()
    )
    tables["documents"] = conform("documents", documents)
    tables["mentions"] = conform("mentions", mentions)
    tables["document_partners"] = conform("document_partners", partners)
    return tables


def test_tagged_tables_pass_validation():
    tables = tagged_tables()
    valid, rejects = validate_batch(tables)
    assert rejects.is_empty()
    assert valid["documents"]["partner_countries"].to_list() == ["IQ", ""]
    for table in ("mentions", "document_partners"):
        TABLES[table].validate(valid[table])


def test_a_mention_that_does_not_quote_its_paragraph_rejects_its_document():
    tables = tagged_tables()
    tables["mentions"] = tables["mentions"].with_columns(
        pl.when(pl.col("surface") == "Baghdad")
        .then(pl.lit(5))
        .otherwise("char_start")
        .cast(pl.Int64)
        .alias("char_start")
    )
    valid, rejects = validate_batch(tables)
    assert rejects["detail"].str.contains("mention span differs").all()
    assert rejects.height == 1
    assert valid["documents"]["doc_id"].to_list() == [doc_id("none.txt")]
    assert valid["mentions"].is_empty()


def test_partner_countries_must_agree_with_document_partners():
    tables = tagged_tables()
    tables["documents"] = tables["documents"].with_columns(partner_countries=pl.lit("SY"))
    _, rejects = validate_batch(tables)
    assert rejects["detail"].str.contains("partner_countries differs").sum() == 2


def test_theme_trends_by_partner_splits_theme_trends_by_partner_country():
    tables = snapshot_tables()
    documents = tables["documents"].sort("doc_id")
    first, second = documents["doc_id"][0], documents["doc_id"][1]
    tables["document_partners"] = conform(
        "document_partners",
        pl.DataFrame(
            {
                "doc_id": [first, second, second],
                "country_code": ["IQ", "IQ", "SY"],
                "country_name": ["Iraq", "Iraq", "Syria"],
                "mentions": [2, 3, 2],
                "paragraphs": [2, 2, 2],
                "in_title": [False, True, False],
            }
        ),
    )
    result = aggregate({name: frame.lazy() for name, frame in tables.items()})
    by_partner = result["theme_trends_by_partner"]
    TABLES["theme_trends_by_partner"].validate(by_partner)
    overall = result["document_themes"]
    for code, docs in (("IQ", [first, second]), ("SY", [second])):
        rows = by_partner.filter(pl.col("country_code") == code)
        assert (
            rows.group_by("theme").agg(pl.col("documents_total").sum())["documents_total"].to_list()
            == [len(docs)] * rows["theme"].n_unique()
        )
        expected = overall.filter(pl.col("doc_id").is_in(docs))
        assert rows["paragraphs"].sum() == expected["assigned_paragraphs"].sum()
    assert by_partner.height % 4 == 0  # every theme on every (partner, month)
    assert set(by_partner["month"].drop_nulls().to_list()) <= {
        d.replace(day=1) for d in tables["documents"]["published_date"].drop_nulls()
    }
    assert all(isinstance(m, date) for m in by_partner["month"].drop_nulls())
