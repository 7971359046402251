"""Read discovered files and decode them to clean Unicode text.

Decoding policy (`decode_bytes`), first match wins:

1. 0 bytes -> reject ``empty_file``.
2. UTF-32 / UTF-16 byte-order mark -> ``utf-32`` / ``utf-16`` (BOM removed). Checked
   before the NUL test because these encodings are full of NUL bytes.
3. UTF-8 BOM -> ``utf-8-sig`` (BOM removed).
4. Any NUL byte left -> reject ``binary_content`` (text files never contain NUL).
5. Strict UTF-8 -> ``utf-8``.
6. Mostly UTF-8 with some damaged bytes (more valid multi-byte UTF-8 sequences than
   invalid bytes) -> UTF-8 with U+FFFD replacement, ``utf-8+replace``. A legacy
   Windows-1252 file practically never contains valid UTF-8 multi-byte sequences,
   whereas reading a damaged UTF-8 file as cp1252 would turn every accent and curly
   quote into mojibake.
7. Strict Windows-1252 -> ``cp1252`` (the devset's legacy files).
8. Otherwise (bytes undefined in cp1252) -> ``utf-8+replace``.

Any strict decoder that fails on a BOM-marked file falls back to the same codec with
replacement (``utf-16+replace`` etc.). After decoding: CRLF and lone CR become LF,
the text is NFC-normalised, and it is rejected as ``binary_content`` when more than
5% of its characters are C0/DEL control characters (other than tab, LF, VT, FF, CR) or
more than 30% are control or replacement characters, or as
``empty_file`` when only whitespace is left.
"""

from __future__ import annotations

import hashlib
import os
import re
import resource
import unicodedata
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import polars as pl

from tasks.discover import FILES_SCHEMA, REJECTS_SCHEMA

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from communique.locations import Location

DOCS_SCHEMA = pl.Schema(
    {
        **FILES_SCHEMA,
        "content_sha256": pl.String,
        "encoding": pl.String,
        "raw_text": pl.String,
    }
)

# Control characters that never occur in running text (tab, LF, VT, FF, CR are allowed).
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f]")
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F])
# Codecs that map each of those bytes to the same code point and no other byte to one.
_BYTE_IDENTICAL_CONTROLS = ("utf-8", "utf-8-sig", "utf-8+replace", "cp1252")
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_UTF8_BOM = b"\xef\xbb\xbf"
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
    (_UTF8_BOM, "utf-8-sig"),
)
MAX_CONTROL_SHARE = 0.05
# Replacement characters are tolerated in larger numbers: a damaged text is still text.
MAX_UNDECODABLE_SHARE = 0.30


class DecodeRejected(Exception):
    """A file that cannot become a document; ``reason`` is the reject reason code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _decode(data: bytes) -> tuple[str, str]:
    if not data:
        raise DecodeRejected("empty_file", "The file has no bytes.")
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec), codec
            except UnicodeDecodeError:
                return data.decode(codec, errors="replace"), f"{codec}+replace"
    if b"\x00" in data:
        raise DecodeRejected(
            "binary_content", "The file contains NUL bytes and no UTF-16 byte-order mark."
        )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    replaced = data.decode("utf-8", errors="replace")
    n_bad = replaced.count("\ufffd") - data.count("\ufffd".encode())
    if len(_UTF8_MULTIBYTE.findall(data)) > n_bad:
        return replaced, "utf-8+replace"
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return replaced, "utf-8+replace"


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode a file's bytes to ``(text, encoding)`` or raise `DecodeRejected`.

    The text has no BOM, only LF line ends and is NFC-normalised.
    """
    text, encoding, _ = _decode_with_utf8(data)
    return text, encoding


