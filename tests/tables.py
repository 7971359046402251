"""Small, valid document tables built by hand for tests of the store and validation."""

from datetime import UTC, datetime
from hashlib import sha256

import polars as pl

from schemas import conform, empty_frame


def doc_id(source_path: str) -> str:
    return sha256(source_path.encode()).hexdigest()[:16]


def document_tables(paths_and_paragraphs: dict[str, list[str]], run_id: str = "r1") -> dict:
    docs, paragraphs, themes = [], [], []
    for path, texts in paths_and_paragraphs.items():
        did = doc_id(path)
        docs.append(
            {
                "doc_id": did,
                "source_path": path,
                "format": "txt",
                "encoding": "utf-8",
                "title": None,
                "published_date": None,
                "content_sha256": sha256("\n".join(texts).encode()).hexdigest(),
                "size_bytes": 10,
                "mtime_ns": 1,
                "n_paragraphs": len(texts),
                "ingested_at": datetime(2024, 7, 23, tzinfo=UTC),
                "run_id": run_id,
                "partner_countries": "",
            }
        )
        offset = 0
        for index, text in enumerate(texts, 1):
            paragraphs.append(
                {
                    "doc_id": did,
                    "paragraph_index": index,
                    "text": text,
                    "char_start": offset,
                    "char_end": offset + max(len(text), 1),
                    "n_words": max(len(text.split()), 1),
                }
            )
            offset += len(text) + 1
            for theme in ("counter_isis", "equipment_sustainment", "education", "repatriation"):
                themes.append(
                    {
                        "doc_id": did,
                        "paragraph_index": index,
                        "theme": theme,
                        "score": 0.0,
                        "assigned": False,
                        "evidence": "",
                        "taxonomy_version": "v1",
                    }
                )
    evidence = empty_frame("theme_evidence")
    return {
        "documents": conform("documents", pl.DataFrame(docs)),
        "paragraphs": conform("paragraphs", pl.DataFrame(paragraphs)),
        "paragraph_themes": conform("paragraph_themes", pl.DataFrame(themes)),
        "theme_evidence": evidence,
        "mentions": empty_frame("mentions"),
        "document_partners": empty_frame("document_partners"),
    }
