"""Load and validate the theme lexicon (``config/themes.toml``).

The lexicon is data an analyst edits; this module turns it into compiled
regular expressions for :mod:`tasks.classify` and refuses to load a lexicon
with any problem, reporting every problem at once as ``path:line: message``.

Phrase mini-language (see the header of ``config/themes.toml``):

* letters, digits and other characters match literally; matching is
  case-insensitive unless the rule sets ``case_sensitive = true``;
* ``*`` right after a word matches any further letters (``repatriat*``);
* a space matches any run of whitespace or hyphens/dashes;
* ``-`` matches a hyphen, a dash, a space or nothing (``al-Hol`` = ``al Hol``);
* an apostrophe (``'`` or ``’``) matches ``'``, ``’``, ``‘`` or nothing;
* ``,`` is optional (``train, advise, and assist`` = ``train, advise and assist``);
* ``(a|b|c)`` is a group of alternatives (nestable);
* ``~N`` (a token on its own, N = 1..12) skips up to N words within the sentence;
* run ``communique taxonomy check [PATH]`` to check a lexicon by hand;
* word boundaries are added at each end that is a word character, so a phrase
  never matches inside a longer word (``ISIS`` never fires in ``crisis``).

``patterns`` take raw regular expressions instead; they must compile both in
Python ``re`` and in the Rust ``regex`` crate polars uses (so: no look-around,
no back-references) and are wrapped in the same word boundaries.

Line numbers: :mod:`tomllib` reports lines only for syntax errors, so problems
with values are located by scanning the source for the key or phrase text
inside the right ``[[rule]]`` block. This is good enough for an analyst; it
can point at the first of two identical lines.
"""

from __future__ import annotations

import functools
import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

DEFAULT_LEXICON_PATH = Path(__file__).resolve().parents[1] / "config" / "themes.toml"

# Codebook order (shared/codebook.md); every output follows it.
CODEBOOK_THEMES: tuple[str, ...] = (
    "counter_isis",
    "equipment_sustainment",
    "education",
    "repatriation",
)
RULE_KINDS = ("cue", "context", "veto")

_TOP_KEYS = {"lexicon", "themes", "rule"}
_LEXICON_KEYS = {"name", "description", "codebook"}
_THEME_KEYS = {"threshold", "description"}
_RULE_KEYS = {
    "id",
    "theme",
    "kind",
    "weight",
    "case_sensitive",
    "needs",
    "phrases",
    "patterns",
    "clause",
}
_RULE_ID_RE = re.compile(r"^[a-z0-9_]+(?:\.[a-z0-9_-]+)*$")
_MAX_GAP = 12

# ASCII word boundary: keeps the Rust lazy DFA usable on non-ASCII text
# (a Unicode \b forces a slow fallback engine as soon as text is not ASCII).
BOUNDARY = r"(?-u:\b)"
_SEP = r"[\s\-\u2010\u2011\u2013]"  # whitespace, hyphen, non-breaking hyphen, en dash
_APOS = r"['\u2019\u2018]?"
# A ~N gap skips words (letters/digits, or dotted acronyms like "U.S.") and the
# separators between them, but never sentence punctuation (. ; : ! ?), so a
# near-phrase cannot reach into the next sentence.
_GAP_WORD = r"(?:(?:[A-Z]\.){2,}|[A-Za-z0-9]+)"
_GAP_SEP = r"[^A-Za-z0-9.;:!?]+"
# Characters the phrase language gives no meaning to: _compile_seq escapes them.
_PLAIN_RUN = re.compile("[^()|~* \\-'\u2019,]+")


@dataclass(frozen=True)
class Problem:
    line: int | None
    message: str


class LexiconError(Exception):
    """A lexicon failed validation; ``problems`` lists every reason."""

    def __init__(self, path: Path, problems: list[Problem]):
        self.path = Path(path)
        self.problems = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(
            f"{self.path}:{p.line if p.line is not None else '?'}: {p.message}"
            for p in self.problems
        )


