"""`communique evaluate`: gold-file checks, the scoring arithmetic, and the devset floor."""

import asyncio
import json
import subprocess
import sys

import polars as pl
import pytest

from communique.evaluate import GoldError, load_labelled_set, score
from communique.store import read_table
from flows.process_statements import process_statements
from tests.conftest import PROJECT_ROOT
from tests.tables import document_tables


def write_set(root, gold_rows, meta_rows):
    (root / "docs").mkdir(parents=True)
    (root / "gold.jsonl").write_text("\n".join(json.dumps(r) for r in gold_rows))
    (root / "meta.jsonl").write_text("\n".join(json.dumps(r) for r in meta_rows))
    return root


GOLD = [
    {
        "doc": "a.txt",
        "paragraph": 1,
        "text": "One  ISIS.",
        "themes": ["counter_isis"],
        "borderline": False,
        "note": "",
    },
    {"doc": "a.txt", "paragraph": 2, "text": "Two.", "themes": [], "borderline": False, "note": ""},
    {
        "doc": "a.txt",
        "paragraph": 3,
        "text": "Three.",
        "themes": ["education"],
        "borderline": True,
        "note": "",
    },
]
META = [{"doc": "a.txt", "title": None, "published_date": "2024-07-23", "format_notes": ""}]


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ('{"doc": "a.txt"', "gold.jsonl:1: not valid JSON"),
        (
            '{"doc": "a.txt", "paragraph": 1, "text": "x", "themes": [], "borderline": 1}',
            "gold.jsonl:1: field 'borderline' has the wrong type",
        ),
        (
            '{"doc": "a.txt", "paragraph": 1, "text": "x", "themes": ["isis"], '
            '"borderline": false}',
            "gold.jsonl:1: unknown theme(s) ['isis']",
        ),
        (
            '{"doc": "a.txt", "text": "x", "themes": [], "borderline": false}',
            "gold.jsonl:1: missing field 'paragraph'",
        ),
    ],
)
def test_bad_gold_lines_are_named_by_file_and_line(tmp_path, broken, message):
    root = write_set(tmp_path, [], META)
    (root / "gold.jsonl").write_text(broken + "\n")
    with pytest.raises(GoldError) as error:
        load_labelled_set(root)
    assert message in str(error.value)


def test_evaluate_command_exits_non_zero_on_a_bad_gold_file(tmp_path):
    root = write_set(tmp_path, GOLD, META)
    (root / "meta.jsonl").write_text('{"doc": "a.txt", "title": null, "published_date": "23/7"}')
    result = subprocess.run(
        [sys.executable, "-m", "communique.cli", "evaluate", "--gold-dir", str(root)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=60,
    )
    assert result.returncode == 1
    assert "meta.jsonl:1: published_date must be YYYY-MM-DD or null" in result.stderr


def test_scores_follow_from_matched_paragraphs(tmp_path):
    labelled = load_labelled_set(write_set(tmp_path, GOLD, META))
    tables = document_tables({"a.txt": ["One ISIS.", "Two.", "Extra block."]})
    assign = {(1, "counter_isis"), (2, "education")}
    tables["paragraph_themes"] = tables["paragraph_themes"].with_columns(
        pl.struct("paragraph_index", "theme")
        .map_elements(lambda r: (r["paragraph_index"], r["theme"]) in assign, pl.Boolean)
        .alias("assigned")
    )
    tables["documents"] = tables["documents"].with_columns(
        pl.lit("2024-07-23").str.to_date().alias("published_date")
    )
    result = score(labelled, tables)

    segmentation = result["segmentation"]
    assert segmentation["recall"] == pytest.approx(2 / 3)  # "Three." was not found
    assert segmentation["precision"] == pytest.approx(2 / 3)  # "Extra block." is not gold
    everything = result["classification"]["all"]["per_theme"]
    assert everything["counter_isis"] == pytest.approx(
        {"precision": 1.0, "recall": 1.0, "f1": 1.0, "tp": 1, "fp": 0, "fn": 0}
    )
    assert everything["education"]["fp"] == 1 and everything["education"]["fn"] == 1
    assert result["classification"]["all"]["false_positive_rate"] == 1.0  # "Two." got a theme
    assert result["classification"]["clear"]["paragraphs"] == 2
    assert result["metadata"] == {
        "title_accuracy": 1.0,
        "published_date_accuracy": 1.0,
        "wrong": [],
    }
    assert [(w["paragraph"], w["predicted"]) for w in result["wrong_paragraphs"]] == [
        (2, ["education"]),
        (3, []),
    ]


@pytest.mark.usefixtures("prefect_server")
def test_devset_floor_through_the_whole_pipeline(devset, tmp_path):
    """A regression floor, measured as `communique evaluate` measures it."""
    asyncio.run(process_statements(raw_dir=devset / "docs", out_dir=tmp_path))
    tables = {t: read_table(tmp_path, t) for t in ("documents", "paragraphs", "paragraph_themes")}
    result = score(load_labelled_set(devset), tables)
    assert result["classification"]["clear"]["macro_f1"] >= 0.90
    assert result["classification"]["clear"]["false_positive_rate"] <= 0.03
    assert result["segmentation"]["recall"] >= 0.99
    assert result["segmentation"]["precision"] >= 0.97
    assert result["metadata"]["title_accuracy"] >= 0.95
    assert result["metadata"]["published_date_accuracy"] >= 0.90
