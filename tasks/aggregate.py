"""Aggregate tables for BI tools: theme shares per document, per month (overall and per
partner country), and theme pairs.

Pure functions of the snapshot's tables (lazy scans in, frames out). Each result is a
complete grid, every theme on every row key with zeros included, so a chart or a pivot
shows a 0 rather than a gap.
"""

from __future__ import annotations

import polars as pl

from schemas import conform
from schemas._types import THEMES

AGGREGATE_TABLES = (
    "document_themes",
    "theme_trends",
    "theme_cooccurrence",
    "theme_trends_by_partner",
)


def _themes() -> pl.LazyFrame:
    return pl.LazyFrame({"theme": list(THEMES)})


def document_themes(documents: pl.LazyFrame, paragraph_themes: pl.LazyFrame) -> pl.LazyFrame:
    per_theme = paragraph_themes.group_by("doc_id", "theme").agg(
        pl.col("assigned").sum().cast(pl.Int32).alias("assigned_paragraphs"),
        pl.col("score").max().alias("max_score"),
    )
    paragraphs = pl.col("n_paragraphs")
    return (
        documents.select("doc_id", "published_date", "n_paragraphs")
        .join(_themes(), how="cross")
        .join(per_theme, on=["doc_id", "theme"], how="left")
        .with_columns(pl.col("assigned_paragraphs").fill_null(0))
        .select(
            "doc_id",
            "published_date",
            "theme",
            paragraphs.alias("paragraphs"),
            "assigned_paragraphs",
            pl.when(paragraphs > 0)
            .then(pl.col("assigned_paragraphs") / paragraphs)
            .alias("share_assigned"),
            "max_score",
            (pl.col("assigned_paragraphs") > 0).alias("has_theme"),
        )
        .sort("doc_id", "theme")
    )


def theme_trends(document_themes: pl.LazyFrame) -> pl.LazyFrame:
    """Monthly counts from `document_themes`; undated documents land in the null month."""
    return (
        document_themes.with_columns(pl.col("published_date").dt.month_start().alias("month"))
        .group_by("month", "theme")
        .agg(
            pl.len().alias("documents_total"),
            pl.col("has_theme").sum().alias("documents"),
            pl.col("paragraphs").sum().cast(pl.Int64).alias("paragraphs_total"),
            pl.col("assigned_paragraphs").sum().cast(pl.Int64).alias("paragraphs"),
        )
        .with_columns(
            pl.col("month").dt.year().cast(pl.Int32).alias("year"),
            (pl.col("documents") / pl.col("documents_total")).alias("document_share"),
            pl.when(pl.col("paragraphs_total") > 0)
            .then(pl.col("paragraphs") / pl.col("paragraphs_total"))
            .alias("paragraph_share"),
        )
        .sort("month", "theme", nulls_last=True)
    )


def theme_trends_by_partner(
    document_themes: pl.LazyFrame, document_partners: pl.LazyFrame
) -> pl.LazyFrame:
    """`theme_trends` per partner country: each document counts once for each partner."""
    partners = document_partners.select("doc_id", "country_code", "country_name")
    return (
        document_themes.join(partners, on="doc_id", how="inner")
        .with_columns(pl.col("published_date").dt.month_start().alias("month"))
        .group_by("country_code", "country_name", "month", "theme")
        .agg(
            pl.len().alias("documents_total"),
            pl.col("has_theme").sum().alias("documents"),
            pl.col("paragraphs").sum().cast(pl.Int64).alias("paragraphs_total"),
            pl.col("assigned_paragraphs").sum().cast(pl.Int64).alias("paragraphs"),
        )
        .with_columns(
            pl.col("month").dt.year().cast(pl.Int32).alias("year"),
            (pl.col("documents") / pl.col("documents_total")).alias("document_share"),
            pl.when(pl.col("paragraphs_total") > 0)
            .then(pl.col("paragraphs") / pl.col("paragraphs_total"))
            .alias("paragraph_share"),
        )
        .sort("country_code", "month", "theme", nulls_last=True)
    )


def theme_cooccurrence(paragraph_themes: pl.LazyFrame) -> pl.LazyFrame:
    assigned = paragraph_themes.filter("assigned").select("doc_id", "paragraph_index", "theme")
    counts = (
        assigned.join(assigned, on=["doc_id", "paragraph_index"], suffix="_b")
        .filter(pl.col("theme") < pl.col("theme_b"))
        .group_by(pl.col("theme").alias("theme_a"), "theme_b")
        .agg(pl.len().alias("paragraphs"), pl.col("doc_id").n_unique().alias("documents"))
    )
    pairs = (
        _themes()
        .join(_themes(), how="cross", suffix="_b")
        .filter(pl.col("theme") < pl.col("theme_b"))
        .rename({"theme": "theme_a"})
    )
    return (
        pairs.join(counts, on=["theme_a", "theme_b"], how="left")
        .with_columns(pl.col("paragraphs", "documents").fill_null(0))
        .sort("theme_a", "theme_b")
    )


def aggregate(tables: dict[str, pl.LazyFrame]) -> dict[str, pl.DataFrame]:
    """The aggregate tables of a snapshot, in their contract's column order and types."""
    per_document = document_themes(tables["documents"], tables["paragraph_themes"]).collect()
    frames = {
        "document_themes": per_document,
        "theme_trends": theme_trends(per_document.lazy()).collect(),
        "theme_cooccurrence": theme_cooccurrence(tables["paragraph_themes"]).collect(),
        "theme_trends_by_partner": theme_trends_by_partner(
            per_document.lazy(), tables["document_partners"]
        ).collect(),
    }
    return {table: conform(table, frame) for table, frame in frames.items()}
