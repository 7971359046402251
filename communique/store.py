"""The output folder: snapshots of all tables, published atomically.

Layout of ``out_dir``::

    _snapshots/<run_id>/<table>/part-*.parquet   one complete set of tables per run
    _snapshots/<run_id>/_manifest.json           what the snapshot holds (files, row counts)
    current -> _snapshots/<run_id>               the published snapshot (a symlink)
    <table> -> current/<table>                   stable paths for BI tools and DuckDB
    .communique.lock                             held by the run that is writing

A run builds its snapshot under ``_snapshots/<run_id>.partial`` and only then renames it
and swaps ``current`` with one atomic ``rename(2)`` of a symlink. A reader therefore sees
either the previous snapshot or the new one, never a half-written file and never tables
of two different runs; a process killed at any moment leaves ``current`` on the last
complete snapshot, and the next run sweeps the leftovers. Files of document parts that
did not change are hard links to the previous snapshot, so publishing costs little.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from schemas import DOCUMENT_TABLES, TABLES, empty_frame
from schemas.dictionary import parquet_metadata

SNAPSHOTS = "_snapshots"
CURRENT = "current"
MANIFEST = "_manifest.json"
LOCK_FILE = ".communique.lock"
PARTIAL_SUFFIX = ".partial"
KEEP_SNAPSHOTS = 3  # older readers may still hold the previous ones open
# snappy: the codec every BI reader (Power BI, Tableau, Spark, DuckDB) reads
PARQUET_COMPRESSION = "snappy"


class OutDirBusy(RuntimeError):
    """Another run holds the lock on the output folder."""


def current_snapshot(out_dir: Path) -> Path | None:
    link = out_dir / CURRENT
    if not link.is_symlink():
        return None
    target = link.resolve()
    return target if (target / MANIFEST).is_file() else None


def read_manifest(out_dir: Path) -> dict | None:
    snapshot = current_snapshot(out_dir)
    if snapshot is None:
        return None
    return json.loads((snapshot / MANIFEST).read_text())


def table_files(snapshot: Path | None, table: str) -> list[Path]:
    if snapshot is None or not (snapshot / table).is_dir():
        return []
    return sorted((snapshot / table).glob("*.parquet"))


def read_table(out_dir: Path, table: str, columns: list[str] | None = None) -> pl.DataFrame:
    """The table as currently published (an empty frame with the contract when none)."""
    return _read_files(table_files(current_snapshot(out_dir), table), table, columns)


def _read_files(files: list[Path], table: str, columns: list[str] | None) -> pl.DataFrame:
    if not files:
        frame = empty_frame(table)
        return frame.select(columns) if columns else frame
    return pl.read_parquet(files, columns=columns)


@contextmanager
def exclusive_lock(out_dir: Path, timeout_s: float) -> Iterator[None]:
    """Hold an flock on the output folder; wait up to ``timeout_s`` for another run.

    flock is released by the kernel when the holder dies, so a killed run never leaves a
    stale lock behind.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    handle = open(out_dir / LOCK_FILE, "a+")
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown"
                    raise OutDirBusy(
                        f"another run is writing to {out_dir} ({holder}); waited "
                        f"{timeout_s:g} s. Retry when it has finished."
                    ) from None
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(
            f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}"
        )
        handle.flush()
        yield
    finally:
        handle.close()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SnapshotWriter:
    """Builds the next snapshot of ``out_dir``; nothing is visible until ``publish``."""

    def __init__(self, out_dir: Path, run_id: str):
        self.out_dir = out_dir
        self.run_id = run_id
        self.previous = current_snapshot(out_dir)
        self.final = out_dir / SNAPSHOTS / run_id
        self.staging = out_dir / SNAPSHOTS / f"{run_id}{PARTIAL_SUFFIX}"
        # Staged files that are hard links to the previous snapshot's: their data were
        # flushed when that snapshot was published, so publish need not fsync them again.
        self._linked: set[Path] = set()
        self._sweep_leftovers()
        for table in TABLES:
            (self.staging / table).mkdir(parents=True, exist_ok=True)

    def _sweep_leftovers(self) -> None:
        """Remove what killed runs left: unfinished snapshots and stray temp links."""
        root = self.out_dir / SNAPSHOTS
        root.mkdir(parents=True, exist_ok=True)
        for child in root.iterdir():
            if child.name.endswith(PARTIAL_SUFFIX):
                shutil.rmtree(child, ignore_errors=True)
        for stray in self.out_dir.glob(f".{CURRENT}.*"):
            stray.unlink(missing_ok=True)

    # -- writing -------------------------------------------------------------------
    def write_part(self, table: str, part: str, frame: pl.DataFrame) -> Path:
        path = self.staging / table / f"{part}.parquet"
        self._linked.discard(path)
        frame.write_parquet(path, compression=PARQUET_COMPRESSION, metadata=parquet_metadata(table))
        return path

    def link_part(self, table: str, source: Path) -> None:
        """Carry a previous part over unchanged (a hard link: no copy, no rewrite)."""
        target = self.staging / table / source.name
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
        else:
            self._linked.add(target)

    def previous_parts(self) -> pl.DataFrame:
        """The previous document parts: ``part`` (name) and ``doc_id``, in part and row order."""
        return pl.concat(
            [
                pl.read_parquet(path, columns=["doc_id"]).select(
                    part=pl.lit(path.stem), doc_id="doc_id"
                )
                for path in table_files(self.previous, "documents")
            ]
            or [pl.DataFrame(schema={"part": pl.String, "doc_id": pl.String})]
        )

    def previous_part(self, table: str, part: str) -> Path:
        return self.previous / table / f"{part}.parquet"

    def same_parts_as_previous(self, tables: tuple[str, ...]) -> bool:
        """True when the staged parts of ``tables`` are the previous snapshot's very files
        (same names, same inodes: hard links), so they hold the same rows."""
        if self.previous is None:
            return False

        def files(folder: Path) -> dict[str, tuple[int, int]]:
            return {
                path.name: ((st := path.stat()).st_dev, st.st_ino)
                for path in folder.glob("*.parquet")
            }

        return all(files(self.staging / table) == files(self.previous / table) for table in tables)

    def previous_has_parts(self, tables: tuple[str, ...], part: str) -> bool:
        """True when each of ``tables`` in the previous snapshot is exactly ``part``."""
        return self.previous is not None and all(
            [p.stem for p in table_files(self.previous, table)] == [part] for table in tables
        )

    def previous_table(self, table: str, columns: list[str] | None = None) -> pl.DataFrame:
        return _read_files(table_files(self.previous, table), table, columns)

    # -- publishing ----------------------------------------------------------------
    def _ensure_every_table_has_a_file(self) -> None:
        for table in TABLES:
            if not any((self.staging / table).glob("*.parquet")):
                self.write_part(table, "part-empty", empty_frame(table))

    def manifest(self, extra: dict) -> dict:
        files = {table: sorted((self.staging / table).glob("*.parquet")) for table in TABLES}
        # One query per table over all its parts, all at once: the counts come from the
        # Parquet footers, and a file at a time cost ~1 ms each.
        counts = pl.collect_all([pl.scan_parquet(files[t]).select(pl.len()) for t in TABLES])
        tables = {
            table: {"files": [f"{table}/{f.name}" for f in files[table]], "rows": rows.item()}
            for table, rows in zip(TABLES, counts, strict=True)
        }
        return {"run_id": self.run_id, "tables": tables, **extra}

    def publish(self, extra_manifest: dict) -> Path:
        """Make the staged snapshot the current one, atomically."""
        self._ensure_every_table_has_a_file()
        manifest = self.manifest(extra_manifest)
        with open(self.staging / MANIFEST, "w") as handle:
            handle.write(json.dumps(manifest, indent=2, default=str))
            handle.flush()
            os.fsync(handle.fileno())  # `current` will point at it: it must be on disk
        for table in TABLES:
            for path in (self.staging / table).iterdir():
                if path not in self._linked:
                    with open(path, "rb") as handle:
                        os.fsync(handle.fileno())
            # the folder's entries, hard links included
            fsync_dir(self.staging / table)
        fsync_dir(self.staging)
        os.replace(self.staging, self.final)
        fsync_dir(self.final.parent)  # the rename, before `current` can point at it
        temporary_link = self.out_dir / f".{CURRENT}.{self.run_id}"
        temporary_link.symlink_to(Path(SNAPSHOTS) / self.run_id)
        os.replace(temporary_link, self.out_dir / CURRENT)
        fsync_dir(self.out_dir)
        self._ensure_table_links()
        self._drop_old_snapshots()
        return self.final

    def abandon(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def _ensure_table_links(self) -> None:
        for table in TABLES:
            link = self.out_dir / table
            if not link.is_symlink():
                if link.exists():
                    raise RuntimeError(f"{link} exists and is not the table link; move it away")
                link.symlink_to(Path(CURRENT) / table)

    def _drop_old_snapshots(self) -> None:
        # Oldest first by name (run ids start with their start time), but never the one
        # just published, even when its name sorts first: a snapshot pulled from object
        # storage (communique.remote) may have started before this copy's own runs.
        others = sorted(
            p
            for p in (self.out_dir / SNAPSHOTS).iterdir()
            if p.is_dir() and not p.name.endswith(PARTIAL_SUFFIX) and p != self.final
        )
        for old in others[: max(len(others) - (KEEP_SNAPSHOTS - 1), 0)]:
            shutil.rmtree(old, ignore_errors=True)


def carry_over_all(writer: SnapshotWriter, tables: tuple[str, ...] = DOCUMENT_TABLES) -> None:
    """Link every previous part of ``tables`` into the new snapshot."""
    for table in tables:
        for path in table_files(writer.previous, table):
            if path.stem != "part-empty":
                writer.link_part(table, path)


def scan_table(snapshot: Path, table: str) -> pl.LazyFrame:
    """All of a table's part files (an empty frame with the contract when none)."""
    files = table_files(snapshot, table)
    return pl.scan_parquet(files) if files else empty_frame(table).lazy()


def scan_snapshot(snapshot: Path) -> dict[str, pl.LazyFrame]:
    """Lazy scans of every table of a snapshot folder (published or staged)."""
    return {table: scan_table(snapshot, table) for table in TABLES}


# Every document's rows of every document table are in the part files of one name
# (`<table>/part-<run>-NNNNN.parquet`; carried-over parts keep their older name but are
# linked or rewritten whole), so work per document can read one part's files at a time
# and hold only small results: memory stays that of a batch, whatever the snapshot size.


def scan_parts(snapshot: Path, tables: tuple[str, ...]) -> Iterator[dict[str, pl.LazyFrame]]:
    """The files of ``tables`` part by part (a table without the part's file is empty)."""
    names = sorted({path.stem for table in tables for path in table_files(snapshot, table)})
    for part in names:
        yield {table: _scan_part(snapshot, table, part) for table in tables}


def _scan_part(snapshot: Path, table: str, part: str) -> pl.LazyFrame:
    path = snapshot / table / f"{part}.parquet"
    return pl.scan_parquet(path) if path.is_file() else empty_frame(table).lazy()
