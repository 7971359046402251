"""Property tests: arbitrary bytes and text never make a stage raise, invariants hold."""

import unicodedata

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.decode import DecodeRejected, decode_bytes
from tasks.extract import extract
from tasks.segment import segment
from tests.test_extract import docs_of
from tests.test_segment import assert_invariants

FUZZ = settings(
    max_examples=int(__import__("os").environ.get("FUZZ_EXAMPLES", 150)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Pieces that exercise the layout rules: markers, datelines, whitespace oddities.
LAYOUT_PIECES = st.sampled_from(
    [
        "\n", "\n\n", " ", "\t", "\u00a0", "\r", "\x1c", "\u2028", "# ", "## ", "###", "-30-",
        "- ", "* ", "+ ", "1. ", "2) ", "\\", "\\#", "<!-- ", "-->", "Media contact: ",
        "For more information, ", "WASHINGTON, March 22, 2017", " — ", "14 January 2021",
        "Title Case Heading", "A sentence.", "word", "U.S.", "“quoted”", "é", "e\u0301",
    ]
)  # fmt: skip
TEXTS = st.lists(st.one_of(LAYOUT_PIECES, st.text(max_size=20)), max_size=40).map("".join)

HTML_PIECES = st.sampled_from(
    [
        "<p>", "</p>", "<p class='dateline'>", "<p class=contact>", "<ul>", "</ul>", "<ol>",
        "<li>", "</li>", "<h1>", "</h1>", "<h2>", "<div>", "</div>", "<br>", "<script>",
        "</script>", "<style>", "</style>", "<nav>", "<aside>", "<head><title>", "</title>",
        "<!--", "-->", "&amp;", "&nbsp;", "&#8217;", "&bogus;", "<", ">", "<table><tr><td>",
        "<time datetime='2020-01-02'>", "<meta name=date content='2019-05-06'>", "<template>",
        "<![CDATA[", "<svg><p>", "\n\n", "- ", "# ", "1. ", "\\",
    ]
)  # fmt: skip
HTML = st.lists(st.one_of(HTML_PIECES, TEXTS), max_size=40).map("".join)


@FUZZ
@given(st.binary(max_size=300))
def test_decode_bytes_returns_clean_text_or_a_reject(data):
    try:
        text, encoding = decode_bytes(data)
    except DecodeRejected as exc:
        assert exc.reason in {"empty_file", "binary_content"}
        return
    assert encoding
    assert text.strip() and "\r" not in text and not text.startswith("\ufeff")
    assert unicodedata.is_normalized("NFC", text)
    text.encode("utf-8")  # no lone surrogates: polars must be able to hold it


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["txt", "md", "html"]), TEXTS), max_size=6))
def test_segment_invariants_on_arbitrary_text(items):
    docs = pl.DataFrame(
        {
            "doc_id": [f"d{i}" for i in range(len(items))],
            "format": [fmt for fmt, _ in items],
            "text": [text for _, text in items],
        },
        schema={"doc_id": pl.String, "format": pl.String, "text": pl.String},
    )
    out_docs, paragraphs = segment(docs)
    assert out_docs.height == docs.height
    assert_invariants(out_docs, paragraphs)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["txt", "md", "html"]), HTML), max_size=4))
def test_extract_then_segment_on_arbitrary_html_ish_text(items):
    docs, rejects = extract(docs_of(*items))
    assert set(rejects["reason"]) <= {"no_text"}
    assert docs.height + rejects.height == len(items)
    out_docs, paragraphs = segment(docs)
    assert_invariants(out_docs, paragraphs)
    for title in docs["title"].drop_nulls():
        assert title == title.strip() and title
