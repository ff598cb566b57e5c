"""Clustering benchmarks (issue 8): exact global DBSCAN against scikit-learn, and sequenced
DBSCAN against a serial loop.

global (``-k global``): ``SMLMSCALE_BENCH_CLUSTER_POINTS`` (default 10^7) clustered 3D points,
Gaussian clusters of 200 points (sigma 30 nm) in a 3 um thick slab whose side grows with
the count (5,000 clusters per 50 x 50 um), 2 % uniform background, shuffled rows, written
as 20 Parquet parts. eps 80 nm, min_samples 10. In the same run:

- *sklearn*: ``DBSCAN(eps, min_samples).fit(points)`` on the whole set in its own process
  (:mod:`benchmarks.cluster_sklearn`); time of ``fit`` alone; peak RSS of the process
  minus its RSS with the points loaded.
- *global*: :func:`smlmscale.cluster.dbscan_global.dbscan_global` on a LocalCluster of 2
  worker processes x 1 thread reading the Parquet parts, timed until every label is
  computed on the workers; peak PSS growth of the process tree (client and workers).

Targets: labels identical (number for number), time <= 0.7x, peak memory <= 0.5x.

Run with ``python -m pytest benchmarks/test_cluster.py -o addopts="" -p no:cacheprovider -s``.
Making the points is not timed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from benchmarks.memory import PeakMemory

pytestmark = pytest.mark.timeout(3600)

POINTS = int(float(os.environ.get("SMLMSCALE_BENCH_CLUSTER_POINTS", 1e7)))
EPS, MIN_SAMPLES = 80.0, 10
RESULTS: dict[str, dict] = {}


def clustered_points(n: int, *, seed: int = 0, per_cluster: int = 200) -> pd.DataFrame:
    """``n`` points: Gaussian clusters (sigma 30 nm) and 2 % background in a 3 um slab."""
    rng = np.random.default_rng(seed)
    clusters = max(1, int(0.98 * n) // per_cluster)
    side = 50_000.0 * np.sqrt(clusters / 5000)
    centres = rng.uniform([0, 0, 0], [side, side, 3000.0], size=(clusters, 3))
    points = np.repeat(centres, per_cluster, axis=0)
    points += rng.normal(0, 30.0, size=points.shape)
    background = rng.uniform([0, 0, 0], [side, side, 3000.0], size=(n - len(points), 3))
    points = np.concatenate([points, background])[rng.permutation(n)]
    return pd.DataFrame(points, columns=["x_nm", "y_nm", "z_nm"])


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cluster_bench") / "points"
    folder.mkdir()
    table = clustered_points(POINTS)
    for i, part in enumerate(np.array_split(np.arange(POINTS), 20)):
        table.iloc[part].to_parquet(folder / f"part_{i:02d}.parquet", index=False)
    return folder


def test_global(benchmark, parts, cluster_client, tmp_path):
    import dask.dataframe as dd

    from smlmscale.cluster.dbscan_global import dbscan_global

    labels_path = tmp_path / "sklearn.npy"
    done = subprocess.run([sys.executable, "-m", "benchmarks.cluster_sklearn", str(parts),
                           str(EPS), str(MIN_SAMPLES), str(labels_path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    sk = json.loads(done.stdout.strip().splitlines()[-1])

    files = sorted(str(p) for p in parts.glob("*.parquet"))

    def run():
        points = dd.read_parquet(files, columns=["x_nm", "y_nm", "z_nm"])
        with PeakMemory() as memory:
            started = time.perf_counter()
            result = dbscan_global(points, client=cluster_client, eps_nm=EPS,
                                   min_samples=MIN_SAMPLES)
            seconds = time.perf_counter() - started
        return result, seconds, memory

    result, seconds, memory = benchmark.pedantic(run, rounds=1, iterations=1)
    ours = np.concatenate(cluster_client.compute(
        result.labels["cluster"].to_delayed(), sync=True)) if hasattr(
        result.labels, "to_delayed") else None
    reference = np.load(labels_path)
    identical = ours is not None and np.array_equal(ours, reference)
    growth = (memory.peak_bytes - memory.idle_bytes) / 2**20
    sk_growth = sk["peak_rss_mib"] - sk["idle_rss_mib"]
    RESULTS["global"] = {
        "points": POINTS, "clusters": result.n_clusters, "noise": result.n_noise,
        "blocks": result.n_blocks, "seconds": seconds, "sklearn_seconds": sk["seconds"],
        "time_ratio": seconds / sk["seconds"], "peak_growth_mib": growth,
        "sklearn_peak_growth_mib": sk_growth, "memory_ratio": growth / sk_growth,
        "identical": identical}
    print(json.dumps(RESULTS["global"], indent=1))
    assert identical
    assert RESULTS["global"]["time_ratio"] <= 0.7
    assert RESULTS["global"]["memory_ratio"] <= 0.5


SEQUENCES = int(float(os.environ.get("SMLMSCALE_BENCH_CLUSTER_SEQUENCES", 1e4)))
PIXEL_NM, THICKNESS_NM, TILE_PX = 15.5, 70.0, 64


def sequence_stack(n: int, *, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` tile sequences of 2-4 sections on a grid of 64 px tiles, each holding one or
    two synapse-like clusters (60-120 points, sigma 25 nm, z at section centres) and a few
    background points; returns ``(points, rois)``."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n)))
    first = rng.integers(0, 20, n)
    depth = rng.integers(2, 5, n)
    rows, points = [], []
    for k in range(n):
        x0, y0 = (k % side) * (TILE_PX + 8), (k // side) * (TILE_PX + 8)
        sections = first[k] + np.arange(depth[k])
        rows += [(len(rows) + i, s, x0, y0, TILE_PX) for i, s in enumerate(sections)]
        for _ in range(rng.integers(1, 3)):
            m = rng.integers(60, 121)
            centre = (np.array([x0, y0]) + rng.uniform(16, 48, 2)) * PIXEL_NM
            xy = centre + rng.normal(0, 25.0, (m, 2))
            section = rng.choice(sections, m)
            points.append(np.column_stack([xy, section]))
        m = 10
        xy = (np.array([x0, y0]) + rng.uniform(0, TILE_PX, (m, 2))) * PIXEL_NM
        points.append(np.column_stack([xy, rng.choice(sections, m)]))
    table = np.concatenate(points)
    section = table[:, 2].astype(np.int64)
    frame = pd.DataFrame({"frame": section, "x_nm": table[:, 0], "y_nm": table[:, 1],
                          "z_nm": (section + 0.5) * THICKNESS_NM, "section": section})
    frame = frame.sort_values("section", kind="stable", ignore_index=True)
    rois = pd.DataFrame(rows, columns=["roi", "section", "x", "y", "size"])
    return frame, rois


def serial_loop(points: pd.DataFrame, rois: pd.DataFrame) -> tuple[float, int]:
    """The seed's way: sequence the tiles, then one sequence at a time: its points, DBSCAN,
    its clusters' properties. Returns ``(seconds, clusters)``."""
    from sklearn.cluster import DBSCAN

    from smlmscale.cluster.coords import scaled_coordinates
    from smlmscale.cluster.properties import cluster_properties
    from smlmscale.cluster.sequences import assign_sequences, tile_sequences

    started = time.perf_counter()
    sequences = tile_sequences(rois)
    points = points.assign(sequence=assign_sequences(points, sequences, pixel_size_nm=PIXEL_NM))
    clusters = 0
    for _, group in points[points["sequence"] >= 0].groupby("sequence"):
        xyz = scaled_coordinates(group, eps_nm=EPS, eps_z_nm=140.0)
        labels = DBSCAN(eps=EPS, min_samples=MIN_SAMPLES).fit(xyz).labels_
        props = cluster_properties(group.assign(cluster=labels),
                                   section_thickness_nm=THICKNESS_NM)
        clusters += len(props)
    return time.perf_counter() - started, clusters


