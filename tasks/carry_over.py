"""Carry the previous snapshot's unchanged documents into the new one.

Document tables are stored as groups of part files sharing a name. A group whose
documents are all kept, and whose derived tables were made by the current config, is
linked as is; a group that lost documents (edited, deleted or now rejected files) is
rewritten without them; when a stage's config changed (the lexicon, the gazetteer), that
stage runs again over the kept paragraphs and its tables are rewritten.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from communique.store import SnapshotWriter
from schemas import DOCUMENT_TABLES

# The source tables every derivation reads; they are never re-derived here.
SOURCE_TABLES = ("documents", "paragraphs")


@dataclass(frozen=True)
class Rederive:
    """A stage whose output tables depend on a config that may have changed.

    ``run`` gets the kept part's tables (the source tables and the outputs of earlier
    stages) and returns its ``outputs``; it may also return an updated ``documents``
    (the entity stage sets documents.partner_countries).
    """

    outputs: tuple[str, ...]
    stale: bool  # the config differs from the one that made the previous snapshot
    run: Callable[[dict[str, pl.DataFrame]], dict[str, pl.DataFrame]]


def carry_over(writer: SnapshotWriter, keep: pl.DataFrame, stages: Sequence[Rederive]) -> int:
    """Link or rewrite previous parts so they hold exactly the documents in ``keep``.

    Returns the number of documents carried over.
    """
    parts = writer.previous_parts().with_columns(
        kept=pl.col("doc_id").is_in(keep["doc_id"].implode())
    )
    counts = parts.group_by("part", maintain_order=True).agg(
        documents=pl.len(), kept=pl.col("kept").sum()
    )
    any_stale = any(stage.stale for stage in stages)
    for part, documents, kept in counts.iter_rows():
        if not kept:
            continue
        if kept == documents and not any_stale:
            for table in DOCUMENT_TABLES:
                writer.link_part(table, writer.previous_part(table, part))
            continue
        kept_frame = parts.filter(pl.col("part") == part, "kept").select("doc_id")

        def previous(table: str, kept_frame=kept_frame, part=part) -> pl.DataFrame:
            return pl.read_parquet(writer.previous_part(table, part)).join(kept_frame, on="doc_id")

        tables = {table: previous(table) for table in SOURCE_TABLES}
        for stage in stages:
            if stage.stale:
                tables.update(stage.run(tables))
            else:
                tables.update({table: previous(table) for table in stage.outputs})
        for table in DOCUMENT_TABLES:
            frame = tables[table] if table in tables else previous(table)
            writer.write_part(table, part, frame)
    return int(counts["kept"].sum())
