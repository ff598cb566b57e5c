"""Shared benchmark fixtures."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(scope="module")
def cluster_client():
    """A LocalCluster of 2 worker processes x 1 thread (the issues' "2 workers"), per module."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0", silence_logs=logging.CRITICAL) as cluster, \
            Client(cluster) as client:
        yield client