@dataclass(frozen=True)
class Rule:
    id: str
    theme: str
    kind: str  # "cue" counts, "context" only enables cues that need it, "veto" absorbs
    weight: float  # 0.0 for context and veto rules
    case_sensitive: bool
    needs: tuple[str, ...]  # rule ids; the cue counts only if one of them matched too
    phrases: tuple[str, ...]
    patterns: tuple[str, ...]
    clause: str


@dataclass(frozen=True)
class Alternative:
    """One phrase or pattern compiled to a bounded, flagged regex fragment."""

    rule_id: str
    source: str
    regex: str


@dataclass(frozen=True)
class Lexicon:
    path: Path
    version: str
    themes: tuple[str, ...]
    thresholds: tuple[float, ...]  # aligned with ``themes``
    rules: tuple[Rule, ...]
    # Per theme (aligned with ``themes``): cue and veto alternatives in match
    # precedence: vetoes first, then cues, each longest source first.
    alternatives: tuple[tuple[Alternative, ...], ...]

    def threshold(self, theme: str) -> float:
        return self.thresholds[self.themes.index(theme)]

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def rule_index(self, rule_id: str) -> int:
        for index, rule in enumerate(self.rules):
            if rule.id == rule_id:
                return index
        raise KeyError(rule_id)

    def theme_regex(self, theme: str) -> str:
        """One alternation of the theme's cues and vetoes (leftmost-first precedence)."""
        alts = self.alternatives[self.themes.index(theme)]
        return "|".join(a.regex for a in alts)

    def rule_regex(self, rule_id: str) -> str:
        """The alternation of one rule's phrases and patterns (used for context rules)."""
        return "|".join(_rule_fragments(self.rule(rule_id)))


# --------------------------------------------------------------------------- phrases


class PhraseSyntaxError(ValueError):
    pass


@functools.lru_cache(maxsize=8192)  # loading compiles each phrase to check it, then to build
def compile_phrase(phrase: str) -> str:
    """Translate a lexicon phrase to a regex fragment (without case flags)."""
    body, pos = _compile_seq(phrase, 0, top=True)
    if pos != len(phrase):
        raise PhraseSyntaxError(f"unexpected ')' at column {pos + 1}")
    if not body:
        raise PhraseSyntaxError("empty phrase")
    stripped = phrase.strip()
    lead = BOUNDARY if stripped[:1].isalnum() or stripped[:1] == "(" else ""
    trail = BOUNDARY if stripped[-1:].isalnum() or stripped[-1:] in "*)" else ""
    return f"{lead}{body}{trail}"


def _compile_seq(s: str, i: int, top: bool) -> tuple[str, int]:
    out: list[str] = []
    while i < len(s):
        c = s[i]
        if c == "(":
            alts: list[str] = []
            i += 1
            while True:
                part, i = _compile_seq(s, i, top=False)
                if not part:
                    raise PhraseSyntaxError("empty alternative in '(...)'")
                alts.append(part)
                if i >= len(s):
                    raise PhraseSyntaxError("unclosed '('")
                if s[i] == "|":
                    i += 1
                    continue
                if s[i] == ")":
                    i += 1
                    break
            out.append("(?:" + "|".join(alts) + ")")
        elif c in "|)":
            if top:
                raise PhraseSyntaxError(f"unexpected '{c}' outside a group")
            return "".join(out), i
        elif c == "~":
            m = re.match(r"~(\d+)(?=\s|$)", s[i:])
            if not m or not 1 <= int(m.group(1)) <= _MAX_GAP:
                raise PhraseSyntaxError(f"'~N' needs a number 1..{_MAX_GAP} followed by a space")
            if not out or out[-1] != _SEP + "+":
                raise PhraseSyntaxError("'~N' must stand between two words")
            n = int(m.group(1))
            # replace the separator already emitted: separator, up to n words, separator
            out[-1] = f"{_GAP_SEP}(?:{_GAP_WORD}{_GAP_SEP}){{0,{n}}}?"
            i += len(m.group(0))
            while i < len(s) and s[i] == " ":
                i += 1
            if i >= len(s) or s[i] in "|)":
                raise PhraseSyntaxError("'~N' must stand between two words")
        elif c == "*":
            if not out or not (out[-1][-1:].isalnum()):
                raise PhraseSyntaxError("'*' must follow a letter")
            out.append("[A-Za-z]*")
            i += 1
        elif c == " ":
            while i < len(s) and s[i] == " ":
                i += 1
            out.append(_SEP + "+")
        elif c == "-":
            out.append(_SEP + "?")
            i += 1
        elif c in "'\u2019":
            out.append(_APOS)
            i += 1
        elif c == ",":
            out.append(",?")
            i += 1
        else:  # a run of plain characters, escaped at once (re.escape works per character)
            run = _PLAIN_RUN.match(s, i)
            out.append(re.escape(run.group()))
            i = run.end()
    return "".join(out), i


