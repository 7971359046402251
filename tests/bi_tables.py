"""A small published snapshot with every table filled, as the flow would leave it.

Four documents over two months (one undated), themes assigned to some paragraphs,
evidence for them, entity mentions and partner countries, a reject and a run: enough
for the aggregates, the catalog and the report to have something in every table.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from communique.catalog import build_catalog
from communique.gazetteer import load_gazetteer
from communique.store import SnapshotWriter, scan_snapshot
from schemas import TABLES, conform
from tasks.aggregate import aggregate
from tasks.entities import tag_documents
from tests.tables import doc_id, document_tables

DOCUMENTS = {
    "jan-a.txt": [
        "Coalition strikes on ISIS in Iraq.",
        "FMS case for Iraqi spare parts.",
        "Weather.",
    ],
    "jan-b.txt": ["IMET courses and ISIS detainees in Syria.", "Returns from al-Hol in Syria."],
    "mar.txt": ["Repatriation of families from al-Hol camp to Kazakhstan."],
    "undated.txt": ["Training of the counter-ISIS forces.", "Closing remarks."],
}
DATES = {
    "jan-a.txt": date(2024, 1, 15),
    "jan-b.txt": date(2024, 1, 20),
    "mar.txt": date(2024, 3, 2),
}
# (file, paragraph, theme) -> matched phrase
ASSIGNED = {
    ("jan-a.txt", 1, "counter_isis"): "ISIS",
    ("jan-a.txt", 2, "equipment_sustainment"): "spare parts",
    ("jan-b.txt", 1, "education"): "IMET",
    ("jan-b.txt", 1, "counter_isis"): "ISIS detainees",
    ("jan-b.txt", 2, "repatriation"): "al-Hol",
    ("mar.txt", 1, "repatriation"): "Repatriation",
    ("undated.txt", 1, "education"): "Training",
    ("undated.txt", 1, "counter_isis"): "counter-ISIS",
}
STARTED = datetime(2024, 7, 23, 12, 0, tzinfo=UTC)


def _key(path: str, index: int, theme: str) -> tuple:
    return (doc_id(path), index, theme)


def snapshot_tables(run_id: str = "run-1") -> dict[str, pl.DataFrame]:
    tables = document_tables(DOCUMENTS, run_id)
    dates = pl.DataFrame(
        {"doc_id": [doc_id(p) for p in DATES], "date": list(DATES.values())},
        schema={"doc_id": pl.String, "date": pl.Date},
    )
    tables["documents"] = (
        tables["documents"]
        .join(dates, on="doc_id", how="left")
        .with_columns(pl.col("date").alias("published_date"))
        .pipe(lambda frame: conform("documents", frame))
    )
    hits = {_key(*key): phrase for key, phrase in ASSIGNED.items()}
    tables["paragraph_themes"] = conform(
        "paragraph_themes",
        pl.DataFrame(
            [
                row | {"assigned": True, "score": 0.9, "evidence": hits[key]}
                if (key := (row["doc_id"], row["paragraph_index"], row["theme"])) in hits
                else row | {"score": 0.1}
                for row in tables["paragraph_themes"].to_dicts()
            ]
        ),
    )
    texts = {
        (r["doc_id"], r["paragraph_index"]): r["text"] for r in tables["paragraphs"].to_dicts()
    }
    evidence = []
    for (path, index, theme), phrase in ASSIGNED.items():
        start = texts[(doc_id(path), index)].index(phrase)
        evidence.append(
            {
                "doc_id": doc_id(path),
                "paragraph_index": index,
                "theme": theme,
                "phrase": phrase,
                "char_start": start,
                "char_end": start + len(phrase),
                "weight": 1.0,
                "rule": f"{theme}.phrase",
            }
        )
    tables["theme_evidence"] = conform("theme_evidence", pl.DataFrame(evidence))
    # mentions and partner countries as the entity stage finds them in these texts
    documents, mentions, partners = tag_documents(
        tables["documents"], tables["paragraphs"], load_gazetteer()
    )
    tables["documents"] = conform("documents", documents)
    tables["mentions"] = conform("mentions", mentions)
    tables["document_partners"] = conform("document_partners", partners)
    tables["rejects"] = conform(
        "rejects",
        pl.DataFrame(
            [
                {
                    "run_id": run_id,
                    "source_path": "notes.pdf",
                    "reason": "unsupported_format",
                    "detail": "'.pdf' is not one of .txt, .md, .html",
                    "seen_at": STARTED,
                }
            ]
        ),
    )
    tables["runs"] = conform(
        "runs",
        pl.DataFrame(
            [
                {
                    "run_id": run_id,
                    "flow_run_id": None,
                    "started_at": STARTED,
                    "finished_at": STARTED,
                    "status": "completed",
                    "full_refresh": False,
                    "files_seen": 5,
                    "documents_written": 4,
                    "documents_unchanged": 0,
                    "documents_deleted": 0,
                    "files_rejected": 1,
                    "paragraphs_total": 8,
                    "taxonomy_version": "v1",
                    "error": None,
                }
            ]
        ),
    )
    return tables


def publish_snapshot(out_dir: Path, run_id: str = "run-1") -> Path:
    """Write, aggregate, validate and publish the snapshot, then build the catalog."""
    writer = SnapshotWriter(out_dir, run_id)
    for table, frame in snapshot_tables(run_id).items():
        writer.write_part(table, "part-0", TABLES[table].validate(frame))
    for table, frame in aggregate(scan_snapshot(writer.staging)).items():
        writer.write_part(table, "part-0", TABLES[table].validate(frame))
    writer.publish({"taxonomy_version": "v1"})
    return build_catalog(out_dir)
