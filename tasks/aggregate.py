"""Aggregate tables for BI tools: theme shares per document, per month (overall and per
partner country), and theme pairs.

Pure functions of the snapshot's tables (lazy scans in, frames out). Each result is a
complete grid, every theme on every row key with zeros included, so a chart or a pivot
shows a 0 rather than a gap.

A snapshot is aggregated one part at a time (`aggregate_snapshot`): a document's rows
are all in one part, so per-document rows and counts computed per part are exact, and
the monthly and pair counts of the parts add up. Only one row per document (its theme
columns) and small count frames are held, never a whole paragraph_themes table.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from communique.store import scan_parts
from schemas import conform, empty_frame
from schemas._types import THEMES

AGGREGATE_TABLES = (
    "document_themes",
    "theme_trends",
    "theme_cooccurrence",
    "theme_trends_by_partner",
)
# The document tables the aggregates read.
SOURCE_TABLES = ("documents", "paragraph_themes", "document_partners")
PARTNER = ["country_code", "country_name"]
MONTHLY_COUNTS = ("documents_total", "documents", "paragraphs_total", "paragraphs")
# What each part gives, combined into the AGGREGATE_TABLES at the end.
PART_RESULTS = ("theme_columns", "monthly_counts", "pair_counts", "partner_monthly_counts")
# document_themes is sorted by doc_id, then theme: the themes in that order.
THEME_ORDER = sorted(THEMES)
ASSIGNED = [f"assigned:{theme}" for theme in THEME_ORDER]
MAX_SCORE = [f"max_score:{theme}" for theme in THEME_ORDER]


def _themes() -> pl.LazyFrame:
    return pl.LazyFrame({"theme": list(THEMES)})


def theme_columns(documents: pl.LazyFrame, paragraph_themes: pl.LazyFrame) -> pl.LazyFrame:
    """One row per document: its paragraphs and, per theme, the paragraphs assigned to it
    and the highest score (all null for a document without paragraph_themes rows). A
    quarter of the rows of `document_themes`: the form held while parts are read."""
    of_theme = [pl.col("theme") == theme for theme in THEME_ORDER]
    per_theme = paragraph_themes.group_by("doc_id").agg(
        *(
            (pl.col("assigned") & match).sum().cast(pl.Int32).alias(name)
            for match, name in zip(of_theme, ASSIGNED, strict=True)
        ),
        *(
            pl.when(match).then(pl.col("score")).max().alias(name)
            for match, name in zip(of_theme, MAX_SCORE, strict=True)
        ),
    )
    return documents.select("doc_id", "published_date", "n_paragraphs").join(
        per_theme, on="doc_id", how="left"
    )


def document_themes(theme_columns: pl.LazyFrame) -> pl.LazyFrame:
    """One row per document and theme, in the documents' order, themes in name order."""
    paragraphs = pl.col("n_paragraphs")
    assigned = pl.col("assigned_paragraphs")
    return (
        theme_columns.select(
            "doc_id",
            "published_date",
            "n_paragraphs",
            pl.concat_list([pl.lit(theme) for theme in THEME_ORDER]).alias("theme"),
            pl.concat_list(ASSIGNED).alias("assigned_paragraphs"),
            pl.concat_list(MAX_SCORE).alias("max_score"),
        )
        .explode("theme", "assigned_paragraphs", "max_score")
        .with_columns(assigned.fill_null(0))
        .select(
            "doc_id",
            "published_date",
            "theme",
            paragraphs.alias("paragraphs"),
            assigned,
            pl.when(paragraphs > 0).then(assigned / paragraphs).alias("share_assigned"),
            "max_score",
            (assigned > 0).alias("has_theme"),
        )
    )


