"""Extract each document's text, title and publication date.

txt and md documents keep their decoded text unchanged; segmentation reads their
layout directly. HTML pages are parsed with selectolax's lexbor backend and rendered
into the same light Markdown that segmentation reads for .md files:

* ``# h1`` for the title, ``## h2`` .. ``###### h6`` for headings;
* one paragraph per line for every ``<p>`` (or other block with text), blocks separated
  by a blank line, entities decoded and whitespace collapsed;
* one block per outermost ``<ul>``/``<ol>`` with one ``- item`` line per ``<li>``;
* ``<!-- dateline --> ...`` / ``<!-- contact --> ...`` for ``p.dateline`` / ``p.contact``;
* a content block that would read as Markdown syntax (``#``, ``- ``, ``1. ``, ``<!--``,
  ``\\``) gets a backslash escape, which segmentation drops again.

``<head>``, script, style, nav, header, footer, aside, noscript, template (and embedded
objects) are dropped; links are never followed. The DOM is walked with an explicit
stack, so pages nested tens of thousands of levels deep do not hit Python's recursion
limit. Pages with no text left become ``no_text`` rejects.

Title: HTML h1, then ``<title>`` (site suffix after " | " removed), then og:title /
DC.title; for txt/md the ``#`` line or headline found by the segmentation rules.
Date: HTML p.dateline, then meta article:published_time / date / DC.date, then
``<time datetime>``, then a dateline opening the first paragraph; for txt/md a
standalone dateline, else an opening dateline in the first paragraph.
"""

from __future__ import annotations

import re

import polars as pl
from selectolax.lexbor import LexborHTMLParser, LexborNode

from tasks.decode import DOCS_SCHEMA
from tasks.discover import REJECTS_SCHEMA
from tasks.segment import (
    ANY_DATE,
    OPENING_DATELINE,
    blocks,
    layout_metadata,
    line_mode,
    parse_date,
)

EXTRACTED_SCHEMA = pl.Schema(
    {
        **{k: v for k, v in DOCS_SCHEMA.items() if k != "raw_text"},
        "text": pl.String,
        "title": pl.String,
        "published_date": pl.Date,
    }
)

