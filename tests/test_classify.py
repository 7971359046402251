"""The classify stage: codebook examples and hard negatives (written for these
tests, not copied from the devset), output shape, dtypes, order and offsets."""

from __future__ import annotations

import polars as pl
import pytest

from communique.lexicon import load_lexicon
from tasks.classify import PARAGRAPH_THEMES_SCHEMA, THEME_EVIDENCE_SCHEMA, classify

THEMES = ("counter_isis", "equipment_sustainment", "education", "repatriation")
ISIS, EQUIP, EDU, REP = THEMES


@pytest.fixture(scope="module")
def lexicon():
    return load_lexicon()


def frame(texts: list[str | None], doc_id: str = "doc") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "doc_id": [doc_id] * len(texts),
            "paragraph_index": range(1, len(texts) + 1),
            "text": texts,
        },
        schema={"doc_id": pl.String, "paragraph_index": pl.Int32, "text": pl.String},
    )


def assigned(lexicon, text: str) -> set[str]:
    themes, _ = classify(frame([text]), lexicon)
    return set(themes.filter(pl.col("assigned")).get_column("theme"))


# ----------------------------------------------------------------- codebook: positives

POSITIVES = [
    # counter_isis: the campaign, the mission, the threat, detainees/fighters
    ("The ministers pledged to ensure the lasting defeat of Daesh and its affiliates.", {ISIS}),
    ("Partners will keep sharing intelligence on ISIS remnants in the Euphrates valley.", {ISIS}),
    ("CJTF-OIR will move to a bilateral security partnership next year.", {ISIS}),
    ("The future of the Coalition's military mission was the main item on the agenda.", {ISIS}),
    ("The prison attack in Hasakah showed that ISIS detainees remain a serious threat.", {ISIS}),
    ("Da’esh cells still operate in the desert.", {ISIS}),  # curly apostrophe
    ("The Islamic State lost its last territory in March.", {ISIS}),
    ("They served alongside U.S. forces in the campaign against ISIL.", {ISIS}),
    # equipment_sustainment
    (
        "The State Department approved a possible Foreign Military Sale of UH-60M Black Hawk "
        "helicopters with spare parts and logistics support.",
        {EQUIP},
    ),
    (
        "The package includes Excess Defense Articles such as MRAPs and maintenance support "
        "for the fleet.",
        {EQUIP},
    ),
    ("The proposed sale will modernize Morocco's fleet of Abrams tanks.", {EQUIP}),
    ("Both sides will cooperate on the sustainment of U.S.-origin aircraft.", {EQUIP}),
    ("Kuwait will receive new armored vehicles and ammunition through FMF.", {EQUIP}),
    # education
    ("Under IMET, forty officers will attend U.S. staff colleges this year.", {EDU}),
    ("NATO advisers will continue to train instructors at Iraqi military schools.", {EDU}),
    ("Cadets from the Kuwait Military Academy visited West Point.", {EDU}),
    ("A new cybersecurity training course opened for gendarmerie and police officers.", {EDU}),
    ("The Coalition's train, advise, and assist mission continues.", {ISIS, EDU}),
    (
        "The exercise brought together 8,000 troops from 30 nations to practice combined arms.",
        {EDU},
    ),
    ("The PME system remains a priority.", {EDU}),
    # repatriation
    ("Tajikistan repatriated 146 women and children from the Roj camp.", {REP}),
    (
        "Over four million internally displaced Iraqis have returned to their areas of origin.",
        {REP},
    ),
    ("The conference called for the safe, voluntary and dignified return of refugees.", {REP}),
    ("Countries must bring their citizens home from al-Hol.", {REP}),
    ("Support for the rehabilitation and reintegration of returnees will continue.", {REP}),
    (
        "Jordanian special forces completed a counter-terrorism course taught by Green Berets.",
        {EDU},
    ),
    (
        "The ministry signed a Letter of Offer and Acceptance for 24 AH-64E Apache helicopters.",
        {EQUIP},
    ),
    ("A contractor will provide depot maintenance and spare parts for the M1A1 fleet.", {EQUIP}),
    ("More than 10,000 ISIS fighters remain in detention facilities in northeast Syria.", {ISIS}),
    (
        "Kazakhstan's Operation Jusan brought back more than 600 citizens, most of them children.",
        {REP},
    ),
    ("Displaced families from Sinjar have begun to return home after the rebuilding.", {REP}),
    ("Iraq has begun transferring its nationals out of al-Hol to a center in Ninewa.", {REP}),
    # multi-label: prosecuting repatriated ISIS members is repatriation and counter_isis
    ("Prosecutors charged 50 repatriated ISIS members with terrorism offences.", {ISIS, REP}),
    (
        "The delegations discussed Foreign Military Sales and professional military education.",
        {EQUIP, EDU},
    ),
]


