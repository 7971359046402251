"""Entity quality on the devset: partner countries against tests/partners_gold.json and
mentions against tests/mentions_gold.json (both written by hand; see docs/entities.md).

Runs the stage functions on the gold paragraph texts and meta titles (the same text the
pipeline produces, see test_devset_segmentation.py), so it needs no Prefect server;
tests/test_entities_flow.py checks the published tables of a real run.
Run with -s to print the scores.
"""

import json
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from communique.gazetteer import load_gazetteer
from tasks.entities import tag_documents

HERE = Path(__file__).parent
# Floors set from the measured scores (docs/entities.md), a little below them.
PARTNER_EXACT_FLOOR = 0.85  # measured 28/31
PARTNER_MICRO_F1_FLOOR = 0.93  # measured 0.95
MENTION_PRECISION_FLOOR = 0.97  # measured 0.995 (in-sample: see docs/entities.md)
MENTION_RECALL_FLOOR = 0.97  # measured 1.0


def partner_scores(got: dict[str, list[str]], gold: dict[str, list[str]]) -> dict:
    """Exact-match rate over documents and per-country precision/recall."""
    tp, fp, fn = Counter(), Counter(), Counter()
    for doc, expected in gold.items():
        predicted = set(got[doc])
        for code in predicted & set(expected):
            tp[code] += 1
        for code in predicted - set(expected):
            fp[code] += 1
        for code in set(expected) - predicted:
            fn[code] += 1
    per_country = {
        code: {
            "precision": tp[code] / (tp[code] + fp[code]) if tp[code] + fp[code] else None,
            "recall": tp[code] / (tp[code] + fn[code]) if tp[code] + fn[code] else None,
            "support": tp[code] + fn[code],
        }
        for code in sorted(set(tp) | set(fp) | set(fn))
    }
    t, f, n = sum(tp.values()), sum(fp.values()), sum(fn.values())
    return {
        "exact": sum(sorted(got[d]) == sorted(g) for d, g in gold.items()) / len(gold),
        "micro_precision": t / (t + f),
        "micro_recall": t / (t + n),
        "micro_f1": 2 * t / (2 * t + f + n),
        "per_country": per_country,
    }


def mention_scores(mentions: pl.DataFrame, gold: dict[str, dict[str, int]]) -> dict:
    """Precision/recall per kind, matching (paragraph, kind, entity) counts."""
    tp, fp, fn = Counter(), Counter(), Counter()
    for key, expected in gold.items():
        doc, index = key.rsplit(" p", 1)
        found = mentions.filter(
            (pl.col("doc_id") == doc) & (pl.col("paragraph_index") == int(index))
        )
        got = Counter(f"{k}:{e}" for k, e in zip(found["kind"], found["entity_id"], strict=True))
        want = Counter(expected)
        for entity in set(got) | set(want):
            kind = entity.split(":")[0]
            hit = min(got[entity], want[entity])
            tp[kind] += hit
            fp[kind] += got[entity] - hit
            fn[kind] += want[entity] - hit
    scores = {}
    for kind in [*sorted(set(tp) | set(fn)), "all"]:
        t = sum(tp.values()) if kind == "all" else tp[kind]
        f = sum(fp.values()) if kind == "all" else fp[kind]
        n = sum(fn.values()) if kind == "all" else fn[kind]
        scores[kind] = {"precision": t / (t + f), "recall": t / (t + n), "tp": t, "fp": f, "fn": n}
    return scores


@pytest.fixture(scope="module")
def tagged(devset):
    rows = [json.loads(line) for line in (devset / "gold.jsonl").read_text().splitlines()]
    meta = [json.loads(line) for line in (devset / "meta.jsonl").read_text().splitlines()]
    documents = pl.DataFrame(
        {"doc_id": [m["doc"] for m in meta], "title": [m["title"] for m in meta]},
        schema={"doc_id": pl.String, "title": pl.String},
    )
    paragraphs = pl.DataFrame(
        {
            "doc_id": [r["doc"] for r in rows],
            "paragraph_index": [r["paragraph"] for r in rows],
            "text": [r["text"] for r in rows],
        }
    )
    return tag_documents(documents, paragraphs, load_gazetteer())


def test_partner_countries_match_the_hand_list(tagged):
    documents, _, _ = tagged
    gold = json.loads((HERE / "partners_gold.json").read_text())
    got = {
        row["doc_id"]: [c for c in row["partner_countries"].split(";") if c]
        for row in documents.iter_rows(named=True)
    }
    assert set(got) == set(gold)
    scores = partner_scores(got, gold)
    print(json.dumps(scores, indent=1))
    for doc in sorted(gold):
        if sorted(got[doc]) != gold[doc]:
            print(f"{doc}: pipeline {got[doc]}, gold {gold[doc]}")
    assert scores["exact"] >= PARTNER_EXACT_FLOOR
    assert scores["micro_f1"] >= PARTNER_MICRO_F1_FLOOR


def test_mentions_match_the_hand_checked_sample(tagged):
    _, mentions, _ = tagged
    gold = json.loads((HERE / "mentions_gold.json").read_text())
    gold.pop("_about")
    assert len(gold) == 60
    scores = mention_scores(mentions, gold)
    print(json.dumps(scores, indent=1))
    assert scores["all"]["precision"] >= MENTION_PRECISION_FLOOR
    assert scores["all"]["recall"] >= MENTION_RECALL_FLOOR
