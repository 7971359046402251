"""Split extracted document text into content paragraphs, vectorised over the batch.

Rules (shared/devset/README.md, "How documents are split into paragraphs"):

* ``txt``: a file with no blank line between its first and last non-blank lines is
  line-per-paragraph (each non-blank line is a block); otherwise each run of non-blank
  lines is a block and hard-wrapped lines are joined with spaces.
* ``md`` and ``html`` (extract renders HTML as this same light Markdown): blank lines
  separate blocks, and an ATX heading line (``#`` .. ``######``) is always a block of its
  own. List item markers (``-``, ``*``, ``+``, ``1.``, ``1)``) are dropped at line starts,
  so a list block becomes one paragraph of its items joined by spaces. A leading
  backslash escape (``\\#``, ``\\-``) is dropped too: extract uses it so that an HTML
  paragraph starting with ``#`` or ``- `` is not mistaken for a heading or list.
* Blocks that are not content: ``#`` titles and ``##`` headings, HTML comment/marker
  blocks (``<!-- dateline -->``), the txt/md headline (first block, short, no final
  punctuation), short txt heading lines, standalone datelines, end marks (``###``,
  ``-30-``, ``ENDS``), and "Media contact…"/"For more information…" lines.

Precise invariant for every paragraph row ``p`` of document text ``t``::

    normalise(strip_block_markup(t[p.char_start:p.char_end], fmt)) == p.text

with ``normalise(s) = re.sub(r"\\s+", " ", s).strip()`` and `strip_block_markup` below
(identity for txt). Also ``p.text`` is non-empty, ``char_start < char_end``, blocks do
not overlap and ``paragraph_index`` runs 1..n in text order.
"""

from __future__ import annotations

import re

import polars as pl

# Python's \s (used by the README normaliser) also matches U+001C..U+001F; Rust's does not.
WS = r"[\s\x1c-\x1f]"
# The characters WS matches (Unicode White_Space and U+001C..U+001F): trimming them with
# str.strip_chars is several times faster than removing ^WS+ / WS+$ with a regex.
WS_CHARS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_BLANK_LINE_INSIDE = r"\n[[\s\x1c-\x1f]&&[^\n]]*\n"
_ATX = rf"^#{{1,6}}(?:{WS}|$)"
_BULLET = rf"^[-*+](?:{WS}|$)"
_ORDERED = rf"^[0-9]{{1,9}}[.)](?:{WS}|$)"
_ORDERED_ONE = rf"^0*1[.)](?:{WS}|$)"
_MARKER = rf"^(?:[-*+]|[0-9]{{1,9}}[.)])(?:{WS}+|$)"
_ESCAPE = r"^\\[!-/:-@\[-`{-~]"

_MONTH = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_DATE = (
    rf"(?:(?P<m1>{_MONTH})\.?\s+(?P<d1>[0-9]{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y1>[0-9]{{4}})"
    rf"|(?P<d2>[0-9]{{1,2}})(?:st|nd|rd|th)?\s+(?P<m2>{_MONTH})\.?,?\s+(?P<y2>[0-9]{{4}})"
    r"|(?P<y3>[0-9]{4})-(?P<n3>[0-9]{2})-(?P<d3>[0-9]{2}))"
)
# Up to three comma-terminated place parts without digits or long dashes:
# "CARLISLE BARRACKS, Pa., " or "Washington, D.C., " or a weekday "Tuesday, ".
_PLACE = r"(?:[^\W\d_][^,\n\d—–]{0,48},\s*){0,3}"
_PREFIX = r"(?:(?:released|published|posted|issued|dated?|updated)(?:\s+on)?\s*:?\s*)?"
#: A whole block that is only a dateline: "WASHINGTON, March 22, 2017", "14 January 2021".
DATELINE = rf"(?i)^{_PREFIX}{_PLACE}{_DATE}[\s.,;:—–-]*$"
#: A dateline opening a paragraph: "WASHINGTON, March 22, 2017 — Ministers met ...".
OPENING_DATELINE = rf"(?i)^{_PLACE}{_DATE}\s*(?:[—–-]|--)"
#: A date anywhere in a short string (HTML dateline elements, meta tags, <time>).
ANY_DATE = rf"(?i)\b{_DATE}"
_CONTACT = (
    r"(?i)^(?:(?:media|press|public\s+affairs)\s+(?:contacts?|inquiries|enquiries|queries)\b"
    r"|for\s+(?:more|further|additional)\s+information\b|contacts?\s*:)"
)
_END_MARK = r"(?i)^(?:#(?: ?#){2,}|-+ ?30 ?-+|[*_=~-](?: ?[*_=~-]){2,}|-* ?ends? ?-*)$"
# A sentence end, possibly inside closing quotes/brackets: headlines and headings lack it.
_TERMINAL = r"[.!?;:,…][\"'”’)\]]*$"