def _decode_with_utf8(data: bytes) -> tuple[str, str, bytes | None]:
    """`decode_bytes` plus the text's UTF-8 bytes when they are (a slice of) ``data``.

    Building a polars column from those bytes spares encoding every non-ASCII text to
    UTF-8 again (~30 ms per 5,000 files); they are None when decoding changed the text.
    """
    text, encoding = _decode(data)
    utf8 = (
        data if encoding == "utf-8" else data[len(_UTF8_BOM) :] if encoding == "utf-8-sig" else None
    )
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        utf8 = None
    if not text.isascii():  # ASCII is already NFC; the check is a fast C loop
        normalized = unicodedata.normalize("NFC", text)
        if normalized != text:  # the same object (no comparison) when already NFC
            text, utf8 = normalized, None
    # Same test as `not text.strip()` (one definition of whitespace) without copying the text.
    if not text or text.isspace():
        raise DecodeRejected("empty_file", "The file holds only whitespace.")
    # No control byte in an 8-bit or UTF-8 file means no control character in its text
    # (bytes.translate is ~10x faster than the regex scan); else count them in the text.
    clean = encoding in _BYTE_IDENTICAL_CONTROLS and len(
        data.translate(None, _CONTROL_BYTES)
    ) == len(data)
    n_control = 0 if clean else len(_CONTROL.findall(text))
    n_bad = n_control + text.count("\ufffd")
    if n_control > MAX_CONTROL_SHARE * len(text) or n_bad > MAX_UNDECODABLE_SHARE * len(text):
        raise DecodeRejected(
            "binary_content",
            f"{n_bad} of {len(text)} characters are control or undecodable characters;"
            " this looks like binary data.",
        )
    return text, encoding, utf8


def _read(path: str, size_hint: int, max_bytes: int) -> bytes:
    """Read at most ``max_bytes + 1`` bytes (one more tells that the file is too large).

    Raw ``os.read`` sized by the discovered size avoids allocating a max_bytes buffer per
    small file; O_NONBLOCK keeps a file swapped for a FIFO since discovery from hanging.
    A read shorter than asked for means the end of a regular file, so a file that still
    has its discovered size takes one read, not a second one that returns nothing.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        parts = []
        remaining = max_bytes + 1
        want = min(size_hint + 1, remaining)
        while remaining > 0:
            chunk = os.read(fd, want)
            if not chunk:
                break
            parts.append(chunk)
            remaining -= len(chunk)
            if len(chunk) < want:
                break
            want = min(1 << 20, remaining)
        return b"".join(parts)
    finally:
        os.close(fd)


# Files in the page cache read in ~10 us each, files that wait for the disk in ~200 us.
# Reads start in the calling thread and move to a thread pool (os.open/os.read release
# the GIL, so reads then overlap) once a chunk of files came from the disk: a cold batch
# of 5,000 files reads about twice as fast, while a warm one avoids the pool's GIL
# hand-offs (+10-25% CPU). The thread's own count of blocks read from storage tells a
# cold chunk from one that was only slow because other threads held the GIL or the CPU.
READ_CHUNK = 32
READ_THREADS = 16
_RUSAGE_THREAD = getattr(resource, "RUSAGE_THREAD", None)  # Linux


def _disk_blocks_read() -> int:
    """512-byte blocks this thread has read from storage (0 where the OS cannot tell)."""
    if _RUSAGE_THREAD is None:
        return 0
    return resource.getrusage(_RUSAGE_THREAD).ru_inblock


def _read_chunk(paths: list[str], sizes: list[int | None], max_bytes: int) -> list[bytes | OSError]:
    out: list[bytes | OSError] = []
    for path, size in zip(paths, sizes, strict=True):
        try:
            out.append(_read(path, size or 0, max_bytes))
        except OSError as exc:
            out.append(exc)
    return out


def _read_ahead(
    paths: list[str], sizes: list[int | None], max_bytes: int
) -> Iterator[bytes | OSError]:
    """`_read_all` by a thread pool, at most 2 * READ_THREADS chunks ahead (bounded memory)."""
    with ThreadPoolExecutor(READ_THREADS, thread_name_prefix="read-decode") as pool:
        pending = deque()
        for start in range(0, len(paths), READ_CHUNK):
            end = start + READ_CHUNK
            pending.append(pool.submit(_read_chunk, paths[start:end], sizes[start:end], max_bytes))
            if len(pending) > 2 * READ_THREADS:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


def _read_all(
    paths: list[str], sizes: list[int | None], max_bytes: int
) -> Iterator[bytes | OSError]:
    """Each file's bytes (or the OSError that reading it raised), in the given order."""
    for start in range(0, len(paths), READ_CHUNK):
        end = start + READ_CHUNK
        blocks_before = _disk_blocks_read()
        chunk = _read_chunk(paths[start:end], sizes[start:end], max_bytes)
        # A block per file on average: a few of the chunk's files came from the disk.
        cold = _disk_blocks_read() - blocks_before >= len(chunk)
        yield from chunk
        if cold:
            yield from _read_ahead(paths[end:], sizes[end:], max_bytes)
            return


