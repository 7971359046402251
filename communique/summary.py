"""The run summary: the `runs` row, the CLI's printout and the Prefect artifacts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from communique.store import scan_snapshot
from schemas._types import THEMES

REJECTS_SHOWN = 50


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    flow_run_id: str | None
    started_at: datetime
    finished_at: datetime
    status: str
    full_refresh: bool
    files_seen: int
    documents_written: int
    documents_unchanged: int
    documents_deleted: int
    files_rejected: int
    documents_total: int
    paragraphs_total: int
    taxonomy_version: str | None
    assigned_per_theme: dict[str, int] = field(default_factory=dict)
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    rejects: list[dict] = field(default_factory=list)  # the first REJECTS_SHOWN
    out_dir: str = ""
    # an output URL's local working copy (its catalog and report), else ""
    working_copy: str = ""

    def run_row(self) -> dict:
        return {
            "run_id": self.run_id,
            "flow_run_id": self.flow_run_id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "status": self.status,
            "full_refresh": self.full_refresh,
            "files_seen": self.files_seen,
            "documents_written": self.documents_written,
            "documents_unchanged": self.documents_unchanged,
            "documents_deleted": self.documents_deleted,
            "files_rejected": self.files_rejected,
            "paragraphs_total": self.paragraphs_total,
            "taxonomy_version": self.taxonomy_version,
            "error": None,
        }

    @staticmethod
    def failed_row(*, run_id, flow_run_id, started_at, full_refresh, taxonomy_version, error):
        return {
            "run_id": run_id,
            "flow_run_id": flow_run_id,
            "started_at": started_at,
            "finished_at": datetime.now(UTC),
            "status": "failed",
            "full_refresh": full_refresh,
            "files_seen": 0,
            "documents_written": 0,
            "documents_unchanged": 0,
            "documents_deleted": 0,
            "files_rejected": 0,
            "paragraphs_total": 0,
            "taxonomy_version": taxonomy_version,
            "error": error,
        }


def summarise_snapshot(snapshot: Path, *, rejects: pl.DataFrame, **counts) -> RunSummary:
    tables = scan_snapshot(snapshot)
    documents, paragraphs, assigned = pl.collect_all(
        [
            tables["documents"].select(pl.len()),
            tables["paragraphs"].select(pl.len()),
            tables["paragraph_themes"].filter("assigned").group_by("theme").len(),
        ]
    )
    per_theme = dict.fromkeys(THEMES, 0) | dict(assigned.iter_rows())
    by_reason = rejects.group_by("reason").len().sort("len", descending=True)
    return RunSummary(
        status="completed",
        files_rejected=rejects.height,
        documents_total=documents.item(),
        paragraphs_total=paragraphs.item(),
        assigned_per_theme=per_theme,
        rejects_by_reason=dict(by_reason.iter_rows()),
        rejects=rejects.sort("source_path").head(REJECTS_SHOWN).to_dicts(),
        out_dir=str(snapshot.parent.parent),
        **counts,
    )


def render_markdown(summary: RunSummary) -> str:
    lines = [
        f"# Run `{summary.run_id}`: {summary.status}",
        "",
        "| measure | count |",
        "|---|---|",
        f"| files seen | {summary.files_seen} |",
        f"| documents written (new or changed) | {summary.documents_written} |",
        f"| documents unchanged | {summary.documents_unchanged} |",
        f"| documents deleted | {summary.documents_deleted} |",
        f"| files rejected | {summary.files_rejected} |",
        f"| documents in the tables | {summary.documents_total} |",
        f"| paragraphs in the tables | {summary.paragraphs_total} |",
        "",
        "## Paragraphs per theme",
        "",
        "| theme | paragraphs assigned |",
        "|---|---|",
        *(f"| {theme} | {n} |" for theme, n in summary.assigned_per_theme.items()),
        "",
        f"## Rejects ({summary.files_rejected})",
        "",
    ]
    if summary.rejects:
        lines += ["| file | reason | detail |", "|---|---|---|"]
        lines += [
            f"| `{r['source_path']}` | {r['reason']} | {r['detail']} |" for r in summary.rejects
        ]
        if summary.files_rejected > len(summary.rejects):
            lines.append(
                f"\n… and {summary.files_rejected - len(summary.rejects)} more in `rejects`."
            )
    else:
        lines.append("None.")
    local = summary.working_copy or summary.out_dir
    lines += [
        "",
        f"Tables: `{summary.out_dir}` (lexicon `{summary.taxonomy_version}`); "
        f"SQL catalog `{local}/communique.duckdb` (docs/bi.md).",
        "",
        # The report is built on demand: it costs seconds that an incremental run need not pay.
        f"Charts: `{local}/report.html`; run `communique report "
        f"--out-dir {local}` to bring it up to date with this run.",
    ]
    return "\n".join(lines)


def render_text(summary: RunSummary) -> str:
    themes = ", ".join(f"{t} {n}" for t, n in summary.assigned_per_theme.items())
    lines = [
        f"run {summary.run_id} {summary.status}: {summary.files_seen} files seen, "
        f"{summary.documents_written} documents written, {summary.documents_unchanged} "
        f"unchanged, {summary.documents_deleted} deleted, {summary.files_rejected} rejected",
        f"tables: {summary.documents_total} documents, {summary.paragraphs_total} paragraphs "
        f"in {summary.out_dir}",
        f"paragraphs per theme: {themes}",
    ]
    lines += [
        f"  rejected {r['source_path']}: {r['reason']} ({r['detail']})" for r in summary.rejects
    ]
    return "\n".join(lines)


async def publish_artifacts(summary: RunSummary) -> None:
    from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact

    await acreate_markdown_artifact(
        key="run-summary", markdown=render_markdown(summary), description="Run summary"
    )
    await acreate_table_artifact(
        key="run-themes",
        table=[{"theme": t, "paragraphs": n} for t, n in summary.assigned_per_theme.items()],
        description="Paragraphs assigned per theme",
    )
    if summary.rejects:
        await acreate_table_artifact(
            key="run-rejects", table=summary.rejects, description="Rejects"
        )
