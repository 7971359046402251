"""An output folder on object storage (``s3://…``, ``gs://…``, ``abfs://…``).

Object stores have no flock, links or atomic renames, so a run builds and publishes its
snapshot in a local working copy of the output folder with communique.store, as for a
local folder, and ``push`` then mirrors the published snapshot to the URL, manifest last::

    <url>/_snapshots/<run_id>/<table>/part-*.parquet
    <url>/_snapshots/<run_id>/_manifest.json   the local snapshot's manifest, as is
    <url>/_current.json                        written last: the published run and files

``_current.json`` is one object written by one PUT, which an object store shows whole or
not at all. A reader reads it, then only the files it lists, so it sees one complete
snapshot: never a half-uploaded one, never tables of two runs. A push interrupted
anywhere leaves ``_current.json`` on the last complete snapshot; the next push completes
the job. ``pull`` brings a snapshot published from another machine into the working copy,
so the next run is incremental against it.

Call ``pull`` and ``push`` while holding ``store.exclusive_lock`` on the working copy.
That lock guards one machine only: one writer at a time per URL is the operator's job.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from communique.locations import Location
from communique.store import (
    KEEP_SNAPSHOTS,
    MANIFEST,
    SNAPSHOTS,
    SnapshotWriter,
    current_snapshot,
)
from schemas import empty_frame

CURRENT_JSON = "_current.json"
STATE_DIR_ENV = "COMMUNIQUE_STATE_DIR"
# In the working copy: the run id the URL published when this copy last pushed or pulled.
SYNCED_RUN = ".synced-run"


def working_copy(out: Location) -> Path:
    """The local folder that holds the working copy of the remote output folder ``out``.

    Below ``$COMMUNIQUE_STATE_DIR``, else ``$XDG_CACHE_HOME/communique/outputs`` (by default
    ``~/.cache/communique/outputs``); named after the URL, plus a hash of it so that two
    URLs never share a folder.
    """
    if out.is_local:
        raise ValueError(f"{out} is a local folder: it is its own working copy")
    if state_dir := os.environ.get(STATE_DIR_ENV):
        root = Path(state_dir)
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        root = Path(cache) / "communique" / "outputs"
    readable = re.sub(r"[^A-Za-z0-9._]+", "-", out.url).strip("-.")[:80]
    digest = hashlib.sha256(out.url.encode()).hexdigest()[:12]
    return root.absolute() / f"{readable}-{digest}"


def read_current(out: Location) -> dict | None:
    """The remote ``_current.json`` (None before the first push).

    The snapshot's manifest (``run_id``, the versions, …) with ``snapshot``, its folder,
    and per table ``files``: paths relative to the output URL.
    """
    try:
        return json.loads(out.fs.cat_file(out.child(CURRENT_JSON)))
    except FileNotFoundError:
        return None


def read_remote_table(out: Location, table: str, columns: list[str] | None = None) -> pl.DataFrame:
    """The table as currently published at ``out`` (an empty frame with the contract when none)."""
    current = read_current(out)
    paths = [out.child(f) for f in current["tables"][table]["files"]] if current else []
    if not paths:
        frame = empty_frame(table)
        return frame.select(columns) if columns else frame
    contents = out.fs.cat(paths)  # fetched concurrently where the filesystem can
    return pl.concat(
        [pl.read_parquet(io.BytesIO(contents[path]), columns=columns) for path in paths]
    )


def pull(out: Location, local: Path) -> str | None:
    """Publish the remote's current snapshot in ``local`` when ``local`` does not have it.

    That happens on a fresh machine or when another machine pushed last. Nothing happens
    when the remote is empty, or publishes what this copy last pushed or pulled, or a
    snapshot this copy has: then ``local`` is the same or ahead (runs whose push failed)
    and ``push`` sends it. Returns the run id pulled, or None.
    """
    out.fs.invalidate_cache()
    current = read_current(out)
    if current is None:
        return None
    run_id = current["run_id"]
    if run_id == _synced_run(local) or (local / SNAPSHOTS / run_id / MANIFEST).is_file():
        return None
    prefix = current["snapshot"]
    manifest = json.loads(out.fs.cat_file(out.child(f"{prefix}/{MANIFEST}")))
    files = [name for entry in manifest["tables"].values() for name in entry["files"]]
    writer = SnapshotWriter(local, run_id)
    try:
        out.fs.get(
            [out.child(f"{prefix}/{name}") for name in files],
            [str(writer.staging / name) for name in files],
        )
        # publish writes the same manifest again: files and row counts from the parts
        writer.publish({k: v for k, v in manifest.items() if k not in ("run_id", "tables")})
    except BaseException:
        writer.abandon()
        raise
    _record_synced_run(local, run_id)
    return run_id


@dataclass(frozen=True)
class Pushed:
    """What a push did: files are relative to the snapshot folder."""

    run_id: str
    uploaded: tuple[str, ...] = ()
    copied: tuple[str, ...] = ()  # server-side, from the remote's previous snapshot
    deleted: tuple[str, ...] = ()  # run ids of old remote snapshots


def push(local: Path, out: Location) -> Pushed | None:
    """Mirror the current snapshot of ``local`` to ``out``, ``_current.json`` last.

    A part that the remote's current snapshot holds under the same name is copied
    server-side when it is the very same local file (a hard link, so the same rows) and
    the remote object has its size; other parts are uploaded, except those an
    interrupted push of this snapshot already uploaded. Then remote snapshots beyond
    ``KEEP_SNAPSHOTS`` are deleted, never the new one nor the one it replaced. Returns
    None when ``local`` has no snapshot.
    """
    snapshot = current_snapshot(local)
    if snapshot is None:
        return None
    manifest = json.loads((snapshot / MANIFEST).read_text())
    run_id = manifest["run_id"]
    out.fs.invalidate_cache()
    remote = read_current(out)
    if remote is not None and remote["run_id"] == run_id:
        _record_synced_run(local, run_id)
        return Pushed(run_id)
    prefix = f"{SNAPSHOTS}/{run_id}"
    already_there = _object_sizes(out, prefix)
    previous_id = remote["run_id"] if remote else None
    previous = _object_sizes(out, remote["snapshot"]) if remote else {}
    uploads, copies = [], []
    for name in (name for entry in manifest["tables"].values() for name in entry["files"]):
        size = (snapshot / name).stat().st_size
        if already_there.get(name) == size:
            continue
        if previous.get(name) == size and _same_file(
            snapshot / name, local / SNAPSHOTS / previous_id / name
        ):
            copies.append(name)
        else:
            uploads.append(name)
    if copies:
        out.fs.copy(
            [out.child(f"{remote['snapshot']}/{name}") for name in copies],
            [out.child(f"{prefix}/{name}") for name in copies],
        )
    if uploads:
        out.fs.put(
            [str(snapshot / name) for name in uploads],
            [out.child(f"{prefix}/{name}") for name in uploads],
        )
    out.fs.pipe_file(out.child(f"{prefix}/{MANIFEST}"), (snapshot / MANIFEST).read_bytes())
    out.fs.pipe_file(out.child(CURRENT_JSON), _current_document(manifest, prefix))
    _record_synced_run(local, run_id)
    deleted = _drop_old_snapshots(out, keep={run_id, previous_id})
    return Pushed(run_id, tuple(uploads), tuple(copies), tuple(deleted))


def _synced_run(local: Path) -> str | None:
    try:
        return (local / SYNCED_RUN).read_text()
    except FileNotFoundError:
        return None


def _record_synced_run(local: Path, run_id: str) -> None:
    temporary = local / f"{SYNCED_RUN}.{os.getpid()}"
    temporary.write_text(run_id)
    os.replace(temporary, local / SYNCED_RUN)


def _current_document(manifest: dict, prefix: str) -> bytes:
    tables = {
        table: {**entry, "files": [f"{prefix}/{name}" for name in entry["files"]]}
        for table, entry in manifest["tables"].items()
    }
    return json.dumps({**manifest, "snapshot": prefix, "tables": tables}, indent=2).encode()


def _object_sizes(out: Location, prefix: str) -> dict[str, int]:
    """Size of every object below ``prefix``, by its path relative to ``prefix``."""
    root = out.child(prefix)
    found = out.fs.find(root, detail=True)
    return {path[len(root) + 1 :]: info["size"] for path, info in found.items()}


def _same_file(path: Path, other: Path) -> bool:
    try:
        return path.samefile(other)
    except FileNotFoundError:
        return False


def _drop_old_snapshots(out: Location, keep: set[str | None]) -> list[str]:
    root = out.child(SNAPSHOTS)
    out.fs.invalidate_cache()
    names = sorted(path.rstrip("/").rsplit("/", 1)[-1] for path in out.fs.ls(root, detail=False))
    old = [name for name in names[:-KEEP_SNAPSHOTS] if name not in keep]
    if old:
        out.fs.rm([f"{root}/{name}" for name in old], recursive=True)
    return old
