"""Theme classification stage: paragraphs in, paragraph themes and evidence out.

Pure polars, no Prefect. The work is vectorised over the whole batch; the only
Python loops run over themes (4), rules and lexicon alternatives (a few
hundred, applied to the small set of distinct matched strings), never over
paragraphs or matches.

How a batch is classified:

Matching (steps 1-2) is :mod:`tasks.matching`, shared with the entity tagger.

1. For each theme, ONE leftmost-first regex of its cues and vetoes (vetoes
   first, see ``communique.lexicon``) runs once over the text with
   ``str.replace_all``, wrapping every match in two marker characters. Literal
   splits on the markers give each match and the text before it; running sums
   of their CHARACTER lengths are the match offsets (polars' own string offsets
   are bytes). The four themes run in parallel.
2. Each distinct matched string is attributed to the first alternative that
   matches it in full; with leftmost-first semantics that is exactly the
   alternative that produced it; its position gives the rule.
3. ``needs`` gates: a gated cue survives only if one of the rules it needs
   matched in the same paragraph. Context rules are looked up with one
   ``str.contains`` each, only in paragraphs holding a cue that needs them, and
   anywhere in the paragraph.
4. Score per paragraph and theme = 1 - prod(1 - weight) over the distinct
   counted rules; ``assigned`` = score >= the theme's threshold.

``theme_evidence`` holds every counted cue match (weight > 0) and every veto
match (weight 0.0, with the veto's rule id, e.g. ``rep.veto.remains``), so an
analyst can see both why a theme was given and which wording was set aside.
Context matches only enable cues and are not listed.
"""

from __future__ import annotations

import polars as pl

from communique.lexicon import Lexicon
from tasks.matching import alternative_position, attribute, find_matches, sort_key

PARAGRAPH_THEMES_SCHEMA = pl.Schema(
    {
        "doc_id": pl.String,
        "paragraph_index": pl.Int32,
        "theme": pl.String,
        "score": pl.Float64,
        "assigned": pl.Boolean,
        "evidence": pl.String,
        "taxonomy_version": pl.String,
    }
)
THEME_EVIDENCE_SCHEMA = pl.Schema(
    {
        "doc_id": pl.String,
        "paragraph_index": pl.Int32,
        "theme": pl.String,
        "phrase": pl.String,
        "char_start": pl.Int64,
        "char_end": pl.Int64,
        "weight": pl.Float64,
        "rule": pl.String,
    }
)
EVIDENCE_SEPARATOR = "; "
_SCORE_DECIMALS = 6  # so that 1 - 0.7 * 0.7 compares as 0.51 against a 0.5 threshold

_KIND_CODES = {"cue": 0, "veto": 1, "context": 2}
_CUE, _VETO = _KIND_CODES["cue"], _KIND_CODES["veto"]