def flagged_fragment(fragment: str, case_sensitive: bool) -> str:
    return f"(?:{fragment})" if case_sensitive else f"(?i:{fragment})"


def pattern_fragment(pattern: str) -> str:
    return f"{BOUNDARY}(?:{pattern}){BOUNDARY}"


def normalise_phrase(phrase: str) -> str:
    """Key for duplicate detection: case, spacing and apostrophe style ignored."""
    return re.sub(r"\s+", " ", phrase.replace("\u2019", "'")).strip().casefold()


# --------------------------------------------------------------------------- checking


class SourceLines:
    """Locate keys and values in the TOML text (tomllib gives no value lines)."""

    def __init__(self, text: str, block: str = "[[rule]]"):
        self.lines = text.splitlines()
        # first line of each array-of-tables block ([[rule]] here, [[entity]] in the gazetteer)
        self.rule_starts = [
            n for n, line in enumerate(self.lines, 1) if line.strip().startswith(block)
        ]

    def rule_block(self, index: int) -> tuple[int, int]:
        if index >= len(self.rule_starts):
            return 1, len(self.lines)
        start = self.rule_starts[index]
        end = (
            self.rule_starts[index + 1] - 1
            if index + 1 < len(self.rule_starts)
            else len(self.lines)
        )
        return start, end

    def find(self, needle: str, start: int = 1, end: int | None = None) -> int | None:
        end = len(self.lines) if end is None else end
        for n in range(start, end + 1):
            if needle in self.lines[n - 1]:
                return n
        return None

    def key(self, key: str, start: int = 1, end: int | None = None) -> int | None:
        end = len(self.lines) if end is None else end
        pat = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for n in range(start, end + 1):
            if pat.match(self.lines[n - 1]):
                return n
        return None

    def header(self, name: str) -> int | None:
        pat = re.compile(rf"^\s*\[\s*{re.escape(name)}\s*\]")
        for n, line in enumerate(self.lines, 1):
            if pat.match(line):
                return n
        return None

    def quoted(self, value: str, start: int, end: int) -> int | None:
        for quote in ('"', "'"):
            found = self.find(f"{quote}{value}{quote}", start, end)
            if found:
                return found
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return self.find(f'"{escaped}"', start, end) or self.find(value, start, end)


def rust_regex_error(pattern: str) -> str | None:
    """Return polars' (Rust regex) complaint about ``pattern``, or None."""
    import polars as pl

    try:
        pl.Series([""], dtype=pl.String).str.contains(pattern)
    except Exception as exc:  # polars raises ComputeError; keep the first useful line
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip().startswith("error:")]
        return lines[0] if lines else str(exc).splitlines()[0]
    return None


