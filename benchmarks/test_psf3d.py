"""PSF-file simulation benchmark (issue 16): the seed's tetrapod movie on a LocalCluster
of 2 workers against one process.

Run with ``pytest benchmarks/test_psf3d.py -o addopts="" -p no:cacheprovider -s``
(10,000 frames) or with ``SMLMSCALE_BENCH_SMALL=1`` (500 frames). The movie is the
issue's command line, ``simulate --psf tetrapod.psf.zarr --emitters-per-frame 1 35
--photons-gamma 3 3000 --photon-threshold 6000``, on 121x121 px frames (the seed's H, W):
the seed's optics (203-sample pupil grid, 110 nm pixels) and the built-in tetrapod mask,
z 0..4000 nm (focus 1500), 61x61 px spots blurred by 0.99..1.01 px, 50-frame chunks.

- **cluster**: ``simulate_movie`` (OME-Zarr store and Parquet truth) on the
  ``cluster_client`` fixture (2 worker processes x 1 thread), imports warmed up (the one
  process has them from making the PSF file), cluster start-up excluded; each worker
  opens the PSF file once;
- **one process**: the same work in a plain loop, no Dask: per chunk,
  ``render_frames`` written into the same kind of store and ``truth_rows``, the truth
  written to Parquet at the end; this process gets the workers' malloc thresholds first
  (:func:`smlmscale.runtime.malloc.tune_malloc`), so both sides allocate alike.

Target: cluster >= 1.6x faster than one process. The two stores must be identical. A
third measurement (not a target) times pupil spots in single and double precision.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.timeout(3600)
SMALL = os.environ.get("SMLMSCALE_BENCH_SMALL") == "1"
FRAMES = 500 if SMALL else 10_000
CHUNK_FRAMES = 50
RESULTS: dict[str, dict] = {}


@pytest.fixture(scope="module")
def psf_path(tmp_path_factory):
    """The seed's tetrapod PSF file in the module's scratch folder (the outputs go beside
    it; all removed at the end)."""
    from smlmscale.psf import MaskSettings, make_pupil_psf

    path = tmp_path_factory.mktemp("psf3d_bench") / "tetrapod.psf.zarr"
    make_pupil_psf(path, mask=MaskSettings(builtin="tetrapod"))
    yield str(path)
    shutil.rmtree(path.parent, ignore_errors=True)


def _settings(psf_path):
    from smlmscale.simulate import MovieSettings

    data = {"frames": FRAMES, "size_px": 121, "seed": 1, "chunk_frames": CHUNK_FRAMES,
            "psf": {"file": psf_path}, "emitters": {"per_frame_range": [1, 35]},
            "photons": {"distribution": "gamma", "gamma_shape": 3, "gamma_scale": 3000,
                        "threshold": 6000}}
    return MovieSettings.from_mapping(data)


def test_cluster(benchmark, psf_path, cluster_client):
    from smlmscale.simulate import simulate_movie

    out = Path(psf_path).parent / "cluster.zarr"
    for module in ("smlmscale.simulate.frames", "smlmscale.psf", "scipy.fft"):  # not timed
        cluster_client.run(importlib.import_module, module)
    settings = _settings(psf_path)

    def run():
        shutil.rmtree(out, ignore_errors=True)
        started = time.perf_counter()
        result = simulate_movie(out, settings=settings, client=cluster_client,
                                overwrite=True)
        return time.perf_counter() - started, result

    seconds, result = benchmark.pedantic(run, rounds=1, iterations=1)
    RESULTS["cluster"] = {"seconds": seconds, "rows": result.n_emitters, "path": str(out)}


def test_one_process(benchmark, psf_path):
    import pandas as pd

    from smlmscale.io.ome_zarr import create_image_store
    from smlmscale.runtime.malloc import tune_malloc
    from smlmscale.simulate.frames import render_frames, truth_rows
    from smlmscale.simulate.graph import frame_ranges

    tune_malloc()  # not timed: the thresholds the workers start with

    folder = Path(psf_path).parent
    out, truth_path = folder / "loop.zarr", folder / "loop_truth.parquet"
    settings = _settings(psf_path)

    def run():
        shutil.rmtree(out, ignore_errors=True)
        started = time.perf_counter()
        array = create_image_store(out, shape=(FRAMES, 121, 121), dtype=settings.dtype,
                                   chunks=(CHUNK_FRAMES, 121, 121),
                                   pixel_size_nm=settings.pixel_size_nm)
        parts = []
        for t0, t1 in frame_ranges(FRAMES, CHUNK_FRAMES):
            array[t0:t1] = render_frames(settings, t0, t1)
            parts.append(truth_rows(settings, t0, t1))
        truth = pd.concat(parts, ignore_index=True)
        truth.to_parquet(truth_path)
        return time.perf_counter() - started, len(truth)

    seconds, rows = benchmark.pedantic(run, rounds=1, iterations=1)
    RESULTS["loop"] = {"seconds": seconds, "rows": rows, "path": str(out)}


def test_spot_precision(psf_path):
    """ms per pupil spot (61x61 px window, blurred) in single and double precision, and
    the largest difference over a spot's peak (not a target)."""
    from smlmscale.psf import load_psf
    from smlmscale.simulate.psf_file import model_spots

    model, rng, n = load_psf(psf_path), np.random.default_rng(0), 160
    dx, dy = rng.uniform(-0.5, 0.5, n), rng.uniform(-0.5, 0.5, n)
    z, blur = rng.uniform(0, 4000, n), rng.uniform(0.99, 1.01, n)
    started = time.perf_counter()
    single = model_spots(model, dx, dy, z, blur)
    single_s = time.perf_counter() - started
    started = time.perf_counter()
    double = model.spots(dx, dy, z, blur_sigma_px=blur)
    double_s = time.perf_counter() - started
    error = np.abs(single - double).max(axis=(1, 2)) / double.max(axis=(1, 2))
    RESULTS["spots"] = {"float32_ms": 1e3 * single_s / n, "float64_ms": 1e3 * double_s / n,
                        "max_error_over_peak": float(error.max())}
    assert error.max() < 1e-5


