"""`out_dir/report.html`: one self-contained page of charts over the published tables.

Charts are Altair (Vega-Lite) specs drawn in the browser by Vega; the Vega, Vega-Lite and
vega-embed libraries are inlined from vl-convert's bundle, so the page opens offline and
can be mailed as one file.
"""

from __future__ import annotations

import html
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import altair as alt
import polars as pl
import vl_convert

from communique.store import read_table
from schemas._types import THEMES

REPORT = "report.html"
DOCUMENTS_SHOWN = 40  # rows of the document x theme heatmap (the latest documents)
PHRASES_PER_THEME = 10
REJECTS_LISTED = 200
PARTNERS_SHOWN = 15  # rows of the partner x theme heatmap (the partners with most documents)
THEME_COLOURS = alt.Scale(domain=list(THEMES), scheme="tableau10")
COUNT_AXIS = alt.Axis(tickMinStep=1, format="d")  # counts: no 0.5 ticks
THEME_AXIS = alt.Axis(labelAngle=-30)


def theme_share_over_time(trends: pl.DataFrame) -> alt.Chart:
    # Years, not months: statements are sparse, and monthly shares of a handful of
    # paragraphs swing between 0 and 100 %. The month rows roll up by summing counts.
    yearly = (
        trends.filter(pl.col("year").is_not_null())
        .group_by("year", "theme")
        .agg(pl.col("documents", "documents_total", "paragraphs", "paragraphs_total").sum())
        .with_columns(share=pl.col("paragraphs") / pl.col("paragraphs_total"))
    )
    return (
        alt.Chart(yearly, title="Share of paragraphs per theme, by publication year")
        .mark_line(point=True)
        .encode(
            # quantitative, so a year without statements keeps its place on the axis
            x=alt.X(
                "year:Q", axis=alt.Axis(format="d", tickMinStep=1), scale=alt.Scale(zero=False)
            ),
            y=alt.Y("share:Q", axis=alt.Axis(format="%"), title="paragraphs"),
            color=alt.Color("theme:N", scale=THEME_COLOURS),
            tooltip=[
                "year:O",
                "theme:N",
                "paragraphs:Q",
                "paragraphs_total:Q",
                alt.Tooltip("share:Q", format=".1%"),
                "documents:Q",
                "documents_total:Q",
            ],
        )
        .properties(width=640, height=260)
    )


def themes_by_partner(trends_by_partner: pl.DataFrame) -> alt.Chart:
    # All months summed: per partner there are few statements, so a partner x theme
    # grid of paragraph shares reads better than one line per partner.
    totals = (
        trends_by_partner.group_by("country_code", "country_name", "theme")
        .agg(pl.col("documents", "documents_total", "paragraphs", "paragraphs_total").sum())
        .with_columns(
            share=pl.when(pl.col("paragraphs_total") > 0).then(
                pl.col("paragraphs") / pl.col("paragraphs_total")
            ),
            partner=pl.format("{} ({})", "country_name", "country_code"),
        )
    )
    ranked = (
        totals.group_by("partner")
        .agg(pl.col("documents_total").max())
        .sort("documents_total", "partner", descending=[True, False])
        .head(PARTNERS_SHOWN)
    )
    cells = totals.join(ranked.select("partner"), on="partner")
    return (
        alt.Chart(cells, title=f"Share of paragraphs per theme by partner (top {PARTNERS_SHOWN})")
        .mark_rect()
        .encode(
            x=alt.X("theme:N", sort=list(THEMES), axis=THEME_AXIS),
            y=alt.Y("partner:N", sort=ranked["partner"].to_list(), title=None),
            color=alt.Color(
                "share:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]), title="share"
            ),
            tooltip=[
                "partner:N",
                "theme:N",
                alt.Tooltip("share:Q", format=".0%"),
                "paragraphs:Q",
                "paragraphs_total:Q",
                "documents:Q",
                alt.Tooltip("documents_total:Q", title="partner documents"),
            ],
        )
        .properties(width=320)
    )


