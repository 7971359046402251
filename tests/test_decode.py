import hashlib
import itertools
import unicodedata

import polars as pl
import pytest

from communique.locations import parse_location
from tasks import decode
from tasks.decode import (
    DOCS_SCHEMA,
    READ_CHUNK,
    READ_THREADS,
    DecodeRejected,
    decode_bytes,
    read_decode,
)
from tasks.discover import discover

CURLY = "The Government of Iraq’s “commitment” — 2021–2023 café."


def test_plain_utf8():
    assert decode_bytes(CURLY.encode("utf-8")) == (CURLY, "utf-8")


def test_utf8_bom_is_removed():
    assert decode_bytes(b"\xef\xbb\xbf" + CURLY.encode()) == (CURLY, "utf-8-sig")


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom(codec):
    bom = "\ufeff".encode(codec)
    assert decode_bytes(bom + CURLY.encode(codec)) == (CURLY, "utf-16")


def test_cp1252_curly_quotes_and_dashes():
    assert decode_bytes(CURLY.encode("cp1252")) == (CURLY, "cp1252")


def test_crlf_and_lone_cr_become_lf():
    text, _ = decode_bytes(b"one\r\ntwo\rthree\n\r\nfour")
    assert text == "one\ntwo\nthree\n\nfour"


def test_nfc_normalisation():
    decomposed = "Chargé d’Affaires".replace("é", "e\u0301")
    text, _ = decode_bytes(decomposed.encode())
    assert text == "Chargé d’Affaires"
    assert unicodedata.is_normalized("NFC", text)


def test_damaged_utf8_keeps_valid_characters():
    data = "Iraq’s “plan” is ".encode() + b"\xff\xfe" + "here — done.".encode()
    text, encoding = decode_bytes(data)
    assert encoding == "utf-8+replace"
    assert text.startswith("Iraq’s “plan” is ") and text.endswith("here — done.")
    assert "\ufffd" in text


def test_bytes_undefined_in_cp1252_fall_back_to_utf8_replace():
    text, encoding = decode_bytes(b"plain ascii \x81 text")
    assert (text, encoding) == ("plain ascii \ufffd text", "utf-8+replace")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty_file"),
        (b" \n\t\r\n \xc2\xa0 ", "empty_file"),
        (b"text with a \x00 NUL byte", "binary_content"),
        (bytes(range(1, 32)) * 10 + b"abc", "binary_content"),
        ("\ufeff".encode("utf-16-le") + "a\x00b".encode("utf-16-le") * 3, "binary_content"),
    ],
)
def test_rejects(data, reason):
    with pytest.raises(DecodeRejected) as info:
        decode_bytes(data)
    assert info.value.reason == reason
    assert info.value.detail


