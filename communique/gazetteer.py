"""Load and validate the gazetteer (``config/gazetteer.toml``): who and where.

The gazetteer is data an analyst edits, like the theme lexicon, and uses the same phrase
mini-language (:func:`communique.lexicon.compile_phrase`) and the same checks: a file with
any problem is refused and every problem is reported as ``path:line: message``.

Entities have a ``kind``: ``country`` (ISO 3166-1 alpha-2 ids, or ISO 3166-2 ids for a
region inside a country, with ``parent``), ``organisation`` or ``programme``. Each lists
how it is written:

* ``phrases`` are names: they match as written or in capitals ("Baghdad" also matches the
  dateline "BAGHDAD"), never in lower case, so "turkey" or "jordan" as common words and
  "us" the pronoun are never countries;
* ``acronyms`` match exactly as written ("DoD", "KRG", "US");
* ``patterns`` are raw regexes (Python ``re`` and Rust ``regex``), matched as written;
* ``vetoes`` are phrases that are consumed first and count for nothing ("Indian Ocean"
  is not India): the same leftmost-first precedence as the lexicon's vetoes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from communique.lexicon import (
    LexiconError,
    PhraseSyntaxError,
    Problem,
    RegexChecks,
    SourceLines,
    combined_regex_problems,
    compile_phrase,
    normalise_phrase,
    pattern_fragment,
    python_regex_error,
    read_toml,
)

DEFAULT_GAZETTEER_PATH = Path(__file__).resolve().parents[1] / "config" / "gazetteer.toml"
KINDS: tuple[str, ...] = ("country", "organisation", "programme")

_TOP_KEYS = {"gazetteer", "partners", "entity"}
_META_KEYS = {"name", "description", "codes"}
_PARTNER_KEYS = {"issuers", "min_paragraphs", "title_counts"}
_ENTITY_KEYS = {
    "id",
    "kind",
    "name",
    "parent",
    "country",
    "phrases",
    "acronyms",
    "patterns",
    "vetoes",
    "note",
}
_ALIAS_KEYS = ("phrases", "acronyms", "patterns", "vetoes")
_ORG_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_REGION_ID_RE = re.compile(r"^([A-Z]{2})-[A-Z0-9]{1,3}$")

# ISO 3166-1 alpha-2, officially assigned codes.
ISO_ALPHA2 = frozenset(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN
    BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE
    DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN
    GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE
    KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK
    ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA
    PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK
    SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG
    UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW""".split()
)
# User-assigned codes in common use where ISO has none: XK = Kosovo (EU, IMF, World Bank).
CUSTOM_COUNTRY_CODES = frozenset({"XK"})


class GazetteerError(LexiconError):
    """A gazetteer failed validation; ``problems`` lists every reason."""


@dataclass(frozen=True)
class Entity:
    id: str
    kind: str
    name: str
    parent: str | None  # regions: the country they are part of
    country: str | None  # organisations and programmes: the country they belong to
    phrases: tuple[str, ...]
    acronyms: tuple[str, ...]
    patterns: tuple[str, ...]
    vetoes: tuple[str, ...]


@dataclass(frozen=True)
class Alias:
    """One way of writing an entity, compiled; ``entity_id`` is None for a veto."""

    entity_id: str | None
    source: str
    regex: str


@dataclass(frozen=True)
class PartnerRule:
    issuers: tuple[str, ...]  # country ids that are never partners (who speaks)
    min_paragraphs: int  # a partner is mentioned in at least this many body paragraphs...
    title_counts: bool  # ...or named in the title