# Objects fetched per fsspec call: s3fs, gcsfs and adlfs send a call's requests at once.
# The bytes a call may hold are bounded too (by the listed sizes).
FETCH_FILES = 256
FETCH_BYTES = 64 << 20


def _fetch_all(
    fs: AbstractFileSystem, paths: list[str], sizes: list[int | None], max_bytes: int
) -> Iterator[bytes | Exception]:
    """`_read_all` for a filesystem other than the local one: each object's bytes (or the
    error fetching it gave), in order, at most ``max_bytes + 1`` of each."""
    start = 0
    while start < len(paths):
        end, held = start + 1, sizes[start] or 0
        while end < len(paths) and end - start < FETCH_FILES and held < FETCH_BYTES:
            held += sizes[end] or 0
            end += 1
        # A range request for an empty object fails on S3 (416), so those are read whole.
        starts = [None if size == 0 else 0 for size in sizes[start:end]]
        ends = [None if size == 0 else max_bytes + 1 for size in sizes[start:end]]
        yield from fs.cat_ranges(paths[start:end], starts, ends, on_error="return")
        start = end


def read_decode(
    files: pl.DataFrame, *, source: Location, max_bytes: int = 50_000_000
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read and decode every file of a `discover` frame of the folder ``source``; return
    ``(docs, rejects)``.

    docs = the files columns + content_sha256, encoding, raw_text. A file that vanished
    or cannot be opened since discovery becomes an ``unreadable`` reject; nothing raises.
    """
    keep: list[int] = []
    shas: list[str] = []
    encodings: list[str] = []
    texts: list[bytes] = []  # UTF-8
    rejects: list[tuple[str, str, str]] = []
    paths, sizes = files["path"].to_list(), files["size_bytes"].to_list()
    if source.is_local:
        contents = _read_all(paths, sizes, max_bytes)
    else:
        contents = _fetch_all(source.fs, paths, sizes, max_bytes)
    for i, (source_path, data) in enumerate(
        zip(files["source_path"].to_list(), contents, strict=True)
    ):
        if isinstance(data, Exception):
            reason = getattr(data, "strerror", None) or data
            rejects.append((source_path, "unreadable", f"The file cannot be read: {reason}."))
            continue
        if len(data) > max_bytes:
            rejects.append((source_path, "too_large", f"The file has more than {max_bytes} bytes."))
            continue
        try:
            text, encoding, utf8 = _decode_with_utf8(data)
        except DecodeRejected as exc:
            rejects.append((source_path, exc.reason, exc.detail))
            continue
        keep.append(i)
        shas.append(hashlib.sha256(data).hexdigest())
        encodings.append(encoding)
        texts.append(text.encode() if utf8 is None else utf8)
    docs = files.select(FILES_SCHEMA.names())[keep].with_columns(
        pl.Series("content_sha256", shas, dtype=pl.String),
        pl.Series("encoding", encodings, dtype=pl.String),
        # Valid UTF-8 (each decoded or encoded): the cast only checks that.
        pl.Series("raw_text", texts, dtype=pl.Binary).cast(pl.String),
    )
    return docs.cast(dict(DOCS_SCHEMA)), pl.DataFrame(rejects, schema=REJECTS_SCHEMA, orient="row")
