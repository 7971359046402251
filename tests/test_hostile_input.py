"""Hostile raw folders: every file becomes a document or a specific reject, nothing raises."""

import os
import time
from pathlib import Path

import polars as pl

from communique.locations import parse_location
from tasks.decode import read_decode
from tasks.discover import discover
from tasks.extract import extract
from tasks.segment import segment
from tests.test_segment import assert_invariants


def ingest(raw: Path, *, max_bytes: int = 50_000_000, before_read=None):
    files, rejects1 = discover(parse_location(raw), max_bytes=max_bytes)
    if before_read is not None:
        before_read()
    docs, rejects2 = read_decode(files, source=parse_location(raw), max_bytes=max_bytes)
    docs, rejects3 = extract(docs)
    docs, paragraphs = segment(docs)
    rejects = pl.concat([rejects1, rejects2, rejects3])
    assert_invariants(docs, paragraphs)
    return docs, paragraphs, dict(zip(rejects["source_path"], rejects["reason"], strict=True))


def test_hostile_folder(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "empty.txt").write_bytes(b"")
    (raw / "blank.md").write_bytes(b" \n\t\n\r\n")
    (raw / "binary.txt").write_bytes(bytes(range(256)) * 3)
    (raw / "binary_no_nul.txt").write_bytes(bytes(range(1, 256)) * 3)
    (raw / "nul.txt").write_bytes(b"Text with a\x00NUL byte.\n")
    (raw / "damaged.txt").write_bytes("Iraq’s “plan”\n".encode() + b"\xc3\x28 \xff" + b" end.\n")
    (raw / "le.txt").write_bytes("\ufeffUTF-16 LE text.\n".encode("utf-16-le"))
    (raw / "be.txt").write_bytes("\ufeffUTF-16 BE text.\n".encode("utf-16-be"))
    (raw / "big.txt").write_bytes(b"x" * 2_000)
    (raw / "script_only.html").write_text("<script>var p='<p>x</p>'</script><style>p{}</style>")
    (raw / "vanishing.txt").write_text("Soon gone.")
    (raw / "a dir.txt").mkdir()
    (raw / "a dir.txt" / "inside.md").write_text("Inside a folder named like a file.")
    (raw / "with space.txt").write_text("Spaces are fine.")
    (raw / "ünïcødé – name.md").write_text("Unicode is fine.")
    (raw / ".hidden.txt").write_text("Hidden.")
    (raw / "real.txt").write_text("Real target.")
    os.symlink(raw / "real.txt", raw / "link_inside.txt")
    (tmp_path / "outside.txt").write_text("Outside.")
    os.symlink(tmp_path / "outside.txt", raw / "link_outside.txt")
    os.symlink(raw, raw / "loop")

    docs, paragraphs, rejects = ingest(
        raw, max_bytes=1_000, before_read=lambda: (raw / "vanishing.txt").unlink()
    )
    assert rejects == {
        ".hidden.txt": "hidden_file",
        "big.txt": "too_large",
        "binary.txt": "binary_content",
        "binary_no_nul.txt": "binary_content",
        "blank.md": "empty_file",
        "empty.txt": "empty_file",
        "link_outside.txt": "symlink_outside_raw_dir",
        "loop": "symlink_loop",
        "nul.txt": "binary_content",
        "script_only.html": "no_text",
        "vanishing.txt": "unreadable",
    }
    texts = dict(zip(docs["source_path"], docs["text"], strict=True))
    assert texts["le.txt"] == "UTF-16 LE text.\n" and texts["be.txt"] == "UTF-16 BE text.\n"
    assert texts["link_inside.txt"] == texts["real.txt"] == "Real target."
    assert texts["a dir.txt/inside.md"] == "Inside a folder named like a file."
    assert texts["with space.txt"] == "Spaces are fine."
    assert texts["ünïcødé – name.md"] == "Unicode is fine."
    assert texts["damaged.txt"].startswith("Iraq’s “plan”\n\ufffd(")
    encodings = dict(zip(docs["source_path"], docs["encoding"], strict=True))
    assert encodings["damaged.txt"] == "utf-8+replace" and encodings["le.txt"] == "utf-16"


def test_ten_megabyte_single_line_document_is_fast(tmp_path):
    (tmp_path / "long.txt").write_bytes(b"word " * 2_000_000)
    start = time.perf_counter()
    docs, paragraphs, rejects = ingest(tmp_path)
    elapsed = time.perf_counter() - start
    assert rejects == {}
    assert paragraphs.height == 1 and paragraphs["n_words"].item() == 2_000_000
    assert elapsed < 5, f"{elapsed:.1f}s"


def test_html_nested_twenty_thousand_levels(tmp_path):
    depth = 20_000
    page = "<html><body>" + "<div>" * depth + "<p>Deep &amp; down.</p>" + "</div>" * depth
    (tmp_path / "deep.html").write_text(page + "</body></html>")
    (tmp_path / "unclosed.html").write_text("<body>" + "<span><b>" * depth + "Unclosed text.")
    start = time.perf_counter()
    docs, paragraphs, rejects = ingest(tmp_path)
    assert time.perf_counter() - start < 20
    assert rejects == {}
    assert paragraphs["text"].to_list() == ["Deep & down.", "Unclosed text."]
