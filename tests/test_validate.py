import pandera.polars as pa
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from schemas import TABLES
from tasks.aggregate import aggregate
from tasks.validate import (
    TableValidationError,
    consistency_problems,
    validate_batch,
    validate_table,
)
from tests.bi_tables import snapshot_tables
from tests.tables import document_tables


def test_valid_batch_passes_unchanged():
    tables = document_tables({"a.txt": ["One.", "Two."], "b.txt": ["Three."]})
    valid, rejects = validate_batch(tables)
    assert rejects.is_empty()
    assert valid["paragraphs"].height == 3


def test_document_with_an_invalid_row_becomes_a_reject_and_the_rest_goes_on():
    tables = document_tables({"a.txt": ["One.", "Two."], "b.txt": ["Three."]})
    tables["paragraphs"] = tables["paragraphs"].with_columns(
        pl.when(pl.col("text") == "Two.").then(pl.lit("")).otherwise("text").alias("text")
    )
    valid, rejects = validate_batch(tables)
    assert rejects["source_path"].to_list() == ["a.txt"]
    assert rejects["reason"].to_list() == ["validation_failed"]
    assert "paragraphs: text failed str_length" in rejects["detail"][0]
    assert valid["documents"]["source_path"].to_list() == ["b.txt"]
    assert set(valid["paragraph_themes"]["doc_id"]) == set(valid["documents"]["doc_id"])


def test_paragraph_count_mismatch_is_blamed_on_its_document():
    tables = document_tables({"a.txt": ["One.", "Two."]})
    tables["paragraphs"] = tables["paragraphs"].head(1)
    tables["paragraph_themes"] = tables["paragraph_themes"].head(4)
    _, rejects = validate_batch(tables)
    assert "n_paragraphs differs" in rejects["detail"][0]


def test_a_missing_column_stops_the_batch():
    tables = document_tables({"a.txt": ["One."]})
    tables["paragraphs"] = tables["paragraphs"].drop("n_words")
    with pytest.raises(TableValidationError, match="paragraphs"):
        validate_batch(tables)


def test_consistency_problems_over_a_snapshot():
    tables = document_tables({"a.txt": ["One.", "Two."], "b.txt": ["Three."]})
    assert consistency_problems({k: v.lazy() for k, v in tables.items()}) == []
    broken = dict(tables)
    broken["paragraphs"] = tables["paragraphs"].tail(2)
    problems = consistency_problems({k: v.lazy() for k, v in broken.items()})
    assert any("n_paragraphs differs" in p for p in problems)
    assert any("theme rows whose paragraph is missing" in p for p in problems)


def _document_themes() -> pl.DataFrame:
    tables = snapshot_tables()
    return aggregate({name: frame.lazy() for name, frame in tables.items()})["document_themes"]


@pytest.mark.parametrize("order", ["sorted", "reversed"])
def test_a_table_passes_whether_or_not_it_is_sorted_by_its_unique_keys(order):
    frame = _document_themes()
    frame = frame if order == "sorted" else frame.reverse()
    assert_frame_equal(validate_table("document_themes", frame), frame)


@pytest.mark.parametrize("order", ["sorted", "reversed"])
def test_duplicate_unique_keys_fail_as_pandera_reports_them(order):
    frame = _document_themes()
    frame = pl.concat([frame, frame.head(1)]).sort("doc_id", "theme")
    frame = frame if order == "sorted" else frame.reverse()
    with pytest.raises(pa.errors.SchemaErrors) as expected:
        TABLES["document_themes"].validate(frame, lazy=True)
    with pytest.raises(TableValidationError) as raised:
        validate_table("document_themes", frame)
    assert_frame_equal(raised.value.failure_cases, expected.value.failure_cases)
    assert "multiple_fields_uniqueness" in raised.value.failure_cases["check"].to_list()


@pytest.mark.parametrize("where", ["end", "start"])
def test_a_duplicated_key_row_in_a_batch_rejects_its_document(where):
    tables = document_tables({"a.txt": ["One.", "Two."], "b.txt": ["Three."]})
    themes, extra = tables["paragraph_themes"], tables["paragraph_themes"].tail(1)
    tables["paragraph_themes"] = pl.concat([themes, extra] if where == "end" else [extra, themes])
    valid, rejects = validate_batch(tables)
    assert rejects["source_path"].to_list() == ["b.txt"]
    assert (
        "paragraph_themes: ParagraphThemes failed multiple_fields_uniqueness"
        in (rejects["detail"][0])
    )
    assert valid["documents"]["source_path"].to_list() == ["a.txt"]


def _broken_rows() -> dict[str, dict[str, pl.DataFrame]]:
    """One batch per way a row can fail its contract, without a broken reference."""
    tables = document_tables({"a.txt": ["One.", "Two."], "b.txt": ["Three."]})
    paragraphs, documents = tables["paragraphs"], tables["documents"]
    return {
        "a column check (str_length)": {
            "paragraphs": paragraphs.with_columns(pl.lit("").alias("text"))
        },
        "a null in a non-nullable column": {
            "paragraphs": paragraphs.with_columns(pl.lit(None, pl.Int32).alias("n_words"))
        },
        "a dataframe check (char_start < char_end)": {
            "paragraphs": paragraphs.with_columns(pl.col("char_start").alias("char_end"))
        },
        "a unique column": {"documents": pl.concat([documents, documents.head(1)])},
        "a wrong dtype": {"paragraphs": paragraphs.with_columns(pl.col("n_words").cast(pl.Int64))},
    }


@pytest.mark.parametrize("case", list(_broken_rows()))
def test_every_check_still_runs_and_fails_as_pandera_reports_it(case):
    for table, frame in _broken_rows()[case].items():
        with pytest.raises(pa.errors.SchemaErrors) as expected:
            TABLES[table].validate(frame, lazy=True)
        with pytest.raises(TableValidationError) as raised:
            validate_table(table, frame)
        assert_frame_equal(raised.value.failure_cases, expected.value.failure_cases)
