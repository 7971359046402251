"""A batch of documents as it moves through the stages."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import polars as pl

REJECT_COLUMNS = {"source_path": pl.String, "reason": pl.String, "detail": pl.String}


def no_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_COLUMNS)


@dataclass(frozen=True)
class Batch:
    part: str  # name of the part files this batch writes
    documents: pl.DataFrame
    rejects: pl.DataFrame = field(default_factory=no_rejects)
    unchanged: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={"doc_id": pl.String})
    )
    # content blocks extract computed on the way (segment reuses them, then drops them)
    blocks: pl.DataFrame | None = None
    paragraphs: pl.DataFrame | None = None
    paragraph_themes: pl.DataFrame | None = None
    theme_evidence: pl.DataFrame | None = None
    mentions: pl.DataFrame | None = None
    document_partners: pl.DataFrame | None = None

    def add_rejects(self, rejects: pl.DataFrame) -> pl.DataFrame:
        return pl.concat([self.rejects, rejects.select(list(REJECT_COLUMNS))])

    def evolve(self, **changes) -> Batch:
        return replace(self, **changes)


@dataclass(frozen=True)
class BatchResult:
    """What a written batch reports back to the flow (small: no frames of text)."""

    part: str
    documents_written: int
    paragraphs_written: int
    assigned_per_theme: dict[str, int]
    rejects: pl.DataFrame
    written: pl.DataFrame  # doc_id of the documents written
    unchanged: pl.DataFrame
