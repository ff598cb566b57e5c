"""Dask client and cluster lifecycle: embedded LocalCluster, existing scheduler, dask-jobqueue."""

from smlmscale.runtime.client import (
    DaskSettings,
    dask_client,
    default_threads_per_worker,
    default_workers,
    make_jobqueue_cluster,
)
from smlmscale.runtime.gpu import gpu_count, require_gpu

__all__ = [
    "DaskSettings",
    "dask_client",
    "default_threads_per_worker",
    "default_workers",
    "gpu_count",
    "make_jobqueue_cluster",
    "require_gpu",
]
