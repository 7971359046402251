import re
import shutil
import subprocess
from datetime import UTC, datetime

import pytest

from communique.report import _script_json, write_report
from communique.summary import RunSummary, render_markdown
from tests.bi_tables import publish_snapshot

CHROMIUM = shutil.which("chromium")
CHART_DIV = re.compile(r'<div class="chart[^"]*" id="chart-\d+"')


def rendered_dom(page, profile) -> str:
    """The page's DOM after its scripts ran, from headless Chromium (offline, no GPU)."""
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_the_report_draws_every_chart_without_the_network(tmp_path):
    out_dir = tmp_path / "out"
    publish_snapshot(out_dir)
    page = write_report(out_dir)
    html = page.read_text()
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=", html), "must not load anything"
    expected = len(CHART_DIV.findall(html))
    assert expected == 7

    dom = rendered_dom(page, tmp_path / "profile")
    charts = CHART_DIV.split(dom)[1:]
    assert len(charts) == expected
    for number, chart in enumerate(charts):
        # vega-embed replaced the empty div with an SVG scene holding drawn marks
        assert 'class="marks"' in chart, f"chart-{number} was not drawn"
        assert 'role="graphics-symbol"' in chart, f"chart-{number} has no marks"
    for text in ("spare parts", "notes.pdf", "unsupported_format", "counter_isis", "Iraq (IQ)"):
        assert text in dom


def test_text_from_documents_cannot_close_the_script_element():
    assert "</script>" not in _script_json({"title": "a </script><script>alert(1)"})


def test_the_run_summary_points_at_the_report():
    now = datetime.now(UTC)
    summary = RunSummary(
        run_id="r", flow_run_id=None, started_at=now, finished_at=now, status="completed",
        full_refresh=False, files_seen=0, documents_written=0, documents_unchanged=0,
        documents_deleted=0, files_rejected=0, documents_total=0, paragraphs_total=0,
        taxonomy_version="v1", out_dir="/data/out",
    )  # fmt: skip
    markdown = render_markdown(summary)
    assert "/data/out/report.html" in markdown and "communique report" in markdown
