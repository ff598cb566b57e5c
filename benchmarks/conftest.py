"""Shared benchmark fixtures."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="module")
def cluster_client():
    """The LocalCluster ``smlmscale`` starts, 2 worker processes x 1 thread (the issues'
    "2 workers"), per module: :func:`smlmscale.runtime.client.dask_client`, whose workers
    run with :data:`smlmscale.runtime.malloc.MALLOC_ENVIRON` instead of distributed's
    ``MALLOC_TRIM_THRESHOLD_`` (it costs compute-bound tasks up to 25 %: every large
    temporary becomes a fresh, page-faulted mapping). Distributed's nannies leave their
    variables in this process's environment, where they would win over smlmscale's, so
    they are removed here first."""
    from smlmscale.runtime.client import DaskSettings, dask_client
    from smlmscale.runtime.malloc import MALLOC_ENVIRON

    for name in MALLOC_ENVIRON:
        os.environ.pop(name, None)
    with dask_client(DaskSettings(workers=2, threads_per_worker=1)) as client:
        yield client
