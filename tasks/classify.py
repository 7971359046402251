"""Theme classification stage: paragraphs in, paragraph themes and evidence out.

Pure polars, no Prefect. The work is vectorised over the whole batch; the only
Python loops run over themes (4) and lexicon alternatives (a few hundred, on the
small set of distinct matched strings), never over paragraphs.

How a batch is classified:

1. For each theme, ONE leftmost-first regex (the theme's alternation, vetoes
   first, see ``communique.lexicon``) is run with ``str.extract_all`` (the
   matched texts) and ``str.split`` (the text between matches). Character
   offsets come from the cumulative character lengths of gaps and matches, so
   they are character offsets, not polars' byte offsets.
2. Each distinct matched string is attributed to the first alternative that
   matches it in full; with leftmost-first semantics that is exactly the
   alternative that produced it.
3. ``needs`` gates are applied with joins: a gated cue survives only if one of
   the rules it needs matched in the same paragraph.
4. Score per paragraph and theme = 1 - prod(1 - weight) over distinct counted
   rules; ``assigned`` = score >= the theme's threshold.

``theme_evidence`` holds every counted cue match (weight > 0) and every veto
match (weight 0.0, rule id of the veto, e.g. ``rep.veto.remains``) so an
analyst can see both why a theme was given and which wording was set aside.
Context matches only enable cues and are not listed.
"""

from __future__ import annotations

import polars as pl

from communique.lexicon import Lexicon

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
_SCORE_DECIMALS = 6  # keeps 1 - 0.7 * 0.7 == 0.51 comparable with a threshold

_MATCH_SCHEMA = pl.Schema(
    {
        "_pid": pl.UInt32,
        "theme": pl.String,
        "phrase": pl.String,
        "char_start": pl.Int64,
        "char_end": pl.Int64,
    }
)


def classify(paragraphs: pl.DataFrame, lexicon: Lexicon) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Tag every paragraph with every theme; return (paragraph_themes, theme_evidence)."""
    base = (
        paragraphs.select(
            pl.col("doc_id").cast(pl.String),
            pl.col("paragraph_index").cast(pl.Int32),
            pl.col("text").cast(pl.String).fill_null(""),
        )
        .with_row_index("_pid")
        # Sorting the 1-row-per-paragraph frame once lets the 4-rows-per-paragraph
        # output come out ordered without a second, 4x larger sort.
        .sort("doc_id", "paragraph_index", "_pid", maintain_order=True)
    )
    matches = _attribute(_find_matches(base, lexicon), lexicon)
    counted, vetoes = _apply_rules(matches, lexicon)
    return _paragraph_themes(base, counted, lexicon), _theme_evidence(
        base, counted, vetoes, lexicon
    )


# --------------------------------------------------------------------------- matching


def _find_matches(base: pl.DataFrame, lexicon: Lexicon) -> pl.DataFrame:
    """All non-overlapping matches of each theme's regex, with character offsets."""
    exprs: list[pl.Expr] = []
    for i, theme in enumerate(lexicon.themes):
        regex = lexicon.theme_regex(theme)
        exprs.append(pl.col("text").str.extract_all(regex).alias(f"m{i}"))
        exprs.append(pl.col("text").str.split(regex, literal=False).alias(f"g{i}"))
    wide = base.select("_pid", *exprs)  # the 8 regex passes run in parallel

    frames = [_MATCH_SCHEMA.to_frame()]
    for i, theme in enumerate(lexicon.themes):
        hits = (
            wide.select("_pid", pl.col(f"m{i}").alias("phrase"), pl.col(f"g{i}").alias("gap"))
            .filter(pl.col("phrase").list.len() > 0)
            # gap k is the text before match k; the last gap (after the last match) is dropped
            .with_columns(pl.col("gap").list.slice(0, pl.col("phrase").list.len()))
            .explode("phrase", "gap")
            .with_columns(
                match_len=pl.col("phrase").str.len_chars().cast(pl.Int64),
                gap_len=pl.col("gap").str.len_chars().cast(pl.Int64),
            )
            .with_columns(
                char_end=(pl.col("gap_len") + pl.col("match_len")).cum_sum().over("_pid")
            )
            .select(
                "_pid",
                pl.lit(theme, dtype=pl.String).alias("theme"),
                "phrase",
                (pl.col("char_end") - pl.col("match_len")).alias("char_start"),
                "char_end",
            )
        )
        frames.append(hits)
    return pl.concat(frames, how="vertical")


