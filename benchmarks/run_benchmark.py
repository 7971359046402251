"""Benchmark the pipeline on a synthetic corpus and compare it with a plain reference.

    .venv/bin/python -m benchmarks.run_benchmark --statements 10000

Generates (once) a corpus of N statements under benchmarks/corpus/, then, each in a fresh
interpreter:

1. Prefect's fixed cost: a flow with one trivial task, in the same mode as the runs;
2. ``--repeat`` full runs of the flow into a new output folder each (``--full-refresh``),
   reporting wall time from process start (imports included), statements/s, MB/s,
   peak RSS of the flow process, the flow's phase timings, each batch stage's seconds
   summed over batches, and the summed task-run durations per task (read back from the
   Prefect API after the timed part);
3. ``--repeat`` reruns with nothing changed on the last output folder;
4. the reference implementation (benchmarks/reference.py) on the first
   ``--reference-statements`` files, extrapolated by bytes to the whole corpus when that
   is a sample (its Python regex loop runs at ~0.2 MB/s: 100k statements take ~25 min);
5. ``communique --help``.

Medians of the repeats are reported; "our work" is the run time minus the median fixed
cost. Mode ``server`` (default) starts a private ``prefect server start`` on 127.0.0.1
with a temporary PREFECT_HOME (or uses PREFECT_API_URL if set); mode ``ephemeral``
unsets PREFECT_API_URL so that every process starts Prefect's embedded server.
Results: benchmarks/results/<timestamp>-<gitsha>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.generate_corpus import generate
from communique.settings import DEFAULT_BATCH_SIZE

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT / "benchmarks" / "corpus"
RESULTS = ROOT / "benchmarks" / "results"
SEED = 7


def corpus_for(statements: int, seed: int = SEED) -> tuple[Path, dict]:
    """benchmarks/corpus/<N>-s<seed>, generated on first use (a marker file beside it)."""
    folder = CORPORA / f"{statements}-s{seed}"
    marker = folder.with_suffix(".json")
    if marker.is_file():
        return folder, json.loads(marker.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    print(f"generating {statements} statements into {folder} ...", flush=True)
    info = generate(folder, statements, seed)
    info["seed"] = seed
    marker.write_text(json.dumps(info))
    print(f"  {info['bytes'] / 1e6:.1f} MB in {info['seconds']:.1f} s", flush=True)
    return folder, info


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrefectServer:
    """A private `prefect server start` on loopback for the duration of the benchmark."""

    def __init__(self) -> None:
        from communique.server import api_url, server_command, server_env, wait_until_healthy

        self.home = Path(tempfile.mkdtemp(prefix="communique-bench-prefect-"))
        port = _free_port()
        self.url = api_url(port)
        self.log = open(self.home / "server.log", "w")
        self.process = subprocess.Popen(
            server_command(port),
            env=server_env(self.home, port),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.ready_s = wait_until_healthy(self.url, 180, self.process)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)


def _sample_rss(pid: int, peaks: dict, stop: threading.Event) -> None:
    """Peak RSS of the child's descendants (Dask workers, embedded server), sampled."""
    import psutil

    try:
        parent = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    while not stop.wait(0.1):
        try:
            children = parent.children(recursive=True)
        except psutil.NoSuchProcess:
            return
        for child in children:
            try:
                rss = child.memory_info().rss
                name = " ".join(child.cmdline()[1:4])[:80]
            except psutil.Error:
                continue
            key = f"{child.pid} {name}"
            peaks[key] = max(peaks.get(key, 0), rss)


def run_child(mode: str, env: dict, **options) -> dict:
    with tempfile.TemporaryDirectory(prefix="communique-bench-") as scratch:
        result_file = Path(scratch) / "result.json"
        command = [sys.executable, "-m", "benchmarks.child", mode, "--result", str(result_file)]
        for key, value in options.items():
            if value is True:
                command.append(f"--{key.replace('_', '-')}")
            elif value not in (None, False):
                command += [f"--{key.replace('_', '-')}", str(value)]
        started = time.time()
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        peaks: dict = {}
        stop = threading.Event()
        sampler = threading.Thread(target=_sample_rss, args=(process.pid, peaks, stop))
        sampler.start()
        output = process.communicate()[0].decode(errors="replace")
        stop.set()
        sampler.join()
        if process.returncode != 0:
            sys.exit(f"benchmark child {mode} failed:\n{output[-5000:]}")
        result = json.loads(result_file.read_text())
    result["wall_s"] = result["end_wall"] - started
    result["descendants_peak_rss_bytes"] = peaks
    return result


