"""FRC and precision-blurred rendering (issue 17 items 5 and 6): smlmscale on a LocalCluster
of 2 worker processes x 1 thread against an eager in-memory NumPy run of the same kernels
and against Picasso (its ``postprocess.frc`` and ``render.render(blur_method="gaussian")``),
same table, same run.

The table: 2 x 10^6 localizations (``SMLMSCALE_BENCH_SMALL=1``: 2 x 10^5) of emitters on
random lines across a 10 um field, each localized in 4 consecutive frames with 10 nm
Gaussian errors (the uncertainty columns hold the true 10 nm +- 20 %), Parquet in 16 row
groups.

- *smlmscale*: :func:`~smlmscale.resolution.run.run_resolution` (random split, 5 nm
  pixels) and :func:`~smlmscale.render.run.run_render` with ``blur="precision"`` at 10 nm
  to a TIFF, timed end to end (reading the Parquet table included).
- *eager*: the whole table read with pandas, the same split and histograms by
  ``numpy.histogram2d`` and :func:`~smlmscale.resolution.frc.frc_curve`; the render by
  :func:`~smlmscale.render.splat.splat` on the whole table in one process.
- *picasso*: picassosr in its own venv (:mod:`benchmarks.picasso_render_frc_contender`,
  ``make bench-picasso``) in memory, no I/O; its FRC picks its pixel from NeNA (timed with
  NeNA) and again at smlmscale's 5 nm pixel.

Reported: the resolutions (all should be close: a few times 10 nm), the times and ratios,
and the render's agreement with Picasso's image. Run with ``python -m pytest
benchmarks/test_render_frc.py -o addopts="" -p no:cacheprovider -s``. Making the table is
not timed.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.timeout(3600)

SMALL = os.environ.get("SMLMSCALE_BENCH_SMALL") == "1"
EMITTERS = 50_000 if SMALL else 500_000
REPEATS = 4
FIELD_NM = 10_000.0
CAMERA_NM = 100.0
FRC_PIXEL_NM = 5.0
RENDER_PIXEL_NM = 10.0
PICASSO_PYTHON = os.environ.get("SMLMSCALE_BENCH_PICASSO_PYTHON", ".venv-picasso/bin/python")


def _table(seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lines = 400
    k = rng.integers(0, lines, EMITTERS)
    t = rng.uniform(-600, 600, EMITTERS)
    angle = rng.uniform(0, np.pi, lines)[k]
    x0, y0 = rng.uniform(800, FIELD_NM - 800, (2, lines))[:, k]
    n = EMITTERS * REPEATS
    start = rng.integers(0, 20_000, EMITTERS)
    frame = np.repeat(start, REPEATS) + np.tile(np.arange(REPEATS), EMITTERS)
    x = np.repeat(x0 + t * np.cos(angle), REPEATS) + rng.normal(0, 10.0, n)
    y = np.repeat(y0 + t * np.sin(angle), REPEATS) + rng.normal(0, 10.0, n)
    table = pd.DataFrame({"frame": frame.astype(np.int64), "x_nm": x, "y_nm": y,
                          "photons": rng.uniform(1000, 3000, n),
                          "uncertainty_x_nm": 10.0 * rng.uniform(0.8, 1.2, n),
                          "uncertainty_y_nm": 10.0 * rng.uniform(0.8, 1.2, n)})
    return table.sort_values("frame", kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from smlmscale.io.tables import TableMeta
    from tests.drift.data import write_in_groups

    folder = tmp_path_factory.mktemp("render_frc_bench")
    table = _table()
    cuts = (0,) + tuple(np.linspace(0, 20_000, 17).astype(int)[1:-1] + 3) + (10**9,)
    side = int(FIELD_NM / CAMERA_NM)
    path = write_in_groups(table, folder / "locs.parquet", cuts=cuts,
                           meta=TableMeta(pixel_size_nm=CAMERA_NM, image_shape=(side, side)))
    return folder, path, table


def _eager(path):
    from smlmscale.render.image import histogram
    from smlmscale.render.splat import splat
    from smlmscale.resolution.frc import crossing, frc_curve
    from smlmscale.resolution.split import random_half

    started = time.perf_counter()
    table = pd.read_parquet(path)
    x, y = table.x_nm.to_numpy(), table.y_nm.to_numpy()
    half = random_half(x, y, table.frame.to_numpy(), seed=0)
    low = np.array([x.min(), y.min()])
    shape = tuple(int(v) for v in np.floor((np.array([y.max(), x.max()]) - low[::-1])
                                           / FRC_PIXEL_NM) + 1)
    images = [histogram(x[half == h] - low[0], y[half == h] - low[1], shape=shape,
                        pixel_nm=FRC_PIXEL_NM) for h in (0, 1)]
    freq, frc = frc_curve(*images, pixel_nm=FRC_PIXEL_NM)
    frc_nm = 1 / crossing(freq, frc)
    frc_seconds = time.perf_counter() - started
    started = time.perf_counter()
    table = pd.read_parquet(path)
    side = int(FIELD_NM / RENDER_PIXEL_NM)
    image = splat(table.x_nm.to_numpy(), table.y_nm.to_numpy(),
                  table.uncertainty_x_nm.to_numpy(), table.uncertainty_y_nm.to_numpy(),
                  shape=(side, side), pixel_nm=RENDER_PIXEL_NM)
    return {"frc_nm": frc_nm, "frc_seconds": frc_seconds,
            "render_seconds": time.perf_counter() - started, "image": image}


def _picasso(folder, table) -> dict | None:
    if not os.path.exists(PICASSO_PYTHON):
        return None
    np.savez(folder / "picasso.npz", frame=table["frame"].to_numpy().astype(np.uint32),
             x=(table["x_nm"].to_numpy() / CAMERA_NM - 0.5).astype(np.float32),
             y=(table["y_nm"].to_numpy() / CAMERA_NM - 0.5).astype(np.float32),
             lpx=(table["uncertainty_x_nm"].to_numpy() / CAMERA_NM).astype(np.float32),
             lpy=(table["uncertainty_y_nm"].to_numpy() / CAMERA_NM).astype(np.float32),
             photons=table["photons"].to_numpy().astype(np.float32))
    side = int(FIELD_NM / CAMERA_NM)
    (folder / "info.json").write_text(json.dumps({
        "Height": side, "Width": side, "Frames": 20_000, "Pixelsize": CAMERA_NM}))
    done = subprocess.run([PICASSO_PYTHON, "benchmarks/picasso_render_frc_contender.py",
                           str(folder / "picasso.npz"), str(folder / "info.json"),
                           str(RENDER_PIXEL_NM), str(folder / "picasso.npy")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return {**json.loads(done.stdout.strip().splitlines()[-1]),
            "image": np.load(folder / "picasso.npy")}


def test_frc_and_precision_render(cluster_client, data):
    import tifffile

    from smlmscale.render.run import RenderSettings, prepare_render, run_render
    from smlmscale.resolution.run import (ResolutionSettings, prepare_resolution,
                                          run_resolution)

    folder, path, table = data
    started = time.perf_counter()
    plan = prepare_resolution(path, settings=ResolutionSettings(pixel_size_nm=FRC_PIXEL_NM))
    frc = run_resolution(plan, client=cluster_client)
    frc_seconds = time.perf_counter() - started
    started = time.perf_counter()
    plan = prepare_render(path, folder / "blur.tif", settings=RenderSettings(
        pixel_size_nm=RENDER_PIXEL_NM, blur="precision"))
    run_render(plan, client=cluster_client)
    render_seconds = time.perf_counter() - started
    image = tifffile.imread(folder / "blur.tif").astype(np.float64)
    eager = _eager(path)
    picasso = _picasso(folder, table)
    rows = len(table)
    print(f"\n{rows} localizations; FRC at {FRC_PIXEL_NM:g} nm, render at "
          f"{RENDER_PIXEL_NM:g} nm with --blur precision")
    print(f"smlmscale FRC {frc.resolution_nm:.2f} nm in {frc_seconds:.2f} s; eager "
          f"{eager['frc_nm']:.2f} nm in {eager['frc_seconds']:.2f} s "
          f"({eager['frc_seconds'] / frc_seconds:.2f}x)")
    print(f"smlmscale render {render_seconds:.2f} s; eager splat {eager['render_seconds']:.2f} s "
          f"({eager['render_seconds'] / render_seconds:.2f}x); image L1 difference "
          f"{np.abs(image - eager['image']).sum() / rows:.2e} per localization")
    assert frc.resolution_nm == pytest.approx(eager["frc_nm"], rel=1e-6)
    np.testing.assert_allclose(image, eager["image"], rtol=1e-4, atol=1e-4)
    if picasso is None:
        print("picasso: not installed (make bench-picasso)")
        return
    # Picasso draws its coordinates (camera pixel centres at integers) from the image's
    # corner: its image is smlmscale's moved up and left by half a camera pixel
    ref = picasso["image"]
    half = int(round(CAMERA_NM / 2 / RENDER_PIXEL_NM))
    ours = image[half:, half:]
    ref = ref[:ours.shape[0], :ours.shape[1]]
    agree = np.abs(ref / ref.sum() - ours / ours.sum()).sum()
    print(f"picasso FRC {picasso['frc_nm']:.2f} nm in {picasso['frc_seconds']:.2f} s (NeNA "
          f"pixel; {picasso['frc_seconds'] / frc_seconds:.2f}x smlmscale's time), "
          f"{picasso['frc_fixed_nm']:.2f} nm in {picasso['frc_fixed_seconds']:.2f} s at "
          f"{FRC_PIXEL_NM:g} nm ({picasso['frc_fixed_seconds'] / frc_seconds:.2f}x)")
    print(f"picasso render {picasso['render_seconds']:.2f} s "
          f"({picasso['render_seconds'] / render_seconds:.2f}x smlmscale's time); image "
          f"L1 difference to smlmscale's (both normalized, aligned) {agree:.4f}")