MAX_TITLE_CHARS = 200
MAX_TITLE_WORDS = 30
MAX_HEADING_CHARS = 80
MAX_HEADING_WORDS = 10
MAX_DATELINE_CHARS = 100
MAX_CONTACT_CHARS = 300

PARAGRAPHS_SCHEMA = pl.Schema(
    {
        "doc_id": pl.String,
        "paragraph_index": pl.Int32,
        "text": pl.String,
        "char_start": pl.Int64,
        "char_end": pl.Int64,
        "n_words": pl.Int32,
    }
)


def normalise(s: str) -> str:
    """The devset README's normalisation (step 6)."""
    return re.sub(r"\s+", " ", s).strip()


def strip_block_markup(block: str, fmt: str) -> str:
    """Reference (plain Python) version of the markup removal segment applies to a block.

    For md/html: drop a leading backslash escape, and drop list markers at line starts
    once a list has started in the block (a bullet, an item numbered 1, or any ordered
    item when the block opens with one). txt is returned unchanged.
    """
    if fmt not in ("md", "html"):
        return block
    lines = [re.sub(r"^\s+", "", line) for line in block.split("\n")]
    escaped = bool(re.match(r"^\\[!-/:-@\[-`{-~]", lines[0]))
    first_is_item = bool(re.match(r"^(?:[-*+]|[0-9]{1,9}[.)])(?:\s|$)", lines[0]))
    in_list = False
    out = []
    for i, line in enumerate(lines):
        bullet = re.match(r"^[-*+](?:\s|$)", line)
        ordered = re.match(r"^[0-9]{1,9}[.)](?:\s|$)", line)
        one = re.match(r"^0*1[.)](?:\s|$)", line)
        in_list = in_list or bool(bullet or one or (ordered and i == 0))
        in_list = in_list or bool(ordered and first_is_item)
        if i == 0 and escaped:
            line = line[1:]
        elif in_list and (bullet or ordered):
            line = re.sub(r"^(?:[-*+]|[0-9]{1,9}[.)])(?:\s+|$)", "", line)
        out.append(line)
    return "\n".join(out)


# Only runs that are not already a single space: rewriting every space costs 3x more.
_WS_TO_FIX = r"[\s\x1c-\x1f]{2,}|[[\s\x1c-\x1f]&&[^ ]]"
# A literal double space and these classes (all of WS but the space) find exactly the
# rows _WS_TO_FIX matches in, ~10x faster than any regex that can start with a space:
# the regex crate searches for a class by its literals only when it has at most 10
# characters, hence classes of 10.
_WS_NOT_SPACE = [c for c in WS_CHARS if c != " "]
_WS_NOT_SPACE_CLASSES = [
    "[" + "".join(_WS_NOT_SPACE[i : i + 10]) + "]" for i in range(0, len(_WS_NOT_SPACE), 10)
]


