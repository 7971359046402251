"""One batch of files through every per-batch stage, as plain functions.

read and decode -> extract text -> segment -> classify -> tag entities -> validate ->
write. The flow runs a whole batch as ONE task (`process-batch`): Prefect costs ~10 ms
per task run (more on Dask, which also pickles every task's result between workers), and
a batch's frames never leave the worker that made them; only the small `BatchResult`
does. Each stage's wall time is reported in `BatchResult.stage_seconds`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import datetime

import polars as pl

from communique.gazetteer import Gazetteer
from communique.lexicon import Lexicon
from communique.locations import Location
from communique.store import SnapshotWriter
from schemas import conform
from tasks.classify import classify
from tasks.decode import read_decode
from tasks.entities import tag_documents
from tasks.extract import extract_with_blocks
from tasks.plan import drop_unchanged
from tasks.segment import segment
from tasks.validate import validate_batch

REJECT_COLUMNS = {"source_path": pl.String, "reason": pl.String, "detail": pl.String}
# The stages in the order they run (the keys of BatchResult.stage_seconds).
STAGES = ("read-and-decode", "extract-text", "segment", "classify", "tag-entities",
          "validate", "write")  # fmt: skip


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
    stage_seconds: dict[str, float] = field(default_factory=dict)


def read_stage(part: str, files: pl.DataFrame, source: Location, max_file_bytes: int) -> Batch:
    docs, rejects = read_decode(
        files.drop("previous_content_sha256"), source=source, max_bytes=max_file_bytes
    )
    docs = docs.join(files.select("doc_id", "previous_content_sha256"), on="doc_id", how="left")
    changed, unchanged = drop_unchanged(docs)
    batch = Batch(part=part, documents=changed, unchanged=unchanged)
    return batch.evolve(rejects=batch.add_rejects(rejects))


def extract_stage(batch: Batch) -> Batch:
    docs, rejects, known_blocks = extract_with_blocks(batch.documents)
    return batch.evolve(documents=docs, rejects=batch.add_rejects(rejects), blocks=known_blocks)


def segment_stage(batch: Batch) -> Batch:
    docs, paragraphs = segment(batch.documents, known_blocks=batch.blocks)
    return batch.evolve(documents=docs, paragraphs=paragraphs, blocks=None)


def classify_stage(batch: Batch, lexicon: Lexicon) -> Batch:
    themes, evidence = classify(batch.paragraphs, lexicon)
    return batch.evolve(paragraph_themes=themes, theme_evidence=evidence)


def entities_stage(batch: Batch, gazetteer: Gazetteer) -> Batch:
    documents, mentions, partners = tag_documents(batch.documents, batch.paragraphs, gazetteer)
    return batch.evolve(documents=documents, mentions=mentions, document_partners=partners)


def validate_stage(batch: Batch, run_id: str, ingested_at: datetime) -> Batch:
    documents = batch.documents.with_columns(
        pl.lit(ingested_at).cast(pl.Datetime("us", "UTC")).alias("ingested_at"),
        pl.lit(run_id).alias("run_id"),
    )
    tables = {
        "documents": conform("documents", documents),
        "paragraphs": conform("paragraphs", batch.paragraphs),
        "paragraph_themes": conform("paragraph_themes", batch.paragraph_themes),
        "theme_evidence": conform("theme_evidence", batch.theme_evidence),
        "mentions": conform("mentions", batch.mentions),
        "document_partners": conform("document_partners", batch.document_partners),
    }
    valid, rejects = validate_batch(tables)
    return batch.evolve(**valid, rejects=batch.add_rejects(rejects))


def write_stage(batch: Batch, writer: SnapshotWriter) -> BatchResult:
    if batch.documents.height:
        writer.write_part("documents", batch.part, batch.documents)
        writer.write_part("paragraphs", batch.part, batch.paragraphs)
        writer.write_part("paragraph_themes", batch.part, batch.paragraph_themes)
        writer.write_part("theme_evidence", batch.part, batch.theme_evidence)
        writer.write_part("mentions", batch.part, batch.mentions)
        writer.write_part("document_partners", batch.part, batch.document_partners)
    assigned = (
        batch.paragraph_themes.filter("assigned").group_by("theme").len()
        if batch.paragraph_themes is not None
        else pl.DataFrame(schema={"theme": pl.String, "len": pl.UInt32})
    )
    return BatchResult(
        part=batch.part,
        documents_written=batch.documents.height,
        paragraphs_written=0 if batch.paragraphs is None else batch.paragraphs.height,
        assigned_per_theme=dict(assigned.iter_rows()),
        rejects=batch.rejects,
        written=batch.documents.select("doc_id"),
        unchanged=batch.unchanged,
    )


def run_batch(
    part: str,
    files: pl.DataFrame,
    source: Location,
    lexicon: Lexicon,
    gazetteer: Gazetteer,
    writer: SnapshotWriter,
    run_id: str,
    ingested_at: datetime,
    max_file_bytes: int,
) -> BatchResult:
    """Read (from the folder ``source``), derive, validate and write one batch of files;
    time every stage."""
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def timed(stage: str, value):
        nonlocal clock
        now = time.perf_counter()
        seconds[stage], clock = now - clock, now
        return value

    batch = timed("read-and-decode", read_stage(part, files, source, max_file_bytes))
    batch = timed("extract-text", extract_stage(batch))
    batch = timed("segment", segment_stage(batch))
    batch = timed("classify", classify_stage(batch, lexicon))
    batch = timed("tag-entities", entities_stage(batch, gazetteer))
    batch = timed("validate", validate_stage(batch, run_id, ingested_at))
    result = timed("write", write_stage(batch, writer))
    return replace(result, stage_seconds=seconds)
