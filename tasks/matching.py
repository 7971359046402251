"""Vectorised phrase matching shared by the theme classifier and the entity tagger.

Both stages hold groups of compiled alternatives (a theme's cues and vetoes; a kind of
entity's aliases), one leftmost-first alternation per group, and need every match with
its CHARACTER offsets and the alternative that produced it. The work is vectorised over
the whole batch; the only Python loops run over groups and alternatives, never over
paragraphs or matches.

1. Each group's regex runs once over the text with ``str.replace_all``, wrapping every
   match in two marker characters. Literal splits on the markers give each match and
   the text before it; running sums of their character lengths are the match offsets
   (polars' own string offsets are bytes). The groups run in parallel.
2. Each distinct matched string is attributed to the first alternative of its group
   that matches it in full; with leftmost-first semantics that is exactly the
   alternative that produced it.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

# Unicode noncharacters, never in interchange text. Any that do occur are swapped for
# U+FFFD (one character for one, so offsets are unchanged).
_OPEN, _CLOSE = "\ufdd0", "\ufdd1"

MATCH_SCHEMA = pl.Schema(
    {
        "_pid": pl.UInt32,  # row of the text series
        "_group": pl.Int32,  # index of the group whose regex matched
        "phrase": pl.String,  # the matched text as written
        "char_start": pl.Int64,
        "char_end": pl.Int64,
    }
)


def find_matches(text: pl.Series, group_regexes: Sequence[str]) -> pl.DataFrame:
    """All non-overlapping matches of each group's regex, with character offsets.

    One lazy plan per group, collected together so the groups run in parallel. Matches
    of different groups may overlap; within a group they never do.
    """
    work = text.rename("work").cast(pl.String).fill_null("")
    if work.str.contains(f"[{_OPEN}{_CLOSE}]").any():
        work = work.str.replace_all(f"[{_OPEN}{_CLOSE}]", "\ufffd")
    source = work.to_frame().with_row_index("_pid").lazy()
    plans = [
        _offsets(
            source.select(
                "_pid", pl.col("work").str.replace_all(regex, f"{_OPEN}$0{_CLOSE}").alias("m")
            ),
            group,
        )
        for group, regex in enumerate(group_regexes)
        if regex
    ]
    # in-memory engine: the running sums below depend on row order
    frames = pl.collect_all(plans, engine="in-memory") if plans else []
    return pl.concat([MATCH_SCHEMA.to_frame(), *frames], how="vertical")


def _offsets(marked: pl.LazyFrame, group: int) -> pl.LazyFrame:
    """Turn marked text into one row per match with character offsets.

    Splitting "gap0 <OPEN>m0<CLOSE>gap1 <OPEN>m1<CLOSE>gap2" on OPEN gives
    pieces [gap0, m0<CLOSE>gap1, m1<CLOSE>gap2]; match k starts after the
    characters of all earlier pieces (markers excluded). A running sum over the
    exploded pieces, minus its value at each paragraph's first piece, gives
    that without any per-paragraph grouping.
    """
    pid = pl.col("_pid").cast(pl.Int64)
    return (
        marked.filter(pl.col("m").str.contains(_OPEN, literal=True))
        .select("_pid", pl.col("m").str.split(_OPEN))
        .explode("m")
        .with_columns(_first=pid != pid.shift(1, fill_value=-1))
        .with_columns(
            _len=pl.col("m").str.len_chars().cast(pl.Int64)
            - pl.when(pl.col("_first")).then(0).otherwise(1)
        )
        .with_columns(_before=pl.col("_len").cum_sum() - pl.col("_len"))
        .with_columns(
            char_start=pl.col("_before")
            - pl.when(pl.col("_first")).then(pl.col("_before")).forward_fill()
        )
        .filter(~pl.col("_first"))
        .with_columns(phrase=pl.col("m").str.split_exact(_CLOSE, 1).struct.field("field_0"))
        .select(
            "_pid",
            pl.lit(group, dtype=pl.Int32).alias("_group"),
            "phrase",
            "char_start",
            (pl.col("char_start") + pl.col("phrase").str.len_chars()).alias("char_end"),
        )
    )


def attribute(matches: pl.DataFrame, group_alternatives: Sequence[Sequence[str]]) -> pl.DataFrame:
    """Add ``_alt``: the index (within its group) of the alternative that produced a match.

    ``group_alternatives[g]`` lists group g's alternatives in the order its regex tries
    them. Only the distinct matched strings are tested, a few hundred per batch.
    """
    distinct = matches.select("_group", "phrase").unique()
    owners: list[tuple[int, str, int]] = []
    for group, alternatives in enumerate(group_alternatives):
        todo = distinct.filter(pl.col("_group") == group).get_column("phrase")
        for index, regex in enumerate(alternatives):
            if todo.is_empty():
                break
            hit = todo.str.contains(f"^(?:{regex})$")
            if hit.any():
                owners.extend((group, phrase, index) for phrase in todo.filter(hit))
                todo = todo.filter(~hit)
        if not todo.is_empty():  # impossible with leftmost-first semantics: fail loudly
            raise RuntimeError(f"unattributed matches in group {group}: {todo.head(5).to_list()}")
    table = pl.DataFrame(
        owners,
        schema={"_group": pl.Int32, "phrase": pl.String, "_alt": pl.UInt32},
        orient="row",
    )
    return matches.join(table, on=["_group", "phrase"], how="inner")