def _norm(text: str) -> pl.Expr:
    """Column ``text`` with whitespace runs collapsed to one space and stripped.

    Only the rows with whitespace to fix go through the (slow) replacement regex.
    """
    col = pl.col(text)
    to_fix = pl.any_horizontal(
        col.str.contains("  ", literal=True),
        *(col.str.contains(chars) for chars in _WS_NOT_SPACE_CLASSES),
    )
    fixed = _only_where(to_fix, col).str.replace_all(_WS_TO_FIX, " ")
    return pl.when(to_fix).then(fixed).otherwise(col).str.strip_chars(" ")


def parse_date(expr: pl.Expr, pattern: str = DATELINE) -> pl.Expr:
    """Date from the first match of a dateline pattern (null when none or invalid)."""
    g = expr.str.extract_groups(pattern)
    month_name = pl.coalesce(g.struct.field("m1"), g.struct.field("m2"))
    month = (
        month_name.str.to_lowercase()
        .str.slice(0, 3)
        .replace_strict(
            ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
            [f"{i:02d}" for i in range(1, 13)],
            default=None,
            return_dtype=pl.String,
        )
    )
    year = pl.coalesce(g.struct.field("y1"), g.struct.field("y2"), g.struct.field("y3"))
    month = pl.coalesce(month, g.struct.field("n3"))
    day = pl.coalesce(g.struct.field("d1"), g.struct.field("d2"), g.struct.field("d3"))
    iso = pl.concat_str([year, month, day.str.zfill(2)], separator="-")
    return iso.str.to_date("%Y-%m-%d", strict=False)


def line_mode(text: pl.Expr, fmt: pl.Expr) -> pl.Expr:
    """True for txt documents with no blank line between non-blank lines."""
    inner = text.str.strip_chars(WS_CHARS)
    return (fmt == "txt") & ~inner.str.contains(_BLANK_LINE_INSIDE)


# Rows of one document (doc_ix) or block are contiguous: per-group row numbers, sums and
# flags are computed from run starts with forward fills, ~20x cheaper than `.over()`.
def _run_starts(key: str) -> pl.Expr:
    """True on the first row of each run of equal ``key`` values."""
    return pl.col(key).ne_missing(pl.col(key).shift(1))


def _run_ends(key: str) -> pl.Expr:
    """True on the last row of each run of equal ``key`` values."""
    return pl.col(key).ne_missing(pl.col(key).shift(-1))


def _at_run_start(value: pl.Expr, starts: pl.Expr) -> pl.Expr:
    """``value`` of each run's first row, on every row of the run (``value`` has no null)."""
    return pl.when(starts).then(value).forward_fill()


def _run_cum_sum(value: pl.Expr, starts: pl.Expr) -> pl.Expr:
    """Cumulative sum of ``value`` restarting at each run start."""
    total = value.cum_sum()
    return total - _at_run_start(total - value, starts)


def _run_row_number(starts: pl.Expr) -> pl.Expr:
    """0-based row number within each run (Int64, like ``int_range().over()``)."""
    row = pl.int_range(pl.len())
    return row - _at_run_start(row, starts)


