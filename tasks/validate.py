"""Validate tables against their pandera contracts before anything is written.

Row-level failures are blamed on the documents they belong to: those documents become
rejects (`validation_failed`) and the rest of the batch goes on. A failure that is not
about rows (a missing column, a wrong type) means the pipeline itself is broken, so it
stops the run and no table of that run is published.
"""

from __future__ import annotations

import copy
from collections import Counter
from functools import cache
from pathlib import Path

import polars as pl

from communique.store import scan_parts, scan_table
from schemas import TABLES
from schemas._pandera import pa


class TableValidationError(RuntimeError):
    def __init__(self, table: str, failure_cases: pl.DataFrame):
        self.table = table
        self.failure_cases = failure_cases
        shown = failure_cases.head(10).select("column", "check", "failure_case")
        super().__init__(f"table {table} failed validation:\n{shown}")


def validate_table(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Validate a whole table (runs, rejects, aggregates): any failure stops the run."""
    try:
        return _contract(table, frame).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        raise TableValidationError(table, errors.failure_cases) from None


def _contract(table: str, frame: pl.DataFrame) -> pa.DataFrameSchema:
    """The table's schema, less its unique-keys check when the keys are seen to be unique
    more cheaply than by pandera, which hashes every key row (~700 MB for the 4 million
    rows of document_themes at 1M statements; ~15 % of a batch's validation). On any
    doubt pandera checks the keys, so failures are reported as before."""
    schema = TABLES[table].to_schema()
    keys = schema.unique
    if keys and set(keys) <= set(frame.columns) and _keys_distinct(frame, keys):
        return _without_unique(table)
    return schema


def _keys_distinct(frame: pl.DataFrame, keys: list[str]) -> bool:
    """True when the rows are sorted strictly by their keys (one pass, little memory) or
    the keys' hashes are all different (equal keys hash equally; a shared hash says
    nothing, so it gives False)."""
    if frame[keys[0]].is_sorted() and _strictly_ascending(frame, keys):
        return True
    return frame.select(pl.struct(keys).hash().n_unique()).item() == frame.height


def _strictly_ascending(frame: pl.DataFrame, keys: list[str]) -> bool:
    """True when no key is null and each row's keys sort after the previous row's."""
    if any(frame[key].null_count() for key in keys):
        return False
    after_previous = pl.lit(False)
    for key in reversed(keys):
        value, previous = pl.col(key), pl.col(key).shift(1)
        after_previous = (value > previous) | ((value == previous) & after_previous)
    return frame.select(after_previous.slice(1).all()).item()


@cache
def _without_unique(table: str) -> pa.DataFrameSchema:
    schema = copy.deepcopy(TABLES[table].to_schema())
    schema.unique = None
    return schema


def _failing_rows(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Failure cases of `frame` with a row index (raises on schema-level failures)."""
    try:
        _contract(table, frame).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        if cases["index"].null_count() > 0:
            raise TableValidationError(table, cases) from None
        return cases
    return pl.DataFrame(schema={"index": pl.Int32, "check": pl.String, "column": pl.String})


def _broken_references(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """doc_id + message for documents whose tables disagree with each other (one message
    per document, the first found). One lazy plan: each check reads only its columns."""
    lazy = {name: frame.lazy() for name, frame in tables.items()}
    documents, paragraphs = lazy["documents"], lazy["paragraphs"]
    counts = paragraphs.group_by("doc_id").agg(pl.len().cast(pl.Int32).alias("found"))
    mismatched = (
        documents.join(counts, on="doc_id", how="left")
        .filter(pl.col("found").fill_null(0) != pl.col("n_paragraphs"))
        .select("doc_id", pl.lit("n_paragraphs differs from the paragraphs written").alias("why"))
    )
    orphans = [
        paragraphs.join(documents, on="doc_id", how="anti").select(
            "doc_id", pl.lit("paragraph without a document").alias("why")
        )
    ]
    keys = ["doc_id", "paragraph_index"]
    for table in ("paragraph_themes", "theme_evidence", "mentions"):
        orphans.append(
            lazy[table]
            .join(paragraphs, on=keys, how="anti")
            .select("doc_id", pl.lit(f"{table} row without a paragraph").alias("why"))
        )
    problems = pl.concat([mismatched, *orphans, *_entity_problems(lazy)])
    return problems.unique("doc_id", keep="first", maintain_order=True).collect(engine="in-memory")


def _entity_problems(tables: dict[str, pl.LazyFrame]) -> list[pl.LazyFrame]:
    """Mentions must quote their paragraph; partner rows must agree with documents."""
    documents, partners = tables["documents"], tables["document_partners"]
    spans = (
        tables["mentions"]
        .join(
            tables["paragraphs"].select("doc_id", "paragraph_index", "text"),
            on=["doc_id", "paragraph_index"],
        )
        .filter(
            pl.col("text").str.slice(
                pl.col("char_start"), pl.col("char_end") - pl.col("char_start")
            )
            != pl.col("surface")
        )
        .select("doc_id", pl.lit("mention span differs from the paragraph text").alias("why"))
    )
    listed = partners.group_by("doc_id").agg(
        pl.col("country_code").sort().str.join(";").alias("listed")
    )
    disagree = (
        documents.join(listed, on="doc_id", how="left")
        .filter(pl.col("listed").fill_null("") != pl.col("partner_countries"))
        .select(
            "doc_id",
            pl.lit("partner_countries differs from document_partners").alias("why"),
        )
    )
    orphans = partners.join(documents, on="doc_id", how="anti").select(
        "doc_id", pl.lit("document_partners row without a document").alias("why")
    )
    return [spans, disagree, orphans]


def validate_batch(tables: dict[str, pl.DataFrame]) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Return the valid part of each document table and rejects for the invalid documents."""
    blamed = [_broken_references(tables)]
    for table, frame in tables.items():
        cases = _failing_rows(table, frame)
        if cases.height:
            rows = frame.with_row_index("index").join(
                cases.select(pl.col("index").cast(pl.UInt32), "column", "check"), on="index"
            )
            blamed.append(
                rows.select(
                    "doc_id",
                    pl.format("{}: {} failed {}", pl.lit(table), "column", "check").alias("why"),
                )
            )
    bad = pl.concat(blamed).group_by("doc_id").agg(pl.col("why").unique().sort().str.join("; "))
    if bad.is_empty():
        return tables, pl.DataFrame(
            schema={"source_path": pl.String, "reason": pl.String, "detail": pl.String}
        )
    rejects = (
        tables["documents"]
        .join(bad, on="doc_id")
        .select(
            "source_path",
            pl.lit("validation_failed").alias("reason"),
            pl.format("output failed its table contract: {}", "why").alias("detail"),
        )
    )
    valid = {name: frame.join(bad, on="doc_id", how="anti") for name, frame in tables.items()}
    return valid, rejects


DUPLICATE_DOC_IDS = "duplicate doc_id in documents"
# The document tables the consistency checks read.
CHECKED_TABLES = ("documents", "paragraphs", "paragraph_themes", "mentions", "document_partners")


def _duplicate_doc_ids(documents: pl.LazyFrame) -> pl.LazyFrame:
    return documents.select("doc_id").group_by("doc_id").len().filter(pl.col("len") > 1)


def _document_checks(tables: dict[str, pl.LazyFrame]) -> dict[str, pl.LazyFrame]:
    """Checks between the tables of whole documents: message -> the offending rows."""
    documents = tables["documents"].select("doc_id", "n_paragraphs")
    paragraphs = tables["paragraphs"].select("doc_id", "paragraph_index")
    themes = tables["paragraph_themes"].select("doc_id", "paragraph_index")
    counts = paragraphs.group_by("doc_id").agg(pl.len().alias("found"))
    return {
        "paragraphs whose document is missing": paragraphs.join(documents, on="doc_id", how="anti"),
        "documents whose n_paragraphs differs from their paragraphs": documents.join(
            counts, on="doc_id", how="left"
        ).filter(pl.col("found").fill_null(0) != pl.col("n_paragraphs")),
        "theme rows whose paragraph is missing": themes.join(
            paragraphs, on=["doc_id", "paragraph_index"], how="anti"
        ),
        "mention rows whose paragraph is missing": tables["mentions"]
        .select("doc_id", "paragraph_index")
        .join(paragraphs, on=["doc_id", "paragraph_index"], how="anti"),
        "document_partners rows whose document is missing": tables["document_partners"]
        .select("doc_id")
        .join(documents, on="doc_id", how="anti"),
    }


def _row_counts(checks: dict[str, pl.LazyFrame]) -> Counter[str]:
    frames = pl.collect_all([frame.select(pl.len()) for frame in checks.values()])
    return Counter({message: frame.item() for message, frame in zip(checks, frames, strict=True)})


def _problems(counts: Counter[str]) -> list[str]:
    return [f"{n} {message}" for message, n in counts.items() if n > 0]


def consistency_problems(tables: dict[str, pl.LazyFrame]) -> list[str]:
    """Cross-table checks over whole tables (scanned lazily, a few columns only)."""
    checks = {DUPLICATE_DOC_IDS: _duplicate_doc_ids(tables["documents"])}
    return _problems(_row_counts(checks | _document_checks(tables)))


def snapshot_consistency_problems(snapshot: Path) -> list[str]:
    """`consistency_problems` of a snapshot folder, one part at a time.

    A document's rows are all in one part, so the checks between tables run per part and
    their counts add up (a row whose document sits in another part is reported too: it
    breaks what per-part work relies on); doc_id uniqueness is checked across all parts
    on the doc_id column alone.
    """
    counts = _row_counts({DUPLICATE_DOC_IDS: _duplicate_doc_ids(scan_table(snapshot, "documents"))})
    for tables in scan_parts(snapshot, CHECKED_TABLES):
        counts.update(_row_counts(_document_checks(tables)))
    return _problems(counts)
