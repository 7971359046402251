"""Regression floor on the labelled devset (shared/devset/gold.jsonl).

The devset is for tuning; the final evaluation uses hidden statements, so these
are floors that catch regressions, not targets to fit.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from communique.lexicon import load_lexicon
from tasks.classify import classify

DEVSET = Path(__file__).resolve().parents[1].parent / "shared" / "devset"
SEED_DOC = "jscd-2024.txt"
MACRO_F1_FLOOR = 0.90
NO_THEME_FP_CEILING = 0.05

pytestmark = pytest.mark.skipif(
    not (DEVSET / "gold.jsonl").is_file(), reason=f"devset not found at {DEVSET}"
)


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture(scope="module")
def gold() -> list[dict]:
    return read_jsonl(DEVSET / "gold.jsonl")


@pytest.fixture(scope="module")
def predicted(gold) -> dict[tuple[str, int], set[str]]:
    paragraphs = pl.DataFrame(
        {
            "doc_id": [g["doc"] for g in gold],
            "paragraph_index": [g["paragraph"] for g in gold],
            "text": [g["text"] for g in gold],
        },
        schema={"doc_id": pl.String, "paragraph_index": pl.Int32, "text": pl.String},
    )
    themes, _ = classify(paragraphs, load_lexicon())
    out: dict[tuple[str, int], set[str]] = {(g["doc"], g["paragraph"]): set() for g in gold}
    for doc, index, theme in (
        themes.filter(pl.col("assigned")).select("doc_id", "paragraph_index", "theme").iter_rows()
    ):
        out[(doc, index)].add(theme)
    return out


def f1_by_theme(rows: list[dict], predicted, themes) -> dict[str, float]:
    scores = {}
    for theme in themes:
        tp = fp = fn = 0
        for row in rows:
            p = theme in predicted[(row["doc"], row["paragraph"])]
            g = theme in row["themes"]
            tp += p and g
            fp += p and not g
            fn += g and not p
        scores[theme] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    return scores


def test_clear_paragraph_macro_f1_floor(gold, predicted):
    clear = [g for g in gold if not g["borderline"]]
    scores = f1_by_theme(clear, predicted, load_lexicon().themes)
    macro = sum(scores.values()) / len(scores)
    assert macro >= MACRO_F1_FLOOR, scores


def test_no_theme_false_positive_ceiling(gold, predicted):
    negatives = [g for g in gold if not g["themes"]]
    wrong = [(g["doc"], g["paragraph"]) for g in negatives if predicted[(g["doc"], g["paragraph"])]]
    assert len(wrong) / len(negatives) <= NO_THEME_FP_CEILING, wrong


def test_seed_document_exact(predicted):
    seed = read_jsonl(DEVSET / "seed-gold.jsonl")
    assert len(seed) == 9
    for row in seed:
        assert row["doc"] == SEED_DOC
        assert predicted[(row["doc"], row["paragraph"])] == set(row["themes"]), row["paragraph"]