def test_read_decode_columns_hash_and_text(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbfHello\r\nworld")
    (tmp_path / "b.md").write_bytes(CURLY.encode("cp1252"))
    files, _ = discover(parse_location(tmp_path))
    docs, rejects = read_decode(files, source=parse_location(tmp_path))
    assert rejects.is_empty()
    assert docs.schema == DOCS_SCHEMA
    a = docs.row(0, named=True)
    assert a["raw_text"] == "Hello\nworld"
    assert a["encoding"] == "utf-8-sig"
    assert a["content_sha256"] == hashlib.sha256(b"\xef\xbb\xbfHello\r\nworld").hexdigest()
    assert docs["encoding"].to_list() == ["utf-8-sig", "cp1252"]
    assert docs["raw_text"][1] == CURLY


# Every path of decode: read_decode builds raw_text from the file's own bytes when
# decoding left them as they are, else from the decoded text.
DECODE_PATHS = {
    "utf8.txt": CURLY.encode(),
    "ascii.txt": b"plain ASCII text",
    "sig.txt": b"\xef\xbb\xbf" + CURLY.encode(),
    "sig_crlf.txt": b"\xef\xbb\xbfa\r\nb",
    "crlf.txt": CURLY.encode() + b"\r\nnext\rline",
    "nfd.txt": unicodedata.normalize("NFD", CURLY).encode(),
    "sig_nfd.txt": b"\xef\xbb\xbf" + unicodedata.normalize("NFD", CURLY).encode(),
    "utf16.txt": CURLY.encode("utf-16"),
    "utf32.txt": CURLY.encode("utf-32"),
    "cp1252.txt": CURLY.encode("cp1252"),
    "damaged.txt": CURLY.encode() + b"\xff",
}


def test_read_decode_text_equals_decode_bytes_on_every_path(tmp_path):
    for name, data in DECODE_PATHS.items():
        (tmp_path / name).write_bytes(data)
    files, _ = discover(parse_location(tmp_path))
    docs, rejects = read_decode(files, source=parse_location(tmp_path))
    assert rejects.is_empty()
    for path, text in docs.select("path", "raw_text").iter_rows():
        data = DECODE_PATHS[path.rsplit("/", 1)[-1]]
        assert text == decode_bytes(data)[0]


def test_read_decode_rejects_instead_of_raising(tmp_path):
    (tmp_path / "gone.txt").write_text("soon gone")
    (tmp_path / "dir.txt").mkdir()
    (tmp_path / "big.txt").write_text("x" * 50)
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "ok.txt").write_text("fine")
    files, _ = discover(parse_location(tmp_path))
    (tmp_path / "gone.txt").unlink()
    extra = files.filter(pl.col("source_path") == "ok.txt").with_columns(
        source_path=pl.lit("dir.txt"), path=pl.lit(str(tmp_path / "dir.txt"))
    )
    docs, rejects = read_decode(
        pl.concat([files, extra]), source=parse_location(tmp_path), max_bytes=20
    )
    assert docs["source_path"].to_list() == ["ok.txt"]
    assert dict(zip(rejects["source_path"], rejects["reason"], strict=True)) == {
        "big.txt": "too_large",
        "dir.txt": "unreadable",
        "empty.txt": "empty_file",
        "gone.txt": "unreadable",
    }


@pytest.mark.parametrize("cold", [True, False], ids=["thread-pool", "in-thread"])
def test_read_decode_keeps_file_order_across_read_chunks(tmp_path, monkeypatch, cold):
    # Reads move to the thread pool after a chunk read from the disk: fake a cold cache.
    blocks = itertools.count(step=1_000_000 if cold else 0)
    monkeypatch.setattr(decode, "_disk_blocks_read", lambda: next(blocks))
    # More files than the read-ahead window of the reader threads, some unreadable.
    n = 2 * READ_CHUNK * (2 * READ_THREADS + 3) + 5
    for i in range(n):
        (tmp_path / f"{i:05d}.txt").write_text(f"Statement {i}.\r\n" + "x" * (i % 300))
    files, _ = discover(parse_location(tmp_path))
    gone = {f"{i:05d}.txt" for i in range(0, n, 97)}
    for name in gone:
        (tmp_path / name).unlink()
    docs, rejects = read_decode(files, source=parse_location(tmp_path))
    kept = [f"{i:05d}.txt" for i in range(n) if f"{i:05d}.txt" not in gone]
    assert docs["source_path"].to_list() == kept
    assert docs["raw_text"].to_list() == [
        f"Statement {int(name[:5])}.\n" + "x" * (int(name[:5]) % 300) for name in kept
    ]
    assert sorted(rejects["source_path"]) == sorted(gone)
    assert set(rejects["reason"]) == {"unreadable"}


def test_empty_input_keeps_schema():
    missing = parse_location("/nonexistent-folder")
    files, _ = discover(missing)
    docs, rejects = read_decode(files, source=missing)
    assert docs.is_empty() and docs.schema == DOCS_SCHEMA
    assert rejects.is_empty()
