"""Vectorised phrase matching shared by the theme classifier and the entity tagger.

Both stages hold groups of compiled alternatives (a theme's cues and vetoes; a kind of
entity's aliases), one leftmost-first alternation per group, and need every match with
its CHARACTER offsets and the alternative that produced it. The work is vectorised over
the whole batch; the only Python loops run over groups, never over paragraphs or
matches.

1. Each group's regex runs once over the text with ``str.replace_all``, wrapping every
   match in two marker characters. Literal splits on the markers give each match and
   the text before it; running sums of their character lengths are the match offsets
   (polars' own string offsets are bytes). The groups run in parallel.
2. Each distinct matched string is attributed to the first alternative of its group
   that matches it in full; with leftmost-first semantics that is exactly the
   alternative that produced it. One anchored regex per group, every alternative in a
   named group, finds it for all distinct strings at once.

Cost (5,000 statements, 12.8 MB of paragraphs): step 1 is ~3/4 of the matching time
and is mostly the regex engine itself, which scans at its lazy-DFA speed (~500 MB/s per
group, word gaps included). Selecting the rows that match with ``str.contains`` before
marking them does not pay: a row without a match costs the same scan either way. Nor
did literal anchors (Aho-Corasick over words every alternative requires): 3-letter
anchors are common, and rows with non-ASCII text (a third of the benchmark corpus) must
skip such a test because Unicode case folding matches "ſ" for "s", so 88-95 % of rows
were still candidates.
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
_OWNER_SCHEMA = pl.Schema({"_group": pl.Int32, "phrase": pl.String, "_alt": pl.UInt32})


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
        _offsets(_marked(source, regex), group)
        for group, regex in enumerate(group_regexes)
        if regex
    ]
    # in-memory engine: the running sums below depend on row order
    frames = pl.collect_all(plans, engine="in-memory") if plans else []
    return pl.concat([MATCH_SCHEMA.to_frame(), *frames], how="vertical")


def _marked(source: pl.LazyFrame, regex: str) -> pl.LazyFrame:
    """(_pid, m): the rows holding a match, every match wrapped in the two markers.

    Markers add bytes, so a row holds a match exactly when its length changed: an O(1)
    test per row instead of scanning the marked text for a marker.
    """
    return source.select(
        "_pid",
        pl.col("work").str.replace_all(regex, f"{_OPEN}$0{_CLOSE}").alias("m"),
        pl.col("work").str.len_bytes().alias("_bytes"),
    ).filter(pl.col("m").str.len_bytes() != pl.col("_bytes"))


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
        marked.select("_pid", pl.col("m").str.split(_OPEN))
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
    them. Only the distinct matched strings are tested, a few hundred per batch, with one
    regex per group (see :func:`_first_full_match`).
    """
    distinct = matches.select("_group", "phrase").unique()
    owners = [_OWNER_SCHEMA.to_frame()]
    for group, alternatives in enumerate(group_alternatives):
        phrases = distinct.filter(pl.col("_group") == group).get_column("phrase")
        if phrases.is_empty():
            continue
        owner = _first_full_match(phrases, alternatives)
        if owner.null_count():  # impossible with leftmost-first semantics: fail loudly
            lost = phrases.filter(owner.is_null()).head(5).to_list()
            raise RuntimeError(f"unattributed matches in group {group}: {lost}")
        owners.append(
            pl.DataFrame({"phrase": phrases, "_alt": owner}).select(
                pl.lit(group, dtype=pl.Int32).alias("_group"), "phrase", "_alt"
            )
        )
    table = pl.concat(owners, how="vertical")
    return matches.join(table, on=["_group", "phrase"], how="inner", maintain_order="left")


def _first_full_match(phrases: pl.Series, alternatives: Sequence[str]) -> pl.Series:
    """Index of the first alternative matching each phrase in full (null if none).

    One anchored alternation with every alternative in a named group: leftmost-first
    semantics try the alternatives in order, so the group that took part is the first
    alternative that matches the whole phrase. Inner groups of raw patterns get other
    names (numbers, or their own), so ours are found by name.
    """
    names = [f"_alt{index}" for index in range(len(alternatives))]
    regex = "|".join(f"(?P<{name}>{alt})" for name, alt in zip(names, alternatives, strict=True))
    groups = phrases.str.extract_groups(f"^(?:{regex})$").struct.unnest()
    # exactly one of our groups took part in each full match (long format is far
    # cheaper than expressions across hundreds of columns)
    took_part = (
        groups.with_row_index("_row")
        .unpivot(index="_row", on=names, variable_name="_name")
        .drop_nulls("value")
    )
    owner = pl.repeat(None, phrases.len(), dtype=pl.UInt32, eager=True)
    return owner.scatter(
        took_part.get_column("_row"),
        took_part.get_column("_name").str.strip_prefix("_alt").cast(pl.UInt32),
    )


def alternative_position(
    matches: pl.DataFrame, group_alternatives: Sequence[Sequence[str]]
) -> pl.Series:
    """Where each match's alternative (``_group``, ``_alt``) sits in all the groups'
    alternatives laid end to end: an index into per-alternative lookup tables (a gather
    keeps row order and costs less than a join).
    """
    starts = [0]
    for alternatives in group_alternatives[:-1]:
        starts.append(starts[-1] + len(alternatives))
    offset = pl.Series(starts, dtype=pl.UInt32).gather(matches.get_column("_group"))
    return offset + matches.get_column("_alt")


def sort_key(major: pl.Expr, minor: pl.Expr) -> pl.Expr:
    """One Int64 key ordering rows by (major, minor), both non-negative integers.

    Sorting on one integer column is about twice as fast as on several. The scale is
    the largest minor value + 1, so keys never collide; with batch-sized majors and
    paragraph offsets the product stays far below 2**63.
    """
    return major.cast(pl.Int64) * (minor.max().cast(pl.Int64) + 1) + minor.cast(pl.Int64)
