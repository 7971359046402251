"""Score a pipeline run against a labelled set (the devset format: docs/, gold.jsonl, meta.jsonl).

Paragraphs are matched to gold by document and whitespace-normalised text, so a
segmentation error shows up both as a missed gold paragraph and in classification
recall: what is scored is what an analyst would get.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from schemas._types import THEMES

GOLD_FIELDS = {"doc": str, "paragraph": int, "text": str, "themes": list, "borderline": bool}
META_FIELDS = {"doc": str, "title": (str, type(None)), "published_date": (str, type(None))}


class GoldError(ValueError):
    """The labelled set is malformed; the message names the file and line."""


@dataclass(frozen=True)
class LabelledSet:
    docs_dir: Path
    gold: pl.DataFrame  # doc, paragraph, text, themes (list), borderline
    meta: pl.DataFrame  # doc, title, published_date


def _read_jsonl(path: Path, fields: dict) -> list[dict]:
    if not path.is_file():
        raise GoldError(f"{path}: file not found")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GoldError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise GoldError(f"{path}:{number}: expected a JSON object")
        for name, kind in fields.items():
            if name not in row:
                raise GoldError(f"{path}:{number}: missing field '{name}'")
            if not isinstance(row[name], kind) or (kind is int and isinstance(row[name], bool)):
                raise GoldError(f"{path}:{number}: field '{name}' has the wrong type")
        if "themes" in fields:
            unknown = set(row["themes"]) - set(THEMES)
            if unknown:
                raise GoldError(f"{path}:{number}: unknown theme(s) {sorted(unknown)}")
        if fields is META_FIELDS and row["published_date"] is not None:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["published_date"]):
                raise GoldError(f"{path}:{number}: published_date must be YYYY-MM-DD or null")
        rows.append({k: row[k] for k in fields})
    if not rows:
        raise GoldError(f"{path}: no records")
    return rows


def load_labelled_set(gold_dir: Path) -> LabelledSet:
    docs_dir = gold_dir / "docs"
    if not docs_dir.is_dir():
        raise GoldError(f"{docs_dir}: folder not found")
    gold = pl.DataFrame(
        _read_jsonl(gold_dir / "gold.jsonl", GOLD_FIELDS),
        schema={
            "doc": pl.String,
            "paragraph": pl.Int32,
            "text": pl.String,
            "themes": pl.List(pl.String),
            "borderline": pl.Boolean,
        },
    )
    duplicates = gold.filter(pl.struct("doc", "paragraph").is_duplicated())
    if duplicates.height:
        first = duplicates.row(0, named=True)
        raise GoldError(f"gold.jsonl: duplicate line for {first['doc']} p{first['paragraph']}")
    meta = pl.DataFrame(
        _read_jsonl(gold_dir / "meta.jsonl", META_FIELDS),
        schema={"doc": pl.String, "title": pl.String, "published_date": pl.String},
    )
    return LabelledSet(docs_dir, gold, meta)


def normalise(column: str) -> pl.Expr:
    return pl.col(column).str.replace_all(r"\s+", " ").str.strip_chars()


def _prf(tp: int, fp: int, fn: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def _theme_scores(scored: pl.DataFrame) -> dict:
    per_theme = {}
    for theme in THEMES:
        gold = scored["themes"].list.contains(theme)
        predicted = scored["predicted"].list.contains(theme)
        per_theme[theme] = _prf(
            int((gold & predicted).sum()),
            int((~gold & predicted).sum()),
            int((gold & ~predicted).sum()),
        )
    macro = sum(s["f1"] for s in per_theme.values()) / len(THEMES)
    no_theme = scored.filter(pl.col("themes").list.len() == 0)
    false_positive = no_theme.filter(pl.col("predicted").list.len() > 0).height
    return {
        "paragraphs": scored.height,
        "per_theme": per_theme,
        "macro_f1": macro,
        "no_theme_paragraphs": no_theme.height,
        "false_positive_rate": false_positive / no_theme.height if no_theme.height else 0.0,
    }


def score(labelled: LabelledSet, tables: dict[str, pl.DataFrame]) -> dict:
    """Compare the pipeline's tables with the labelled set."""
    documents = tables["documents"].select(
        "doc_id", pl.col("source_path").alias("doc"), "title", "published_date"
    )
    paragraphs = (
        tables["paragraphs"]
        .join(documents.select("doc_id", "doc"), on="doc_id")
        .with_columns(normalise("text").alias("key"))
    )
    assigned = (
        tables["paragraph_themes"]
        .group_by("doc_id", "paragraph_index")
        .agg(
            pl.col("theme").filter("assigned").alias("predicted"),
            pl.format("{}: {}", "theme", "evidence")
            .filter(pl.col("evidence") != "")
            .str.join(" | ")
            .alias("evidence"),
        )
    )
    paragraphs = paragraphs.join(assigned, on=["doc_id", "paragraph_index"], how="left")
    gold = labelled.gold.with_columns(normalise("text").alias("key"))
    found = gold.join(
        paragraphs.select("doc", "key", "predicted", "evidence").unique(["doc", "key"]),
        on=["doc", "key"],
        how="left",
    ).with_columns(
        pl.col("predicted").is_not_null().alias("segmented"),
        pl.col("predicted").fill_null(pl.lit([], dtype=pl.List(pl.String))),
    )
    pipeline_in_gold = paragraphs.join(
        gold.select("doc", "key").unique(), on=["doc", "key"], how="semi"
    ).height

    wrong = found.filter(pl.col("themes").list.sort() != pl.col("predicted").list.sort()).sort(
        "doc", "paragraph"
    )

    meta = labelled.meta.join(documents, on="doc", how="left", suffix="_pipeline")
    title_ok = meta.select(
        (normalise("title").fill_null("") == normalise("title_pipeline").fill_null("")).alias("ok")
    )["ok"]
    date_ok = meta.select(
        (
            pl.col("published_date").fill_null("")
            == pl.col("published_date_pipeline").cast(pl.String).fill_null("")
        ).alias("ok")
    )["ok"]
    return {
        "documents": labelled.meta.height,
        "classification": {
            "clear": _theme_scores(found.filter(~pl.col("borderline"))),
            "all": _theme_scores(found),
        },
        "segmentation": {
            "gold_paragraphs": gold.height,
            "recall": found["segmented"].mean(),
            "pipeline_paragraphs": paragraphs.height,
            "precision": pipeline_in_gold / paragraphs.height if paragraphs.height else 0.0,
            "missed": found.filter(~pl.col("segmented"))
            .select("doc", "paragraph", "text")
            .to_dicts(),
        },
        "metadata": {
            "title_accuracy": title_ok.mean(),
            "published_date_accuracy": date_ok.mean(),
            "wrong": meta.filter(~title_ok | ~date_ok)
            .select(
                "doc",
                "title",
                "title_pipeline",
                "published_date",
                pl.col("published_date_pipeline").cast(pl.String),
            )
            .to_dicts(),
        },
        "wrong_paragraphs": wrong.select(
            "doc",
            "paragraph",
            "borderline",
            "themes",
            "predicted",
            pl.col("evidence").fill_null(""),
            "text",
        ).to_dicts(),
    }


