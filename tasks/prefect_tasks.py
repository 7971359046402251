"""Thin Prefect task wrappers around the pure stages, one task per stage and batch.

Tasks take and return whole batches (thousands of documents), never one document:
Prefect costs ~10 ms per task run and more on Dask. Inputs are frames, so caching by
input hash is off (hashing a frame costs more than the stage); retries apply only to
transient I/O errors, never to validation failures.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from communique.gazetteer import Gazetteer, load_gazetteer
from communique.lexicon import Lexicon, load_lexicon
from communique.store import SnapshotWriter
from schemas import conform
from tasks.batch import Batch, BatchResult
from tasks.classify import classify
from tasks.decode import read_decode
from tasks.discover import discover
from tasks.entities import tag_documents
from tasks.extract import extract_with_blocks
from tasks.plan import RunPlan, drop_unchanged, plan_changes
from tasks.segment import segment
from tasks.validate import validate_batch


def is_transient_io(task, task_run, state) -> bool:
    error = state.result(raise_on_failure=False)
    return isinstance(error, OSError) and not isinstance(
        error, FileNotFoundError | NotADirectoryError | PermissionError
    )


stage = task(cache_policy=NO_CACHE, persist_result=False)
io_stage = task(
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=2,
    retry_delay_seconds=[1, 5],
    retry_condition_fn=is_transient_io,
)


@task(name="load-taxonomy", cache_policy=NO_CACHE, persist_result=False)
def load_taxonomy(path: Path) -> Lexicon:
    return load_lexicon(path)


@task(name="load-gazetteer", cache_policy=NO_CACHE, persist_result=False)
def load_gazetteer_task(path: Path) -> Gazetteer:
    return load_gazetteer(path)


@io_stage(name="discover")
def discover_files(raw_dir: Path, max_file_bytes: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    return discover(raw_dir, max_bytes=max_file_bytes)


@stage(name="plan")
def plan_run(files: pl.DataFrame, previous: pl.DataFrame, full_refresh: bool) -> RunPlan:
    return plan_changes(files, previous, full_refresh)


@io_stage(name="read-and-decode")
def read_and_decode(part: str, files: pl.DataFrame, max_file_bytes: int) -> Batch:
    docs, rejects = read_decode(files.drop("previous_content_sha256"), max_bytes=max_file_bytes)
    docs = docs.join(files.select("doc_id", "previous_content_sha256"), on="doc_id", how="left")
    changed, unchanged = drop_unchanged(docs)
    batch = Batch(part=part, documents=changed, unchanged=unchanged)
    return batch.evolve(rejects=batch.add_rejects(rejects))


@stage(name="extract-text")
def extract_text(batch: Batch) -> Batch:
    docs, rejects, known_blocks = extract_with_blocks(batch.documents)
    return batch.evolve(documents=docs, rejects=batch.add_rejects(rejects), blocks=known_blocks)


@stage(name="segment")
def segment_paragraphs(batch: Batch) -> Batch:
    docs, paragraphs = segment(batch.documents, known_blocks=batch.blocks)
    return batch.evolve(documents=docs, paragraphs=paragraphs, blocks=None)


@stage(name="classify")
def classify_themes(batch: Batch, lexicon: Lexicon) -> Batch:
    themes, evidence = classify(batch.paragraphs, lexicon)
    return batch.evolve(paragraph_themes=themes, theme_evidence=evidence)


@stage(name="tag-entities")
def tag_entities(batch: Batch, gazetteer: Gazetteer) -> Batch:
    documents, mentions, partners = tag_documents(batch.documents, batch.paragraphs, gazetteer)
    return batch.evolve(documents=documents, mentions=mentions, document_partners=partners)


@stage(name="validate")
def validate_tables(batch: Batch, run_id: str, ingested_at) -> Batch:
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
    return batch.evolve(
        documents=valid["documents"],
        paragraphs=valid["paragraphs"],
        paragraph_themes=valid["paragraph_themes"],
        theme_evidence=valid["theme_evidence"],
        mentions=valid["mentions"],
        document_partners=valid["document_partners"],
        rejects=batch.add_rejects(rejects),
    )


@io_stage(name="write-batch")
def write_batch(batch: Batch, writer: SnapshotWriter) -> BatchResult:
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