SKIP_TAGS = frozenset(
    {
        "head", "title", "script", "style", "nav", "header", "footer", "aside", "noscript",
        "template", "iframe", "object", "embed", "svg", "math", "canvas", "select", "button",
    }
)  # fmt: skip
BLOCK_TAGS = frozenset(
    {
        "address", "article", "blockquote", "body", "caption", "dd", "details", "dialog", "div",
        "dl", "dt", "fieldset", "figcaption", "figure", "form", "h1", "h2", "h3", "h4", "h5",
        "h6", "hgroup", "hr", "html", "li", "main", "ol", "p", "pre", "section", "summary",
        "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
LIST_TAGS = frozenset({"ul", "ol"})
MARKED_CLASSES = ("dateline", "contact")
_WS = re.compile(r"\s+")
_NEEDS_ESCAPE = re.compile(r"^(?:#|<!--|\\|[-*+](?:\s|$)|[0-9]{1,9}[.)](?:\s|$))")
_META_DATE_NAMES = ("article:published_time", "date", "dc.date", "dcterms.date", "pubdate")
_META_TITLE_NAMES = ("og:title", "dc.title", "twitter:title")


def _text(parts: list[str]) -> str:
    # Same as _WS.sub(" ", s).strip(): str.split() and re's \s share one definition of
    # whitespace (str.isspace), and split-join is several times faster.
    return " ".join("".join(parts).split())


def _kind(node: LexborNode, tag: str) -> str:
    if tag == "h1":
        return "title"
    if tag in ("h2", "h3", "h4", "h5", "h6"):
        return tag
    classes = (node.attributes.get("class") or "").lower().split()
    for marked in MARKED_CLASSES:
        if marked in classes:
            return marked
    return "content"


class _Renderer:
    """Collects blocks while the DOM walk enters and leaves elements."""

    def __init__(self) -> None:
        self.blocks: list[tuple[str, str]] = []  # (kind, rendered block)
        self.kinds: list[str] = ["content"]
        self.parts: list[str] = []
        self.list_depth = 0
        self.items: list[str] = []

    def flush(self) -> None:
        if not self.parts:  # most enter/leave events have no text pending
            return
        text = _text(self.parts)
        self.parts = []
        if not text:
            return
        if self.list_depth:
            self.items.append(text)
            return
        kind = self.kinds[-1]
        if kind == "title":
            self.blocks.append((kind, f"# {text}"))
        elif kind.startswith("h"):
            self.blocks.append(("heading", f"{'#' * int(kind[1])} {text}"))
        elif kind in MARKED_CLASSES:
            self.blocks.append((kind, f"<!-- {kind} --> {text}"))
        else:
            escape = "\\" if _NEEDS_ESCAPE.match(text) else ""
            self.blocks.append((kind, escape + text))

    def enter(self, node: LexborNode, tag: str) -> None:
        self.flush()
        if tag in LIST_TAGS:
            self.list_depth += 1
        # Inside a list everything is an item; kinds only apply to blocks outside lists.
        self.kinds.append(self.kinds[-1] if self.list_depth else _kind(node, tag))

    def leave(self, tag: str) -> None:
        self.flush()
        self.kinds.pop()
        if tag in LIST_TAGS:
            self.list_depth -= 1
            if not self.list_depth and self.items:
                self.blocks.append(("list", "\n".join(f"- {item}" for item in self.items)))
                self.items = []


def render_html(html: str) -> tuple[str, str | None, list[str], str | None]:
    """Render an HTML page; return (text, h1 or <title> title, date strings, lead paragraph).

    The date strings are candidates in priority order (dateline, meta, <time>).
    """
    tree = LexborHTMLParser(html)
    metas = _meta_fields(tree)
    head_title = _head_title(tree, metas)
    date_candidates = _date_candidates(tree, metas)
    renderer = _Renderer()
    root = tree.body
    if root is not None:
        # Explicit stack of (node, tag of a block being left or None) instead of recursion:
        # pages can nest very deep.
        stack: list[tuple[LexborNode, str | None]] = [(root, None)]
        while stack:
            node, leaving = stack.pop()
            if leaving is not None:
                renderer.leave(leaving)
                continue
            tag = node.tag
            if tag == "-text":  # lexbor's tag name for text nodes
                text = node.text_content or ""
                # Whitespace opening a block is dropped anyway; skipping it spares the
                # flushes between blocks any work.
                if renderer.parts or not text.isspace():
                    renderer.parts.append(text)
                continue
            if tag in SKIP_TAGS or not node.is_element_node:
                continue
            if tag == "br":
                renderer.parts.append(" ")
                continue
            if tag in BLOCK_TAGS or tag in LIST_TAGS:
                renderer.enter(node, tag)
                stack.append((node, tag))
            stack.extend([(child, None) for child in node.iter(include_text=True)][::-1])
        renderer.flush()
    blocks = renderer.blocks
    h1 = next((b[2:] for kind, b in blocks if kind == "title"), None)
    dateline = next((b for kind, b in blocks if kind == "dateline"), None)
    if dateline is not None:
        date_candidates.insert(0, dateline.split("-->", 1)[1].strip())
    else:
        # An article's own <header> (skipped as page chrome) may hold the dateline.
        node = tree.css_first(".dateline")
        if node is not None:
            date_candidates.insert(0, _text([node.text(deep=True)]))
    if h1 is None:
        node = tree.css_first("article h1, main h1")
        h1 = _text([node.text(deep=True)]) if node is not None else None
    lead = next((b.lstrip("\\") for kind, b in blocks if kind == "content"), None)
    text = "\n\n".join(b for _, b in blocks)
    return text, h1 or head_title, date_candidates, lead


def _meta_fields(tree: LexborHTMLParser) -> list[tuple[str, str | None]]:
    """(lower-cased property or name, content) of every ``<meta>``, in document order."""
    fields = []
    for meta in tree.css("meta"):
        attrs = meta.attributes
        name = (attrs.get("property") or attrs.get("name") or "").lower()
        fields.append((name, attrs.get("content")))
    return fields


def _head_title(tree: LexborHTMLParser, metas: list[tuple[str, str | None]]) -> str | None:
    node = tree.css_first("head > title") or tree.css_first("title")
    if node is not None:
        title = _text([node.text(deep=True)])
        # "Headline | Site name": the site suffix is not part of the document's title.
        title = title.split(" | ")[0].strip()
        if title:
            return title
    for name, content in metas:
        if name in _META_TITLE_NAMES and (content or "").strip():
            return _text([content or ""])
    return None


def _date_candidates(tree: LexborHTMLParser, metas: list[tuple[str, str | None]]) -> list[str]:
    found: list[str] = []
    for name, content in metas:
        if name in _META_DATE_NAMES and content:
            found.append(content.strip()[:10])
    for node in tree.css("time[datetime]"):
        found.append((node.attributes.get("datetime") or "").strip()[:10])
    return found


def _extract_html(docs: pl.DataFrame) -> tuple[pl.DataFrame, list[tuple[str, str, str]]]:
    rows: list[dict] = []
    rejects: list[tuple[str, str, str]] = []
    for doc in docs.select("source_path", "raw_text").iter_rows(named=True):
        try:
            text, title, dates, lead = render_html(doc["raw_text"])
        except Exception as exc:  # one broken page must not stop the batch
            rejects.append((doc["source_path"], "extract_failed", f"HTML parsing failed: {exc!r}."))
            rows.append({"text": None, "title": None, "dates": [], "lead": None})
            continue
        if not text.strip():
            rejects.append(
                (
                    doc["source_path"],
                    "no_text",
                    "The HTML page has no readable text outside scripts, styles and navigation.",
                )
            )
            text = None
        rows.append({"text": text, "title": title, "dates": dates, "lead": lead})
    parsed = pl.DataFrame(
        rows,
        schema={
            "text": pl.String,
            "title": pl.String,
            "dates": pl.List(pl.String),
            "lead": pl.String,
        },
    )
    published = parsed.select(
        pl.coalesce(
            pl.col("dates")
            .list.eval(parse_date(pl.element(), ANY_DATE))
            .list.drop_nulls()
            .list.first(),
            parse_date(pl.col("lead"), OPENING_DATELINE),
        )
    ).to_series()
    out = docs.drop("raw_text").with_columns(
        parsed["text"], parsed["title"], published.alias("published_date")
    )
    return out.filter(pl.col("text").is_not_null()), rejects


# The title and dateline sit at the top: layout metadata reads the first LAYOUT_CHARS.
LAYOUT_CHARS = 5000


def _extract_layout(docs: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Docs with title and published_date, and the content blocks of short documents.

    For a document of at most LAYOUT_CHARS characters the blocks computed here from the
    first LAYOUT_CHARS are the blocks of its whole text: segment reuses them instead of
    splitting the same text again.
    """
    out = docs.rename({"raw_text": "text"})
    frame = out.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("doc_ix"),
        "format",
        # The title and dateline sit at the top; the layout test needs the whole text.
        pl.col("text").str.slice(0, LAYOUT_CHARS),
        line_mode(pl.col("text"), pl.col("format")).alias("line_mode"),
        (pl.col("text").str.len_chars() <= LAYOUT_CHARS).alias("whole"),
    )
    b = blocks(frame.drop("whole"))
    meta = layout_metadata(frame, b)
    ids = out.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("doc_ix"), "doc_id")
    whole = frame.filter("whole").select("doc_ix")
    content = (
        b.filter(pl.col("kind") == "content")
        .join(whole, on="doc_ix", how="semi")
        .join(ids, on="doc_ix", how="left", maintain_order="left")
        .select("doc_id", *(c for c in b.columns if c != "doc_ix"))
    )
    docs_out = (
        out.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias("doc_ix"))
        .join(meta, on="doc_ix", how="left", maintain_order="left")
        .drop("doc_ix")
    )
    return docs_out, content


def extract_with_blocks(docs: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """`extract` plus the content blocks already known (for ``segment(known_blocks=)``)."""
    is_html = pl.col("format") == "html"
    html, rejects = _extract_html(docs.filter(is_html))
    layout, known_blocks = _extract_layout(docs.filter(~is_html))
    columns = list(EXTRACTED_SCHEMA.names())
    frames = [f.select(columns).cast(dict(EXTRACTED_SCHEMA)) for f in (layout, html)]
    out = pl.concat(frames).sort("source_path")
    return out, pl.DataFrame(rejects, schema=REJECTS_SCHEMA, orient="row"), known_blocks


def extract(docs: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return ``(docs, rejects)``: docs gain text, title, published_date and lose raw_text."""
    out, rejects, _ = extract_with_blocks(docs)
    return out, rejects
