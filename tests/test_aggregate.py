from datetime import date

import duckdb
import polars as pl
from polars.testing import assert_frame_equal

from schemas import TABLES
from tasks.aggregate import AGGREGATE_TABLES, aggregate
from tests.bi_tables import snapshot_tables
from tests.tables import doc_id, document_tables


def aggregates(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    return aggregate({name: frame.lazy() for name, frame in tables.items()})


def test_aggregates_meet_their_contracts_and_count_what_was_assigned():
    result = aggregates(snapshot_tables())
    assert tuple(result) == AGGREGATE_TABLES
    for table, frame in result.items():
        TABLES[table].validate(frame)

    per_doc = result["document_themes"].filter(pl.col("doc_id") == doc_id("jan-a.txt"))
    assert per_doc.height == 4  # every theme, also the two the document lacks
    counter_isis = per_doc.filter(pl.col("theme") == "counter_isis").row(0, named=True)
    assert counter_isis["assigned_paragraphs"] == 1
    assert counter_isis["share_assigned"] == 1 / 3
    assert counter_isis["has_theme"]

    january = result["theme_trends"].filter(pl.col("month") == date(2024, 1, 1))
    counter_isis = january.filter(pl.col("theme") == "counter_isis").row(0, named=True)
    assert (counter_isis["documents_total"], counter_isis["documents"]) == (2, 2)
    assert (counter_isis["paragraphs_total"], counter_isis["paragraphs"]) == (5, 2)
    assert counter_isis["year"] == 2024
    undated = result["theme_trends"].filter(pl.col("month").is_null())
    assert undated["documents_total"].to_list() == [1, 1, 1, 1]

    pairs = {(r["theme_a"], r["theme_b"]): r for r in result["theme_cooccurrence"].to_dicts()}
    assert len(pairs) == 6
    both = pairs[("counter_isis", "education")]
    assert (both["paragraphs"], both["documents"]) == (2, 2)
    assert pairs[("education", "repatriation")]["paragraphs"] == 0  # same doc, not same para


def test_empty_tables_give_valid_empty_aggregates():
    tables = {name: frame.clear() for name, frame in snapshot_tables().items()}
    result = aggregates(tables)
    assert result["document_themes"].is_empty()
    assert result["theme_trends"].is_empty()
    assert result["theme_cooccurrence"]["paragraphs"].to_list() == [0] * 6
    for table, frame in result.items():
        TABLES[table].validate(frame)


def test_a_document_without_paragraphs_has_a_null_share():
    tables = document_tables({"a.txt": ["One."]})
    tables["documents"] = tables["documents"].with_columns(
        pl.lit(0, pl.Int32).alias("n_paragraphs")
    )
    tables["paragraphs"] = tables["paragraphs"].clear()
    tables["paragraph_themes"] = tables["paragraph_themes"].clear()
    result = aggregates(tables)["document_themes"]
    assert result["share_assigned"].null_count() == 4
    assert result["max_score"].null_count() == 4


def assert_same_rows(from_sql: pl.DataFrame, aggregate: pl.DataFrame) -> None:
    def ordered(frame):
        return frame.select(from_sql.columns).sort(pl.all(), nulls_last=True)

    assert_frame_equal(ordered(from_sql), ordered(aggregate), check_dtypes=False)


def test_aggregates_agree_with_the_same_questions_asked_in_sql():
    """An independent formulation in DuckDB SQL over the base tables gives the same rows."""
    tables = snapshot_tables()
    result = aggregates(tables)
    con = duckdb.connect()
    for name in ("documents", "paragraph_themes"):
        con.register(name, tables[name].to_arrow())
    document_themes = con.sql(
        """
        select d.doc_id, d.published_date, pt.theme, d.n_paragraphs as paragraphs,
               count(*) filter (where pt.assigned) as assigned_paragraphs,
               max(pt.score) as max_score
        from documents d join paragraph_themes pt using (doc_id)
        group by all
        """
    ).pl()
    assert_same_rows(document_themes, result["document_themes"])

    trends = con.sql(
        """
        select date_trunc('month', d.published_date)::date as month, pt.theme,
               count(distinct d.doc_id) as documents_total,
               count(distinct d.doc_id) filter (where pt.assigned) as documents,
               count(*) as paragraphs_total, count(*) filter (where pt.assigned) as paragraphs
        from documents d join paragraph_themes pt using (doc_id)
        group by all
        """
    ).pl()
    assert_same_rows(trends, result["theme_trends"])

    cooccurrence = con.sql(
        """
        select a.theme as theme_a, b.theme as theme_b, count(*) as paragraphs,
               count(distinct a.doc_id) as documents
        from paragraph_themes a join paragraph_themes b
          on a.doc_id = b.doc_id and a.paragraph_index = b.paragraph_index
         and a.theme < b.theme and a.assigned and b.assigned
        group by all
        """
    ).pl()
    assert_same_rows(cooccurrence, result["theme_cooccurrence"].filter(pl.col("paragraphs") > 0))