def blocks(frame: pl.DataFrame) -> pl.DataFrame:
    """Classified blocks of every document, in text order.

    ``frame`` needs doc_ix (UInt32, increasing), format, text and line_mode. Returns one
    row per block: doc_ix, format, rank (0-based block number), kind ("content", "title",
    "heading", "dateline", "contact", "end_mark", "marker"), label (normalised text with
    markup removed), char_start, char_end.
    """
    is_md = pl.col("format").is_in(["md", "html"])
    # Each line keeps only its trimmed body plus offsets: the raw line is dropped at once
    # so the batch's text is held about twice (text + bodies), not four times.
    lines = (
        frame.select("doc_ix", "format", "line_mode", pl.col("text").str.split("\n").alias("line"))
        .explode("line")
        .select(
            "doc_ix",
            "format",
            "line_mode",
            _run_starts("doc_ix").alias("first_line"),
            pl.col("line").str.len_chars().cast(pl.Int64).alias("n_chars"),
            pl.col("line").str.strip_chars_start(WS_CHARS).alias("left"),
        )
        .select(
            pl.exclude("left"),
            (pl.col("n_chars") - pl.col("left").str.len_chars()).alias("lead"),
            pl.col("left").str.strip_chars_end(WS_CHARS).alias("body"),
        )
        .with_columns(
            (
                _run_cum_sum(pl.col("n_chars") + 1, pl.col("first_line")) - pl.col("n_chars") - 1
            ).alias("line_start"),
            (pl.col("body") == "").alias("blank"),
            # Markdown syntax (ATX headings, list markers, escapes) only counts in md/html
            # lines; their regexes read this column, "" on txt lines, ~3x less text.
            _only_where(is_md, pl.col("body")).alias("md_body"),
        )
        .with_columns(pl.col("md_body").str.contains(_ATX).alias("atx"))
    )
    first_line = pl.col("first_line")
    prev_blank = pl.col("blank").shift(1, fill_value=True) | first_line
    prev_atx = pl.col("atx").shift(1, fill_value=False) & ~first_line
    start = pl.col("line_start") + pl.col("lead")
    lines = (
        lines.with_columns(
            (prev_blank | pl.col("line_mode") | pl.col("atx") | prev_atx).alias("new_block")
        )
        .filter(~pl.col("blank"))
        .with_columns(pl.col("new_block").cum_sum().set_sorted().alias("block"))
        .with_columns(
            start.alias("start"),
            (start + pl.col("body").str.len_chars()).alias("end"),
        )
    )
    body = pl.col("body")
    md_body = pl.col("md_body")
    bullet = md_body.str.contains(_BULLET)
    ordered = md_body.str.contains(_ORDERED)
    # Every block starts at a new_block line, and only there.
    first_in_block = pl.col("new_block")
    lines = lines.with_columns(
        bullet.alias("bullet"),
        ordered.alias("ordered"),
        (first_in_block & md_body.str.contains(_ESCAPE)).alias("escaped"),
    ).with_columns(
        _at_run_start(pl.col("bullet") | pl.col("ordered"), first_in_block).alias("first_is_item")
    )
    starts_list = (
        pl.col("bullet")
        | md_body.str.contains(_ORDERED_ONE)
        | (pl.col("ordered") & pl.col("first_is_item"))
    )
    lines = lines.with_columns(
        (_run_cum_sum(starts_list.cast(pl.UInt32), first_in_block) > 0).alias("in_list")
    )
    lines = lines.with_columns(
        pl.when(pl.col("escaped"))
        .then(md_body.str.slice(1))
        .when(pl.col("in_list") & (pl.col("bullet") | pl.col("ordered")))
        .then(md_body.str.replace(_MARKER, ""))
        .otherwise(body)
        .alias("content")
    )
    out = (
        lines.group_by("block", maintain_order=True)
        .agg(
            pl.col("doc_ix").first(),
            pl.col("format").first(),
            pl.col("atx").first(),
            pl.col("body").first().alias("first_body"),
            pl.len().alias("n_lines"),
            pl.col("start").first().alias("char_start"),
            pl.col("end").last().alias("char_end"),
            # Gathered as a list and joined below: list.join is ~5x faster than str.join.
            pl.col("content").alias("joined"),
        )
        .sort("block")
        .with_columns(
            _run_starts("doc_ix").alias("first_block"), _run_ends("doc_ix").alias("last_block")
        )
        .with_columns(
            pl.col("joined").list.join(" ").alias("label"),
            _run_row_number(pl.col("first_block")).alias("rank"),
        )
        .with_columns(_norm("label").alias("label"))
        .with_columns((pl.when("last_block").then("rank").backward_fill() + 1).alias("n_blocks"))
        .drop("joined")
    )
    return _classify(out)


def _only_where(condition: pl.Expr, text: pl.Expr) -> pl.Expr:
    """``text`` where ``condition`` holds, else "".

    For rules that also need ``condition``: the regex then skips the other rows' text
    (null rows would still be scanned).
    """
    return pl.when(condition).then(text).otherwise(pl.lit(""))


