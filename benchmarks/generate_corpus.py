"""Generate a synthetic corpus of security-cooperation statements for benchmarks.

    .venv/bin/python -m benchmarks.generate_corpus --statements 100000 --out benchmarks/corpus/100k

Statement ``i`` lands in ``<out>/<year>/<month>/<slug>-<i>.<ext>`` and its bytes depend
only on ``(seed, i)``: the corpus is the same whatever the number of worker processes,
and a corpus of N statements is a prefix of one of M > N statements.

The mix follows the devset (/work/shared/devset/docs): plain text line-per-paragraph,
blank-line paragraphs with a title and a dateline line, and hard-wrapped paragraphs;
Markdown with ``#`` titles, ``##`` headings and lists; HTML press-release pages with
navigation, header, aside, footer, scripts and entities. A few files have CRLF line
ends, a UTF-8 byte-order mark or Windows-1252 bytes. Paragraphs are built from sentence
templates of the four codebook themes and of none, so classification does real work.
Statements average about 3 KB.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

CHUNK = 5_000  # statements per job of a worker process
POOL = 3_000  # rendered sentences per category

COUNTRIES = [
    "Iraq", "Jordan", "Kuwait", "Bahrain", "Saudi Arabia", "the United Arab Emirates",
    "Qatar", "Oman", "Egypt", "Morocco", "Tunisia", "Kazakhstan", "Uzbekistan", "Kosovo",
    "Albania", "North Macedonia", "Lebanon", "Georgia", "Nigeria", "Niger", "Chad",
    "Kenya", "Somalia", "the Philippines", "Indonesia", "Poland", "Romania", "Estonia",
]  # fmt: skip
PLACES = [
    "Baghdad", "Erbil", "Amman", "Kuwait City", "Manama", "Riyadh", "Abu Dhabi", "Doha",
    "Cairo", "Rabat", "Tunis", "Tashkent", "Pristina", "Beirut", "Tbilisi", "Abuja",
    "Nairobi", "Manila", "Jakarta", "Warsaw", "Bucharest", "Tallinn", "Washington",
]  # fmt: skip
OFFICIALS = [
    "the Secretary of Defense", "the Deputy Secretary of State", "the Chairman of the Joint "
    "Chiefs of Staff", "the Commander of U.S. Central Command", "the Minister of Defense",
    "the Chief of Defense", "the Ambassador", "the Under Secretary for Policy",
    "the Commander of U.S. Africa Command", "the Minister of Foreign Affairs",
]  # fmt: skip
SYSTEMS = [
    "F-16 aircraft", "M1A1 Abrams tanks", "UH-60 Black Hawk helicopters", "C-130 aircraft",
    "Bradley Fighting Vehicles", "Patriot air defense batteries", "armored Humvees",
    "ScanEagle unmanned aircraft", "patrol boats", "MRAP vehicles", "AH-64 Apache helicopters",
]  # fmt: skip
PROGRAMS = [
    "the International Military Education and Training program", "the State Partnership "
    "Program", "the Fulbright program", "the Foreign Military Financing program",
    "the Counter-ISIS Train and Equip Fund", "the Excess Defense Articles program",
]  # fmt: skip
SCHOOLS = [
    "the U.S. Army War College", "the Naval War College", "the Air Command and Staff "
    "College", "the National Defense University", "the Defense Language Institute",
    "the Command and General Staff College", "the Marine Corps University",
]  # fmt: skip
EXERCISES = ["African Lion", "Bright Star", "Eager Lion", "Iron Union", "Native Fury",
             "Flintlock", "Justified Accord", "Cutlass Express"]  # fmt: skip
CAMPS = ["al-Hol", "Roj", "al-Hol and Roj", "Hasakah"]
NUMBERS = ["two", "three", "four", "five", "six", "twelve", "twenty", "forty", "120", "250",
           "300", "1,200", "nearly 900", "more than 2,000", "about 600"]  # fmt: skip
TOPICS = ["trade", "energy", "climate", "health", "water", "investment", "culture",
          "agriculture", "the rule of law", "elections", "telecommunications"]  # fmt: skip

T = {
    "counter_isis": [
        "The Coalition remains committed to the enduring defeat of ISIS in Iraq and Syria.",
        "Partner forces continued counterterrorism operations against ISIS remnants near "
        "{place}, with advice and intelligence support from Coalition advisers.",
        "{Official} thanked {country} for its contributions to the Global Coalition to "
        "Defeat ISIS and for its partners’ sacrifices in the campaign.",
        "CJTF-OIR said the terrorist group no longer holds territory but its cells still "
        "threaten civilians in remote areas of Iraq and northeast Syria.",
        "Thousands of ISIS fighters remain in detention facilities in northeast Syria, a "
        "security risk that the Coalition says must be addressed.",
        "The delegations agreed that Da’esh must never again be able to regroup, recruit or "
        "threaten the people of the region.",
        "Operation Inherent Resolve will continue its advise, assist and enable mission with "
        "Iraqi Security Forces and the Peshmerga.",
        "{Official} condemned the ISIS attack in {place} that killed {number} people and "
        "pledged to keep working with partners to prevent any resurgence.",
        "Coalition aircraft supported partner forces in clearing ISIL hideouts in the "
        "desert west of {place}.",
        "Both sides reviewed the threat posed by foreign terrorist fighters and the "
        "networks that finance them.",
    ],
    "equipment_sustainment": [
        "The State Department approved a possible Foreign Military Sale to {country} of "
        "{number} {system} and related logistics support.",
        "The package includes spare parts, repair and return services, and contractor "
        "support to sustain the {system} already in service.",
        "{country} will receive {number} {system} through {program}, with training for the "
        "maintainers who will keep them running.",
        "The United States delivered {number} {system} to the armed forces of {country} "
        "this month, together with ammunition and communications equipment.",
        "The agreement covers the sustainment of {country}’s fleet of U.S.-built {system} "
        "over the next five years.",
        "Officials discussed FMS cases worth {number} million dollars and the timely "
        "delivery of equipment already on contract.",
        "A maintenance facility in {place} will help keep the {system} mission-capable.",
        "Letters of Offer and Acceptance for additional {system} were signed during the visit.",
    ],
    "education": [
        "{number} officers from {country} will study at {school} this year under {program}.",
        "The two militaries agreed to expand professional military education and English-"
        "language training for junior officers.",
        "Exercise {exercise} brought together {number} service members from {country} and "
        "the United States for field training and staff exercises.",
        "Instructors from {school} led a course on military leadership and the law of armed "
        "conflict for officers from {country}.",
        "The training mission in {place} has prepared {number} soldiers to plan and lead "
        "combined operations.",
        "Cadets from {country} joined an exchange program with {school}, living and "
        "training with their American peers.",
        "{program} has sent more than {number} students from {country} to U.S. military "
        "schools since its start.",
        "The partners will hold a joint exercise focused on maritime security and combat "
        "medicine next spring.",
    ],
    "repatriation": [
        "{country} repatriated {number} of its citizens from the {camp} camp in northeast "
        "Syria, most of them women and children.",
        "The United States welcomed the return of {number} internally displaced persons to "
        "their homes in {place}.",
        "{Official} urged every country to repatriate, rehabilitate and reintegrate its "
        "nationals held in the {camp} camp.",
        "Returnees from {camp} will take part in rehabilitation programs run with the "
        "support of UN agencies before going back to their communities.",
        "The Iraqi government has brought home {number} families from {camp} this year and "
        "plans further returns.",
        "Both sides stressed that refugees must be able to return voluntarily, safely and "
        "with dignity.",
        "{country} thanked its partners for the logistical help that made the repatriation "
        "flight from northeast Syria possible.",
        "The reintegration of former detainees’ families remains a priority for the "
        "authorities in {place}.",
    ],
    "none": [
        "The delegations discussed cooperation on {topic} and agreed to meet again in "
        "{place} next year.",
        "{Official} met with counterparts in {place} to review the bilateral relationship "
        "and regional developments.",
        "Both governments welcomed growing ties in {topic}, investment and education "
        "between their peoples.",
        "The two sides signed a memorandum of understanding on {topic} and cultural heritage.",
        "Officials highlighted the importance of transparent, inclusive elections and "
        "respect for the rule of law.",
        "The United States reaffirmed its support for {country}’s sovereignty and its "
        "efforts to strengthen its economy.",
        "Ministers noted new commercial flights between {place} and the region and agreed "
        "to simplify visa procedures.",
        "The meeting took place in a cordial atmosphere and reflected the depth of the "
        "partnership between the two countries.",
        "The partners agreed to expand cooperation on public health, water management and "
        "the response to climate change.",
        "The embassy in {place} announced new grants for museums, libraries and the "
        "preservation of historic sites.",
        "Discussions covered energy security, electricity supply and the reform of state "
        "enterprises.",
        "{Official} thanked the hosts for their hospitality and looked forward to the next "
        "session of the dialogue.",
    ],
}
THEME_WEIGHTS = {
    "none": 40,
    "counter_isis": 15,
    "equipment_sustainment": 15,
    "education": 15,
    "repatriation": 15,
}
HEADLINES = [
    "Joint Statement on the {country} Security Cooperation Dialogue",
    "{Official} Visits {place} to Discuss Security Cooperation",
    "United States and {country} Reaffirm Strategic Partnership",
    "Readout of the Meeting Between {Official} and Counterparts in {place}",
    "{country} Completes Repatriation of Citizens from Syria",
    "State Department Approves Possible Sale of {system} to {country}",
    "Exercise {exercise} Concludes in {country}",
    "Coalition Ministers Meet in {place} on the Defeat of ISIS",
]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]  # fmt: skip
HEADINGS = ["Security cooperation", "Economic ties", "Education and culture",
            "Regional stability", "Next steps", "Humanitarian assistance"]  # fmt: skip
LAYOUTS = [  # (layout, weight): about 60 % txt, 25 % md, 15 % html
    ("txt_lines", 20),
    ("txt_blocks", 20),
    ("txt_wrapped", 20),
    ("md", 25),
    ("html", 15),
]
EXT = {"txt_lines": "txt", "txt_blocks": "txt", "txt_wrapped": "txt", "md": "md", "html": "html"}


def _fill(rng: random.Random, template: str) -> str:
    return template.format(
        country=rng.choice(COUNTRIES),
        place=rng.choice(PLACES),
        Official=(o := rng.choice(OFFICIALS))[0].upper() + o[1:],
        official=o,
        system=rng.choice(SYSTEMS),
        program=rng.choice(PROGRAMS),
        school=rng.choice(SCHOOLS),
        exercise=rng.choice(EXERCISES),
        camp=rng.choice(CAMPS),
        number=rng.choice(NUMBERS),
        topic=rng.choice(TOPICS),
    )


def _pools(seed: int) -> dict[str, list[str]]:
    rng = random.Random(f"{seed}-pools")
    return {
        theme: [_fill(rng, rng.choice(templates)) for _ in range(POOL)]
        for theme, templates in T.items()
    }


def _wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap (textwrap is ten times slower and does the same here)."""
    lines, line, n = [], [], 0
    for word in text.split(" "):
        if line and n + 1 + len(word) > width:
            lines.append(" ".join(line))
            line, n = [word], len(word)
        else:
            n += len(word) + (1 if line else 0)
            line.append(word)
    if line:
        lines.append(" ".join(line))
    return lines


