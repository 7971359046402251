"""The shared matcher: character offsets, leftmost-first attribution, loud failures."""

import polars as pl
import pytest

from tasks.matching import attribute, find_matches


def _matches(texts: list[str], groups: list[list[str]]) -> list[tuple]:
    found = find_matches(pl.Series(texts), ["|".join(alts) for alts in groups])
    rows = attribute(found, groups).sort("_group", "_pid", "char_start")
    return rows.select("_pid", "_group", "phrase", "char_start", "char_end", "_alt").rows()


def test_offsets_are_characters_not_bytes():
    text = "Da’esh — then Da’esh again; ISIS."
    rows = _matches([text], [["Da’esh", r"\bISIS\b"]])
    assert rows == [
        (0, 0, "Da’esh", 0, 6, 0),
        (0, 0, "Da’esh", 14, 20, 0),
        (0, 0, "ISIS", 28, 32, 1),
    ]
    assert [text[start:end] for *_, start, end, _ in rows] == ["Da’esh", "Da’esh", "ISIS"]


def test_attribution_is_the_alternative_that_matched():
    # "train" is tried first but cannot end inside "training": the second alternative
    # produced that match; the third never wins over the first on the same text.
    groups = [[r"\btrain\b", r"\btraining\b", r"\b(?i:train)\b"], [r"(x)(?P<y>y)", "xy"]]
    rows = _matches(["training to train, TRAIN", "xy"], groups)
    assert [(phrase, alt) for _, _, phrase, _, _, alt in rows] == [
        ("training", 1),
        ("train", 0),
        ("TRAIN", 2),
        ("xy", 0),  # the raw pattern's own capture groups do not shift the index
    ]


def test_groups_match_independently_and_rows_without_matches_are_skipped():
    rows = _matches(["alpha beta", "", "gamma", "beta"], [["alpha", "beta"], ["beta"]])
    assert [(pid, group, phrase) for pid, group, phrase, *_ in rows] == [
        (0, 0, "alpha"),
        (0, 0, "beta"),
        (3, 0, "beta"),
        (0, 1, "beta"),
        (3, 1, "beta"),
    ]


def test_markers_in_the_text_do_not_shift_offsets():
    rows = _matches(["\ufdd0a\ufdd1 b"], [["b"]])
    assert [(start, end) for *_, start, end, _ in rows] == [(4, 5)]


def test_unattributable_match_fails_loudly():
    found = find_matches(pl.Series(["abc"]), ["abc"])
    with pytest.raises(RuntimeError, match="unattributed"):
        attribute(found, [["xyz"]])