@dataclass(frozen=True)
class Gazetteer:
    path: Path
    version: str
    entities: tuple[Entity, ...]
    partner_rule: PartnerRule
    # Per kind (aligned with KINDS), in match precedence: vetoes, then longest source first.
    aliases: tuple[tuple[Alias, ...], ...]

    def entity(self, entity_id: str) -> Entity:
        for entity in self.entities:
            if entity.id == entity_id:
                return entity
        raise KeyError(entity_id)

    def kind_regex(self, kind: str) -> str:
        return "|".join(alias.regex for alias in self.aliases[KINDS.index(kind)])

    def counts_for(self) -> dict[str, tuple[str, ...]]:
        """Entity id -> the countries (and regions) a mention of it counts for.

        A country counts for itself; a region for itself and its parent country; an
        organisation with a ``country`` for that country (and its parent).
        """
        by_id = {e.id: e for e in self.entities}

        def lineage(code: str) -> tuple[str, ...]:
            parent = by_id[code].parent
            return (code, parent) if parent else (code,)

        result = {}
        for entity in self.entities:
            if entity.kind == "country":
                result[entity.id] = lineage(entity.id)
            elif entity.country:
                result[entity.id] = lineage(entity.country)
        return result


# --------------------------------------------------------------------------- compiling


def name_fragment(phrase: str) -> str:
    """A name matches as written or in capitals (datelines, headlines), not in lower case."""
    as_written = compile_phrase(phrase)
    upper = phrase.upper()
    if upper == phrase:
        return f"(?:{as_written})"
    return f"(?:{as_written}|{compile_phrase(upper)})"


def _entity_aliases(entity: Entity) -> tuple[list[Alias], list[Alias]]:
    """(vetoes, aliases) of one entity, compiled."""
    vetoes = [Alias(None, v, name_fragment(v)) for v in entity.vetoes]
    aliases = (
        [Alias(entity.id, p, name_fragment(p)) for p in entity.phrases]
        + [Alias(entity.id, a, f"(?:{compile_phrase(a)})") for a in entity.acronyms]
        + [Alias(entity.id, p, f"(?:{pattern_fragment(p)})") for p in entity.patterns]
    )
    return vetoes, aliases


def _kind_aliases(kind: str, entities: tuple[Entity, ...]) -> tuple[Alias, ...]:
    # Longest first so "Iraqi Kurdistan Region" wins over "Iraqi" and "Kuwait City"
    # over "Kuwait"; sorted() is stable, so ties keep file order.
    vetoes: list[Alias] = []
    aliases: list[Alias] = []
    for entity in entities:
        if entity.kind == kind:
            v, a = _entity_aliases(entity)
            vetoes += v
            aliases += a

    def by_length(items: list[Alias]) -> list[Alias]:
        return sorted(items, key=lambda a: -len(a.source))

    return tuple(by_length(vetoes) + by_length(aliases))


# --------------------------------------------------------------------------- checking