def test_targets():
    """Speed-up from this run, printed as a RESULTS.md row; asserts the issue's target."""
    import zarr

    if {"cluster", "loop"} - RESULTS.keys():
        pytest.skip("run the whole module")
    cluster, loop = RESULTS["cluster"], RESULTS["loop"]
    a = zarr.open_array(cluster["path"], path="0", mode="r")
    b = zarr.open_array(loop["path"], path="0", mode="r")
    identical = all(np.array_equal(a[t:t + CHUNK_FRAMES], b[t:t + CHUNK_FRAMES])
                    for t in range(0, FRAMES, CHUNK_FRAMES))
    summary = {
        "frames": FRAMES, "frame": "121x121", "emitters_per_frame": round(loop["rows"] / FRAMES,
                                                                          1),
        "one_process_s": round(loop["seconds"], 1), "cluster_s": round(cluster["seconds"], 1),
        "one_process_frames_s": round(FRAMES / loop["seconds"], 1),
        "cluster_frames_s": round(FRAMES / cluster["seconds"], 1),
        "speedup": round(loop["seconds"] / cluster["seconds"], 2),
        "spot_ms_per_emitter_one_process": round(1e3 * loop["seconds"] / loop["rows"], 2),
        "identical": identical, "same_truth_rows": loop["rows"] == cluster["rows"],
        **{k: float(f"{v:.3g}") for k, v in RESULTS.get("spots", {}).items()},
    }
    print("\nPSF3D BENCHMARK " + json.dumps(summary))
    assert identical and summary["same_truth_rows"]
    assert summary["speedup"] >= 1.6
