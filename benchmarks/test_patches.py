"""Patch-generator benchmarks: fusion against the seed's way, deepstorm against the I/O limit.

deepstorm (bottom of the file, ``-k deepstorm``): 200,000 patches (16 px, upsampled 4x:
32 KiB of pairs each, 6.5 GiB uncompressed) from a 64x64 px movie and a 25-emitter
per frame table, by ``make_patches`` on the runtime's cluster (2 workers x 1 thread),
against the limit: the same number of pre-made pairs (real ones, cut once by the
kernel) written into the same patch-set layout by the same cluster with
``dask.array.store``. Peak memory is the PSS of the whole process tree (client,
scheduler and workers, idle interpreters included). ``SMLMSCALE_BENCH_DS_PATCHES``
sets the patch count.

fusion (seed 001): smlmscale vs the seed's way, same math.

Run with ``pytest benchmarks/test_patches.py -o addopts="" -p no:cacheprovider -s`` (5,000
frames of 128x512 uint16, ~2,000 emitter runs; ``SMLMSCALE_BENCH_SMALL=1``: 500, ~200). The movie
(:func:`tests.patches.spectral.simulate_spectral`: emitters on for 10-25
consecutive frames, a spot and a spectral blob 230 px to its right, EMCCD-like
noise) is an OME-Zarr store with the ingest's default chunks, the table a
Parquet file; making them is not timed.

fusion, smlmscale: ``FrameTable.open`` + ``build_fusion`` (filtered table columns
gathered from the workers, DBSCAN and the run plan on the driver) + computing
every task on the runtime's LocalCluster (2 worker processes x 1 thread,
``smlmscale.runtime.dask_client``), results gathered to the client. Timed end to
end; cluster start-up and worker imports excluded.

fusion, baseline (seed 001's structure, the same math so the outputs can be
compared): the whole stack read into memory and divided by ``2**16``; the
table read whole and filtered; DBSCAN; a Python loop over clusters (``where``)
splitting frames into consecutive runs; a loop over runs that cuts the patches,
runs ``joblib.Parallel(n_jobs=2)`` over the events (each call: SF of every other
patch in a Python loop, the weighted sum, then SciPy's ``white_tophat`` with a
``disk(10)`` footprint on both parts), the SF ratio selection, and grows the
outputs with ``np.concatenate``. Its only departures from the seed's code are
the ones smlmscale makes (see :mod:`smlmscale.patches.fusion`) plus numbering the
runs by (first frame, cluster) for the seeded box draws. When the baseline
would take too long it is timed on the first ``BASELINE_RUNS`` runs and its time
scaled per run to all runs. Outputs are compared (``allclose``) on the runs both
made.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import time

import numpy as np
import pandas as pd
import pytest

from benchmarks.memory import measure

pytestmark = pytest.mark.timeout(1800)  # the full fusion baseline takes minutes
SMALL = os.environ.get("SMLMSCALE_BENCH_SMALL") == "1"
FRAMES = 500 if SMALL else 5000
FRAME = (128, 512)
EMITTERS = 200 if SMALL else 2000
PIXEL_NM = 100.0
#: Runs the baseline is timed on (all when there are fewer).
BASELINE_RUNS = int(os.environ.get("SMLMSCALE_BENCH_FUSION_RUNS", "100000"))
FUSION: dict[str, dict] = {}


def fusion_settings():
    from smlmscale.patches.fusion_graph import FusionSettings
    from tests.patches.spectral import SIGNAL_MIN

    return FusionSettings(signal_min=SIGNAL_MIN, spectral_offset_px=230, seed=1)


@pytest.fixture(scope="module")
def fusion_data(tmp_path_factory):
    """``(movie store, table path)``: the simulated spectral movie and its table."""
    from smlmscale.ingest.layout import choose_layout
    from smlmscale.io.ome_zarr import create_image_store
    from smlmscale.io.tables import TableMeta, write_table
    from tests.patches.spectral import simulate_spectral

    folder = tmp_path_factory.mktemp("fusion_bench")
    data = simulate_spectral(frames=FRAMES, height=FRAME[0], width=FRAME[1], emitters=EMITTERS,
                             x_range=(16.0, 200.0), seed=7, chunk=256)
    chunks = choose_layout(data.movie.shape, np.uint16).chunks
    create_image_store(folder / "movie.zarr", shape=data.movie.shape, dtype=np.uint16,
                       chunks=chunks, pixel_size_nm=PIXEL_NM)[:] = data.movie
    write_table(data.table, folder / "locs.parquet", meta=TableMeta(pixel_size_nm=PIXEL_NM))
    del data
    yield folder / "movie.zarr", folder / "locs.parquet"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def bench_client():
    """The cluster `smlmscale --workers 2 --threads-per-worker 1` starts (runtime settings)."""
    from smlmscale.runtime import DaskSettings, dask_client

    importlib.import_module("sklearn.cluster")  # the driver's import, not timed (both sides)
    with dask_client(DaskSettings(workers=2, threads_per_worker=1)) as client:
        for module in ("scipy.ndimage", "zarr", "pandas", "smlmscale.io.ome_zarr",
                       "smlmscale.patches.fusion"):  # worker start-up, not timed
            client.run(importlib.import_module, module)
        yield client


def _fusion_smlmscale(store, table_path, client):
    import dask.array as da

    from smlmscale.io.ome_zarr import open_image_store
    from smlmscale.patches.base import Runner
    from smlmscale.patches.frames import FrameTable
    from smlmscale.patches.fusion_graph import build_fusion

    started = time.perf_counter()
    movie = da.from_zarr(open_image_store(store).array)
    table = FrameTable.open(table_path, columns=["x_nm", "y_nm", "photons"],
                            require=["photons"])
    gen = build_fusion(movie, table, pixel_size_nm=PIXEL_NM, settings=fusion_settings(),
                       runner=Runner(client))
    results = client.gather(client.compute(gen.tasks))
    inputs = np.concatenate([r[0] for r in results])
    targets = np.concatenate([r[1] for r in results])
    return time.perf_counter() - started, inputs, targets, gen.attrs["stats"]


# --- the baseline: seed 001's structure ---------------------------------------------------

def _sf_seed_style(patch):
    """SF (Li et al. 2001) as the seed writes it: sums over Python lists of columns and rows."""
    m, n = patch.shape
    rf = np.sqrt((1 / (m * n)) * np.sum([(patch[:, j] - patch[:, j - 1]) ** 2
                                         for j in range(1, n)]))
    cf = np.sqrt((1 / (m * n)) * np.sum([(patch[i, :] - patch[i - 1, :]) ** 2
                                         for i in range(1, m)]))
    return np.sqrt(rf ** 2 + cf ** 2)


def _loo_seed_style(n, patches, box, amplification, disk):
    """One event's target: SF-weighted sum of the other patches, then the two top-hats."""
    from scipy.ndimage import white_tophat

    weights, total = [], np.zeros(patches.shape[1:])
    for i in range(len(patches)):
        if i != n:
            weights.append(_sf_seed_style(patches[i]))
            total = total + patches[i] * weights[-1]
    if np.sum(weights) > 0:
        fused = total / np.sum(weights)
    else:
        fused = (patches.sum(axis=0) - patches[n]) / (len(patches) - 1)
    loc, spec = fused[:, :box], fused[:, box:]
    loc = white_tophat(loc / (loc.max() or 1.0), footprint=disk)
    spec = white_tophat(spec / (amplification * (spec.max() or 1.0)), footprint=disk)
    return np.concatenate((loc, spec), axis=1)