def is_gazetteer(path: Path) -> bool:
    """True when a TOML file holds [[entity]] tables (a gazetteer, not a lexicon)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(line.strip().startswith("[[entity]]") for line in text.splitlines())


def check_gazetteer(path: Path) -> list[Problem]:
    """Validate a gazetteer file; return every problem found (empty when clean)."""
    problems, _ = _check(Path(path))
    return problems


def _check(
    path: Path, combined_check_follows: bool = False
) -> tuple[list[Problem], dict[str, Any] | None]:
    problems, data, src = read_toml(path, "gazetteer", block="[[entity]]")
    if data is None or src is None:
        return problems, None

    def add(line: int | None, message: str) -> None:
        problems.append(Problem(line, message))

    for key in data:
        if key not in _TOP_KEYS:
            add(src.key(key) or src.header(key) or src.find(f"[{key}"), f"unknown key '{key}'")
    for section, allowed in (("gazetteer", _META_KEYS), ("partners", _PARTNER_KEYS)):
        table = data.get(section, {})
        if not isinstance(table, dict):
            add(src.key(section), f"'{section}' must be a table")
            continue
        for key in table:
            if key not in allowed:
                add(src.key(key), f"unknown key '{section}.{key}'")
    regexes = RegexChecks(problems, combined_check_follows)
    countries = _check_entities(data.get("entity"), src, add, regexes)
    _check_partners(data.get("partners", {}), countries, src, add)
    regexes.report()
    return problems, data


def _check_partners(partners: Any, countries: set[str], src: SourceLines, add) -> None:
    if not isinstance(partners, dict):
        return
    issuers = partners.get("issuers", [])
    if not isinstance(issuers, list) or not all(isinstance(i, str) for i in issuers):
        add(src.key("issuers"), "'partners.issuers' must be a list of country ids")
    else:
        for issuer in issuers:
            if issuer not in countries:
                add(src.key("issuers"), f"'partners.issuers' names unknown country '{issuer}'")
    least = partners.get("min_paragraphs", 2)
    if isinstance(least, bool) or not isinstance(least, int) or least < 1:
        add(src.key("min_paragraphs"), "'partners.min_paragraphs' must be an integer >= 1")
    if not isinstance(partners.get("title_counts", True), bool):
        add(src.key("title_counts"), "'partners.title_counts' must be true or false")


def _check_id(entity: dict, kind: Any, where: str, line: int, add) -> None:
    eid = entity.get("id")
    if kind == "country":
        parent = entity.get("parent")
        if parent is not None:
            m = _REGION_ID_RE.match(eid) if isinstance(eid, str) else None
            if not m or m.group(1) != parent:
                add(line, f"{where}: a region's id must be an ISO 3166-2 code '{parent}-XX'")
        elif not isinstance(eid, str) or eid not in ISO_ALPHA2 | CUSTOM_COUNTRY_CODES:
            add(
                line,
                f"{where}: '{eid}' is not an ISO 3166-1 alpha-2 code "
                f"(or one of {', '.join(sorted(CUSTOM_COUNTRY_CODES))})",
            )
    elif kind in KINDS and (not isinstance(eid, str) or not _ORG_ID_RE.match(eid)):
        add(line, f"{where}: an {kind} id must be a lowercase name like 'centcom'")


def _check_entities(entities: Any, src: SourceLines, add, regexes: RegexChecks) -> set[str]:
    """Check every [[entity]]; return the declared country ids."""
    if not isinstance(entities, list) or not entities:
        add(None, "no [[entity]] entries")
        return set()
    ids: dict[str, int] = {}
    seen_alias: dict[str, tuple[str, str]] = {}  # normalised alias -> (where, as written)
    references: list[tuple[str, str, str, int]] = []  # (key, value, where, line)
    countries: set[str] = set()

    for index, entity in enumerate(entities):
        start, end = src.rule_block(index)
        where = f"entity #{index + 1}"
        if not isinstance(entity, dict):
            add(start, f"{where} must be a table")
            continue
        if isinstance(entity.get("id"), str):
            where = f"entity '{entity['id']}'"

        def line_of(key: str, start=start, end=end) -> int:
            return src.key(key, start, end) or start

        for key in entity:
            if key not in _ENTITY_KEYS:
                add(line_of(key), f"unknown key '{key}' in {where}")
        kind = entity.get("kind")
        if kind is None:
            add(start, f"{where} has no 'kind' ({' | '.join(KINDS)})")
        elif kind not in KINDS:
            add(line_of("kind"), f"{where}: 'kind' must be one of {', '.join(KINDS)}")
        _check_id(entity, kind, where, line_of("id"), add)
        eid = entity.get("id")
        if isinstance(eid, str):
            if eid in ids:
                add(line_of("id"), f"duplicate entity id '{eid}' (first at line {ids[eid]})")
            else:
                ids[eid] = line_of("id")
                if kind == "country":
                    countries.add(eid)
        if not isinstance(entity.get("name"), str) or not entity["name"].strip():
            add(line_of("name"), f"{where}: 'name' must be a non-empty string")
        for key in ("parent", "country"):
            value = entity.get(key)
            if value is None:
                continue
            if (key == "parent") != (kind == "country"):
                takers = "countries" if key == "parent" else "organisations and programmes"
                add(line_of(key), f"{where}: only {takers} take '{key}'")
            if not isinstance(value, str):
                add(line_of(key), f"{where}: '{key}' must be a country id")
            else:
                references.append((key, value, where, line_of(key)))
        _check_aliases(entity, where, src, start, end, line_of, seen_alias, add, regexes)

    for key, value, where, line in references:
        if value not in countries:
            add(line, f"{where}: '{key}' names unknown country '{value}'")
        elif key == "parent" and _REGION_ID_RE.match(value):
            add(line, f"{where}: 'parent' must be a country, not the region '{value}'")
    return countries


def _check_aliases(entity, where, src, start, end, line_of, seen_alias, add, regexes) -> None:
    total = 0
    for key in _ALIAS_KEYS:
        values = entity.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            add(line_of(key), f"{where}: '{key}' must be a list of strings")
            continue
        if key != "vetoes":
            total += len(values)
        for value in values:
            line = src.quoted(value, start, end) or line_of(key)
            if not value.strip():
                add(line, f"{where}: empty string in '{key}'")
                continue
            if key != "vetoes":
                # One way of writing must name one entity (the matcher would pick either).
                # Case variants within one entity are fine ("DoD" and "DOD").
                norm = "re:" + value if key == "patterns" else normalise_phrase(value)
                first = seen_alias.get(norm)
                if first and (first[0] != where or first[1] == value):
                    add(line, f"duplicate alias '{value}' in {where} (also in {first[0]})")
                elif not first:
                    seen_alias[norm] = (where, value)
            if key == "patterns":
                if python_regex_error(value) is None and re.fullmatch(value, ""):
                    add(line, f"{where}: pattern '{value}' matches the empty string")
                regexes.pattern(pattern_fragment(value), f"pattern '{value}'", where, line)
                continue
            try:
                fragment = name_fragment(value) if key != "acronyms" else compile_phrase(value)
            except PhraseSyntaxError as exc:
                add(line, f"{where}: bad phrase '{value}': {exc}")
                continue
            regexes.phrase(fragment, f"phrase '{value}'", where, line, in_combined=True)
    if total == 0:
        add(start, f"{where} has no phrases, acronyms or patterns")


# --------------------------------------------------------------------------- loading


def load_gazetteer(path: Path = DEFAULT_GAZETTEER_PATH) -> Gazetteer:
    """Load, validate and compile a gazetteer; raise GazetteerError on any problem."""
    path = Path(path)
    problems, data = _check(path, combined_check_follows=True)
    if not problems and data is not None:
        gazetteer = _build_gazetteer(path, data)
        regexes = {kind: regex for kind in KINDS if (regex := gazetteer.kind_regex(kind))}
        problems = combined_regex_problems("kind", regexes)
        if not problems:
            return gazetteer
    # Report what the full one-by-one check finds: every problem, with its line.
    raise GazetteerError(path, check_gazetteer(path) or problems)


def _build_gazetteer(path: Path, data: dict[str, Any]) -> Gazetteer:
    entities = tuple(_to_entity(raw) for raw in data["entity"])
    partners = data.get("partners", {})
    return Gazetteer(
        path=path,
        version=hashlib.sha256(path.read_bytes()).hexdigest()[:12],
        entities=entities,
        partner_rule=PartnerRule(
            issuers=tuple(partners.get("issuers", ())),
            min_paragraphs=int(partners.get("min_paragraphs", 2)),
            title_counts=bool(partners.get("title_counts", True)),
        ),
        aliases=tuple(_kind_aliases(kind, entities) for kind in KINDS),
    )


def _to_entity(raw: dict[str, Any]) -> Entity:
    return Entity(
        id=raw["id"],
        kind=raw["kind"],
        name=raw["name"].strip(),
        parent=raw.get("parent"),
        country=raw.get("country"),
        phrases=tuple(raw.get("phrases", ())),
        acronyms=tuple(raw.get("acronyms", ())),
        patterns=tuple(raw.get("patterns", ())),
        vetoes=tuple(raw.get("vetoes", ())),
    )
