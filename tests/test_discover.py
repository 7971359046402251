import hashlib
import os
import time
from pathlib import Path

import polars as pl

from communique.locations import parse_location
from tasks.discover import FILES_SCHEMA, REJECTS_SCHEMA, discover


def write(path: Path, data: bytes = b"Some text.\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def reasons(rejects: pl.DataFrame) -> dict[str, str]:
    return dict(zip(rejects["source_path"], rejects["reason"], strict=True))


def test_supported_files_with_ids_formats_and_relative_paths(tmp_path):
    write(tmp_path / "b.txt")
    write(tmp_path / "sub" / "deeper" / "A.MD")
    write(tmp_path / "page.htm")
    write(tmp_path / "page2.HTML")
    files, rejects = discover(parse_location(tmp_path))
    assert rejects.is_empty()
    assert files["source_path"].to_list() == ["b.txt", "page.htm", "page2.HTML", "sub/deeper/A.MD"]
    assert files["format"].to_list() == ["txt", "html", "html", "md"]
    expected_id = hashlib.sha256(b"sub/deeper/A.MD").hexdigest()[:16]
    assert files.filter(pl.col("source_path") == "sub/deeper/A.MD")["doc_id"].item() == expected_id
    row = files.row(0, named=True)
    assert Path(row["path"]).is_absolute()
    assert Path(row["path"]).read_bytes() == b"Some text.\n"
    assert row["size_bytes"] == 11
    assert row["mtime_ns"] == os.stat(tmp_path / "b.txt").st_mtime_ns
    assert files.schema == FILES_SCHEMA


def test_other_extensions_and_oversized_files_are_rejected(tmp_path):
    write(tmp_path / "data.csv")
    write(tmp_path / "noextension")
    write(tmp_path / "big.txt", b"x" * 101)
    write(tmp_path / "ok.txt", b"x" * 100)
    files, rejects = discover(parse_location(tmp_path), max_bytes=100)
    assert files["source_path"].to_list() == ["ok.txt"]
    assert reasons(rejects) == {
        "big.txt": "too_large",
        "data.csv": "unsupported_format",
        "noextension": "unsupported_format",
    }
    assert all(len(d) > 20 for d in rejects["detail"])


def test_hidden_files_and_folders_are_rejected_without_descending(tmp_path):
    write(tmp_path / ".hidden.txt")
    write(tmp_path / ".git" / "a.txt")
    write(tmp_path / "sub" / ".DS_Store")
    files, rejects = discover(parse_location(tmp_path))
    assert files.is_empty()
    assert reasons(rejects) == {
        ".git": "hidden_file",
        ".hidden.txt": "hidden_file",
        "sub/.DS_Store": "hidden_file",
    }


def test_odd_names_are_normal_documents(tmp_path):
    write(tmp_path / "with space.txt")
    write(tmp_path / "Überraschung – déjà vu.md")
    files, _ = discover(parse_location(tmp_path))
    assert files["source_path"].to_list() == ["with space.txt", "Überraschung – déjà vu.md"]


def test_symlinks_inside_are_followed_outside_are_not(tmp_path):
    raw = tmp_path / "raw"
    outside = write(tmp_path / "outside" / "secret.txt")
    target = write(raw / "real" / "doc.txt")
    os.symlink(target, raw / "alias.txt")
    os.symlink(outside, raw / "escape.txt")
    os.symlink(outside.parent, raw / "escape_dir")
    os.symlink(raw / "missing.txt", raw / "dangling.txt")
    files, rejects = discover(parse_location(raw))
    assert files["source_path"].to_list() == ["alias.txt", "real/doc.txt"]
    assert reasons(rejects) == {
        "dangling.txt": "unreadable",
        "escape.txt": "symlink_outside_raw_dir",
        "escape_dir": "symlink_outside_raw_dir",
    }


def test_directory_symlink_loop_terminates(tmp_path):
    write(tmp_path / "a" / "doc.txt")
    os.symlink(tmp_path / "a", tmp_path / "a" / "loop")
    os.symlink(tmp_path, tmp_path / "a" / "to_root")
    files, rejects = discover(parse_location(tmp_path))
    assert files["source_path"].to_list() == ["a/doc.txt"]
    assert reasons(rejects) == {"a/loop": "symlink_loop", "a/to_root": "symlink_loop"}


def test_fifo_is_not_read(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    files, rejects = discover(parse_location(tmp_path))
    assert files.is_empty()
    assert reasons(rejects) == {"pipe.txt": "not_a_regular_file"}


def test_empty_and_missing_folders_keep_the_schema(tmp_path):
    files, rejects = discover(parse_location(tmp_path))
    assert files.is_empty() and files.schema == FILES_SCHEMA
    assert rejects.is_empty() and rejects.schema == REJECTS_SCHEMA
    files, rejects = discover(parse_location(tmp_path / "nope"))
    assert files.is_empty() and files.schema == FILES_SCHEMA
    assert rejects["reason"].to_list() == ["unreadable"]


def test_every_entry_lands_in_exactly_one_frame(tmp_path):
    names = ["a.txt", "b.md", "c.pdf", ".d.txt", "e/f.html", "e/g.json"]
    for name in names:
        write(tmp_path / name)
    files, rejects = discover(parse_location(tmp_path))
    seen = files["source_path"].to_list() + rejects["source_path"].to_list()
    assert sorted(seen) == sorted(names)


def test_many_files_are_walked_quickly(tmp_path):
    for d in range(20):
        folder = tmp_path / f"d{d}"
        folder.mkdir()
        for i in range(1000):
            (folder / f"{i}.txt").write_bytes(b"x")
    start = time.perf_counter()
    files, rejects = discover(parse_location(tmp_path))
    elapsed = time.perf_counter() - start
    assert files.height == 20_000 and rejects.is_empty()
    assert elapsed < 2.0, f"discover took {elapsed:.2f}s for 20,000 files"
