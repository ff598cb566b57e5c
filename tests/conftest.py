"""Shared fixtures: a process-based Dask cluster for the session, and TIFF movie makers."""

from __future__ import annotations

import logging
import numpy as np
import pytest


@pytest.fixture(scope="session")
def dask_cluster():
    """Two worker processes, one thread each: tasks must pickle, as on a real cluster."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0", silence_logs=logging.CRITICAL) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def counts_model(tmp_path_factory):
    """A simulated section stack and a counts model trained briefly on it (shared)."""
    pytest.importorskip("keras")
    from tests.predict import tiny_counts_model

    return tiny_counts_model(tmp_path_factory.mktemp("counts"))


@pytest.fixture()
def client(dask_cluster):
    from distributed import Client

    with Client(dask_cluster) as client:
        yield client


@pytest.fixture()
def movie() -> np.ndarray:
    """A 61-frame 37x45 uint16 movie with random counts (frame count is prime: chunks cut it)."""
    rng = np.random.default_rng(42)
    return rng.integers(0, 60000, size=(61, 37, 45), dtype=np.uint16)
