"""The gazetteer: line-level checks, and the matching rules the entity tagger relies on."""

from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from communique.cli import main
from communique.gazetteer import (
    DEFAULT_GAZETTEER_PATH,
    GazetteerError,
    check_gazetteer,
    load_gazetteer,
)
from tasks.entities import tag_documents, tag_entities

HEADER = '[gazetteer]\nname = "test"\n\n[partners]\nissuers = ["US"]\n\n'
US = '[[entity]]\nid = "US"\nkind = "country"\nname = "United States"\nphrases = ["U.S."]\n'


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "gazetteer.toml"
    path.write_text(HEADER + US + body)
    return path


def problems(tmp_path: Path, body: str) -> list[tuple[int | None, str]]:
    return [(p.line, p.message) for p in check_gazetteer(write(tmp_path, body))]


@pytest.fixture(scope="module")
def gazetteer():
    return load_gazetteer()


def mentions(text: str, gazetteer) -> list[tuple[str, str, str]]:
    frame = pl.DataFrame({"doc_id": ["d"], "paragraph_index": [1], "text": [text]})
    found = tag_entities(frame, gazetteer)
    return list(zip(found["kind"], found["entity_id"], found["surface"], strict=True))


def test_the_shipped_gazetteer_is_clean():
    assert check_gazetteer(DEFAULT_GAZETTEER_PATH) == []
    assert len(load_gazetteer().version) == 12


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ('[[entity]]\nid = "IQ"\nname = "Iraq"\nphrases = ["Iraq"]\n', 12, "has no 'kind'"),
        ('[[entity]]\nid = "QQ"\nkind = "country"\nname = "Q"\nphrases = ["Q"]\n', 13, "ISO 3166"),
        (
            '[[entity]]\nid = "IQ-KR"\nkind = "country"\nparent = "IQ"\nname = "K"\n'
            'phrases = ["Erbil"]\n',
            15,
            "unknown country 'IQ'",
        ),
        (
            '[[entity]]\nid = "DE"\nkind = "country"\nname = "Germany"\nphrases = ["U.S."]\n',
            16,
            "duplicate alias 'U.S.'",
        ),
        (
            '[[entity]]\nid = "FR"\nkind = "country"\nname = "France"\nphrases = ["(Paris"]\n',
            16,
            "bad phrase",
        ),
        (
            '[[entity]]\nid = "fms"\nkind = "programme"\nname = "FMS"\npatterns = ["(?<=x)FMS"]\n',
            16,
            "not accepted by polars",
        ),
        (
            '[[entity]]\nid = "dod"\nkind = "agency"\nname = "DoD"\nacronyms = ["DoD"]\n',
            14,
            "'kind' must be one of",
        ),
        (
            '[[entity]]\nid = "FR"\nkind = "country"\nname = "France"\nphrase = ["France"]\n',
            16,
            "unknown key 'phrase'",
        ),
        (
            '[[entity]]\nid = "dod"\nkind = "organisation"\nname = "DoD"\ncountry = "ZZ"\n'
            'acronyms = ["DoD"]\n',
            16,
            "unknown country 'ZZ'",
        ),
    ],
)
def test_problems_are_reported_with_their_line(tmp_path, body, line, message):
    found = problems(tmp_path, body)
    assert any(n == line and message in m for n, m in found), found


def test_a_broken_gazetteer_is_refused_with_every_problem(tmp_path):
    path = write(tmp_path, '[[entity]]\nid = "qq"\nname = ""\nbogus = 1\n')
    with pytest.raises(GazetteerError) as error:
        load_gazetteer(path)
    assert len(error.value.problems) >= 3
    assert str(path) in str(error.value)