def _classify(b: pl.DataFrame) -> pl.DataFrame:
    label = pl.col("label")
    # Features used by several rules are materialised once: inside the `kind` chain each
    # use would be computed again.
    atx = pl.col("atx")
    is_h1 = atx & _only_where(atx, pl.col("first_body")).str.contains(rf"^#(?:{WS}|$)")
    # Words and a final punctuation mark only decide titles and headings (both rules
    # require n_chars <= MAX_TITLE_CHARS), so other rows are not scanned.
    short_label = _only_where(pl.col("n_chars") <= MAX_TITLE_CHARS, label)
    b = (
        b.with_columns(label.str.len_chars().alias("n_chars"), is_h1.alias("h1"))
        .with_columns(short_label.alias("short_label"))
        .with_columns(
            (pl.col("short_label").str.count_matches(" ") + 1).alias("n_words"),
            pl.col("short_label").str.contains(_TERMINAL).alias("terminal"),
            (
                pl.when("last_block")
                .then(_run_cum_sum(pl.col("h1").cast(pl.UInt32), pl.col("first_block")))
                .backward_fill()
                > 0
            ).alias("has_h1"),
        )
    )
    n_chars = pl.col("n_chars")
    n_words = pl.col("n_words")
    terminal = pl.col("terminal")
    is_md = pl.col("format").is_in(["md", "html"])
    h1 = pl.col("h1")
    has_h1 = pl.col("has_h1")
    short_dateline = n_chars <= MAX_DATELINE_CHARS
    dateline = _only_where(short_dateline, label).str.contains(DATELINE) & short_dateline
    headline = (
        pl.col("format").is_in(["txt", "md"])
        & ~has_h1
        & (pl.col("rank") == 0)
        & (pl.col("n_blocks") >= 2)
        & (pl.col("n_lines") <= 2)
        & (n_chars <= MAX_TITLE_CHARS)
        & (n_words <= MAX_TITLE_WORDS)
        & ~terminal
    )
    txt_heading = (
        (pl.col("format") == "txt")
        & (pl.col("rank") > 0)
        & (pl.col("n_lines") == 1)
        & (n_chars <= MAX_HEADING_CHARS)
        & (n_words <= MAX_HEADING_WORDS)
        & ~terminal
        & _only_where(n_chars <= MAX_HEADING_CHARS, label).str.contains(r"^[\p{Lu}\p{N}]")
    )
    kind = (
        pl.when(label == "")
        .then(pl.lit("empty"))
        .when(h1)
        .then(pl.lit("title"))
        .when(pl.col("atx"))
        .then(pl.lit("heading"))
        .when(is_md & pl.col("first_body").str.starts_with("<!--"))
        .then(pl.lit("marker"))
        .when(label.str.contains(_END_MARK))
        .then(pl.lit("end_mark"))
        .when(
            _only_where(n_chars <= MAX_CONTACT_CHARS, label).str.contains(_CONTACT)
            & (n_chars <= MAX_CONTACT_CHARS)
        )
        .then(pl.lit("contact"))
        .when(dateline)
        .then(pl.lit("dateline"))
        .when(headline)
        .then(pl.lit("title"))
        .when(txt_heading)
        .then(pl.lit("heading"))
        .otherwise(pl.lit("content"))
    )
    heading_text = (
        _only_where(pl.col("atx"), label)
        .str.replace(r"^#{1,6}(?: |$)", "")
        .str.replace(r"(?: #+)? *$", "")
    )
    return b.with_columns(
        kind.alias("kind"),
        pl.when(pl.col("atx")).then(heading_text).otherwise(label).alias("label"),
    ).select("doc_ix", "format", "rank", "kind", "label", "char_start", "char_end")


