"""Discover candidate statements under a raw folder.

`discover` walks the folder with `os.scandir` (one syscall batch per directory, no
per-file `open`) and sorts every entry it meets into exactly one of two frames:

* ``files``: documents to read, one row per supported file;
* ``rejects``: everything else, with a machine reason and a human sentence.

Symlinks are resolved before they are followed: a link whose target lies outside
``raw_dir`` is never followed, and a directory link that leads back into a folder
already on the current path (a loop) is reported instead of walked again.
Hidden entries (any path component starting with ``.``) are rejected as a whole:
a hidden folder is one reject row, it is not descended into.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import polars as pl

FORMATS = {".txt": "txt", ".md": "md", ".html": "html", ".htm": "html"}

FILES_SCHEMA = pl.Schema(
    {
        "doc_id": pl.String,
        "source_path": pl.String,
        "path": pl.String,
        "format": pl.String,
        "size_bytes": pl.Int64,
        "mtime_ns": pl.Int64,
    }
)
REJECTS_SCHEMA = pl.Schema({"source_path": pl.String, "reason": pl.String, "detail": pl.String})


def doc_id_for(source_path: str) -> str:
    """Stable id: first 16 hex chars of sha256 of the relative path (utf-8)."""
    return hashlib.sha256(source_path.encode("utf-8")).hexdigest()[:16]


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def discover(raw_dir: Path, *, max_bytes: int = 50_000_000) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Walk ``raw_dir`` recursively and return ``(files, rejects)`` sorted by source_path.

    Reject reasons: ``hidden_file``, ``symlink_outside_raw_dir``, ``symlink_loop``,
    ``unreadable``, ``not_a_regular_file``, ``unsupported_format``, ``too_large``,
    ``undecodable_name``.
    Sizes come from ``stat``; no file is opened here.
    """
    root = os.path.realpath(os.fspath(raw_dir))
    files: list[tuple[str, str, str, int, int]] = []
    # Full chunks of `files` as frames: a million Python tuples of paths would cost
    # ~700 MB at their peak, the same rows in a frame ~200 MB.
    chunks: list[pl.DataFrame] = []
    rejects: list[tuple[str, str, str]] = []

    def reject(rel: str, reason: str, detail: str) -> None:
        rejects.append((rel, reason, detail))

    try:
        root_stat = os.stat(root)
    except OSError as exc:
        reject(".", "unreadable", f"The raw folder cannot be read: {exc.strerror or exc}.")
        return _frames(chunks, files, rejects)

    # Each pending folder carries the (device, inode) pairs of the real folders on its path,
    # so a symlink back to an ancestor is detected without a global visited set (which
    # would make the result depend on walk order when two links share a target).
    stack: list[tuple[str, str, frozenset[tuple[int, int]]]] = [
        (root, "", frozenset({(root_stat.st_dev, root_stat.st_ino)}))
    ]
    while stack:
        dir_path, dir_rel, ancestors = stack.pop()
        try:
            entries = list(os.scandir(dir_path))
        except OSError as exc:
            reject(dir_rel or ".", "unreadable", f"The folder cannot be listed: {exc}.")
            continue
        for entry in entries:
            rel = f"{dir_rel}/{entry.name}" if dir_rel else entry.name
            if not _encodable(rel):
                reject(
                    _printable(rel),
                    "undecodable_name",
                    "The file name is not valid UTF-8 and cannot be stored as text.",
                )
                continue
            if entry.name.startswith("."):
                reject(rel, "hidden_file", "Hidden entries (name starting with '.') are skipped.")
                continue
            try:
                is_link = entry.is_symlink()
                if is_link:
                    target = os.path.realpath(entry.path)
                    if not _inside(target, root):
                        reject(
                            rel,
                            "symlink_outside_raw_dir",
                            "The symbolic link points outside the raw folder and is not followed.",
                        )
                        continue
                st = os.stat(entry.path) if is_link else entry.stat(follow_symlinks=False)
            except OSError as exc:
                reject(rel, "unreadable", f"The entry cannot be examined: {exc.strerror or exc}.")
                continue
            if stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key in ancestors:
                    reject(
                        rel,
                        "symlink_loop",
                        "The symbolic link leads back into one of its own parent folders.",
                    )
                else:
                    stack.append((entry.path, rel, ancestors | {key}))
                continue
            if not stat.S_ISREG(st.st_mode):
                reject(rel, "not_a_regular_file", "Only regular files are read (not pipes etc.).")
                continue
            fmt = FORMATS.get(os.path.splitext(entry.name)[1].lower())
            if fmt is None:
                reject(rel, "unsupported_format", "Only .txt, .md, .html and .htm files are read.")
            elif st.st_size > max_bytes:
                reject(
                    rel,
                    "too_large",
                    f"The file has {st.st_size} bytes, more than the limit of {max_bytes}.",
                )
            else:
                # entry.path is root + "/" + rel: the folders were listed by those paths
                files.append((rel, entry.path, fmt, st.st_size, st.st_mtime_ns))
                if len(files) >= _CHUNK:
                    chunks.append(_files_frame(files))
                    files = []
    return _frames(chunks, files, rejects)


_CHUNK = 20_000


def _files_frame(files: list[tuple[str, str, str, int, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "doc_id": [doc_id_for(r) for r, *_ in files],
            "source_path": [r for r, *_ in files],
            "path": [p for _, p, *_ in files],
            "format": [f for _, _, f, _, _ in files],
            "size_bytes": [s for *_, s, _ in files],
            "mtime_ns": [m for *_, m in files],
        },
        schema=FILES_SCHEMA,
    )


def _frames(
    chunks: list[pl.DataFrame],
    files: list[tuple[str, str, str, int, int]],
    rejects: list[tuple[str, str, str]],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    # Sorting UTF-8 strings bytewise is sorting them by code point, as Python sorts str;
    # source paths are unique, so the order is total.
    files_df = pl.concat([*chunks, _files_frame(files)]).sort("source_path")
    rejects.sort()
    rejects_df = pl.DataFrame(rejects, schema=REJECTS_SCHEMA, orient="row")
    return files_df, rejects_df


def _encodable(name: str) -> bool:
    # POSIX names are bytes; undecodable ones arrive as surrogate escapes polars cannot store.
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(name: str) -> str:
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