def help_seconds(repeat: int) -> float:
    command = [str(Path(sys.executable).with_name("communique")), "--help"]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def git_sha() -> str:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except OSError:
        return "unknown"


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _stage_table(runs: list[dict]) -> dict:
    """Median over runs of the summed task-run seconds per task, of the batch stages'
    seconds summed over batches (they run in one task per batch), and of the phases."""
    stages: dict[str, list[float]] = {}
    for run in runs:
        for name, entry in run.get("tasks", {}).items():
            stages.setdefault(f"task {name}", []).append(entry["seconds"])
        for name, seconds in run.get("phase_stage_seconds", {}).items():
            stages.setdefault(f"stage {name}", []).append(seconds)
        for name, seconds in run.get("phase_seconds", {}).items():
            stages.setdefault(f"phase {name}", []).append(seconds)
    return {name: statistics.median(values) for name, values in stages.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=10_000)
    parser.add_argument("--corpus", type=Path, help="Use this raw folder instead.")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--mode", choices=["server", "ephemeral"], default="server")
    parser.add_argument("--task-runner", choices=["thread", "dask"], default="thread")
    parser.add_argument("--dask-address")
    parser.add_argument(
        "--reference-statements",
        type=int,
        default=2_000,
        help="Files the reference runs on (0: skip it; -1: the whole corpus).",
    )
    parser.add_argument("--no-rerun", action="store_true", help="Skip the unchanged reruns.")
    parser.add_argument("--keep-output", action="store_true")
    args = parser.parse_args(argv)

    if args.corpus:
        raw_dir = args.corpus.resolve()
        corpus = {
            "statements": None,
            "bytes": sum(p.stat().st_size for p in raw_dir.rglob("*") if p.is_file()),
        }
    else:
        raw_dir, corpus = corpus_for(args.statements)
    n_statements = corpus["statements"] or sum(1 for p in raw_dir.rglob("*") if p.is_file())
    n_bytes = corpus["bytes"]

    env = dict(os.environ)
    # Measure runs as an installed project runs: with its byte-code cached. Without this
    # a shell that sets it recompiles every project module in every measured run (~80 ms).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    env["PREFECT_LOGGING_LEVEL"] = env.get("PREFECT_LOGGING_LEVEL", "WARNING")
    server = None
    if args.mode == "ephemeral":
        env.pop("PREFECT_API_URL", None)
    elif not env.get("PREFECT_API_URL"):
        print("starting a private Prefect server on 127.0.0.1 ...", flush=True)
        server = PrefectServer()
        env["PREFECT_API_URL"] = server.url
        print(f"  ready in {server.ready_s:.1f} s at {server.url}", flush=True)
    runner = {"task_runner": args.task_runner, "dask_address": args.dask_address}
    # beside the corpora (same filesystem, gitignored)
    CORPORA.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="out-", dir=CORPORA))
    try:
        print("Prefect fixed cost (one-task flow) ...", flush=True)
        noops = [run_child("noop", env, **runner) for _ in range(args.repeat)]
        fixed = _median(noops, "wall_s")
        print(f"  {fixed:.2f} s (median of {args.repeat})", flush=True)

        full = []
        for i in range(args.repeat):
            out_dir = scratch / f"out-{i}"
            full.append(
                run_child(
                    "pipeline",
                    env,
                    raw_dir=raw_dir,
                    out_dir=out_dir,
                    batch_size=args.batch_size,
                    full_refresh=True,
                    **runner,
                )  # fmt: skip
            )
            r = full[-1]
            print(
                f"  full run {i + 1}: {r['wall_s']:.2f} s (flow {r['flow_s']:.2f} s), "
                f"peak RSS {r['peak_rss_bytes'] / 2**20:.0f} MiB",
                flush=True,
            )
            if i > 0:
                shutil.rmtree(scratch / f"out-{i - 1}", ignore_errors=True)
        last_out = scratch / f"out-{args.repeat - 1}"
        reruns = []
        if not args.no_rerun:
            for i in range(args.repeat):
                reruns.append(
                    run_child(
                        "pipeline",
                        env,
                        raw_dir=raw_dir,
                        out_dir=last_out,
                        batch_size=args.batch_size,
                        **runner,
                    )  # fmt: skip
                )
                r = reruns[-1]
                assert r["summary"]["documents_written"] == 0, r["summary"]
                print(f"  unchanged rerun {i + 1}: {r['wall_s']:.2f} s", flush=True)

        reference = None
        if args.reference_statements:
            limit = None if args.reference_statements < 0 else args.reference_statements
            print(f"reference implementation on {limit or 'all'} statements ...", flush=True)
            reference = run_child(
                "reference", env, raw_dir=raw_dir, out_dir=scratch / "reference", limit=limit
            )
            counts = reference["counts"]
            reference["extrapolated_wall_s"] = reference["wall_s"] * n_bytes / counts["bytes"]
            reference["sample"] = counts["files"] < n_statements
            print(
                f"  {reference['wall_s']:.1f} s for {counts['files']} statements "
                f"-> {reference['extrapolated_wall_s']:.1f} s for the corpus",
                flush=True,
            )
        help_s = help_seconds(5)
    finally:
        if server is not None:
            server.stop()
        if not args.keep_output:
            shutil.rmtree(scratch, ignore_errors=True)

    run_s = _median(full, "wall_s")
    report = {
        "git_sha": git_sha(),
        "timestamp": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "mode": args.mode,
        "task_runner": args.task_runner,
        "batch_size": args.batch_size,
        "repeat": args.repeat,
        "corpus": {"path": str(raw_dir), "statements": n_statements, "bytes": n_bytes},
        "prefect_fixed_cost_s": fixed,
        "full_run": {
            "wall_s": run_s,
            "flow_s": _median(full, "flow_s"),
            "import_s": _median(full, "import_s"),
            "our_work_s": run_s - fixed,
            "statements_per_s": n_statements / run_s,
            "mb_per_s": n_bytes / 1e6 / run_s,
            "our_work_statements_per_s": n_statements / max(run_s - fixed, 1e-9),
            "peak_rss_bytes": max(r["peak_rss_bytes"] for r in full),
            # the flow process's high-water mark at the end of each phase (last run)
            "peak_rss_bytes_after_phase": full[-1].get("phase_peak_rss_bytes", {}),
            "stages_s": _stage_table(full),
            "all_wall_s": [r["wall_s"] for r in full],
            "descendants_peak_rss_bytes": full[-1]["descendants_peak_rss_bytes"],
            "summary": full[-1]["summary"],
        },
        "unchanged_rerun": {
            "wall_s": _median(reruns, "wall_s"),
            "our_work_s": _median(reruns, "wall_s") - fixed,
            "peak_rss_bytes": max(r["peak_rss_bytes"] for r in reruns),
            "stages_s": _stage_table(reruns),
            "all_wall_s": [r["wall_s"] for r in reruns],
        }
        if reruns
        else None,
        "reference": reference
        and {
            "statements": reference["counts"]["files"],
            "wall_s": reference["wall_s"],
            "corpus_wall_s": reference["extrapolated_wall_s"],
            "extrapolated": reference["sample"],
            "peak_rss_bytes": reference["peak_rss_bytes"],
            "speedup": reference["extrapolated_wall_s"] / run_s,
            "speedup_our_work": reference["extrapolated_wall_s"] / max(run_s - fixed, 1e-9),
        },
        "help_s": help_s,
        "noop_all_wall_s": [r["wall_s"] for r in noops],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{report['timestamp']}-{report['git_sha']}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    print_report(report)
    print(f"\nresults: {path}")


def print_report(r: dict) -> None:
    full, mib = r["full_run"], 2**20
    print(
        f"\n{r['corpus']['statements']} statements, {r['corpus']['bytes'] / 1e6:.1f} MB; "
        f"mode {r['mode']}, runner {r['task_runner']}, batch {r['batch_size']}; "
        f"medians of {r['repeat']}"
    )
    print(f"Prefect fixed cost (one-task flow): {r['prefect_fixed_cost_s']:.2f} s")
    print(
        f"full run: {full['wall_s']:.2f} s end to end, our work {full['our_work_s']:.2f} s; "
        f"{full['statements_per_s']:.0f} statements/s, {full['mb_per_s']:.1f} MB/s; "
        f"peak RSS {full['peak_rss_bytes'] / mib:.0f} MiB"
    )
    for name, seconds in sorted(full["stages_s"].items()):
        print(f"  {name:<28} {seconds:7.2f} s")
    peaks = full["peak_rss_bytes_after_phase"]
    if peaks:
        print(
            "  peak RSS by the end of: "
            + ", ".join(f"{k} {v / mib:.0f}" for k, v in peaks.items())
            + " MiB"
        )
    if r["unchanged_rerun"]:
        u = r["unchanged_rerun"]
        print(f"unchanged rerun: {u['wall_s']:.2f} s end to end, our work {u['our_work_s']:.2f} s")
    if r["reference"]:
        ref = r["reference"]
        how = (
            f"extrapolated from {ref['statements']} statements"
            if ref["extrapolated"]
            else "measured"
        )
        print(
            f"reference: {ref['corpus_wall_s']:.1f} s ({how}); pipeline is "
            f"{ref['speedup']:.1f}x faster end to end, {ref['speedup_our_work']:.1f}x on our work"
        )
    print(f"communique --help: {r['help_s']:.2f} s")


if __name__ == "__main__":
    main()
