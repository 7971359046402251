"""End-to-end ingest on the labelled devset: paragraphs, titles and dates vs gold."""

import json
from pathlib import Path

import polars as pl
import pytest

from communique.locations import parse_location
from tasks.decode import read_decode
from tasks.discover import discover
from tasks.extract import extract
from tasks.segment import segment

DEVSET = Path(__file__).resolve().parents[1].parent / "shared" / "devset"

pytestmark = pytest.mark.skipif(
    not (DEVSET / "gold.jsonl").exists(),
    reason=f"devset not found at {DEVSET} (CI checks out ../shared beside the repo)",
)


@pytest.fixture(scope="module")
def ingested() -> tuple[pl.DataFrame, pl.DataFrame]:
    docs_dir = parse_location(DEVSET / "docs")
    files, file_rejects = discover(docs_dir)
    docs, decode_rejects = read_decode(files, source=docs_dir)
    docs, extract_rejects = extract(docs)
    docs, paragraphs = segment(docs)
    assert file_rejects.is_empty() and decode_rejects.is_empty() and extract_rejects.is_empty()
    return docs, paragraphs


def read_jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in (DEVSET / name).read_text("utf-8").splitlines() if line]


def test_paragraph_recall_and_precision(ingested):
    docs, paragraphs = ingested
    names = dict(zip(docs["doc_id"], docs["source_path"], strict=True))
    ours = [(names[d], t) for d, t in zip(paragraphs["doc_id"], paragraphs["text"], strict=True)]
    gold = [(g["doc"], g["text"]) for g in read_jsonl("gold.jsonl")]
    recall = len(set(gold) & set(ours)) / len(gold)
    precision = len(set(gold) & set(ours)) / len(ours)
    missing = sorted(set(gold) - set(ours))[:3]
    extra = sorted(set(ours) - set(gold))[:3]
    assert recall >= 0.99, f"recall {recall:.3f}; missing e.g. {missing}"
    assert precision >= 0.97, f"precision {precision:.3f}; extra e.g. {extra}"


def test_paragraph_order_matches_gold(ingested):
    docs, paragraphs = ingested
    names = dict(zip(docs["doc_id"], docs["source_path"], strict=True))
    ours = {
        (names[p["doc_id"]], p["paragraph_index"]): p["text"]
        for p in paragraphs.iter_rows(named=True)
    }
    gold = {(g["doc"], g["paragraph"]): g["text"] for g in read_jsonl("gold.jsonl")}
    assert ours == gold


def test_title_and_date_accuracy(ingested):
    docs, _ = ingested
    got = {
        d["source_path"]: (d["title"], d["published_date"] and d["published_date"].isoformat())
        for d in docs.iter_rows(named=True)
    }
    meta = read_jsonl("meta.jsonl")
    assert len(meta) == len(got) == 31
    title_ok = [m["doc"] for m in meta if got[m["doc"]][0] == m["title"]]
    date_ok = [m["doc"] for m in meta if got[m["doc"]][1] == m["published_date"]]
    wrong_titles = [(m["doc"], got[m["doc"]][0]) for m in meta if m["doc"] not in title_ok]
    wrong_dates = [(m["doc"], got[m["doc"]][1]) for m in meta if m["doc"] not in date_ok]
    assert len(title_ok) / len(meta) >= 0.95, wrong_titles
    assert len(date_ok) / len(meta) >= 0.90, wrong_dates


def test_devset_invariants(ingested):
    from tests.test_segment import assert_invariants

    assert_invariants(*ingested)
