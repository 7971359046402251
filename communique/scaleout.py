"""Scale-out: the Dask task runner for `communique run --task-runner dask`.

Imported only when Dask is asked for, so the default run and `--help` never load Dask.
"""

from __future__ import annotations

LOOPBACK = "127.0.0.1"


def local_cluster_kwargs(n_workers: int = 2) -> dict:
    """A LocalCluster that listens on loopback only (no dashboard, worker processes).

    processes=False fails to start with host=127.0.0.1 (docs/stack notes), and some worker
    setups open HTTP servers on 0.0.0.0 unless the host and dashboard are pinned.
    """
    return {
        "host": LOOPBACK,
        "processes": True,
        "n_workers": n_workers,
        "threads_per_worker": 1,
        "dashboard_address": None,
    }


def dask_task_runner(address: str | None = None, n_workers: int = 2):
    """prefect-dask's DaskTaskRunner on the cluster at ``address``, else a local cluster."""
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster", cluster_kwargs=local_cluster_kwargs(n_workers)
    )