def themes_per_document_count(document_themes: pl.DataFrame) -> alt.Chart:
    counts = (
        document_themes.group_by("doc_id")
        .agg(pl.col("has_theme").sum().alias("themes"))
        .group_by("themes")
        .agg(pl.len().alias("documents"))
    )
    return (
        alt.Chart(counts, title="Documents by number of themes they carry")
        .mark_bar()
        .encode(
            x=alt.X("themes:O", scale=alt.Scale(domain=list(range(len(THEMES) + 1)))),
            y=alt.Y("documents:Q", axis=COUNT_AXIS),
            tooltip=["themes:O", "documents:Q"],
        )
        .properties(width=240, height=200)
    )


def latest_documents_heatmap(document_themes: pl.DataFrame, documents: pl.DataFrame) -> alt.Chart:
    labels = documents.select(
        "doc_id",
        "published_date",
        pl.format(
            "{} {}",
            pl.col("published_date").cast(pl.String).fill_null("undated"),
            pl.coalesce("title", "source_path").str.slice(0, 60),
        ).alias("document"),
    )
    latest = labels.sort("published_date", "doc_id", descending=True, nulls_last=True).head(
        DOCUMENTS_SHOWN
    )
    cells = document_themes.join(latest.select("doc_id", "document"), on="doc_id")
    return (
        alt.Chart(cells, title=f"Share of paragraphs per theme, latest {DOCUMENTS_SHOWN} documents")
        .mark_rect()
        .encode(
            x=alt.X("theme:N", sort=list(THEMES), axis=THEME_AXIS),
            y=alt.Y("document:N", sort=latest["document"].to_list(), title=None),
            color=alt.Color(
                "share_assigned:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]), title="share"
            ),
            tooltip=[
                "document:N",
                "theme:N",
                "assigned_paragraphs:Q",
                "paragraphs:Q",
                alt.Tooltip("share_assigned:Q", format=".0%"),
                "max_score:Q",
            ],
        )
        .properties(width=320)
    )


def cooccurrence_matrix(cooccurrence: pl.DataFrame) -> alt.Chart:
    # Both orders of each pair, so the matrix reads the same from either axis.
    mirrored = pl.concat(
        [cooccurrence, cooccurrence.rename({"theme_a": "theme_b", "theme_b": "theme_a"})],
        how="diagonal",
    )
    base = alt.Chart(mirrored, title="Paragraphs assigned both themes").encode(
        x=alt.X("theme_a:N", sort=list(THEMES), title=None, axis=THEME_AXIS),
        y=alt.Y("theme_b:N", sort=list(THEMES), title=None),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("paragraphs:Q", scale=alt.Scale(scheme="oranges")),
        tooltip=["theme_a:N", "theme_b:N", "paragraphs:Q", "documents:Q"],
    )
    return (cells + base.mark_text().encode(text="paragraphs:Q")).properties(width=280, height=280)


def top_evidence_phrases(evidence: pl.DataFrame) -> alt.FacetChart:
    # Negative weights are vetoes: they argue against a theme, so they are not evidence.
    top = (
        evidence.filter(pl.col("weight") > 0)
        .group_by("theme", pl.col("phrase").str.to_lowercase())
        .agg(pl.len().alias("matches"))
        .sort("matches", "phrase", descending=[True, False])
        .group_by("theme", maintain_order=True)
        .head(PHRASES_PER_THEME)
    )
    return (
        alt.Chart(top)
        .mark_bar()
        .encode(
            x=alt.X("matches:Q", axis=COUNT_AXIS),
            y=alt.Y("phrase:N", sort="-x", title=None),
            color=alt.Color("theme:N", scale=THEME_COLOURS, legend=None),
            tooltip=["theme:N", "phrase:N", "matches:Q"],
        )
        .properties(width=240, height=alt.Step(14))
        .facet(
            facet=alt.Facet("theme:N", sort=list(THEMES)),
            columns=2,
            title=f"Most frequent evidence phrases per theme (top {PHRASES_PER_THEME})",
        )
        .resolve_scale(x="independent", y="independent")
    )


def rejects_by_reason(rejects: pl.DataFrame) -> alt.Chart:
    return (
        alt.Chart(
            rejects.group_by("reason").agg(pl.len().alias("files")), title="Rejects by reason"
        )
        .mark_bar()
        .encode(
            x=alt.X("files:Q", axis=COUNT_AXIS),
            y=alt.Y("reason:N", sort="-x"),
            tooltip=["reason:N", "files:Q"],
        )
        .properties(width=360)
    )


