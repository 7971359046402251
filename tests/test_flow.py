"""The process-statements flow end to end, under Prefect's test harness."""

import asyncio
import json
import shutil

import duckdb
import polars as pl
import pytest

from communique.store import read_table
from flows.process_statements import process_statements
from schemas import TABLES
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.usefixtures("prefect_server")

CONTENT_COLUMNS = {
    "documents": [
        "doc_id",
        "source_path",
        "format",
        "title",
        "published_date",
        "content_sha256",
        "n_paragraphs",
        "partner_countries",
    ],
    "paragraphs": ["doc_id", "paragraph_index", "text", "char_start", "char_end", "n_words"],
    "paragraph_themes": [
        "doc_id",
        "paragraph_index",
        "theme",
        "score",
        "assigned",
        "evidence",
        "taxonomy_version",
    ],
    "theme_evidence": [
        "doc_id",
        "paragraph_index",
        "theme",
        "phrase",
        "char_start",
        "char_end",
        "weight",
        "rule",
    ],
    "mentions": [
        "doc_id",
        "paragraph_index",
        "kind",
        "entity_id",
        "surface",
        "char_start",
        "char_end",
    ],
    "document_partners": [
        "doc_id",
        "country_code",
        "country_name",
        "mentions",
        "paragraphs",
        "in_title",
    ],
}


def query(sql: str) -> list[tuple]:
    return duckdb.connect().execute(sql).fetchall()


def content(out_dir) -> dict[str, pl.DataFrame]:
    """Every document table minus run bookkeeping, in a canonical order."""
    return {
        table: read_table(out_dir, table).select(columns).sort(columns)
        for table, columns in CONTENT_COLUMNS.items()
    }


def assert_same_content(left, right):
    for table in CONTENT_COLUMNS:
        assert left[table].equals(right[table]), f"{table} differs"


def test_devset_run_writes_every_table_and_duckdb_reads_them(devset_raw, tmp_path):
    out = tmp_path / "out"
    (devset_raw / "notes.pdf").write_bytes(b"%PDF-1.4")
    summary = asyncio.run(process_statements(raw_dir=devset_raw, out_dir=out))

    for table in TABLES:
        pattern = f"{out}/{table}/**/*.parquet"
        assert query(f"select count(*) from read_parquet('{pattern}', hive_partitioning=true)")
    (documents,) = query(f"select count(*) from read_parquet('{out}/documents/**/*.parquet')")[0]
    assert documents == 31
    assert summary["files_seen"] == 32
    assert summary["files_rejected"] == 1
    assert query(f"select reason from read_parquet('{out}/rejects/**/*.parquet')") == [
        ("unsupported_format",)
    ]
    mismatched = query(f"""
        select d.source_path from read_parquet('{out}/documents/**/*.parquet') d
        left join (select doc_id, count(*) n from read_parquet('{out}/paragraphs/**/*.parquet')
                   group by doc_id) p using (doc_id)
        where coalesce(p.n, 0) <> d.n_paragraphs""")
    assert mismatched == []
    (theme_rows, paragraphs) = query(f"""
        select (select count(*) from read_parquet('{out}/paragraph_themes/**/*.parquet')),
               (select count(*) from read_parquet('{out}/paragraphs/**/*.parquet'))""")[0]
    assert theme_rows == 4 * paragraphs
    runs = read_table(out, "runs")
    assert runs["status"].to_list() == ["completed"]
    assert runs["files_seen"][0] == runs["documents_written"][0] + runs["files_rejected"][0]


def test_reference_statement_gets_the_seed_gold_labels(devset, tmp_path):
    out = tmp_path / "out"
    asyncio.run(process_statements(raw_dir=PROJECT_ROOT / "data" / "raw", out_dir=out))
    gold = [json.loads(line) for line in (devset / "seed-gold.jsonl").read_text().splitlines()]
    themes = (
        read_table(out, "paragraph_themes")
        .filter("assigned")
        .group_by("paragraph_index")
        .agg(pl.col("theme"))
    )
    got = {row["paragraph_index"]: sorted(row["theme"]) for row in themes.to_dicts()}
    paragraphs = read_table(out, "paragraphs").sort("paragraph_index")
    assert paragraphs["text"].to_list() == [g["text"] for g in gold]
    for g in gold:
        assert got.get(g["paragraph"], []) == sorted(g["themes"]), f"paragraph {g['paragraph']}"


def test_incremental_runs_equal_a_full_rebuild_after_add_edit_delete(devset_raw, tmp_path):
    out, rebuilt = tmp_path / "out", tmp_path / "rebuilt"
    asyncio.run(process_statements(raw_dir=devset_raw, out_dir=out))

    second = asyncio.run(process_statements(raw_dir=devset_raw, out_dir=out))
    assert (second["documents_written"], second["documents_unchanged"]) == (0, 31)

    edited = devset_raw / "syria-drawdown-2019.txt"
    edited.write_text(edited.read_text() + "\nISIS detainees in al-Hol will be repatriated.\n")
    (devset_raw / "hcc-2015-washington.txt").unlink()
    (devset_raw / "sub").mkdir()
    shutil.copy(devset_raw / "jscd-2024.txt", devset_raw / "sub" / "copy.txt")
    third = asyncio.run(process_statements(raw_dir=devset_raw, out_dir=out))
    assert third["documents_written"] == 2  # the edit and the new file
    assert third["documents_deleted"] == 1
    assert third["documents_unchanged"] == 29
    assert third["files_seen"] == (
        third["documents_written"] + third["documents_unchanged"] + third["files_rejected"]
    )

    asyncio.run(process_statements(raw_dir=devset_raw, out_dir=rebuilt, full_refresh=True))
    assert_same_content(content(out), content(rebuilt))
    texts = read_table(out, "paragraphs")["text"]
    assert texts.str.contains("will be repatriated").sum() == 1


def test_a_changed_lexicon_reclassifies_kept_paragraphs(devset_raw, tmp_path):
    out = tmp_path / "out"
    asyncio.run(process_statements(raw_dir=devset_raw, out_dir=out))
    lexicon = tmp_path / "themes.toml"
    lexicon.write_text((PROJECT_ROOT / "config" / "themes.toml").read_text() + "\n# edited\n")
    summary = asyncio.run(process_statements(raw_dir=devset_raw, out_dir=out, taxonomy=lexicon))
    assert summary["documents_written"] == 0
    versions = read_table(out, "paragraph_themes")["taxonomy_version"].unique().to_list()
    assert versions == [summary["taxonomy_version"]]


def test_a_failed_run_keeps_the_previous_tables_and_is_recorded(devset_raw, tmp_path):
    out = tmp_path / "out"
    asyncio.run(process_statements(raw_dir=devset_raw, out_dir=out))
    before = content(out)
    broken = tmp_path / "broken.toml"
    broken.write_text("this is not = = toml")
    with pytest.raises(Exception, match="broken.toml"):
        asyncio.run(process_statements(raw_dir=devset_raw, out_dir=out, taxonomy=broken))
    assert_same_content(before, content(out))
    runs = read_table(out, "runs").sort("started_at")
    assert runs["status"].to_list() == ["completed", "failed"]
    assert "broken.toml" in runs["error"][1]
