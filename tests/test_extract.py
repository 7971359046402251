import datetime as dt

import polars as pl

from tasks.decode import DOCS_SCHEMA
from tasks.extract import EXTRACTED_SCHEMA, extract
from tasks.segment import segment

PAGE = """<!DOCTYPE html><html><head>
<title>Headline From Head &#124; Site Name</title>
<meta property="article:published_time" content="2020-05-04T10:00:00Z">
<style>p { color: red } /* <p>style decoy</p> */</style>
<script>var x = "<p>script decoy</p>";</script>
</head><body>
<nav><ul><li>Home</li><li>News</li></ul></nav>
<header><p>Site header text</p></header>
<main><article>
<h1>Real &amp; True Headline</h1>
<p class="dateline">March 7, 2023</p>
<p>BAGHDAD &#8212; First paragraph with&nbsp;entities &#8220;quoted&#8221; &amp; an
<a href="https://example.org/">inline link</a> and <em>emphasis</em>.</p>
<h2>A Section</h2>
<p>Elements are:</p>
<ul><li>one;</li><li>two &#8211; <b>bold</b>;</li></ul>
<p>- starts like a list item.</p>
<p class="contact">Media contact: Press Office</p>
<noscript><p>Enable JavaScript</p></noscript>
<template><p>template text</p></template>
</article>
<aside><h2>Related links</h2><ul><li><a href="/x">Related</a></li></ul></aside>
</main>
<footer><p>Privacy Policy</p></footer>
<script>document.write("<p>late decoy</p>")</script>
</body></html>"""


def docs_of(*items: tuple[str, str]) -> pl.DataFrame:
    n = len(items)
    return pl.DataFrame(
        {
            "doc_id": [f"id{i}" for i in range(n)],
            "source_path": [f"doc{i}.{fmt}" for i, (fmt, _) in enumerate(items)],
            "path": [f"/raw/doc{i}" for i in range(n)],
            "format": [fmt for fmt, _ in items],
            "size_bytes": [len(t) for _, t in items],
            "mtime_ns": [0] * n,
            "content_sha256": ["0" * 64] * n,
            "encoding": ["utf-8"] * n,
            "raw_text": [t for _, t in items],
        },
        schema=DOCS_SCHEMA,
    )


def one(fmt: str, text: str) -> dict:
    out, rejects = extract(docs_of((fmt, text)))
    assert rejects.is_empty()
    return out.row(0, named=True)


def test_html_text_drops_non_content_and_decodes_entities():
    doc = one("html", PAGE)
    text = doc["text"]
    for gone in ["decoy", "Home", "Site header", "Related", "Privacy", "Enable", "template"]:
        assert gone not in text
    assert "BAGHDAD — First paragraph with entities “quoted” & an inline link and emphasis." in (
        text
    )
    assert "&" not in text.replace(" & ", "")


def test_html_blocks_and_paragraphs():
    out, _ = extract(docs_of(("html", PAGE)))
    _, paragraphs = segment(out)
    assert paragraphs["text"].to_list() == [
        "BAGHDAD — First paragraph with entities “quoted” & an inline link and emphasis.",
        "Elements are:",
        "one; two – bold;",
        "- starts like a list item.",
    ]


def test_html_title_and_date_priority():
    doc = one("html", PAGE)
    assert doc["title"] == "Real & True Headline"
    assert doc["published_date"] == dt.date(2023, 3, 7)
    no_h1 = PAGE.replace("<h1>Real &amp; True Headline</h1>", "").replace(
        '<p class="dateline">March 7, 2023</p>', ""
    )
    doc = one("html", no_h1)
    assert doc["title"] == "Headline From Head"
    assert doc["published_date"] == dt.date(2020, 5, 4)


def test_html_og_title_time_element_and_opening_dateline():
    page = (
        '<html><head><meta property="og:title" content="OG Headline"></head><body>'
        '<p>Text <time datetime="2019-04-20">Saturday</time>.</p></body></html>'
    )
    doc = one("html", page)
    assert (doc["title"], doc["published_date"]) == ("OG Headline", dt.date(2019, 4, 20))
    page = "<body><p>PRISTINA, April 20, 2019 &#8212; The statement.</p></body>"
    doc = one("html", page)
    assert (doc["title"], doc["published_date"]) == (None, dt.date(2019, 4, 20))


def test_html_article_header_still_gives_title_and_date():
    page = (
        "<html><head><title>Head Title | Site</title></head><body>"
        "<header><h1>Site Name</h1></header><article><header><h1>Article Headline</h1>"
        '<p class="dateline">WASHINGTON, Sept. 8, 2017</p></header><p>Body.</p></article>'
    )
    doc = one("html", page)
    assert (doc["title"], doc["published_date"]) == ("Article Headline", dt.date(2017, 9, 8))
    assert doc["text"] == "Body."


def test_html_with_only_script_and_style_is_rejected():
    out, rejects = extract(docs_of(("html", "<script>var a='<p>x</p>'</script><style>p{}</style>")))
    assert out.is_empty()
    assert rejects["reason"].to_list() == ["no_text"]


def test_txt_headline_and_standalone_dateline():
    doc = one("txt", "A Headline Without Period\n\nBAGHDAD, January 28, 2018\n\nBody text.\n")
    assert (doc["title"], doc["published_date"]) == (
        "A Headline Without Period",
        dt.date(2018, 1, 28),
    )
    assert doc["text"].startswith("A Headline")


def test_txt_opening_dateline_and_day_first_dates():
    doc = one("txt", "Headline\nWASHINGTON, Jan. 20, 2016 – The sale.\nMore.\n")
    assert (doc["title"], doc["published_date"]) == ("Headline", dt.date(2016, 1, 20))
    doc = one("txt", "Headline Here\n\n14 January 2021\n\nBody.")
    assert doc["published_date"] == dt.date(2021, 1, 14)


def test_dates_only_inside_the_body_are_not_publication_dates():
    doc = one("txt", "Secretary Esper said on Oct. 19, 2019, that troops would move.\nMore.")
    assert (doc["title"], doc["published_date"]) == (None, None)
    doc = one("txt", "TAMPA, Fla. – The general visited on Aug. 1, 2023 — briefly.\nMore.")
    assert doc["published_date"] is None


def test_md_title_and_dateline():
    doc = one("md", "# Markdown Title #\n\nAbu Dhabi, May 16, 2025\n\nBody.\n")
    assert (doc["title"], doc["published_date"]) == ("Markdown Title", dt.date(2025, 5, 16))


def test_output_schema_and_row_order():
    out, rejects = extract(docs_of(("txt", "b"), ("html", "<p>a</p>"), ("md", "c")))
    assert out.schema == EXTRACTED_SCHEMA
    assert "raw_text" not in out.columns
    assert out["source_path"].to_list() == ["doc0.txt", "doc1.html", "doc2.md"]
    assert out["text"].to_list() == ["b", "a", "c"]


def test_empty_input_keeps_schema():
    out, rejects = extract(docs_of())
    assert out.is_empty() and out.schema == EXTRACTED_SCHEMA
    assert rejects.is_empty()
