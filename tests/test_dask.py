"""Scale-out: the flow's batch tasks on a real `distributed` cluster give the same tables."""

import asyncio
import os
import pickle
from pathlib import Path

import pytest

from flows.process_statements import process_statements
from tests.test_flow import assert_same_content, content

DEVSET_DOCS = Path(__file__).resolve().parents[1].parent / "shared" / "devset" / "docs"

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    from communique.scaleout import local_cluster_kwargs

    with distributed.LocalCluster(**local_cluster_kwargs(n_workers=2)) as local:
        with distributed.Client(local) as client:
            client.wait_for_workers(2, timeout=120)
            worker_pids = sorted(client.run(os.getpid).values())
        yield local, worker_pids


def _listeners(pid: int) -> list[tuple[str, int]]:
    import psutil

    return [
        (c.laddr.ip, c.laddr.port)
        for c in psutil.Process(pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    ]


def test_cluster_listens_on_loopback_only(cluster):
    local, worker_pids = cluster
    assert len(worker_pids) == 2 and os.getpid() not in worker_pids
    # The scheduler and the nannies run in this process; the workers in their own.
    listeners = {pid: _listeners(pid) for pid in [os.getpid(), *worker_pids]}
    assert all(listeners[pid] for pid in worker_pids), listeners
    for pid, addresses in listeners.items():
        for ip, port in addresses:
            assert ip == "127.0.0.1", f"process {pid} listens on {ip}:{port}"
    assert local.scheduler_address.startswith("tcp://127.0.0.1:")


def test_task_inputs_pickle(tmp_path):
    """Dask ships task parameters and results to other processes by pickling them."""
    from communique.lexicon import load_lexicon
    from communique.locations import parse_location
    from communique.store import SnapshotWriter
    from tasks.batch import Batch
    from tasks.discover import discover

    def roundtrip(value):
        return pickle.loads(pickle.dumps(value))

    lexicon = load_lexicon()
    assert roundtrip(lexicon) == lexicon
    writer = SnapshotWriter(tmp_path / "out", "r1")
    assert vars(roundtrip(writer)) == vars(writer)
    raw = parse_location(DEVSET_DOCS if DEVSET_DOCS.is_dir() else tmp_path)
    assert roundtrip(raw) == raw
    files, rejects = discover(raw)
    batch = roundtrip(Batch(part="part-1", documents=files, rejects=rejects))
    assert batch.part == "part-1" and batch.documents.equals(files)
    assert batch.rejects.equals(rejects)


def test_dask_run_equals_a_local_run(cluster, tmp_path):
    if not DEVSET_DOCS.is_dir():
        pytest.skip(f"the devset is not at {DEVSET_DOCS}")
    from prefect_dask import DaskTaskRunner

    local, _ = cluster
    on_dask = process_statements.with_options(
        task_runner=DaskTaskRunner(address=local.scheduler_address)
    )
    # A small batch size gives several batches, so tasks spread over both workers.
    dask_summary = asyncio.run(
        on_dask(raw_dir=DEVSET_DOCS, out_dir=tmp_path / "dask", batch_size=8)
    )
    local_summary = asyncio.run(process_statements(raw_dir=DEVSET_DOCS, out_dir=tmp_path / "local"))
    assert dask_summary["documents_written"] == local_summary["documents_written"] == 31
    assert_same_content(content(tmp_path / "dask"), content(tmp_path / "local"))