def _rejects_table(rejects: pl.DataFrame) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(r['source_path'])}</td><td>{html.escape(r['reason'])}</td>"
        f"<td>{html.escape(r['detail'])}</td></tr>"
        for r in rejects.sort("source_path").head(REJECTS_LISTED).iter_rows(named=True)
    )
    more = rejects.height - REJECTS_LISTED
    tail = f"<p>… and {more} more in the <code>rejects</code> table.</p>" if more > 0 else ""
    return f"<table><tr><th>file</th><th>reason</th><th>detail</th></tr>{rows}</table>{tail}"


def _sections(out_dir: Path) -> list[tuple[str, str, list[alt.TopLevelMixin]]]:
    """(heading, intro HTML, charts) for each part of the page."""
    document_themes = read_table(out_dir, "document_themes")
    rejects = read_table(out_dir, "rejects")
    seen_by = ", ".join(sorted(set(rejects["run_id"]))) or "the last run"
    return [
        (
            "Theme share over time",
            "Dated documents only; <code>theme_trends</code> has the months, and the "
            "undated documents in a null month.",
            [theme_share_over_time(read_table(out_dir, "theme_trends"))],
        ),
        (
            "Themes per document",
            "",
            [
                themes_per_document_count(document_themes),
                latest_documents_heatmap(document_themes, read_table(out_dir, "documents")),
            ],
        ),
        (
            "Themes by partner country",
            "Partner countries as in <code>document_partners</code> (docs/entities.md); a "
            "document with two partners counts for both. <code>theme_trends_by_partner"
            "</code> has the months.",
            [themes_by_partner(read_table(out_dir, "theme_trends_by_partner"))],
        ),
        (
            "Theme co-occurrence",
            "",
            [cooccurrence_matrix(read_table(out_dir, "theme_cooccurrence"))],
        ),
        (
            "Evidence",
            "Phrases the lexicon matched, lower-cased.",
            [top_evidence_phrases(read_table(out_dir, "theme_evidence"))],
        ),
        (
            f"Rejects ({rejects.height})",
            f"Files seen by {html.escape(seen_by)} that did "
            "not become documents." + (_rejects_table(rejects) if rejects.height else " None."),
            [rejects_by_reason(rejects)] if rejects.height else [],
        ),
    ]


def _script_json(value) -> str:
    # Titles and phrases come from the documents: keep a "</script>" in them from ending
    # the script element early.
    return json.dumps(value).replace("</", "<\\/")


def render_report(out_dir: Path) -> str:
    runs = read_table(out_dir, "runs").sort("started_at")
    last = runs.row(-1, named=True) if runs.height else None
    header = (
        f"Last run <code>{html.escape(last['run_id'])}</code> ({last['status']}), "
        f"finished {last['finished_at']:%Y-%m-%d %H:%M} UTC"
        if last
        else "No run yet"
    )
    body, specs = [], {}
    for heading, intro, charts in _sections(out_dir):
        body.append(f"<h2>{heading}</h2><p>{intro}</p>")
        for chart in charts:
            div = f"chart-{len(specs)}"
            specs[div] = chart.to_dict()
            body.append(f'<div class="chart" id="{div}"></div>')
    bundle = vl_convert.javascript_bundle(vl_version="_".join(alt.SCHEMA_VERSION.split(".")[:2]))
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Communiqué report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; }}
.chart {{ margin: 1em 0 2em; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
td, th {{ border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; }}
</style>
<script>{bundle}</script></head>
<body>
<h1>Communiqué: themes in security-cooperation statements</h1>
<p>{header}. Generated {generated} from <code>{html.escape(str(out_dir))}</code>;
tables and columns are described in docs/data-dictionary.md.</p>
{"".join(body)}
<script>
const specs = {_script_json(specs)};
for (const [id, spec] of Object.entries(specs)) {{
  vegaEmbed("#" + id, spec, {{renderer: "svg", actions: false}}).catch(console.error);
}}
</script>
</body></html>
"""


def write_report(out_dir: Path) -> Path:
    """Write the report atomically: a browser never opens half a page."""
    target = out_dir / REPORT
    temporary = out_dir / f".{REPORT}.tmp"
    temporary.write_text(render_report(out_dir), encoding="utf-8")
    os.replace(temporary, target)
    return target