def layout_metadata(frame: pl.DataFrame, b: pl.DataFrame | None = None) -> pl.DataFrame:
    """Title and publication date stated by a txt/md layout, per doc_ix.

    title: the first title block (``#`` line or headline). published_date: the first
    standalone dateline block, else a dateline opening the first content paragraph.
    ``b``: ``blocks(frame)`` when the caller has it already.
    """
    b = blocks(frame) if b is None else b
    content_rank = _run_cum_sum(
        (pl.col("kind") == "content").cast(pl.UInt32), _run_starts("doc_ix")
    )
    kind = pl.col("kind")
    meta = (
        b.with_columns(
            ((kind == "title") & (pl.col("label") != "")).alias("is_title"),
            ((kind == "content") & (content_rank == 1)).alias("is_opening"),
        )
        # Only the blocks that can give a title or date, and each document's first block
        # so that every document keeps a row.
        .filter(
            pl.col("is_title") | pl.col("is_opening") | (kind == "dateline") | _run_starts("doc_ix")
        )
        .with_columns(
            pl.when("is_title").then(pl.col("label")).alias("title"),
            _only_where(kind == "dateline", pl.col("label")).alias("dateline_date"),
            _only_where(pl.col("is_opening"), pl.col("label")).alias("opening_date"),
        )
        .with_columns(
            parse_date(pl.col("dateline_date")).alias("dateline_date"),
            parse_date(pl.col("opening_date"), OPENING_DATELINE).alias("opening_date"),
        )
        .group_by("doc_ix")
        .agg(
            pl.col("title").drop_nulls().first(),
            pl.col("dateline_date").drop_nulls().first(),
            pl.col("opening_date").drop_nulls().first(),
        )
    )
    return meta.select(
        "doc_ix",
        "title",
        pl.coalesce("dateline_date", "opening_date").alias("published_date"),
    )


def segment(
    docs: pl.DataFrame, known_blocks: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return ``(docs + n_paragraphs, paragraphs)`` for a batch of extracted documents.

    ``known_blocks``: content blocks that extract already computed from the same text,
    with doc_id instead of doc_ix (see `tasks.extract.extract_with_blocks`); only the
    other documents are split here.
    """
    frame = docs.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("doc_ix"),
        "format",
        "text",
        "doc_id",
    )
    if known_blocks is not None and known_blocks.height:
        known = frame.select("doc_ix", "doc_id").join(
            known_blocks, on="doc_id", how="inner", maintain_order="right"
        )
        frame = frame.join(
            known_blocks.select("doc_id").unique(), on="doc_id", how="anti", maintain_order="left"
        )
    else:
        known = None
    frame = frame.select(
        "doc_ix",
        "format",
        "text",
        line_mode(pl.col("text"), pl.col("format")).alias("line_mode"),
    )
    b = blocks(frame).filter(pl.col("kind") == "content")
    if known is not None:
        b = pl.concat([b, known.select(b.columns)]).sort("doc_ix", "rank")
    paragraphs = b.select(
        "doc_ix",
        (_run_row_number(_run_starts("doc_ix")) + 1).cast(pl.Int32).alias("paragraph_index"),
        pl.col("label").alias("text"),
        pl.col("char_start").cast(pl.Int64),
        pl.col("char_end").cast(pl.Int64),
        (pl.col("label").str.count_matches(" ") + 1).cast(pl.Int32).alias("n_words"),
    )
    ids = docs.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("doc_ix"), "doc_id")
    counts = paragraphs.group_by("doc_ix").agg(pl.len().cast(pl.Int32).alias("n_paragraphs"))
    docs_out = (
        docs.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias("doc_ix"))
        .join(counts, on="doc_ix", how="left", maintain_order="left")
        .with_columns(pl.col("n_paragraphs").fill_null(0))
        .drop("doc_ix")
    )
    paragraphs = (
        paragraphs.join(ids, on="doc_ix", how="left", maintain_order="left")
        .sort("doc_ix", "paragraph_index")
        .select(PARAGRAPHS_SCHEMA.names())
        .cast(dict(PARAGRAPHS_SCHEMA))
    )
    return docs_out, paragraphs
