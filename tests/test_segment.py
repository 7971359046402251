import time

import polars as pl
import pytest

from tasks.segment import (
    PARAGRAPHS_SCHEMA,
    WS,
    WS_CHARS,
    normalise,
    segment,
    strip_block_markup,
)


def docs_of(*items: tuple[str, str]) -> pl.DataFrame:
    """A minimal extracted-docs frame: (format, text) per document."""
    return pl.DataFrame(
        {
            "doc_id": [f"d{i}" for i in range(len(items))],
            "format": [fmt for fmt, _ in items],
            "text": [text for _, text in items],
        }
    )


def paragraphs_of(fmt: str, text: str) -> list[str]:
    _, paragraphs = segment(docs_of((fmt, text)))
    return paragraphs["text"].to_list()


def assert_invariants(docs: pl.DataFrame, paragraphs: pl.DataFrame) -> None:
    """The documented invariant, checked row by row in plain Python."""
    assert paragraphs.schema == PARAGRAPHS_SCHEMA
    by_id = {d["doc_id"]: d for d in docs.iter_rows(named=True)}
    counts: dict[str, int] = {}
    last_end: dict[str, int] = {}
    for p in paragraphs.iter_rows(named=True):
        doc = by_id[p["doc_id"]]
        counts[p["doc_id"]] = counts.get(p["doc_id"], 0) + 1
        assert p["paragraph_index"] == counts[p["doc_id"]]
        assert p["text"] != "" and p["text"] == normalise(p["text"])
        assert 0 <= p["char_start"] < p["char_end"] <= len(doc["text"])
        assert p["char_start"] >= last_end.get(p["doc_id"], 0)
        last_end[p["doc_id"]] = p["char_end"]
        block = doc["text"][p["char_start"] : p["char_end"]]
        assert normalise(strip_block_markup(block, doc["format"])) == p["text"]
        assert p["n_words"] == len(p["text"].split(" "))
    if "n_paragraphs" in docs.columns:
        for doc in docs.iter_rows(named=True):
            assert doc["n_paragraphs"] == counts.get(doc["doc_id"], 0)


def test_line_per_paragraph_txt():
    text = "First paragraph here.\nSecond paragraph here.\n  Third one.  \n"
    assert paragraphs_of("txt", text) == [
        "First paragraph here.",
        "Second paragraph here.",
        "Third one.",
    ]


def test_blank_line_blocks_join_hard_wrapped_lines():
    text = "One line of a\nwrapped paragraph.\n\n\n  Next\tparagraph,\nalso wrapped.\n"
    assert paragraphs_of("txt", text) == [
        "One line of a wrapped paragraph.",
        "Next paragraph, also wrapped.",
    ]


def test_txt_title_dateline_headings_end_marks_and_contacts_are_not_content():
    text = (
        "Joint Statement on Something Important\n\nWASHINGTON, March 22, 2017\n\n"
        "WASHINGTON, March 22, 2017 — Ministers met today.\n\nPolitical Cooperation\n\n"
        "They agreed\u00a0to meet again.\n\n###\n\n-30-\n\n"
        "Media contact: Press Office\n\nFor more information, visit the website.\n"
    )
    assert paragraphs_of("txt", text) == [
        "WASHINGTON, March 22, 2017 — Ministers met today.",
        "They agreed to meet again.",
    ]


def test_line_per_paragraph_headline_is_not_content():
    text = "Iraq – F-16 Support Package\nThe sale was approved.\nIt costs money.\n###"
    assert paragraphs_of("txt", text) == ["The sale was approved.", "It costs money."]


def test_first_sentence_is_not_mistaken_for_a_headline():
    assert paragraphs_of("txt", "The sale was approved.\nIt costs money.") == [
        "The sale was approved.",
        "It costs money.",
    ]


def test_a_single_block_document_is_content_even_without_a_period():
    assert paragraphs_of("txt", "Just one line without a period") == [
        "Just one line without a period"
    ]


def test_md_title_headings_and_lists():
    text = (
        "# The Title\n\nJuly 12, 2016\n\nIntro paragraph.\n\n## A subheading\n"
        "Text right after a heading.\n\n- first item;\n- second item,\n  wrapped.\n\n"
        "* star item\n* another\n\n1. one\n2. two\n10. ten\n\n### \n"
    )
    assert paragraphs_of("md", text) == [
        "Intro paragraph.",
        "Text right after a heading.",
        "first item; second item, wrapped.",
        "star item another",
        "one two ten",
    ]