def test_a_name_left_to_the_kind_regex_is_reported_with_its_line(tmp_path, monkeypatch):
    # Loading leaves names to the combined regex of their kind; when that fails, the
    # one-by-one check names the alias and its line, as `taxonomy check` does.
    import communique.gazetteer as module

    compile_ = module.compile_phrase
    broken = "U(?=S)"  # a stand-in for a phrase compiler bug
    monkeypatch.setattr(module, "compile_phrase", lambda p: broken if p == "U.S." else compile_(p))
    path = write(tmp_path, "")
    with pytest.raises(GazetteerError) as error:
        load_gazetteer(path)
    assert error.value.problems == check_gazetteer(path)
    [problem] = error.value.problems
    assert problem.line == 11 and "phrase 'U.S.' is not accepted by polars" in problem.message


def test_taxonomy_check_checks_the_lexicon_and_the_gazetteer(tmp_path):
    result = CliRunner().invoke(main, ["taxonomy", "check"])
    assert result.exit_code == 0, result.output
    assert "themes.toml: ok" in result.output and "gazetteer.toml: ok" in result.output
    bad = write(tmp_path, '[[entity]]\nid = "QQ"\nkind = "country"\nname = "Q"\nphrases = ["Q"]\n')
    result = CliRunner().invoke(main, ["taxonomy", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:13:" in result.output


def test_names_match_as_written_or_in_capitals_never_in_lower_case(gazetteer):
    assert mentions("BAGHDAD — Talks in Baghdad, not a baghdad.", gazetteer) == [
        ("country", "IQ", "BAGHDAD"),
        ("country", "IQ", "Baghdad"),
    ]
    assert mentions("Turkey and Jordan; turkey and jordan", gazetteer) == [
        ("country", "TR", "Turkey"),
        ("country", "JO", "Jordan"),
    ]


def test_us_the_pronoun_is_not_the_united_states(gazetteer):
    found = mentions("Join us: the U.S.-Iraq dialogue and US forces.", gazetteer)
    assert found == [
        ("country", "US", "U.S."),
        ("country", "IQ", "Iraq"),
        ("country", "US", "US"),
    ]


def test_longest_alias_wins_and_vetoes_absorb(gazetteer):
    assert mentions("the Iraqi Kurdistan Region and Kuwait City", gazetteer) == [
        ("country", "IQ-KR", "Iraqi Kurdistan Region"),
        ("country", "KW", "Kuwait City"),
    ]
    assert mentions("Latin American states and the Indian Ocean", gazetteer) == []


def test_kinds_match_independently_with_character_offsets(gazetteer):
    text = "Der Überblick: the Syrian Democratic Forces (SDF) and the DoD’s FMS cases."
    frame = pl.DataFrame({"doc_id": ["d"], "paragraph_index": [1], "text": [text]})
    found = tag_entities(frame, gazetteer)
    for row in found.iter_rows(named=True):
        assert text[row["char_start"] : row["char_end"]] == row["surface"]
    assert set(zip(found["kind"], found["entity_id"], strict=True)) == {
        ("organisation", "sdf"),
        ("country", "SY"),
        ("organisation", "dod"),
        ("programme", "fms"),
    }


def test_partner_rule_excludes_the_issuer_and_counts_regions_for_their_country(gazetteer):
    documents = pl.DataFrame(
        {"doc_id": ["a", "b"], "title": ["Secretary visits Erbil", None]},
        schema={"doc_id": pl.String, "title": pl.String},
    )
    paragraphs = pl.DataFrame(
        {
            "doc_id": ["a", "a", "b", "b"],
            "paragraph_index": [1, 2, 1, 2],
            "text": [
                "WASHINGTON — The United States and the KRG met; Jordan was mentioned once.",
                "The Peshmerga and U.S. forces.",
                "The SDF guards the camps.",
                "Talks in Washington about Syria.",
            ],
        }
    )
    documents, _, partners = tag_documents(documents, paragraphs, gazetteer)
    assert documents["partner_countries"].to_list() == ["IQ;IQ-KR", "SY"]
    row = partners.filter(pl.col("country_code") == "IQ-KR").row(0, named=True)
    assert (row["mentions"], row["paragraphs"], row["in_title"]) == (2, 2, True)
    assert "US" not in partners["country_code"].to_list()
    assert "JO" not in partners["country_code"].to_list()  # one paragraph, not in the title