def classify(paragraphs: pl.DataFrame, lexicon: Lexicon) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Tag every paragraph with every theme; return (paragraph_themes, theme_evidence)."""
    base = paragraphs.select(
        pl.col("doc_id").cast(pl.String),
        pl.col("paragraph_index").cast(pl.Int32),
        pl.col("text").cast(pl.String).fill_null(""),
    )
    text = base.get_column("text")
    matches = _attribute(_find_matches(text, lexicon), lexicon)
    counted, vetoes = _apply_rules(matches, text, lexicon)

    # Output order is (doc_id, paragraph_index, theme order). Sort the
    # one-row-per-paragraph frame once and place every result by its rank
    # instead of sorting the four-rows-per-paragraph output.
    order = base.select(pl.arg_sort_by("doc_id", "paragraph_index", maintain_order=True))
    order = order.to_series().cast(pl.UInt32)
    rank = pl.zeros(base.height, dtype=pl.UInt32, eager=True)
    if base.height:
        rank.scatter(order, pl.int_range(base.height, dtype=pl.UInt32, eager=True))
    sorted_base = base.select("doc_id", "paragraph_index").gather(order)
    counted = counted.with_columns(_rank=rank.gather(counted.get_column("_pid")))
    vetoes = vetoes.with_columns(_rank=rank.gather(vetoes.get_column("_pid")))
    return (
        _paragraph_themes(sorted_base, counted, lexicon),
        _theme_evidence(sorted_base, counted, vetoes, lexicon),
    )


# --------------------------------------------------------------------------- matching


def _find_matches(text: pl.Series, lexicon: Lexicon) -> pl.DataFrame:
    """Every cue and veto match of every theme (one group per theme), with offsets."""
    regexes = [lexicon.theme_regex(theme) for theme in lexicon.themes]
    return find_matches(text, regexes).rename({"_group": "_theme"})


def _attribute(matches: pl.DataFrame, lexicon: Lexicon) -> pl.DataFrame:
    """Add the rule (index), its kind and weight: the first alternative matching in full."""
    alternatives = [[alt.regex for alt in alts] for alts in lexicon.alternatives]
    attributed = attribute(matches.rename({"_theme": "_group"}), alternatives)
    rule_of = {rule.id: index for index, rule in enumerate(lexicon.rules)}
    alt_rule = pl.Series(
        [rule_of[alt.rule_id] for alts in lexicon.alternatives for alt in alts], dtype=pl.UInt16
    )
    rule = alt_rule.gather(alternative_position(attributed, alternatives))
    rules = _rules_frame(lexicon)
    return (
        attributed.rename({"_group": "_theme"})
        .drop("_alt")
        .with_columns(
            _rule=rule,
            _kind=rules.get_column("_kind").gather(rule),
            weight=rules.get_column("weight").gather(rule),
        )
    )


def _rules_frame(lexicon: Lexicon) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_rule": range(len(lexicon.rules)),
            "_kind": [_KIND_CODES[r.kind] for r in lexicon.rules],
            "weight": [r.weight for r in lexicon.rules],
        },
        schema={"_rule": pl.UInt16, "_kind": pl.Int8, "weight": pl.Float64},
    )


# --------------------------------------------------------------------------- rules


def _apply_rules(
    matches: pl.DataFrame, text: pl.Series, lexicon: Lexicon
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split matches into counted cues and vetoes; drop cues whose needs are unmet.

    Needs are checked with bit masks: every rule some cue needs gets a bit; each
    paragraph gets the OR of the bits of the rules present in it (matched, or
    found by a context lookup); a gated cue survives if its paragraph's mask
    shares a bit with the cue's need mask.
    """
    needed = sorted({lexicon.rule_index(n) for r in lexicon.rules for n in r.needs})
    bit_of = {rule: bit for bit, rule in enumerate(needed)}
    words = max(1, -(-len(needed) // 64))
    need_masks = [[0] * len(lexicon.rules) for _ in range(words)]
    for index, rule in enumerate(lexicon.rules):
        for need in rule.needs:
            bit = bit_of[lexicon.rule_index(need)]
            need_masks[bit // 64][index] |= 1 << (bit % 64)

    cues = matches.filter(pl.col("_kind") == _CUE)
    gated = [i for i, r in enumerate(lexicon.rules) if r.needs]
    candidates = cues.filter(pl.col("_rule").is_in(gated)).select("_pid", "_rule")
    present = pl.concat(
        [
            matches.filter(pl.col("_rule").is_in(needed)).select("_pid", "_rule"),
            _context_hits(candidates, text, lexicon),
        ]
    ).with_columns(
        _word=pl.col("_rule").replace_strict(
            {rule: bit // 64 for rule, bit in bit_of.items()}, return_dtype=pl.UInt32
        ),
        _bit=pl.col("_rule").replace_strict(
            {rule: 1 << (bit % 64) for rule, bit in bit_of.items()}, return_dtype=pl.UInt64
        ),
    )

    size = text.len()
    ok = pl.lit(False)
    for word in range(words):
        bits = (
            present.filter(pl.col("_word") == word)
            .group_by("_pid")
            .agg(pl.col("_bit").bitwise_or())
        )
        mask = pl.zeros(size, dtype=pl.UInt64, eager=True)
        if bits.height:
            mask.scatter(bits.get_column("_pid"), bits.get_column("_bit"))
        need = pl.Series(need_masks[word], dtype=pl.UInt64)
        ok = ok | (
            pl.col("_pid").map_batches(mask.gather, return_dtype=pl.UInt64)
            & pl.col("_rule").map_batches(need.gather, return_dtype=pl.UInt64)
            != 0
        )
    counted = cues.filter(~pl.col("_rule").is_in(gated) | ok)
    vetoes = matches.filter(pl.col("_kind") == _VETO).with_columns(weight=pl.lit(0.0))
    return counted, vetoes


def _context_hits(candidates: pl.DataFrame, text: pl.Series, lexicon: Lexicon) -> pl.DataFrame:
    """(paragraph, context rule) pairs where a context rule some candidate needs occurs."""
    hits = [pl.DataFrame(schema={"_pid": pl.UInt32, "_rule": pl.UInt16})]
    for index, rule in enumerate(lexicon.rules):
        if rule.kind != "context":
            continue
        users = [i for i, r in enumerate(lexicon.rules) if rule.id in r.needs]
        pids = candidates.filter(pl.col("_rule").is_in(users)).get_column("_pid").unique()
        if pids.is_empty():
            continue
        found = text.gather(pids).str.contains(lexicon.rule_regex(rule.id))
        hits.append(
            pl.DataFrame({"_pid": pids.filter(found)}).with_columns(
                _rule=pl.lit(index, dtype=pl.UInt16)
            )
        )
    return pl.concat(hits)


# --------------------------------------------------------------------------- outputs


def _paragraph_themes(
    sorted_base: pl.DataFrame, counted: pl.DataFrame, lexicon: Lexicon
) -> pl.DataFrame:
    n_themes = len(lexicon.themes)
    size = sorted_base.height * n_themes
    slot = pl.col("_rank").cast(pl.Int64) * n_themes + pl.col("_theme")
    counted = counted.with_columns(_slot=slot)
    # Each rule counts once, however often it matched. 1 - prod(1 - w) is
    # computed as 1 - exp(sum(log(1 - w))): a grouped sum is much faster than a
    # grouped product in polars.
    scores = (
        counted.unique(["_slot", "_rule"])
        .group_by("_slot")
        .agg(((1.0 - pl.col("weight")).clip(lower_bound=1e-12).log()).sum().alias("log_miss"))
        .with_columns(score=(1.0 - pl.col("log_miss").exp()).round(_SCORE_DECIMALS))
    )
    # Matches are in text order within a paragraph and theme, and group_by keeps
    # row order inside each group, so the lists come out in text order.
    evidence = (
        counted.group_by("_slot")
        .agg(pl.col("phrase"))
        .with_columns(
            evidence=pl.col("phrase").list.unique(maintain_order=True).list.join(EVIDENCE_SEPARATOR)
        )
    )
    score = pl.zeros(size, dtype=pl.Float64, eager=True)
    text = pl.repeat("", size, dtype=pl.String, eager=True)
    if scores.height:
        score.scatter(scores.get_column("_slot"), scores.get_column("score"))
        text.scatter(evidence.get_column("_slot"), evidence.get_column("evidence"))
    slots = pl.int_range(size, dtype=pl.Int64, eager=True)
    theme_index = slots % n_themes
    thresholds = pl.Series(lexicon.thresholds, dtype=pl.Float64).gather(theme_index)
    return (
        sorted_base.gather(slots // n_themes)
        .with_columns(
            theme=pl.Series(lexicon.themes, dtype=pl.String).gather(theme_index),
            score=score,
            assigned=score >= thresholds,
            evidence=text,
            taxonomy_version=pl.lit(lexicon.version, dtype=pl.String),
        )
        .match_to_schema(PARAGRAPH_THEMES_SCHEMA)
    )


def _theme_evidence(
    sorted_base: pl.DataFrame, counted: pl.DataFrame, vetoes: pl.DataFrame, lexicon: Lexicon
) -> pl.DataFrame:
    columns = ["_rank", "_theme", "phrase", "char_start", "char_end", "weight", "_rule"]
    rows = pl.concat([counted.select(columns), vetoes.select(columns)])
    slot = pl.col("_rank").cast(pl.Int64) * len(lexicon.themes) + pl.col("_theme")
    rows = rows.sort(sort_key(slot, pl.col("char_start")))
    rule_ids = pl.Series([r.id for r in lexicon.rules], dtype=pl.String)
    themes = pl.Series(lexicon.themes, dtype=pl.String)
    return (
        sorted_base.gather(rows.get_column("_rank"))
        .with_columns(
            theme=themes.gather(rows.get_column("_theme")),
            phrase=rows.get_column("phrase"),
            char_start=rows.get_column("char_start"),
            char_end=rows.get_column("char_end"),
            weight=rows.get_column("weight"),
            rule=rule_ids.gather(rows.get_column("_rule")),
        )
        .match_to_schema(THEME_EVIDENCE_SCHEMA)
    )
