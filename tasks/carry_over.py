"""Carry the previous snapshot's unchanged documents into the new one.

Document tables are stored as groups of part files sharing a name. A group whose
documents are all kept, and whose themes were scored by the current lexicon, is linked
as is; a group that lost documents (edited, deleted or now rejected files) is rewritten
without them; when the lexicon changed, kept paragraphs are classified again.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from communique.store import SnapshotWriter
from schemas import DOCUMENT_TABLES

Reclassify = Callable[[pl.DataFrame], tuple[pl.DataFrame, pl.DataFrame]]


def carry_over(
    writer: SnapshotWriter,
    keep: pl.DataFrame,
    taxonomy_changed: bool,
    reclassify: Reclassify,
) -> int:
    """Link or rewrite previous parts so they hold exactly the documents in ``keep``.

    Returns the number of documents carried over.
    """
    keep_ids = set(keep["doc_id"].to_list())
    carried = 0
    for part, doc_ids in writer.previous_parts().items():
        kept = [d for d in doc_ids if d in keep_ids]
        carried += len(kept)
        if not kept:
            continue
        if len(kept) == len(doc_ids) and not taxonomy_changed:
            for table in DOCUMENT_TABLES:
                writer.link_part(table, writer.previous_part(table, part))
            continue
        kept_frame = pl.DataFrame({"doc_id": kept})
        tables = {
            table: pl.read_parquet(writer.previous_part(table, part)).join(kept_frame, on="doc_id")
            for table in ("documents", "paragraphs")
        }
        if taxonomy_changed:
            tables["paragraph_themes"], tables["theme_evidence"] = reclassify(tables["paragraphs"])
        else:
            for table in ("paragraph_themes", "theme_evidence"):
                tables[table] = pl.read_parquet(writer.previous_part(table, part)).join(
                    kept_frame, on="doc_id"
                )
        for table, frame in tables.items():
            writer.write_part(table, part, frame)
    return carried