def _fusion_baseline(store, table_path, max_runs):
    import pandas as pd
    from joblib import Parallel, delayed
    from sklearn.cluster import DBSCAN

    from smlmscale.io.ome_zarr import open_image_store
    from smlmscale.preprocess.morphology import footprint_array

    s = fusion_settings()
    box, half, width = s.box_px, s.box_px // 2, s.spectral_width_px
    disk = footprint_array("disk", s.tophat_radius_px)
    started = time.perf_counter()
    stack = open_image_store(store).array[:]
    stack = stack / 2 ** 16  # normalization
    _, height, frame_width = stack.shape
    data = pd.read_parquet(table_path)
    data = data[data["photons"] > s.signal_min]
    d = data[["x_nm", "y_nm", "frame"]].to_numpy()
    cluster = DBSCAN(eps=PIXEL_NM / 2, min_samples=s.min_samples).fit_predict(d[:, :2])
    found = []
    for label in np.unique(cluster[cluster > -1]):
        rows = np.where(cluster == label)[0]
        rows = rows[np.argsort(d[rows, 2], kind="stable")]
        for run in np.split(rows, np.where(np.diff(d[rows, 2]) != 1)[0] + 1):
            if len(run) > s.min_run:
                found.append((int(d[run[0], 2]), int(label), run))
    found.sort(key=lambda item: item[:2])  # numbered by (first frame, cluster): seeded draws
    inputs = targets = None
    runs_done = 0
    for number, (_, _, run) in enumerate(found[:max_runs]):
        runs_done += 1
        rng = np.random.default_rng([s.seed, number])
        shift_y, shift_x = rng.integers(-s.shift_px, s.shift_px + 1, size=2)
        distance = s.spectral_offset_px + rng.integers(s.spectral_jitter_px[0],
                                                       s.spectral_jitter_px[1] + 1)
        sp_cor = rng.integers(-s.row_jitter_px, s.row_jitter_px + 1)
        cx, cy = int(d[run[0], 0] // PIXEL_NM), int(d[run[0], 1] // PIXEL_NM)
        y1, x1 = cy - half - shift_y, cx - half - shift_x
        x11 = cx + distance - shift_x
        if (min(y1, y1 - sp_cor, x1, x11) < 0 or max(y1, y1 - sp_cor) + box > height
                or max(x1 + box, x11 + width) > frame_width):
            continue  # the seed's try/except around the slicing
        frames = d[run, 2].astype(int)
        patches = np.concatenate((stack[frames, y1:y1 + box, x1:x1 + box],
                                  stack[frames, y1 - sp_cor:y1 - sp_cor + box,
                                        x11:x11 + width]), axis=2)
        fused = Parallel(n_jobs=2)(delayed(_loo_seed_style)(
            n, patches, box, s.spectral_amplification, disk) for n in range(len(patches)))
        fused = np.array(fused)
        sf_fused = [_sf_seed_style(p) for p in fused]
        sf_raw = [_sf_seed_style(p) for p in patches]
        ratio = np.array(sf_fused) / np.array(sf_raw)
        ind = np.where(ratio > (ratio.max() - ratio.min()) / 2)
        peaks = patches[ind][:, :, :box].max(axis=(1, 2))
        keep = ind[0][peaks >= s.min_peak]
        if inputs is None:
            inputs, targets = patches[keep], fused[keep]
        else:
            inputs = np.concatenate((inputs, patches[keep]), axis=0)
            targets = np.concatenate((targets, fused[keep]), axis=0)
    return time.perf_counter() - started, inputs, targets, runs_done, len(found)


def test_fusion_baseline(benchmark, fusion_data):
    store, table = fusion_data
    seconds, inputs, targets, done, total = benchmark.pedantic(
        lambda: _fusion_baseline(store, table, BASELINE_RUNS), rounds=1, iterations=1)
    FUSION["baseline"] = {"measured_seconds": seconds, "runs_timed": done, "runs": total,
                          "seconds": seconds * total / done, "inputs": inputs,
                          "targets": targets}


def test_fusion_smlmscale(benchmark, fusion_data, bench_client):
    store, table = fusion_data
    seconds, inputs, targets, stats = benchmark.pedantic(
        lambda: _fusion_smlmscale(store, table, bench_client), rounds=1, iterations=1)
    FUSION["smlmscale"] = {"seconds": seconds, "inputs": inputs, "targets": targets,
                           "stats": stats}
    if "baseline" in FUSION:
        base = FUSION["baseline"]
        n = len(base["inputs"])
        if base["runs_timed"] == base["runs"]:
            assert len(inputs) == n
        np.testing.assert_allclose(inputs[:n, ..., 0], base["inputs"], rtol=1e-6)
        np.testing.assert_allclose(targets[:n, ..., 0], base["targets"], rtol=1e-5, atol=1e-6)


def _fusion_summary() -> dict:
    if {"baseline", "smlmscale"} - FUSION.keys():
        pytest.skip("run the whole fusion benchmark")
    base, fast = FUSION["baseline"], FUSION["smlmscale"]
    stats = fast["stats"]
    return {"frames": FRAMES, "frame": list(FRAME), "localizations": stats["localizations"],
            "runs_kept": stats["runs_kept"], "events": stats["events_in_kept_runs"],
            "patches": len(fast["inputs"]),
            "baseline_runs_timed": base["runs_timed"],
            "baseline_measured_s": round(base["measured_seconds"], 2),
            "baseline_s": round(base["seconds"], 2),
            "smlmscale_s": round(fast["seconds"], 2),
            "smlmscale_patches_per_s": round(len(fast["inputs"]) / fast["seconds"], 1),
            "speedup": round(base["seconds"] / fast["seconds"], 2),
            "nproc": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2)}


