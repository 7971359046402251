"""One measured run in a fresh interpreter; run_benchmark starts this as a subprocess.

    python -m benchmarks.child pipeline|noop|reference --result R.json [options]

Every mode writes a JSON result: ``end_wall`` (time.time() when the work was done, so
the parent can compute the time from process start including imports), ``flow_s`` (the
flow call or the reference run alone), ``import_s`` and ``peak_rss_bytes`` (this
process's own high-water mark, VmHWM; the Prefect server and Dask workers are other
processes). Pipeline mode also reads the task-run durations back from the Prefect API
after the timed part.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path

from communique.settings import DEFAULT_BATCH_SIZE

STARTED = time.perf_counter()


def peak_rss_bytes(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _task_runner(args):
    if args.task_runner == "thread":
        return None
    from communique.scaleout import dask_task_runner

    return dask_task_runner(args.dask_address)


def task_durations(flow_run_id: str) -> dict[str, dict[str, float]]:
    """Per task name: number of runs and the sum of their run times (from the API)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def read():
        async with get_client() as client:
            runs, offset = [], 0
            while True:
                page = await client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                    offset=offset,
                    limit=200,
                )
                runs += page
                offset += len(page)
                if len(page) < 200:
                    return runs

    stages: dict[str, dict[str, float]] = {}
    for run in asyncio.run(read()):
        name = run.name.rsplit("-", 1)[0]  # "classify-4b1" -> "classify"
        entry = stages.setdefault(name, {"runs": 0, "seconds": 0.0})
        entry["runs"] += 1
        entry["seconds"] += run.total_run_time.total_seconds()
    return stages


def pipeline(args) -> dict:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    phases_file = Path(args.result).with_suffix(".phases.json")
    os.environ["COMMUNIQUE_PHASE_TIMINGS"] = str(phases_file)
    from flows.process_statements import process_statements

    import_s = time.perf_counter() - STARTED
    flow = process_statements
    runner = _task_runner(args)
    if runner is not None:
        flow = process_statements.with_options(task_runner=runner)
    flow_started = time.perf_counter()
    summary = asyncio.run(
        flow(
            raw_dir=Path(args.raw_dir),
            out_dir=Path(args.out_dir),
            full_refresh=args.full_refresh,
            batch_size=args.batch_size,
        )
    )
    flow_s = time.perf_counter() - flow_started
    end_wall = time.time()
    peak = peak_rss_bytes()
    result = {
        "end_wall": end_wall,
        "import_s": import_s,
        "flow_s": flow_s,
        "peak_rss_bytes": peak,
        "summary": {k: v for k, v in summary.items() if k not in ("rejects",)},
        **(
            {f"phase_{k}": v for k, v in json.loads(phases_file.read_text()).items()}
            if phases_file.is_file()
            else {}
        ),
    }
    phases_file.unlink(missing_ok=True)
    if summary.get("flow_run_id"):
        result["tasks"] = task_durations(summary["flow_run_id"])
    return result


def noop(args) -> dict:
    """Prefect's fixed cost: a flow with one trivial task, in the same mode and of the same
    kind as process-statements (an async flow; a sync one costs ~0.85 s more, see
    docs/performance.md)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE

    @task(cache_policy=NO_CACHE, persist_result=False)
    def one() -> int:
        return 1

    @flow(name="benchmark-noop")
    async def noop_flow() -> int:
        return one()

    import_s = time.perf_counter() - STARTED
    flow_started = time.perf_counter()
    runner = _task_runner(args)
    asyncio.run((noop_flow.with_options(task_runner=runner) if runner else noop_flow)())
    return {
        "end_wall": time.time(),
        "import_s": import_s,
        "flow_s": time.perf_counter() - flow_started,
        "peak_rss_bytes": peak_rss_bytes(),
    }


def reference(args) -> dict:
    from benchmarks.reference import run_reference

    import_s = time.perf_counter() - STARTED
    flow_started = time.perf_counter()
    counts = run_reference(Path(args.raw_dir), Path(args.out_dir), limit=args.limit)
    return {
        "end_wall": time.time(),
        "import_s": import_s,
        "flow_s": time.perf_counter() - flow_started,
        "peak_rss_bytes": peak_rss_bytes(),
        "counts": counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["pipeline", "noop", "reference"])
    parser.add_argument("--result", required=True)
    parser.add_argument("--raw-dir")
    parser.add_argument("--out-dir")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--full-refresh", action="store_true")
    parser.add_argument("--task-runner", choices=["thread", "dask"], default="thread")
    parser.add_argument("--dask-address", default=None)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    result = {"pipeline": pipeline, "noop": noop, "reference": reference}[args.mode](args)
    Path(args.result).write_text(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