class _Doc:
    def __init__(self, rng: random.Random, pools: dict[str, list[str]], index: int):
        self.rng = rng
        self.year = 2014 + index % 12
        self.month = rng.randrange(1, 13)
        self.day = rng.randrange(1, 29)
        self.title = _fill(rng, rng.choice(HEADLINES))
        self.place = rng.choice(PLACES)
        themes = rng.choices(list(THEME_WEIGHTS), weights=list(THEME_WEIGHTS.values()), k=8)
        n = rng.randint(5, 8)
        self.paragraphs = []
        for theme in themes[:n]:
            # Slot-free templates repeat in the pool: drop repeats within a paragraph.
            sentences = list(dict.fromkeys(rng.choices(pools[theme], k=rng.randint(2, 4))))
            if rng.random() < 0.4:
                sentences.insert(rng.randrange(len(sentences) + 1), rng.choice(pools["none"]))
            self.paragraphs.append(" ".join(sentences))

    @property
    def date(self) -> str:
        return f"{MONTHS[self.month - 1]} {self.day}, {self.year}"

    @property
    def dateline(self) -> str:
        return f"{self.place.upper()}, {self.date}"


def _txt_lines(doc: _Doc) -> str:
    paragraphs = list(doc.paragraphs)
    paragraphs[0] = f"{doc.dateline} — {paragraphs[0]}"
    head = [doc.title] if doc.rng.random() < 0.5 else []
    return "\n".join(head + paragraphs) + "\n"


