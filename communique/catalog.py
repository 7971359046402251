"""The DuckDB catalog `out_dir/communique.duckdb`: one view per table, no data of its own.

Each view reads its table's stable link, ``read_parquet('documents/*.parquet')``, so it
always shows the published snapshot, and the path is relative so the folder can be moved
or copied to another machine. DuckDB resolves a relative path against the directories in
its ``file_search_path`` setting and else against the process's working directory (not
against the catalog file), so a reader either starts in ``out_dir`` or sets
``file_search_path`` to it; ``connect`` does the latter. docs/bi.md shows both.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from schemas import TABLES
from schemas.dictionary import table_entries

CATALOG = "communique.duckdb"
# A file format that DuckDB 1.0 and later can open: the DuckDB drivers of Superset and
# Metabase and many installed CLIs lag behind, and a file in 2.0's default format is
# refused by every 1.x reader.
STORAGE_VERSION = "v1.0.0"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def catalog_statements() -> list[str]:
    """CREATE VIEW and COMMENT statements for every table, described by the dictionary."""
    statements = []
    for table in TABLES:
        entry = table_entries(table)
        statements += [
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{table}/*.parquet')",
            f"COMMENT ON VIEW {table} IS {_quote(entry['description'])}",
        ]
        statements += [
            f"COMMENT ON COLUMN {table}.{col['column']} IS {_quote(col['description'])}"
            for col in entry["columns"]
        ]
    return statements


def build_catalog(out_dir: Path) -> Path:
    """(Re)write the catalog; readers see the old file or the new one, never a half one.

    The caller holds the out_dir lock, so one fixed temporary name is enough.
    """
    target = out_dir / CATALOG
    temporary = out_dir / f".{CATALOG}.tmp"
    for leftover in (temporary, temporary.with_name(temporary.name + ".wal")):
        leftover.unlink(missing_ok=True)
    # Creating a view binds its query, so the build resolves the relative paths too.
    with duckdb.connect(config={"file_search_path": str(out_dir)}) as con:
        con.execute(
            f"ATTACH {_quote(str(temporary))} AS catalog (STORAGE_VERSION '{STORAGE_VERSION}')"
        )
        con.execute("USE catalog")
        for statement in catalog_statements():
            con.execute(statement)
    # Closing the connection checkpointed the file: no .wal is left beside it.
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, target)
    return target


def connect(out_dir: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the catalog that works from any working directory."""
    return duckdb.connect(
        str(out_dir / CATALOG), read_only=True, config={"file_search_path": str(out_dir)}
    )
