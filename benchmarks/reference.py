"""A straightforward reference implementation, the yardstick of the benchmark.

What a first script would do: walk the folder, read each file, decode it, strip HTML tags
with a regex, split it into lines, and run one Python ``re`` search per paragraph and
theme (the same theme regexes as the pipeline's lexicon), then write two tables with
pandas ``to_parquet``. No validation, no evidence offsets, no snapshots: it does less
than the pipeline, so the ratio flatters the reference if anything.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from communique.lexicon import load_lexicon

_TAG = re.compile(r"<(script|style|head|nav|header|footer|aside)\b.*?</\1>|<[^>]+>", re.S | re.I)
EXTENSIONS = (".txt", ".md", ".html", ".htm")


def _python_regex(rust_regex: str) -> str:
    """The lexicon's regexes are Rust syntax; only its ASCII word boundary differs."""
    return rust_regex.replace("(?-u:\\b)", "(?a:\\b)")


def _paragraphs(text: str, html: bool) -> list[str]:
    if html:
        import html as html_lib

        text = html_lib.unescape(_TAG.sub("\n", text))
    return [line.strip() for line in text.splitlines() if line.strip()]


def run_reference(raw_dir: Path, out_dir: Path, limit: int | None = None) -> dict[str, int]:
    import pandas as pd

    lexicon = load_lexicon()
    themes = [
        (theme, re.compile(_python_regex(lexicon.theme_regex(theme)))) for theme in lexicon.themes
    ]
    paths = sorted(
        os.path.join(folder, name)
        for folder, _, names in os.walk(raw_dir)
        for name in names
        if name.lower().endswith(EXTENSIONS) and not name.startswith(".")
    )[:limit]
    paragraphs, labels = [], []
    n_bytes = 0
    for path in paths:
        with open(path, "rb") as handle:
            data = handle.read()
        n_bytes += len(data)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")
        doc = os.path.relpath(path, raw_dir)
        for index, paragraph in enumerate(_paragraphs(text, path.endswith(("html", "htm"))), 1):
            paragraphs.append((doc, index, paragraph))
            for theme, regex in themes:
                match = regex.search(paragraph)
                labels.append((doc, index, theme, match is not None))
    out_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(paragraphs, columns=["doc", "paragraph_index", "text"]).to_parquet(
        out_dir / "paragraphs.parquet"
    )
    pd.DataFrame(labels, columns=["doc", "paragraph_index", "theme", "matched"]).to_parquet(
        out_dir / "paragraph_themes.parquet"
    )
    return {"files": len(paths), "bytes": n_bytes, "paragraphs": len(paragraphs)}