def render_report(result: dict) -> str:
    lines = []
    for subset in ("clear", "all"):
        scores = result["classification"][subset]
        lines.append(
            f"{subset} paragraphs ({scores['paragraphs']}): macro-F1 {scores['macro_f1']:.3f}, "
            f"false-positive rate on no-theme {scores['false_positive_rate']:.1%} "
            f"of {scores['no_theme_paragraphs']}"
        )
        for theme, s in scores["per_theme"].items():
            lines.append(
                f"  {theme:<22} P {s['precision']:.3f}  R {s['recall']:.3f}  F1 {s['f1']:.3f}"
                f"  (tp {s['tp']}, fp {s['fp']}, fn {s['fn']})"
            )
    seg = result["segmentation"]
    lines.append(
        f"segmentation: recall {seg['recall']:.1%} of {seg['gold_paragraphs']} gold paragraphs, "
        f"precision {seg['precision']:.1%} of {seg['pipeline_paragraphs']} pipeline paragraphs"
    )
    for miss in seg["missed"]:
        lines.append(f"  missed {miss['doc']} p{miss['paragraph']}: {miss['text'][:90]}")
    meta = result["metadata"]
    lines.append(
        f"metadata: title accuracy {meta['title_accuracy']:.1%}, "
        f"publication-date accuracy {meta['published_date_accuracy']:.1%}"
    )
    for row in meta["wrong"]:
        lines.append(
            f"  {row['doc']}: title {row['title']!r} got {row['title_pipeline']!r}; "
            f"date {row['published_date']} got {row['published_date_pipeline']}"
        )
    lines.append(f"wrong paragraphs ({len(result['wrong_paragraphs'])}):")
    for row in result["wrong_paragraphs"]:
        flag = " (borderline)" if row["borderline"] else ""
        lines.append(
            f"  {row['doc']} p{row['paragraph']}{flag}: gold {row['themes']} got "
            f"{row['predicted']}\n    evidence: {row['evidence'] or '-'}\n    {row['text'][:160]}"
        )
    return "\n".join(lines)