def test_sequences(benchmark, cluster_client, tmp_path):
    from smlmscale.cluster.run import ClusterSettings, cluster_table
    from smlmscale.io.tables import TableMeta, write_table

    points, rois = sequence_stack(SEQUENCES)
    table = tmp_path / "points.parquet"
    write_table(points, table, meta=TableMeta(pixel_size_nm=PIXEL_NM))
    rois.to_csv(tmp_path / "rois.csv", index=False)
    baseline_seconds, baseline_clusters = serial_loop(points, rois)
    settings = ClusterSettings(mode="sequences", eps_nm=EPS, min_samples=MIN_SAMPLES,
                               eps_z_nm=140.0, section_thickness_nm=THICKNESS_NM,
                               pixel_size_nm=PIXEL_NM)

    def run():
        started = time.perf_counter()
        result = cluster_table(table, tmp_path / "clusters", client=cluster_client,
                               settings=settings, rois=tmp_path / "rois.csv")
        return time.perf_counter() - started, result

    seconds, result = benchmark.pedantic(run, rounds=1, iterations=1)
    RESULTS["sequences"] = {
        "sequences": SEQUENCES, "points": len(points), "clusters": result.clusters,
        "baseline_clusters": baseline_clusters, "seconds": seconds,
        "serial_seconds": baseline_seconds, "speedup": baseline_seconds / seconds}
    print(json.dumps(RESULTS["sequences"], indent=1))
    assert result.clusters == baseline_clusters
    assert RESULTS["sequences"]["speedup"] >= 1.7