def python_regex_error(pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except re.error as exc:
        return str(exc)
    return None


def check_lexicon(path: Path) -> list[Problem]:
    """Validate a lexicon file; return every problem found (empty when clean)."""
    problems, _ = _check(Path(path))
    return problems


def read_toml(
    path: Path, what: str, block: str = "[[rule]]"
) -> tuple[list[Problem], dict[str, Any] | None, SourceLines | None]:
    """Read a UTF-8 TOML config file: (problems, data, source lines); data None on failure."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return [Problem(None, f"cannot read {what}: {exc}")], None, None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [Problem(None, f"{what} is not UTF-8: {exc}")], None, None
    src = SourceLines(text, block)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"at line (\d+)", str(exc))
        line = int(m.group(1)) if m else max(len(src.lines), 1)
        return [Problem(line, f"TOML syntax error: {exc}")], None, src
    return [], data, src


def _check(
    path: Path, combined_check_follows: bool = False
) -> tuple[list[Problem], dict[str, Any] | None]:
    problems, data, src = read_toml(path, "lexicon")
    if data is None:
        return problems, None

    def add(line: int | None, message: str) -> None:
        problems.append(Problem(line, message))

    for key in data:
        if key not in _TOP_KEYS:
            add(src.key(key) or src.header(key) or src.find(f"[{key}"), f"unknown key '{key}'")

    meta = data.get("lexicon", {})
    if not isinstance(meta, dict):
        add(src.key("lexicon"), "'lexicon' must be a table")
    else:
        for key in meta:
            if key not in _LEXICON_KEYS:
                add(src.key(key), f"unknown key 'lexicon.{key}'")

    regexes = RegexChecks(problems, combined_check_follows)
    _check_themes(data.get("themes"), src, add)
    _check_rules(data.get("rule"), data.get("themes"), src, add, regexes)
    regexes.report()
    return problems, data


def _check_themes(themes: Any, src: SourceLines, add) -> None:
    if not isinstance(themes, dict):
        add(src.header("themes"), "missing [themes.<name>] tables")
        return
    for name, table in themes.items():
        line = src.header(f"themes.{name}") or src.find(name)
        if name not in CODEBOOK_THEMES:
            add(line, f"unknown theme '{name}' (codebook themes: {', '.join(CODEBOOK_THEMES)})")
            continue
        if not isinstance(table, dict):
            add(line, f"theme '{name}' must be a table")
            continue
        end = block_end(src, line)
        for key in table:
            if key not in _THEME_KEYS:
                add(src.key(key, line or 1, end), f"unknown key '{key}' in theme '{name}'")
        threshold = table.get("threshold")
        tline = src.key("threshold", line or 1, end) or line
        if threshold is None:
            add(line, f"theme '{name}' has no threshold")
        elif isinstance(threshold, bool) or not isinstance(threshold, int | float):
            add(tline, f"threshold of '{name}' must be a number")
        elif not 0.0 < threshold <= 1.0:
            add(tline, f"threshold of '{name}' is {threshold}; it must be in (0, 1]")
    for name in CODEBOOK_THEMES:
        if name not in themes:
            add(src.header("themes") or 1, f"theme '{name}' is not defined in [themes]")


def block_end(src: SourceLines, start: int | None) -> int:
    if start is None:
        return len(src.lines)
    for n in range(start + 1, len(src.lines) + 1):
        if src.lines[n - 1].lstrip().startswith("["):
            return n - 1
    return len(src.lines)


def _check_rules(rules: Any, themes: Any, src: SourceLines, add, regexes: RegexChecks) -> None:
    if rules is None:
        add(None, "no [[rule]] entries")
        return
    if not isinstance(rules, list):
        add(src.key("rule"), "'rule' must be an array of tables ([[rule]])")
        return
    declared = set(themes) if isinstance(themes, dict) else set(CODEBOOK_THEMES)
    ids: dict[str, int] = {}
    seen_phrases: dict[tuple[str, str], str] = {}
    themes_with_cues: set[str] = set()
    all_needs: list[tuple[str, str, int | None]] = []

    for index, rule in enumerate(rules):
        start, end = src.rule_block(index)
        where = f"rule #{index + 1}"
        if not isinstance(rule, dict):
            add(start, f"{where} must be a table")
            continue
        rid = rule.get("id")
        if isinstance(rid, str):
            where = f"rule '{rid}'"

        def line_of(key: str, start=start, end=end) -> int:
            return src.key(key, start, end) or start

        for key in rule:
            if key not in _RULE_KEYS:
                add(line_of(key), f"unknown key '{key}' in {where}")
        if not isinstance(rid, str) or not _RULE_ID_RE.match(rid):
            add(line_of("id"), f"{where}: 'id' must be a dotted lowercase name like 'edu.pme'")
        elif rid in ids:
            add(line_of("id"), f"duplicate rule id '{rid}' (first at line {ids[rid]})")
        else:
            ids[rid] = line_of("id")

        theme = rule.get("theme")
        if theme not in CODEBOOK_THEMES or theme not in declared:
            add(line_of("theme"), f"{where}: unknown theme '{theme}'")
            theme = None
        kind = rule.get("kind")
        if kind not in RULE_KINDS:
            add(line_of("kind"), f"{where}: 'kind' must be one of {', '.join(RULE_KINDS)}")
        clause = rule.get("clause")
        if not isinstance(clause, str) or not clause.strip():
            add(line_of("clause"), f"{where}: 'clause' must name the codebook clause it implements")

        weight = rule.get("weight")
        if kind == "cue":
            if weight is None:
                add(start, f"{where}: a cue needs a 'weight'")
            elif isinstance(weight, bool) or not isinstance(weight, int | float):
                add(line_of("weight"), f"{where}: 'weight' must be a number")
            elif not 0.0 < weight <= 1.0:
                add(line_of("weight"), f"{where}: weight {weight} is out of range (0, 1]")
        elif weight is not None and kind in RULE_KINDS:
            add(line_of("weight"), f"{where}: a {kind} rule takes no 'weight'")

        if not isinstance(rule.get("case_sensitive", False), bool):
            add(line_of("case_sensitive"), f"{where}: 'case_sensitive' must be true or false")

        needs = rule.get("needs", [])
        if not isinstance(needs, list) or not all(isinstance(n, str) for n in needs):
            add(line_of("needs"), f"{where}: 'needs' must be a list of rule ids")
        else:
            if needs and kind != "cue":
                add(line_of("needs"), f"{where}: only cues take 'needs'")
            for need in needs:
                all_needs.append((need, where, src.quoted(need, start, end) or line_of("needs")))

        phrases = rule.get("phrases", [])
        patterns = rule.get("patterns", [])
        if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
            add(line_of("phrases"), f"{where}: 'phrases' must be a list of strings")
            phrases = []
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            add(line_of("patterns"), f"{where}: 'patterns' must be a list of strings")
            patterns = []
        if not phrases and not patterns:
            add(start, f"{where} has no phrases or patterns")
        if kind == "cue" and theme and (phrases or patterns):
            themes_with_cues.add(theme)

        for phrase in phrases:
            pline = src.quoted(phrase, start, end) or line_of("phrases")
            if not phrase.strip():
                add(pline, f"{where}: empty phrase")
                continue
            if theme:
                key = (theme, normalise_phrase(phrase))
                if key in seen_phrases:
                    add(
                        pline,
                        f"duplicate phrase '{phrase}' in theme '{theme}' "
                        f"(also in {seen_phrases[key]})",
                    )
                else:
                    seen_phrases[key] = where
            try:
                fragment = compile_phrase(phrase)
            except PhraseSyntaxError as exc:
                add(pline, f"{where}: bad phrase '{phrase}': {exc}")
                continue
            in_theme_regex = kind in ("cue", "veto")
            regexes.phrase(fragment, f"phrase '{phrase}'", where, pline, in_combined=in_theme_regex)
        for pattern in patterns:
            pline = src.quoted(pattern, start, end) or line_of("patterns")
            if not pattern:
                add(pline, f"{where}: empty pattern")
                continue
            if theme:
                key = (theme, "re:" + pattern)
                if key in seen_phrases:
                    add(pline, f"duplicate pattern '{pattern}' in theme '{theme}'")
                seen_phrases[key] = where
            if python_regex_error(pattern) is None and re.fullmatch(pattern, ""):
                add(pline, f"{where}: pattern '{pattern}' matches the empty string")
            regexes.pattern(pattern_fragment(pattern), f"pattern '{pattern}'", where, pline)

    for need, where, line in all_needs:
        if need not in ids:
            add(line, f"{where}: 'needs' names unknown rule '{need}'")
    if isinstance(themes, dict):
        for name in CODEBOOK_THEMES:
            if name in themes and name not in themes_with_cues:
                add(src.header(f"themes.{name}"), f"theme '{name}' has no cue phrases")


def check_regex(fragment: str, what: str, where: str, line: int | None, add) -> None:
    err = python_regex_error(python_form(fragment))
    if err:
        add(line, f"{where}: {what} does not compile in Python re: {err}")
        return
    err = rust_regex_error(fragment)
    if err:
        add(line, f"{where}: {what} is not accepted by polars (Rust regex): {err}")


def python_form(fragment: str) -> str:
    # Python re cannot switch Unicode off; its \b is the nearest equivalent.
    return fragment.replace(BOUNDARY, r"\b")


def rust_regexes_accepted(fragments: list[str]) -> bool:
    """True when polars accepts every one of ``fragments``, each compiled on its own.

    One polars call over a column of patterns costs less than one call per pattern: about
    what a handful of calls do for ~500 phrases, ~32 against 50-70 ms CPU for the seven
    combined regexes.
    """
    import polars as pl

    try:
        pl.DataFrame({"pattern": fragments}, schema={"pattern": pl.String}).select(
            pl.lit("").str.contains(pl.col("pattern"))
        )
    except Exception:  # polars raises ComputeError; the caller finds out which and why
        return False
    return True


def combined_regex_problems(what: str, regexes: dict[str, str]) -> list[Problem]:
    """The combined regexes (by name) that polars rejects; one polars call when none is."""
    if rust_regexes_accepted(list(regexes.values())):
        return []
    return [
        Problem(None, f"combined regex of {what} '{name}' is rejected by polars: {err}")
        for name, regex in regexes.items()
        if (err := rust_regex_error(regex))
    ]


class _PendingRegex(NamedTuple):
    position: int  # len(problems) when it was found: where its problems belong
    fragment: str
    what: str
    where: str
    line: int | None
    raw: bool  # an analyst's pattern rather than a compiled phrase
    skip_fast: bool  # left to the combined regex on the fast path


class RegexChecks:
    """The regex fragments of a lexicon or gazetteer, checked together at the end of a walk.

    Checking ~1,000 fragments one by one in both engines took ~0.5 s of every run. Here
    polars compiles them (each on its own) in one call, when loading only those that the
    combined regexes compiled next do not contain, and Python ``re`` compiles only raw
    ``patterns``: compiled phrases are built from escaped characters and fixed
    constructs, valid in both engines by construction (tests/test_lexicon.py fuzzes
    that); the Python check is for analysts' regexes. When anything fails, every
    fragment goes through :func:`check_regex` as before, and its problems are put where
    they were found, so the report is the same as a one-by-one check.
    """

    def __init__(self, problems: list[Problem], combined_check_follows: bool = False):
        self.problems = problems
        # Loading compiles the combined regexes next: phrases in them need no check of
        # their own (a compiled phrase is self-contained, so the alternation compiles only
        # if each phrase does), unless something fails and every fragment is checked.
        self.combined_check_follows = combined_check_follows
        self.pending: list[_PendingRegex] = []

    def phrase(
        self, fragment: str, what: str, where: str, line: int | None, in_combined: bool
    ) -> None:
        position = len(self.problems)
        skip_fast = in_combined and self.combined_check_follows
        self.pending.append(_PendingRegex(position, fragment, what, where, line, False, skip_fast))

    def pattern(self, fragment: str, what: str, where: str, line: int | None) -> None:
        position = len(self.problems)
        self.pending.append(_PendingRegex(position, fragment, what, where, line, True, False))

    def report(self) -> None:
        """Check every pending fragment; add the problems found in their places."""
        if self._all_accepted():
            return
        found: list[tuple[int, Problem]] = []
        for p in self.pending:
            check_regex(
                p.fragment,
                p.what,
                p.where,
                p.line,
                lambda line, message, at=p.position: found.append((at, Problem(line, message))),
            )
        for position, problem in reversed(found):  # later first keeps equal positions in order
            self.problems.insert(position, problem)

    def _all_accepted(self) -> bool:
        raw = (python_form(p.fragment) for p in self.pending if p.raw)
        if any(python_regex_error(fragment) for fragment in raw):
            return False
        return rust_regexes_accepted([p.fragment for p in self.pending if not p.skip_fast])


# --------------------------------------------------------------------------- loading


def load_lexicon(path: Path = DEFAULT_LEXICON_PATH) -> Lexicon:
    """Load, validate and compile a lexicon; raise LexiconError on any problem."""
    path = Path(path)
    problems, data = _check(path, combined_check_follows=True)
    if not problems and data is not None:
        lexicon = _build_lexicon(path, data)
        problems = combined_regex_problems(
            "theme", {t: lexicon.theme_regex(t) for t in lexicon.themes}
        )
        if not problems:
            return lexicon
    # Report what the full one-by-one check finds: every problem, with its line.
    raise LexiconError(path, check_lexicon(path) or problems)


def _build_lexicon(path: Path, data: dict[str, Any]) -> Lexicon:
    rules = tuple(_to_rule(r) for r in data["rule"])
    alternatives = tuple(_theme_alternatives(theme, rules) for theme in CODEBOOK_THEMES)
    return Lexicon(
        path=path,
        version=hashlib.sha256(path.read_bytes()).hexdigest()[:12],
        themes=CODEBOOK_THEMES,
        thresholds=tuple(float(data["themes"][t]["threshold"]) for t in CODEBOOK_THEMES),
        rules=rules,
        alternatives=alternatives,
    )


def _to_rule(raw: dict[str, Any]) -> Rule:
    return Rule(
        id=raw["id"],
        theme=raw["theme"],
        kind=raw["kind"],
        weight=float(raw.get("weight", 0.0)) if raw["kind"] == "cue" else 0.0,
        case_sensitive=bool(raw.get("case_sensitive", False)),
        needs=tuple(raw.get("needs", ())),
        phrases=tuple(raw.get("phrases", ())),
        patterns=tuple(raw.get("patterns", ())),
        clause=raw["clause"].strip(),
    )


def _rule_fragments(rule: Rule) -> list[str]:
    """Compiled, flagged regex fragments of a rule: phrases first, then patterns."""
    return [flagged_fragment(compile_phrase(p), rule.case_sensitive) for p in rule.phrases] + [
        flagged_fragment(pattern_fragment(p), rule.case_sensitive) for p in rule.patterns
    ]


def _theme_alternatives(theme: str, rules: tuple[Rule, ...]) -> tuple[Alternative, ...]:
    """Order a theme's alternatives for leftmost-first matching.

    Vetoes come first so that a veto phrase absorbs the cue it contains
    ("repatriation of the remains" is consumed whole, its "repatriation" never
    counts). Then longer sources before shorter ones, so "training courses"
    wins over "training" and the evidence shows the longer phrase.
    """
    vetoes: list[Alternative] = []
    others: list[Alternative] = []
    for rule in rules:
        if rule.theme != theme or rule.kind == "context":
            continue  # context rules are looked up separately, see tasks.classify
        target = vetoes if rule.kind == "veto" else others
        sources = rule.phrases + rule.patterns
        target.extend(
            Alternative(rule.id, source, fragment)
            for source, fragment in zip(sources, _rule_fragments(rule), strict=True)
        )

    def by_length(alts: list[Alternative]) -> list[Alternative]:
        return sorted(alts, key=lambda a: -len(a.source))  # stable: file order on ties

    return tuple(by_length(vetoes) + by_length(others))