def monthly_counts(document_themes: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    """Documents and paragraphs per `by`, month and theme; undated documents land in the
    null month. Counts of disjoint sets of documents add up (`theme_trends`)."""
    return (
        document_themes.with_columns(pl.col("published_date").dt.month_start().alias("month"))
        .group_by(*by, "month", "theme")
        .agg(
            pl.len().alias("documents_total"),
            pl.col("has_theme").sum().alias("documents"),
            pl.col("paragraphs").sum().cast(pl.Int64).alias("paragraphs_total"),
            pl.col("assigned_paragraphs").sum().cast(pl.Int64).alias("paragraphs"),
        )
    )


def theme_trends(counts: pl.LazyFrame, by: list[str], order: list[str]) -> pl.LazyFrame:
    """`monthly_counts` (of one or many parts) summed, with the year and the shares."""
    return (
        counts.group_by(*by, "month", "theme")
        .agg(pl.col(MONTHLY_COUNTS).sum())
        .with_columns(
            pl.col("month").dt.year().cast(pl.Int32).alias("year"),
            (pl.col("documents") / pl.col("documents_total")).alias("document_share"),
            pl.when(pl.col("paragraphs_total") > 0)
            .then(pl.col("paragraphs") / pl.col("paragraphs_total"))
            .alias("paragraph_share"),
        )
        .sort(order, nulls_last=True)
    )


def partner_document_themes(
    document_themes: pl.LazyFrame, document_partners: pl.LazyFrame
) -> pl.LazyFrame:
    """`document_themes` once for each partner of the document."""
    partners = document_partners.select("doc_id", *PARTNER)
    return document_themes.join(partners, on="doc_id", how="inner")


def pair_counts(paragraph_themes: pl.LazyFrame) -> pl.LazyFrame:
    """Paragraphs and documents per pair of themes assigned to the same paragraph.

    A document's paragraphs are all in one part, so the parts' counts add up."""
    assigned = paragraph_themes.filter("assigned").select("doc_id", "paragraph_index", "theme")
    return (
        assigned.join(assigned, on=["doc_id", "paragraph_index"], suffix="_b")
        .filter(pl.col("theme") < pl.col("theme_b"))
        .group_by(pl.col("theme").alias("theme_a"), "theme_b")
        .agg(pl.len().alias("paragraphs"), pl.col("doc_id").n_unique().alias("documents"))
    )


def theme_cooccurrence(counts: pl.LazyFrame) -> pl.LazyFrame:
    """Every pair of themes with its summed `pair_counts` (zeros included)."""
    summed = counts.group_by("theme_a", "theme_b").agg(pl.col("paragraphs", "documents").sum())
    pairs = (
        _themes()
        .join(_themes(), how="cross", suffix="_b")
        .filter(pl.col("theme") < pl.col("theme_b"))
        .rename({"theme": "theme_a"})
    )
    return (
        pairs.join(summed, on=["theme_a", "theme_b"], how="left")
        .with_columns(pl.col("paragraphs", "documents").fill_null(0))
        .sort("theme_a", "theme_b")
    )


def _part_results(tables: dict[str, pl.LazyFrame]) -> dict[str, pl.DataFrame]:
    """Per-document theme columns and the additive counts of one group of whole documents."""
    per_document = theme_columns(tables["documents"], tables["paragraph_themes"]).collect()
    rows = document_themes(per_document.lazy())
    by_partner = partner_document_themes(rows, tables["document_partners"])
    frames = pl.collect_all(
        [
            monthly_counts(rows, []),
            pair_counts(tables["paragraph_themes"]),
            monthly_counts(by_partner, PARTNER),
        ]
    )
    return dict(zip(PART_RESULTS, [per_document, *frames], strict=True))


def _combine(parts: list[dict[str, pl.DataFrame]]) -> dict[str, pl.DataFrame]:
    def stacked(table: str) -> pl.LazyFrame:
        return pl.concat([part[table] for part in parts], rechunk=False).lazy()

    # Sorting one row per document, then exploding the themes in their order, gives the
    # rows sorted by (doc_id, theme) for a quarter of the memory of sorting those rows.
    by_document = stacked("theme_columns").sort("doc_id", maintain_order=True)
    frames = pl.collect_all(
        [
            document_themes(by_document),
            theme_trends(stacked("monthly_counts"), [], ["month", "theme"]),
            theme_cooccurrence(stacked("pair_counts")),
            theme_trends(
                stacked("partner_monthly_counts"), PARTNER, ["country_code", "month", "theme"]
            ),
        ]
    )
    named = zip(AGGREGATE_TABLES, frames, strict=True)
    return {table: conform(table, frame) for table, frame in named}


def aggregate(tables: dict[str, pl.LazyFrame]) -> dict[str, pl.DataFrame]:
    """The aggregate tables of whole tables, in their contract's column order and types."""
    return _combine([_part_results(tables)])


def aggregate_snapshot(snapshot: Path) -> dict[str, pl.DataFrame]:
    """`aggregate` of a snapshot folder's tables, computed one part at a time."""
    parts = [_part_results(tables) for tables in scan_parts(snapshot, SOURCE_TABLES)]
    if not parts:
        return aggregate({table: empty_frame(table).lazy() for table in SOURCE_TABLES})
    return _combine(parts)
