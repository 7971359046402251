import polars as pl
import pytest

from tasks.validate import TableValidationError, consistency_problems, validate_batch
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
