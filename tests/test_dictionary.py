import json

import pyarrow.parquet as pq

from communique.settings import PROJECT_ROOT
from communique.store import current_snapshot, table_files
from schemas import TABLES
from schemas.dictionary import parquet_metadata, render_markdown, table_entries
from tests.bi_tables import publish_snapshot

DICTIONARY = PROJECT_ROOT / "docs" / "data-dictionary.md"


def test_the_data_dictionary_is_up_to_date():
    assert DICTIONARY.read_text() == render_markdown(), (
        "docs/data-dictionary.md is stale: run `communique dictionary` and commit it"
    )


def test_every_column_of_every_table_is_described():
    for table in TABLES:
        entry = table_entries(table)
        assert entry["description"], table
        for column in entry["columns"]:
            assert column["description"], f"{table}.{column['column']} has no description"


def test_every_parquet_file_carries_its_tables_dictionary_in_the_footer(tmp_path):
    publish_snapshot(tmp_path)
    for table in TABLES:
        for path in table_files(current_snapshot(tmp_path), table):
            footer = pq.read_metadata(path).metadata[b"communique.dictionary"].decode()
            assert footer == parquet_metadata(table)["communique.dictionary"]
            entry = json.loads(footer)
            assert entry["table"] == table
            file_columns = pq.read_schema(path).names
            assert [c["column"] for c in entry["columns"]] == file_columns
