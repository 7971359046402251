"""Entity tagging stage: paragraphs in, `mentions` and partner countries out.

Pure polars, no Prefect, vectorised over the batch with the matcher the theme
classifier uses (:mod:`tasks.matching`): one leftmost-first regex per kind of entity
(country, organisation, programme), run in parallel; every match is attributed to
the alias that produced it, vetoes are dropped.

Partner rule (configured in the gazetteer's [partners] table, see docs/entities.md):
a country or region is a partner of a statement when it is not an issuer and is
mentioned in at least ``min_paragraphs`` content paragraphs, or named in the title.
A region's mentions also count for its parent country and an organisation's (with a
``country``) for that country, so "Erbil" counts for IQ-KR and IQ, "SDF" for SY.
"""

from __future__ import annotations

import polars as pl

from communique.gazetteer import KINDS, Gazetteer
from tasks.matching import alternative_position, attribute, find_matches, sort_key

MENTIONS_SCHEMA = pl.Schema(
    {
        "doc_id": pl.String,
        "paragraph_index": pl.Int32,
        "kind": pl.String,
        "entity_id": pl.String,
        "surface": pl.String,
        "char_start": pl.Int64,
        "char_end": pl.Int64,
    }
)
DOCUMENT_PARTNERS_SCHEMA = pl.Schema(
    {
        "doc_id": pl.String,
        "country_code": pl.String,
        "country_name": pl.String,
        "mentions": pl.Int32,
        "paragraphs": pl.Int32,
        "in_title": pl.Boolean,
    }
)
PARTNER_SEPARATOR = ";"


def _entity_matches(text: pl.Series, gazetteer: Gazetteer) -> pl.DataFrame:
    """(_pid, kind, entity_id, surface, char_start, char_end) of every non-veto match."""
    matches = find_matches(text, [gazetteer.kind_regex(kind) for kind in KINDS])
    alternatives = [[a.regex for a in aliases] for aliases in gazetteer.aliases]
    matches = attribute(matches, alternatives)
    owners = pl.DataFrame(
        [
            (KINDS[group], alias.entity_id)
            for group, aliases in enumerate(gazetteer.aliases)
            for alias in aliases
        ],
        schema={"kind": pl.String, "entity_id": pl.String},
        orient="row",
    )
    return (
        pl.concat(
            [matches, owners.gather(alternative_position(matches, alternatives))],
            how="horizontal",
        )
        .filter(pl.col("entity_id").is_not_null())  # vetoes own no entity
        .rename({"phrase": "surface"})
        .select("_pid", "kind", "entity_id", "surface", "char_start", "char_end")
    )


def tag_entities(paragraphs: pl.DataFrame, gazetteer: Gazetteer) -> pl.DataFrame:
    """Every entity mention in every paragraph, offsets in characters of the paragraph."""
    base = paragraphs.select(
        pl.col("doc_id").cast(pl.String), pl.col("paragraph_index").cast(pl.Int32)
    )
    found = _entity_matches(paragraphs.get_column("text"), gazetteer)
    # Sort by (doc_id, paragraph_index, char_start, kind) on integers instead of comparing
    # strings for every mention: the dense rank of each paragraph's key, and each kind's
    # place in alphabetical order.
    paragraph_rank = base.select(pl.struct("doc_id", "paragraph_index").rank("dense"))
    kinds = sorted(KINDS)
    order = (
        found.with_columns(_rank=paragraph_rank.to_series().gather(found.get_column("_pid")))
        .select(
            sort_key(
                sort_key(pl.col("_rank"), pl.col("char_start")),
                pl.col("kind").replace_strict(kinds, range(len(kinds)), return_dtype=pl.Int64),
            ).arg_sort()
        )
        .to_series()
    )
    found = found.gather(order)
    keys = base.gather(found.get_column("_pid"))
    return pl.concat([keys, found.drop("_pid")], how="horizontal").match_to_schema(MENTIONS_SCHEMA)


def _counted(frame: pl.DataFrame, gazetteer: Gazetteer) -> pl.DataFrame:
    """Expand mentions to the countries they count for (column country_code)."""
    counts_for = gazetteer.counts_for()
    table = pl.DataFrame(
        [(entity, code) for entity, codes in counts_for.items() for code in codes],
        schema={"entity_id": pl.String, "country_code": pl.String},
        orient="row",
    )
    return frame.join(table, on="entity_id", how="inner")


def document_partners(
    documents: pl.DataFrame, mentions: pl.DataFrame, gazetteer: Gazetteer
) -> pl.DataFrame:
    """The partner countries of each document, one row per (document, country)."""
    rule = gazetteer.partner_rule
    in_body = (
        _counted(mentions, gazetteer)
        .group_by("doc_id", "country_code")
        .agg(
            pl.len().cast(pl.Int32).alias("mentions"),
            pl.col("paragraph_index").n_unique().cast(pl.Int32).alias("paragraphs"),
        )
    )
    titles = documents.select("doc_id", pl.col("title").cast(pl.String).fill_null(""))
    title_hits = _entity_matches(titles.get_column("title"), gazetteer)
    in_title = (
        _counted(
            title_hits.with_columns(doc_id=titles.get_column("doc_id").gather(title_hits["_pid"])),
            gazetteer,
        )
        .select("doc_id", "country_code")
        .unique()
        .with_columns(in_title=pl.lit(True))
    )
    names = pl.DataFrame(
        {
            "country_code": [e.id for e in gazetteer.entities if e.kind == "country"],
            "country_name": [e.name for e in gazetteer.entities if e.kind == "country"],
        }
    )
    qualifies = pl.col("paragraphs") >= rule.min_paragraphs
    if rule.title_counts:
        qualifies = qualifies | pl.col("in_title")
    return (
        in_body.join(in_title, on=["doc_id", "country_code"], how="full", coalesce=True)
        .with_columns(
            pl.col("mentions", "paragraphs").fill_null(0), pl.col("in_title").fill_null(False)
        )
        .filter(qualifies & ~pl.col("country_code").is_in(list(rule.issuers)))
        .join(names, on="country_code", how="left")
        .sort("doc_id", "country_code")
        .match_to_schema(DOCUMENT_PARTNERS_SCHEMA)
    )


def partner_countries(documents: pl.DataFrame, partners: pl.DataFrame) -> pl.Series:
    """``documents.partner_countries``: sorted codes joined with ';' ("" when none)."""
    joined = partners.group_by("doc_id").agg(
        pl.col("country_code").sort().str.join(PARTNER_SEPARATOR).alias("partner_countries")
    )
    return (
        documents.select("doc_id")
        .join(joined, on="doc_id", how="left", maintain_order="left")
        .get_column("partner_countries")
        .fill_null("")
    )


def tag_documents(
    documents: pl.DataFrame, paragraphs: pl.DataFrame, gazetteer: Gazetteer
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(documents with partner_countries, mentions, document_partners) for a batch."""
    mentions = tag_entities(paragraphs, gazetteer)
    partners = document_partners(documents, mentions, gazetteer)
    documents = documents.with_columns(partner_countries=partner_countries(documents, partners))
    return documents, mentions, partners