@pytest.mark.parametrize(("text", "expected"), POSITIVES)
def test_codebook_positives(lexicon, text, expected):
    assert assigned(lexicon, text) == expected


# ----------------------------------------------------------------- codebook: "not on its own"

NEGATIVES = [
    # counter_isis
    "The Director of the Counter-Terrorism Service and the Chief of Staff attended.",
    "The two sides reaffirmed their commitment to security cooperation and regional stability.",
    "Bahrain expanded counterterrorism cooperation against terrorist financing in the Gulf.",
    "The ongoing economic crisis has hit public salaries.",  # ISIS inside "crisis"
    "The grant will restore the museum destroyed by ISIS in 2015.",
    "Daesh’s occupation ended three years ago; the city is rebuilding its markets.",
    "We thank Iraq for hosting the Global Coalition, the EU and UN agencies at the conference.",
    # equipment_sustainment
    "Both sides are committed to developing Iraq's security and defense capabilities.",
    "The United States will provide $20 million in Foreign Military Financing to pay salaries.",
    "The grant paid for spare parts for two power stations in Basra.",
    "Refrigerated vaccine trucks were delivered to the health directorate.",
    "The sale of crude oil to neighbouring countries rose by ten percent.",
    # education
    "The embassy funded training for 300 health workers on maternal care.",
    "Teachers in Anbar received training in trauma-informed classroom methods.",
    "The minister stressed Iraq's right to exercise its sovereignty over its territory.",
    "The partnership spans energy, trade, health, education and culture.",
    "The advise, assist, and enable mission will continue to support Iraqi forces.",
    "The development of the oil sector is a priority.",  # PME inside "development"
    # repatriation
    "The ceremony marked the repatriation of the remains of two fallen service members.",
    "U.S. troops will return home after the withdrawal is completed.",
    "Kuwait thanked Iraq for returning the national archives seized in 1990.",
    "Investors welcomed strong returns in the energy sector.",
    "Hostages freed in the raid returned home to their families.",
    "UN agencies distributed food and water to residents of al-Hol camp.",
    "The museum celebrated the return of 300 antiquities looted from its galleries.",
    "Humanitarian agencies are providing water, food and shelter to displaced people in Idlib.",
    "The United States is providing $47 million to pay Peshmerga salaries and stipends.",
    "In the course of the meeting, of course, they discussed trade.",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_codebook_negatives(lexicon, text):
    assert assigned(lexicon, text) == set()


def test_isis_never_fires_inside_other_words(lexicon):
    themes, evidence = classify(
        frame(["A crisis, a Crisis and CRISIS.", "Developmental PMEs"]), lexicon
    )
    assert evidence.filter(pl.col("theme") == ISIS).is_empty()
    assert not themes.filter(pl.col("theme") == ISIS).get_column("assigned").any()


def test_curly_apostrophe_daesh_evidence(lexicon):
    _, evidence = classify(frame(["The fight against Da’esh continues."]), lexicon)
    row = evidence.filter(pl.col("theme") == ISIS).row(0, named=True)
    assert row["phrase"] == "Da’esh"
    assert row["rule"] == "isis.name.words"


def test_veto_cancels_only_the_cue_it_guards(lexicon):
    text = (
        "The ceremony honoured the repatriation of the remains of fallen soldiers. "
        "Separately, the government repatriated 300 displaced families from the camps."
    )
    themes, evidence = classify(frame([text]), lexicon)
    rep = themes.filter(pl.col("theme") == REP).row(0, named=True)
    assert rep["assigned"]
    assert "repatriated" in rep["evidence"]
    assert "remains" not in rep["evidence"]
    veto = evidence.filter(pl.col("rule") == "rep.veto.remains").row(0, named=True)
    assert veto["weight"] == 0.0
    assert veto["phrase"].startswith("repatriation of the remains")


def test_weak_cue_needs_context(lexicon):
    assert EDU not in assigned(lexicon, "The training will start in May.")
    assert EDU in assigned(lexicon, "The training of Iraqi soldiers will start in May.")


def test_a_rule_counts_once_however_often_it_matches(lexicon):
    themes, _ = classify(
        frame(["The Coalition met. The Coalition agreed. The Coalition left."]), lexicon
    )
    row = themes.filter(pl.col("theme") == ISIS).row(0, named=True)
    assert row["score"] == pytest.approx(0.3)
    assert not row["assigned"]
    assert row["evidence"] == "Coalition"


# ----------------------------------------------------------------- output contract


def test_output_schema_and_four_rows_per_paragraph(lexicon):
    texts = ["ISIS fighters.", "", None, "Nothing here at all."]
    themes, evidence = classify(frame(texts), lexicon)
    assert themes.schema == PARAGRAPH_THEMES_SCHEMA
    assert evidence.schema == THEME_EVIDENCE_SCHEMA
    assert themes.height == 4 * len(texts)
    assert themes.group_by("paragraph_index").len().get_column("len").to_list() == [4] * 4
    assert themes.get_column("theme").to_list() == list(THEMES) * len(texts)
    assert themes.get_column("score").is_between(0.0, 1.0).all()
    zero = themes.filter(pl.col("score") == 0)
    assert zero.height == 15 and (zero.get_column("evidence") == "").all()
    assert not zero.get_column("assigned").any()


def test_output_sorted_by_doc_paragraph_theme(lexicon):
    data = pl.DataFrame(
        {
            "doc_id": ["b", "a", "b", "a"],
            "paragraph_index": [2, 2, 1, 1],
            "text": ["ISIS.", "Cadets at West Point.", "FMS case.", "Refugees returned home."],
            "extra": [1, 2, 3, 4],  # other columns are ignored
        },
        schema_overrides={"paragraph_index": pl.Int32},
    )
    themes, evidence = classify(data, lexicon)
    keys = themes.select("doc_id", "paragraph_index").unique(maintain_order=True).rows()
    assert keys == [("a", 1), ("a", 2), ("b", 1), ("b", 2)]
    got = themes.filter(pl.col("assigned")).select("doc_id", "paragraph_index", "theme").rows()
    assert got == [("a", 1, REP), ("a", 2, EDU), ("b", 1, EQUIP), ("b", 2, ISIS)]
    assert evidence.select("doc_id", "paragraph_index").rows() == sorted(
        evidence.select("doc_id", "paragraph_index").rows()
    )


def test_evidence_offsets_are_character_offsets(lexicon):
    texts = [
        "“Quoted” — em dashes – and ’curly’ quotes come first; then Da’esh and ISIS.",
        "Ünïcödé ✓ 🙂 text before the war college and U.S.-origin equipment sustainment.",
        "Marker chars \ufdd0\ufdd1 in text, then repatriated families.",
    ]
    themes, evidence = classify(frame(texts), lexicon)
    assert evidence.height >= 5
    for row in evidence.iter_rows(named=True):
        text = texts[row["paragraph_index"] - 1]
        assert text[row["char_start"] : row["char_end"]] == row["phrase"], row
    daesh = evidence.filter(pl.col("phrase") == "Da’esh").row(0, named=True)
    assert daesh["char_start"] == texts[0].index("Da’esh")


def test_evidence_column_is_deduplicated_plain_string(lexicon):
    themes, _ = classify(frame(["ISIS and ISIL; then ISIS again, and Daesh."]), lexicon)
    row = themes.filter(pl.col("theme") == ISIS).row(0, named=True)
    assert row["evidence"] == "ISIS; ISIL; Daesh"


def test_taxonomy_version_is_stored(lexicon):
    themes, _ = classify(frame(["Nothing."]), lexicon)
    assert themes.get_column("taxonomy_version").unique().to_list() == [lexicon.version]
    assert len(lexicon.version) == 12


def test_empty_input_gives_empty_frames_with_schema(lexicon):
    themes, evidence = classify(frame([]), lexicon)
    assert themes.is_empty() and evidence.is_empty()
    assert themes.schema == PARAGRAPH_THEMES_SCHEMA
    assert evidence.schema == THEME_EVIDENCE_SCHEMA
