"""The DuckDB catalog `out_dir/communique.duckdb`: one view per table, no data of its own.

Each view reads its table's stable link, ``read_parquet('documents/*.parquet')``, so it
always shows the published snapshot, and the path is relative so the folder can be moved
or copied to another machine. DuckDB resolves a relative path against the directories in
its ``file_search_path`` setting and else against the process's working directory (not
against the catalog file), so a reader either starts in ``out_dir`` or sets
``file_search_path`` to it; ``connect`` does the latter. docs/bi.md shows both.

The views show new rows without a rebuild, so a run rebuilds the catalog only when what
it is made of changed (see ``catalog_fingerprint``); an unchanged rerun leaves it alone.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from communique.store import fsync_dir
from schemas import TABLES
from schemas.dictionary import table_entries

if TYPE_CHECKING:  # importing duckdb costs ~0.1 s: only runs that rebuild the catalog pay it
    import duckdb

CATALOG = "communique.duckdb"
# The fingerprint of the catalog file beside it. Written only after the catalog is in
# place, so a fingerprint on disk always describes the catalog on disk.
FINGERPRINT = ".catalog-fingerprint"
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


def catalog_fingerprint(out_dir: Path) -> str:
    """What the catalog file is made of: its statements and file format, the DuckDB that
    writes it, and the Parquet schema each view was bound to (a view keeps the column
    types it was created with, and DuckDB refuses to read it once they differ)."""
    digest = hashlib.sha256(STORAGE_VERSION.encode())
    for module in ("duckdb", "_duckdb"):  # the installed engine, without importing it
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin:
            st = os.stat(spec.origin)
            digest.update(f"{spec.origin} {st.st_size} {st.st_mtime_ns}\n".encode())
    for statement in catalog_statements():
        digest.update(f"{statement}\n".encode())
    for table in TABLES:
        # a view's columns are those of the first file of its glob, in sorted order
        first = min((out_dir / table).glob("*.parquet"), default=None)
        schema = pl.read_parquet_schema(first) if first else None
        digest.update(f"{table} {schema}\n".encode())
    return digest.hexdigest()


def build_catalog(out_dir: Path) -> Path:
    """(Re)write the catalog unless it is up to date; readers see the old file or the new
    one, never a half one.

    The caller holds the out_dir lock, so one fixed temporary name is enough.
    """
    target = out_dir / CATALOG
    fingerprint_file = out_dir / FINGERPRINT
    fingerprint = catalog_fingerprint(out_dir)
    if target.is_file() and _read_text(fingerprint_file) == fingerprint:
        return target
    fingerprint_file.unlink(missing_ok=True)
    _write_catalog(out_dir, target)
    _replace_text(fingerprint_file, fingerprint)
    return target


def _write_catalog(out_dir: Path, target: Path) -> None:
    import duckdb

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
    # The new catalog's name is on disk before a fingerprint can claim it is there.
    fsync_dir(out_dir)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _replace_text(path: Path, text: str) -> None:
    temporary = path.with_name(f"{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def connect(out_dir: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the catalog that works from any working directory."""
    import duckdb

    return duckdb.connect(
        str(out_dir / CATALOG), read_only=True, config={"file_search_path": str(out_dir)}
    )