def test_md_number_inside_wrapped_text_is_not_a_list_marker():
    text = "The war ended in\n1991. Talks went on.\n\n2019. A block opening with a year."
    assert paragraphs_of("md", text) == [
        "The war ended in 1991. Talks went on.",
        "A block opening with a year.",
    ]


def test_html_rendering_markers_and_escapes():
    text = (
        "# Title\n\n<!-- dateline --> March 7, 2023\n\n\\- not a list item\n\n"
        "\\# not a heading\n\n- a\n- b\n\n<!-- contact --> Press office"
    )
    assert paragraphs_of("html", text) == ["- not a list item", "# not a heading", "a b"]


def test_offsets_and_invariants_over_mixed_batch():
    docs = docs_of(
        ("txt", "Title Line\n\nA para\nwrapped.\n\n  Indented\u00a0para. \n"),
        ("md", "# T\n\n- x\n-   y\n\n\\# z"),
        ("txt", ""),
        ("html", "# Only a title"),
        ("txt", "\n\n\nLine one.\nLine two.\n\n"),
    )
    out_docs, paragraphs = segment(docs)
    assert out_docs["n_paragraphs"].to_list() == [2, 2, 0, 0, 2]
    assert out_docs["n_paragraphs"].dtype == pl.Int32
    assert_invariants(out_docs, paragraphs)
    first = paragraphs.row(0, named=True)
    assert docs["text"][0][first["char_start"] : first["char_end"]] == "A para\nwrapped."


def test_docs_keep_their_columns_and_empty_input_keeps_schema():
    docs = docs_of(("txt", "Hello there."))
    out_docs, _ = segment(docs)
    assert out_docs.columns == [*docs.columns, "n_paragraphs"]
    out_docs, paragraphs = segment(docs.head(0))
    assert out_docs.is_empty() and paragraphs.is_empty()
    assert paragraphs.schema == PARAGRAPHS_SCHEMA


def test_whitespace_normalisation_matches_python_re():
    # \x1c-\x1f count as whitespace for Python's re but not for Rust's regex.
    text = "a\u00a0b\u2003c\x1cd\x1fe\u3000f."
    assert paragraphs_of("txt", text) == [normalise(text)]


def test_ws_chars_are_exactly_the_characters_ws_matches():
    # Lines are trimmed with strip_chars(WS_CHARS) in place of the WS regex.
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    matched = pl.Series(chars).filter(pl.Series(chars).str.contains(f"^{WS}$")).to_list()
    assert sorted(matched) == sorted(WS_CHARS)
    assert len(set(WS_CHARS)) == len(WS_CHARS)


def test_unicode_whitespace_at_line_ends_is_trimmed_with_offsets():
    text = "\u3000 Opening line.\n\n\x1c- first item\u2028\n \u00a0* second item\x85\n\nLast one.\t"
    docs = docs_of(("md", text), ("txt", text))
    _, paragraphs = segment(docs)
    assert paragraphs["text"].to_list() == [
        "Opening line.",
        "first item second item",
        "Last one.",
        "Opening line.",
        "- first item * second item",
        "Last one.",
    ]
    assert paragraphs["char_start"].to_list() == [2, 18, 50] * 2
    assert_invariants(docs, paragraphs)


@pytest.mark.parametrize("n_docs", [20_000])
def test_batch_segmentation_is_fast(n_docs):
    para = "Ministers agreed to continue training Iraqi forces and to sustain equipment. " * 3
    text = "A Headline About Cooperation\n\nWASHINGTON, May 1, 2020\n\n" + "\n\n".join([para] * 8)
    docs = docs_of(*[("txt", text)] * n_docs)
    start = time.perf_counter()
    _, paragraphs = segment(docs)
    elapsed = time.perf_counter() - start
    assert paragraphs.height == 8 * n_docs
    megabytes = docs["text"].str.len_bytes().sum() / 1e6
    assert elapsed < 10, f"{elapsed:.2f}s for {megabytes:.0f} MB"