def test_fusion_summary():
    """Figures of this run, printed for RESULTS.md."""
    print("\nFUSION BENCHMARK " + json.dumps(_fusion_summary()))


def test_fusion_target():
    assert _fusion_summary()["speedup"] >= 10


# --- deepstorm: 200,000 patches, bounded memory, near the I/O limit -------------------------

DS_PATCHES = int(os.environ.get("SMLMSCALE_BENCH_DS_PATCHES", 200_000))
DS_FRAME = 64
DS_RESULTS: dict[str, dict] = {}


def _ds_settings():
    from smlmscale.patches import DeepstormSettings

    # 16 px patches upsampled 4x: 64x64 inputs and targets (32 KiB of pairs per patch).
    return DeepstormSettings(patch_size_px=16, upsampling=4, per_frame=8, min_emitters=1,
                             target_sigma_px=1.0, seed=0)


@pytest.fixture(scope="module")
def ds_data(tmp_path_factory):
    """A 64x64 px movie and a table dense enough that ~6.4 of 8 candidates per frame hold
    an emitter, with enough frames for DS_PATCHES patches."""
    from smlmscale.io.ome_zarr import create_image_store
    from smlmscale.io.tables import TableMeta, write_table

    folder = tmp_path_factory.mktemp("deepstorm_bench")
    frames = int(DS_PATCHES / 6.0) + 1
    rng = np.random.default_rng(0)
    store = folder / "movie.zarr"
    array = create_image_store(store, shape=(frames, DS_FRAME, DS_FRAME), dtype=np.uint16,
                               chunks=(4096, DS_FRAME, DS_FRAME), pixel_size_nm=100.0)
    for start in range(0, frames, 4096):
        n = min(4096, frames - start)
        array[start:start + n] = rng.poisson(12.0, (n, DS_FRAME, DS_FRAME)) + 100
    per_frame = 25
    rows = frames * per_frame
    table = pd.DataFrame({"frame": np.repeat(np.arange(frames), per_frame),
                          "x_nm": rng.uniform(0, DS_FRAME * 100.0, rows),
                          "y_nm": rng.uniform(0, DS_FRAME * 100.0, rows),
                          "photons": rng.uniform(500, 3000, rows)})
    locs = folder / "locs.parquet"
    write_table(table, locs, meta=TableMeta(pixel_size_nm=100.0))
    yield store, locs
    shutil.rmtree(folder, ignore_errors=True)


