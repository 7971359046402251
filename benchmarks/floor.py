"""The least work any pipeline on our stack must do for a corpus: a lower bound.

    python -m benchmarks.floor --statements 100000

It reads every file (one Python read each, the fastest way measured here: DuckDB's
`read_blob` over the same paths took ~5x as long), decodes it as UTF-8 (in Python:
polars refuses the bytes of files that are not UTF-8), splits the text into lines, runs
each of the seven matcher regexes (four themes, three kinds of entity) once over every
line as a bare count (no offsets, no attribution), and writes the lines as one Parquet
file. It leaves out everything else the flow does: HTML parsing, layout rules, titles
and dates, match offsets, rules, evidence, entities, validation, five more tables,
snapshots and Prefect. Wall and CPU seconds are printed per step; docs/performance.md
compares them with the flow's targets.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import polars as pl

from benchmarks.run_benchmark import corpus_for
from communique.gazetteer import KINDS, load_gazetteer
from communique.lexicon import load_lexicon
from communique.locations import parse_location
from tasks.discover import discover


def _read(paths: list[str]) -> list[bytes]:
    contents = []
    for path in paths:
        with open(path, "rb") as handle:
            contents.append(handle.read())
    return contents


def _decode(contents: list[bytes]) -> pl.Series:
    # polars cannot cast bytes that are not UTF-8 (Windows-1252 files); Python can.
    return pl.Series("text", [data.decode("utf-8", "replace") for data in contents])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=100_000)
    args = parser.parse_args(argv)
    corpus, _ = corpus_for(args.statements)
    lexicon, gazetteer = load_lexicon(), load_gazetteer()
    regexes = [lexicon.theme_regex(t) for t in lexicon.themes]
    regexes += [gazetteer.kind_regex(kind) for kind in KINDS]
    files, _ = discover(parse_location(corpus))  # listing is not part of the floor
    paths = files.get_column("path").to_list()
    out = Path(tempfile.mkdtemp()) / "lines.parquet"

    steps: dict[str, tuple[float, float]] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    contents = _read(paths)
    steps["read"] = (time.perf_counter(), time.process_time())
    lines = (
        _decode(contents).str.split("\n").explode().to_frame("text").filter(pl.col("text") != "")
    )
    del contents
    steps["decode and split"] = (time.perf_counter(), time.process_time())
    pl.collect_all([lines.lazy().select(pl.col("text").str.count_matches(r)) for r in regexes])
    steps["seven regex scans"] = (time.perf_counter(), time.process_time())
    lines.write_parquet(out)
    steps["write"] = (time.perf_counter(), time.process_time())
    out.unlink()

    megabytes = lines.get_column("text").str.len_bytes().sum() / 1e6
    print(f"{len(paths)} files, {lines.height} lines, {megabytes:.0f} MB of text")
    before = (wall, cpu)
    for step, (now_wall, now_cpu) in steps.items():
        print(f"  {step:20s} {now_wall - before[0]:6.2f} s wall {now_cpu - before[1]:6.2f} s CPU")
        before = (now_wall, now_cpu)
    print(f"  {'total':20s} {before[0] - wall:6.2f} s wall {before[1] - cpu:6.2f} s CPU")


if __name__ == "__main__":
    main()