def _txt_blocks(doc: _Doc) -> str:
    blocks = [doc.title, doc.dateline, *doc.paragraphs]
    if doc.rng.random() < 0.3:
        blocks.insert(3, doc.rng.choice(HEADINGS))
    blocks.append(doc.rng.choice(["###", "-30-", "Media contact: press@example.gov"]))
    return "\n\n".join(blocks) + "\n"


def _txt_wrapped(doc: _Doc) -> str:
    width = doc.rng.choice([70, 72, 76, 78, 80])
    paragraphs = list(doc.paragraphs)
    paragraphs[0] = f"{doc.place.upper()} — {paragraphs[0]}"
    blocks = [doc.title, *("\n".join(_wrap(p, width)) for p in paragraphs)]
    return "\n\n".join(blocks) + "\n"


def _md(doc: _Doc) -> str:
    rng = doc.rng
    blocks = [f"# {doc.title}", f"{doc.place}, {doc.date}", *doc.paragraphs]
    if rng.random() < 0.5:
        marker = rng.choice(["-", "*", "1."])
        items = [p.split(". ")[0].rstrip(".") + ";" for p in rng.sample(doc.paragraphs, 3)]
        numbered = marker == "1."
        lines = [f"{i}. {item}" if numbered else f"{marker} {item}" for i, item in
                 enumerate(items, 1)]  # fmt: skip
        blocks.insert(4, "\n".join(lines))
    if rng.random() < 0.4:
        blocks.insert(3, f"## {rng.choice(HEADINGS)}")
    return "\n\n".join(blocks) + "\n"