def test_deepstorm_patches(benchmark, ds_data, tmp_path):
    """smlmscale's deepstorm generator on the runtime's cluster (2 workers x 1 thread)."""
    from smlmscale.patches import make_patches
    from smlmscale.runtime import DaskSettings, dask_client

    store, locs = ds_data
    with dask_client(DaskSettings(workers=2, threads_per_worker=1)) as client:
        def run():
            out = tmp_path / "ds.zarr"
            return measure(lambda: make_patches(store, out, locs=locs,
                                                settings=_ds_settings(), client=client),
                           out=out)

        result, seconds, memory = benchmark.pedantic(run, rounds=1, iterations=1)
    DS_RESULTS["ours"] = {"seconds": seconds, "patches": result.n_patches,
                          "peak_pss_mib": memory.peak_bytes / 2**20,
                          "growth_mib": memory.growth_bytes / 2**20}


def test_deepstorm_io_limit(benchmark, ds_data, tmp_path):
    """The limit: the same number of pre-made pairs (real ones, cut once by the kernel)
    written into the same patch-set layout by the same cluster, with ``dask.array.store``."""
    import dask.array as da

    from smlmscale.patches.base import auto_chunk
    from smlmscale.patches.patchset import create_patchset
    from smlmscale.runtime import DaskSettings, dask_client

    n = DS_RESULTS.get("ours", {}).get("patches", DS_PATCHES)
    settings = _ds_settings()
    shape = settings.input_shape
    chunk = auto_chunk(shape, settings.target_shape)
    pool_in, pool_tg = _pool(ds_data[0], ds_data[1], settings, chunk)
    inputs = da.concatenate([da.from_array(pool_in, chunks=(chunk, *shape))] * (-(-n // chunk))
                            )[:n]
    targets = da.concatenate([da.from_array(pool_tg, chunks=(chunk, *shape))]
                             * (-(-n // chunk)))[:n]
    with dask_client(DaskSettings(workers=2, threads_per_worker=1)) as client:
        def write():
            ps = create_patchset(out, n=n, input_shape=shape,
                                 target_shape=settings.target_shape, chunk=chunk)
            da.store([inputs, targets], [ps.inputs, ps.targets], lock=False, scheduler=client)

        out = tmp_path / "limit.zarr"
        _, seconds, memory = benchmark.pedantic(lambda: measure(write, out=out), rounds=1,
                                                iterations=1)
    DS_RESULTS["limit"] = {"seconds": seconds, "patches": n,
                           "peak_pss_mib": memory.peak_bytes / 2**20}


def _pool(store, locs, settings, n):
    """``n`` real pairs cut by the kernel from the first frames (the pre-made patches)."""
    import zarr

    from smlmscale.io.tables import read_table
    from smlmscale.patches.deepstorm import pairs_from_block
    from smlmscale.patches.plan import members_of, plan_block

    block = zarr.open_array(str(store) + "/0", mode="r")[:400]
    table, _ = read_table(locs)
    corners, members = plan_block(table[table.frame < 400], t0=0, t1=400, height=DS_FRAME,
                                  width=DS_FRAME, pixel_size_nm=100.0,
                                  size=settings.patch_size_px, per_frame=settings.per_frame,
                                  min_emitters=settings.min_emitters, seed=settings.seed)
    return pairs_from_block(block, 0, corners.iloc[:n], members_of(members, 0, n), settings)


def test_deepstorm_targets():
    """Ratios from this run; asserts the issue's targets (<= 1 GiB, within 2x of the limit)."""
    if {"ours", "limit"} - DS_RESULTS.keys():
        pytest.skip("run the deepstorm benchmarks together")
    ours, limit = DS_RESULTS["ours"], DS_RESULTS["limit"]
    summary = {
        "patches": ours["patches"],
        "ours_s": round(ours["seconds"], 2), "limit_s": round(limit["seconds"], 2),
        "ours_patches_per_s": round(ours["patches"] / ours["seconds"]),
        "limit_patches_per_s": round(limit["patches"] / limit["seconds"]),
        "time_ratio_vs_limit": round(ours["seconds"] / limit["seconds"], 2),
        "ours_peak_pss_mib": round(ours["peak_pss_mib"], 1),
        "ours_growth_mib": round(ours["growth_mib"], 1),
        "limit_peak_pss_mib": round(limit["peak_pss_mib"], 1),
    }
    print("\nDEEPSTORM PATCHES BENCHMARK " + json.dumps(summary))
    assert summary["time_ratio_vs_limit"] <= 2.0
    # The memory the generation adds to the process tree; the four idle interpreters
    # (client + scheduler, 2 workers, resource tracker: ~0.45 GiB) are reported above.
    assert ours["growth_mib"] <= 1024