def _attribute(matches: pl.DataFrame, lexicon: Lexicon) -> pl.DataFrame:
    """Add the rule id of each match: the first alternative matching it in full."""
    distinct = matches.select("theme", "phrase").unique()
    owners = [pl.DataFrame(schema={"theme": pl.String, "phrase": pl.String, "rule": pl.String})]
    for theme, alternatives in zip(lexicon.themes, lexicon.alternatives, strict=True):
        todo = distinct.filter(pl.col("theme") == theme).get_column("phrase")
        for alt in alternatives:
            if todo.is_empty():
                break
            hit = todo.str.contains(f"^(?:{alt.regex})$")
            if hit.any():
                owners.append(
                    pl.DataFrame(
                        {"theme": theme, "phrase": todo.filter(hit), "rule": alt.rule_id},
                        schema={"theme": pl.String, "phrase": pl.String, "rule": pl.String},
                    )
                )
                todo = todo.filter(~hit)
        if not todo.is_empty():  # cannot happen with leftmost-first semantics; fail loudly
            raise RuntimeError(f"unattributed matches in theme {theme}: {todo.head(5).to_list()}")
    return matches.join(pl.concat(owners), on=["theme", "phrase"], how="left")


# --------------------------------------------------------------------------- rules


def _rules_frame(lexicon: Lexicon) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "rule": [r.id for r in lexicon.rules],
            "kind": [r.kind for r in lexicon.rules],
            "weight": [r.weight for r in lexicon.rules],
        },
        schema={"rule": pl.String, "kind": pl.String, "weight": pl.Float64},
    )


def _apply_rules(matches: pl.DataFrame, lexicon: Lexicon) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split matches into counted cues and vetoes; drop cues whose needs are unmet."""
    matches = matches.join(_rules_frame(lexicon), on="rule", how="left")
    vetoes = matches.filter(pl.col("kind") == "veto").with_columns(weight=pl.lit(0.0))
    cues = matches.filter(pl.col("kind") == "cue")

    needs = pl.DataFrame(
        [(r.id, need) for r in lexicon.rules for need in r.needs],
        schema={"rule": pl.String, "need": pl.String},
        orient="row",
    )
    present = matches.select("_pid", pl.col("rule").alias("need")).unique()
    satisfied = (
        cues.select("_pid", "rule")
        .unique()
        .join(needs, on="rule", how="inner")
        .join(present, on=["_pid", "need"], how="semi")
        .select("_pid", "rule")
        .unique()
    )
    gated = needs.get_column("rule").unique()
    counted = pl.concat(
        [
            cues.filter(~pl.col("rule").is_in(gated.implode())),
            cues.filter(pl.col("rule").is_in(gated.implode())).join(
                satisfied, on=["_pid", "rule"], how="semi"
            ),
        ]
    )
    return counted, vetoes


# --------------------------------------------------------------------------- outputs


def _themes_frame(lexicon: Lexicon) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "theme": list(lexicon.themes),
            "_order": list(range(len(lexicon.themes))),
            "_threshold": list(lexicon.thresholds),
        },
        schema={"theme": pl.String, "_order": pl.Int32, "_threshold": pl.Float64},
    )


def _paragraph_themes(base: pl.DataFrame, counted: pl.DataFrame, lexicon: Lexicon) -> pl.DataFrame:
    # each rule counts once, however often it matched
    per_rule = counted.group_by("_pid", "theme", "rule").agg(pl.col("weight").first())
    scores = per_rule.group_by("_pid", "theme").agg(
        score=(1.0 - (1.0 - pl.col("weight")).product()).round(_SCORE_DECIMALS)
    )
    evidence = (
        counted.sort("_pid", "char_start")
        .group_by("_pid", "theme", maintain_order=True)
        .agg(evidence=pl.col("phrase").unique(maintain_order=True).str.join(EVIDENCE_SEPARATOR))
    )
    grid = base.select(
        "_pid",
        "doc_id",
        "paragraph_index",
        pl.lit(list(lexicon.themes), dtype=pl.List(pl.String)).alias("theme"),
    ).explode("theme")
    return (
        grid.join(scores, on=["_pid", "theme"], how="left", maintain_order="left")
        .join(evidence, on=["_pid", "theme"], how="left", maintain_order="left")
        .join(_themes_frame(lexicon), on="theme", how="left", maintain_order="left")
        .select(
            "doc_id",
            "paragraph_index",
            "theme",
            pl.col("score").fill_null(0.0),
            (pl.col("score").fill_null(0.0) >= pl.col("_threshold")).alias("assigned"),
            pl.col("evidence").fill_null(""),
            pl.lit(lexicon.version, dtype=pl.String).alias("taxonomy_version"),
        )
        .match_to_schema(PARAGRAPH_THEMES_SCHEMA)
    )


def _theme_evidence(
    base: pl.DataFrame, counted: pl.DataFrame, vetoes: pl.DataFrame, lexicon: Lexicon
) -> pl.DataFrame:
    columns = ["_pid", "theme", "phrase", "char_start", "char_end", "weight", "rule"]
    rows = pl.concat([counted.select(columns), vetoes.select(columns)])
    return (
        rows.join(base.select("_pid", "doc_id", "paragraph_index"), on="_pid", how="left")
        .join(_themes_frame(lexicon), on="theme", how="left")
        .sort("doc_id", "paragraph_index", "_order", "char_start", "_pid")
        .select(THEME_EVIDENCE_SCHEMA.names())
        .match_to_schema(THEME_EVIDENCE_SCHEMA)
    )