_HTML_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} &#124; Press Releases</title>
  <style>
    body {{ font-family: Georgia, serif; margin: 0; }}
    .dateline {{ color: #555; font-style: italic; }}
  </style>
  <script>window.dataLayer = window.dataLayer || [];</script>
</head>
<body>
  <nav class="site-nav"><ul><li><a href="/">Home</a></li><li><a href="/News/">News &amp; \
Events</a></li></ul></nav>
  <header class="site-header"><p class="site-name">Official website</p></header>
  <main id="main">
    <article class="press-release">
      <h1>{title}</h1>
      <p class="dateline">{date}</p>
"""
_HTML_TAIL = """    </article>
    <aside class="related-links"><h2>Related links</h2><ul><li><a href="/News/">News \
releases</a></li></ul></aside>
  </main>
  <footer class="site-footer"><p>Privacy Policy &#183; Accessibility</p></footer>
  <script src="/assets/js/site.min.js"></script>
</body>
</html>
"""


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("’", "&#8217;").replace("—", "&#8212;")


def _html(doc: _Doc) -> str:
    rng = doc.rng
    parts = [_HTML_HEAD.format(title=_html_escape(doc.title), date=doc.date)]
    for i, paragraph in enumerate(doc.paragraphs):
        body = _html_escape(paragraph)
        if rng.random() < 0.3:
            words = body.split(" ")
            k = rng.randrange(len(words))
            words[k] = f"<em>{words[k]}</em>"
            body = " ".join(words)
        parts.append(f"      <p>{body}</p>\n")
        if i == 2 and rng.random() < 0.3:
            items = "".join(
                f"<li>{_html_escape(p.split('. ')[0])}</li>" for p in rng.sample(doc.paragraphs, 2)
            )
            parts.append(f"      <ul>{items}</ul>\n")
    if rng.random() < 0.5:
        parts.append('      <p class="contact">Media contact: press@example.gov</p>\n')
    parts.append(_HTML_TAIL)
    return "".join(parts)


RENDER = {
    "txt_lines": _txt_lines,
    "txt_blocks": _txt_blocks,
    "txt_wrapped": _txt_wrapped,
    "md": _md,
    "html": _html,
}
_POOLS: dict[int, dict[str, list[str]]] = {}


def _encode(rng: random.Random, text: str) -> bytes:
    roll = rng.random()
    if roll < 0.05:
        text = text.replace("\n", "\r\n")
    if roll < 0.07 or 0.97 <= roll:
        data = text.encode("utf-8")
        return b"\xef\xbb\xbf" + data if roll >= 0.97 else data
    if roll < 0.09:
        return text.encode("cp1252", errors="replace")
    return text.encode("utf-8")


def statement(seed: int, index: int) -> tuple[str, bytes]:
    """Relative path and bytes of statement ``index``: a function of (seed, index) only."""
    pools = _POOLS.get(seed) or _POOLS.setdefault(seed, _pools(seed))
    rng = random.Random(f"{seed}-{index}")
    layout = rng.choices([k for k, _ in LAYOUTS], weights=[w for _, w in LAYOUTS])[0]
    doc = _Doc(rng, pools, index)
    slug = doc.title.lower().replace("’", "").replace(".", "")
    slug = "-".join("".join(c if c.isalnum() else " " for c in slug).split()[:6])
    rel = f"{doc.year}/{doc.month:02d}/{slug}-{index:07d}.{EXT[layout]}"
    return rel, _encode(rng, RENDER[layout](doc))


def _write_chunk(args: tuple[int, int, int, str]) -> tuple[int, int]:
    seed, start, stop, out = args
    n_bytes = 0
    made: set[str] = set()
    for index in range(start, stop):
        rel, data = statement(seed, index)
        folder = rel.rsplit("/", 1)[0]
        if folder not in made:
            os.makedirs(os.path.join(out, folder), exist_ok=True)
            made.add(folder)
        fd = os.open(os.path.join(out, rel), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        n_bytes += len(data)
    return stop - start, n_bytes


def generate(out: Path, statements: int, seed: int = 7, workers: int | None = None) -> dict:
    """Write the corpus; return {"statements", "bytes", "seconds"}."""
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(seed, s, min(s + CHUNK, statements), str(out)) for s in range(0, statements, CHUNK)]
    started = time.perf_counter()
    workers = workers or min(os.cpu_count() or 1, 8)
    n_files = n_bytes = 0
    if workers == 1 or len(jobs) == 1:
        results = map(_write_chunk, jobs)
    else:
        pool = ProcessPoolExecutor(workers)
        results = pool.map(_write_chunk, jobs)
    for files, size in results:
        n_files += files
        n_bytes += size
    if workers != 1 and len(jobs) != 1:
        pool.shutdown()
    return {"statements": n_files, "bytes": n_bytes, "seconds": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--force", action="store_true", help="Delete --out first.")
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        if not args.force:
            sys.exit(f"{args.out} is not empty (use --force to replace it)")
        shutil.rmtree(args.out)
    need = args.statements * 4096 * 1.2
    free = shutil.disk_usage(args.out.parent if args.out.parent.exists() else ".").free
    if need > free:
        sys.exit(f"not enough disk: ~{need / 1e9:.1f} GB needed, {free / 1e9:.1f} GB free")
    result = generate(args.out, args.statements, args.seed, args.workers)
    print(
        f"wrote {result['statements']} statements, {result['bytes'] / 1e6:.1f} MB "
        f"({result['bytes'] / max(result['statements'], 1):.0f} B each) to {args.out} "
        f"in {result['seconds']:.1f} s"
    )


if __name__ == "__main__":
    main()
