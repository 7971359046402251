"""The theme lexicon: the shipped file is clean, and every kind of mistake an
analyst can make is reported with a clear message and the right line."""

from __future__ import annotations

import hashlib
import random
import textwrap
from pathlib import Path

import pytest

from communique.lexicon import (
    CODEBOOK_THEMES,
    DEFAULT_LEXICON_PATH,
    LexiconError,
    PhraseSyntaxError,
    check_lexicon,
    compile_phrase,
    load_lexicon,
    python_form,
    python_regex_error,
    rust_regexes_accepted,
)

# A minimal valid lexicon; each test breaks one thing in it.
VALID = textwrap.dedent(
    """\
    [lexicon]
    name = "test"

    [themes.counter_isis]
    threshold = 0.5

    [themes.equipment_sustainment]
    threshold = 0.5

    [themes.education]
    threshold = 0.5

    [themes.repatriation]
    threshold = 0.5

    [[rule]]
    id = "isis.name"
    theme = "counter_isis"
    kind = "cue"
    weight = 0.9
    case_sensitive = true
    clause = "counter_isis / definition"
    phrases = ["ISIS", "ISIL"]

    [[rule]]
    id = "equip.fms"
    theme = "equipment_sustainment"
    kind = "cue"
    weight = 0.9
    clause = "equipment_sustainment / definition"
    phrases = ["Foreign Military Sales"]

    [[rule]]
    id = "edu.pme"
    theme = "education"
    kind = "cue"
    weight = 0.9
    clause = "education / definition"
    phrases = ["war college"]

    [[rule]]
    id = "rep.repatriate"
    theme = "repatriation"
    kind = "cue"
    weight = 0.9
    clause = "repatriation / definition"
    phrases = ["repatriat*"]
    """
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "themes.toml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    seen = 0
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in text")


def only_problem(path: Path):
    problems = check_lexicon(path)
    assert len(problems) == 1, problems
    return problems[0]


# ----------------------------------------------------------------- shipped lexicon


def test_shipped_lexicon_checks_clean():
    assert check_lexicon(DEFAULT_LEXICON_PATH) == []


def test_shipped_lexicon_loads():
    lexicon = load_lexicon(DEFAULT_LEXICON_PATH)
    assert lexicon.themes == CODEBOOK_THEMES
    assert lexicon.themes == ("counter_isis", "equipment_sustainment", "education", "repatriation")
    expected = hashlib.sha256(DEFAULT_LEXICON_PATH.read_bytes()).hexdigest()[:12]
    assert lexicon.version == expected
    assert lexicon.path == DEFAULT_LEXICON_PATH
    assert all(0 < t <= 1 for t in lexicon.thresholds)
    for theme in lexicon.themes:
        assert lexicon.theme_regex(theme)


def test_every_shipped_rule_names_its_codebook_clause():
    lexicon = load_lexicon()
    for rule in lexicon.rules:
        assert rule.clause.split(" / ")[0] in (*CODEBOOK_THEMES, "General rules"), rule.id


def test_minimal_lexicon_is_valid(tmp_path):
    assert check_lexicon(write(tmp_path, VALID)) == []
    assert load_lexicon(write(tmp_path, VALID)).themes == CODEBOOK_THEMES


# ----------------------------------------------------------------- broken lexicons


def test_bad_toml_reports_its_line(tmp_path):
    text = VALID.replace('phrases = ["war college"]', 'phrases = "war college"]')
    problem = only_problem(write(tmp_path, text))
    assert "TOML syntax error" in problem.message
    assert problem.line == line_of(text, 'phrases = "war college"]')


def test_unknown_key_in_rule(tmp_path):
    text = VALID.replace(
        'clause = "education / definition"', 'clause = "education / definition"\nweigth = 0.4'
    )
    problem = only_problem(write(tmp_path, text))
    assert "unknown key 'weigth'" in problem.message and "edu.pme" in problem.message
    assert problem.line == line_of(text, "weigth")


def test_unknown_key_at_top_level_and_in_theme(tmp_path):
    text = VALID.replace(
        "[themes.education]\nthreshold = 0.5", "[themes.education]\nthreshold = 0.5\ncolour = 'red'"
    )
    text = "version = 3\n" + text
    problems = check_lexicon(write(tmp_path, text))
    messages = {p.message: p.line for p in problems}
    assert messages["unknown key 'version'"] == 1
    assert messages["unknown key 'colour' in theme 'education'"] == line_of(text, "colour")


def test_duplicate_phrase_within_a_theme(tmp_path):
    text = VALID.replace('phrases = ["ISIS", "ISIL"]', 'phrases = ["ISIS", "ISIL", "ISIS"]')
    problem = only_problem(write(tmp_path, text))
    assert "duplicate phrase 'ISIS'" in problem.message
    assert problem.line == line_of(text, '"ISIL", "ISIS"')


def test_duplicate_phrase_across_rules_ignores_case_and_apostrophes(tmp_path):
    extra = textwrap.dedent(
        """
        [[rule]]
        id = "isis.other"
        theme = "counter_isis"
        kind = "cue"
        weight = 0.5
        clause = "counter_isis / definition"
        phrases = ["isil"]
        """
    )
    text = VALID + extra
    problem = only_problem(write(tmp_path, text))
    assert "duplicate phrase 'isil'" in problem.message and "isis.name" in problem.message
    assert problem.line == line_of(text, '["isil"]')


def test_same_phrase_in_two_themes_is_allowed(tmp_path):
    text = VALID.replace(
        'phrases = ["war college"]', 'phrases = ["war college", "Foreign Military Sales"]'
    )
    assert check_lexicon(write(tmp_path, text)) == []


def test_pattern_that_python_cannot_compile(tmp_path):
    text = VALID.replace('phrases = ["war college"]', "patterns = ['war (college']")
    problem = only_problem(write(tmp_path, text))
    assert "does not compile in Python re" in problem.message
    assert problem.line == line_of(text, "war (college")


def test_pattern_that_rust_regex_rejects(tmp_path):
    # look-ahead compiles in Python but not in the Rust regex crate polars uses
    text = VALID.replace('phrases = ["war college"]', "patterns = ['war (?=college)']")
    problem = only_problem(write(tmp_path, text))
    assert "not accepted by polars (Rust regex)" in problem.message
    assert "look-around" in problem.message
    assert problem.line == line_of(text, "(?=college)")


def test_backreference_is_rejected(tmp_path):
    text = VALID.replace('phrases = ["war college"]', r"patterns = ['(war) \1']")
    problem = only_problem(write(tmp_path, text))
    assert "Rust regex" in problem.message or "Python re" in problem.message
    assert problem.line == line_of(text, "(war)")


def test_patterns_are_checked_each_on_its_own(tmp_path):
    # Regexes are checked in one batch; an unclosed '(' in one pattern must not be
    # "closed" by a stray ')' in another, and each problem keeps its place and line.
    text = VALID.replace('phrases = ["ISIS", "ISIL"]', "patterns = ['war (college']")
    text = text.replace('phrases = ["war college"]', "patterns = ['staff) college']")
    text = text.replace('phrases = ["repatriat*"]', 'phrases = ["repatriat*"]\nneeds = ["nope"]')
    problems = check_lexicon(write(tmp_path, text))
    assert [(p.line, p.message.split(":")[0]) for p in problems] == [
        (line_of(text, "war (college"), "rule 'isis.name'"),
        (line_of(text, "staff) college"), "rule 'edu.pme'"),
        (line_of(text, '"nope"'), "rule 'rep.repatriate'"),
    ]
    assert all("does not compile in Python re" in p.message for p in problems[:2])


def test_compiled_phrases_are_valid_in_both_engines():
    # Loading checks compiled phrases in Rust only: the phrase compiler escapes every
    # character and emits fixed constructs, so its output is valid Python re too.
    rng = random.Random(7)
    alphabet = [*"ab Z9()|~*-'\u2019,.\\[]{}^$?+#&/\u00e9\u2010\t", "~3 ", " ~2 "]
    fragments = set()
    for _ in range(20_000):
        phrase = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        try:
            fragments.add(compile_phrase(phrase))
        except PhraseSyntaxError:
            continue
    assert len(fragments) > 1_000
    assert [f for f in fragments if python_regex_error(python_form(f))] == []
    assert rust_regexes_accepted(sorted(fragments))


def test_a_phrase_left_to_the_theme_regex_is_reported_with_its_line(tmp_path, monkeypatch):
    # Loading leaves cue and veto phrases to the combined theme regex; when that fails,
    # the one-by-one check names the phrase and its line, as `taxonomy check` does.
    import communique.lexicon as module

    compile_ = module.compile_phrase
    broken = "war(?=college)"  # a stand-in for a phrase compiler bug
    monkeypatch.setattr(
        module, "compile_phrase", lambda p: broken if p == "war college" else compile_(p)
    )
    path = write(tmp_path, VALID)
    with pytest.raises(LexiconError) as caught:
        load_lexicon(path)
    assert caught.value.problems == check_lexicon(path)
    problem = only_problem(path)
    assert "phrase 'war college' is not accepted by polars (Rust regex)" in problem.message
    assert problem.line == line_of(VALID, "war college")


def test_bad_phrase_syntax(tmp_path):
    text = VALID.replace('phrases = ["war college"]', 'phrases = ["(war|staff college"]')
    problem = only_problem(write(tmp_path, text))
    assert "bad phrase" in problem.message and "unclosed" in problem.message
    assert problem.line == line_of(text, "(war|staff college")


def test_theme_without_phrases(tmp_path):
    start = VALID.index('[[rule]]\nid = "edu.pme"')
    end = VALID.index('[[rule]]\nid = "rep.repatriate"')
    text = VALID[:start] + VALID[end:]
    problem = only_problem(write(tmp_path, text))
    assert problem.message == "theme 'education' has no cue phrases"
    assert problem.line == line_of(text, "[themes.education]")


def test_rule_without_phrases(tmp_path):
    text = VALID.replace('phrases = ["war college"]\n', "phrases = []\n")
    problems = check_lexicon(write(tmp_path, text))
    assert any("'edu.pme' has no phrases or patterns" in p.message for p in problems)


def test_threshold_out_of_range(tmp_path):
    text = VALID.replace(
        "[themes.repatriation]\nthreshold = 0.5", "[themes.repatriation]\nthreshold = 1.5"
    )
    problem = only_problem(write(tmp_path, text))
    assert problem.message == "threshold of 'repatriation' is 1.5; it must be in (0, 1]"
    assert problem.line == line_of(text, "threshold = 1.5")


def test_weight_out_of_range(tmp_path):
    text = VALID.replace('weight = 0.9\nclause = "education', 'weight = 0\nclause = "education')
    problem = only_problem(write(tmp_path, text))
    assert "weight 0 is out of range (0, 1]" in problem.message
    assert problem.line == line_of(text, "weight = 0", occurrence=3)


def test_unknown_theme_referenced(tmp_path):
    text = VALID.replace('theme = "education"', 'theme = "educaton"')
    problems = check_lexicon(write(tmp_path, text))
    messages = [p for p in problems if "unknown theme 'educaton'" in p.message]
    assert messages and messages[0].line == line_of(text, 'theme = "educaton"')


def test_unknown_theme_table(tmp_path):
    text = VALID.replace("[themes.education]", "[themes.training]")
    problems = check_lexicon(write(tmp_path, text))
    assert any(
        "unknown theme 'training'" in p.message and p.line == line_of(text, "[themes.training]")
        for p in problems
    )
    assert any("theme 'education' is not defined" in p.message for p in problems)


def test_needs_must_name_an_existing_rule(tmp_path):
    text = VALID.replace(
        'phrases = ["war college"]', 'phrases = ["war college"]\nneeds = ["edu.ctx.nope"]'
    )
    problem = only_problem(write(tmp_path, text))
    assert "'needs' names unknown rule 'edu.ctx.nope'" in problem.message
    assert problem.line == line_of(text, "edu.ctx.nope")


def test_load_raises_with_path_and_lines(tmp_path):
    text = VALID.replace("weight = 0.9\ncase_sensitive", "weight = 2.0\ncase_sensitive")
    text = text.replace('theme = "education"', 'theme = "educaton"')
    path = write(tmp_path, text)
    with pytest.raises(LexiconError) as caught:
        load_lexicon(path)
    err = caught.value
    assert len(err.problems) >= 2
    lines = str(err).splitlines()
    assert f"{path}:{line_of(text, 'weight = 2.0')}: " in lines[0]
    assert all(line.startswith(f"{path}:") for line in lines)


# ----------------------------------------------------------------- phrase language


@pytest.mark.parametrize(
    ("phrase", "matches", "does_not_match"),
    [
        ("repatriat*", ["repatriate", "repatriated", "repatriations"], ["expatriate"]),
        ("al-Hol", ["al-Hol", "al Hol", "alHol", "al–Hol"], ["alcohol"]),
        ("Da'esh", ["Daesh", "Da'esh", "Da’esh"], ["Da-esh"]),
        (
            "train, advise, and assist",
            ["train, advise and assist", "train, advise, and assist"],
            [],
        ),
        (
            "remains ~3 repatriated",
            ["remains were later repatriated"],
            ["remains. They were repatriated"],
        ),
    ],
)
def test_phrase_language(phrase, matches, does_not_match):
    import re

    regex = re.compile(compile_phrase(phrase).replace("(?-u:\\b)", r"\b"), re.IGNORECASE)
    for text in matches:
        assert regex.fullmatch(text), (phrase, text)
    for text in does_not_match:
        assert not regex.search(text), (phrase, text)
