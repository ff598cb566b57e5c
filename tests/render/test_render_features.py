"""render --blur precision, --color-by z|frame, --scale-bar: the partitioned render against
eager references, the PNG's colour, colour bar and scale bar, bad inputs."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import tifffile

from smlmscale.errors import InputError
from smlmscale.io.tables import TableMeta, read_table_lazy, write_table
from smlmscale.render.draw import mean_value
from smlmscale.render.graph import drawn
from smlmscale.render.image import histogram
from smlmscale.render.run import RenderSettings, drawing_of, prepare_render, render_table
from smlmscale.render.splat import splat
from smlmscale.render.write import length_label
from tests.drift.data import write_in_groups
from tests.helpers import raise_if_dask_computes

SHAPE = (64, 64)            # 32 x 32 camera pixels of 100 nm at 50 nm


def table_3d(n=4000, seed=0, per_axis=True) -> pd.DataFrame:
    """Localizations on a 3.2 um field with z and per-axis (or one) uncertainty."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({"frame": np.sort(rng.integers(0, 700, n)).astype(np.int64),
                          "x_nm": rng.uniform(0, 3200, n), "y_nm": rng.uniform(0, 3200, n),
                          "z_nm": rng.uniform(-400, 400, n)})
    if per_axis:
        table["uncertainty_x_nm"] = rng.uniform(10, 60, n)
        table["uncertainty_y_nm"] = rng.uniform(10, 60, n)
    else:
        table["uncertainty_nm"] = rng.uniform(10, 60, n)
    return table


@pytest.fixture()
def locs(tmp_path):
    table = table_3d()
    return table, write_in_groups(table, tmp_path / "l.parquet",
                                  meta=TableMeta(pixel_size_nm=100.0, image_shape=(32, 32)))


def test_precision_blur_equals_the_eager_splat(client, locs, tmp_path):
    table, path = locs
    lazy, _ = read_table_lazy(path, blocksize=1)
    assert lazy.npartitions == 4
    settings = RenderSettings(pixel_size_nm=50.0, blur="precision", color_by="z")
    with raise_if_dask_computes():
        graph = drawn(lazy, drawing_of(lazy.columns, settings, SHAPE))
    stack, rows, bad = client.compute(graph, sync=True)
    args = [table[c].to_numpy() for c in ("x_nm", "y_nm", "uncertainty_x_nm",
                                          "uncertainty_y_nm")]
    want = splat(*args, shape=SHAPE, pixel_nm=50.0)
    np.testing.assert_allclose(stack[0], want, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(stack[1], splat(*args, shape=SHAPE, pixel_nm=50.0,
                                               weights=table.z_nm.to_numpy()),
                               rtol=1e-9, atol=1e-8)
    assert rows == len(table) and bad == 0
    result = render_table(path, tmp_path / "p.tif", client=client, pixel_nm=50.0,
                          blur="precision")
    np.testing.assert_allclose(tifffile.imread(result.path), want.astype(np.float32),
                               rtol=1e-5, atol=1e-6)


def test_isotropic_uncertainty_and_colour_by_frame_tiff(client, tmp_path):
    table = table_3d(n=1500, per_axis=False).drop(columns="z_nm")
    path = tmp_path / "iso.csv"
    write_table(table, path, meta=TableMeta(pixel_size_nm=100.0, image_shape=(32, 32)))
    result = render_table(path, tmp_path / "f.tif", client=client, pixel_nm=50.0,
                          blur="precision", color_by="frame")
    got = tifffile.imread(result.path)
    sigma = table.uncertainty_nm.to_numpy()
    density = splat(table.x_nm, table.y_nm, sigma, sigma, shape=SHAPE, pixel_nm=50.0)
    weighted = splat(table.x_nm, table.y_nm, sigma, sigma, shape=SHAPE, pixel_nm=50.0,
                     weights=table.frame.to_numpy(np.float64))
    assert got.shape == (2, *SHAPE)                  # density, mean frame per pixel
    np.testing.assert_allclose(got[0], density, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], mean_value(np.stack([density, weighted])), rtol=1e-4)
    with tifffile.TiffFile(result.path) as tif:
        assert tif.imagej_metadata["unit"] == "nm"


def test_colour_png_has_hue_a_colour_bar_and_a_scale_bar(client, locs, tmp_path):
    _, path = locs
    plain = render_table(path, tmp_path / "plain.png", client=client, pixel_nm=50.0)
    hue = render_table(path, tmp_path / "z.png", client=client, pixel_nm=50.0,
                       color_by="z", blur="precision")
    mono = matplotlib.image.imread(plain.path)[..., :3]
    rgb = matplotlib.image.imread(hue.path)[..., :3]
    assert rgb.shape[1] > mono.shape[1] + 50, "a colour bar beside the image"
    spread = rgb.max(axis=2) - rgb.min(axis=2)
    assert (spread > 0.3).mean() > 0.2, "colours, not a grey or single-hue image"
    barred = render_table(path, tmp_path / "bar.png", client=client, pixel_nm=50.0,
                          scale_bar_nm=1000.0)
    bar = matplotlib.image.imread(barred.path)[..., :3]
    assert bar.shape == mono.shape
    changed = np.abs(bar - mono).max(axis=2) > 0.1
    rows, cols = np.nonzero(changed)
    # the bar and its label, in the bottom-right quarter; white; 1000 of 3200 nm long
    assert rows.min() > bar.shape[0] * 0.6 and cols.min() > bar.shape[1] * 0.5
    assert (bar[changed] > 0.9).all(axis=1).mean() > 0.5
    image_cols = np.flatnonzero((mono < 0.9).any(axis=2).any(axis=0))
    longest = max(np.count_nonzero(changed[r]) for r in np.unique(rows))
    assert longest / (image_cols[-1] - image_cols[0] + 1) == pytest.approx(1000 / 3200,
                                                                         rel=0.05)
    assert length_label(1000.0) == "1 µm" and length_label(250.0) == "250 nm"


def test_bad_feature_inputs(client, tmp_path):
    flat = tmp_path / "flat.parquet"
    write_table(table_3d(n=200).drop(columns=["z_nm", "uncertainty_x_nm",
                                              "uncertainty_y_nm"]), flat,
                meta=TableMeta(pixel_size_nm=100.0, image_shape=(32, 32)))
    with pytest.raises(InputError, match="--blur precision needs uncertainty_x_nm and "
                                         "uncertainty_y_nm .or uncertainty_nm. columns"):
        prepare_render(flat, tmp_path / "a.png", settings=RenderSettings(blur="precision"))
    with pytest.raises(InputError, match="--color-by z needs a z_nm column.*a 2D table"):
        prepare_render(flat, tmp_path / "a.png", settings=RenderSettings(color_by="z"))
    with pytest.raises(InputError, match="PNG images only"):
        prepare_render(flat, tmp_path / "a.tif", settings=RenderSettings(scale_bar_nm=500))
    with pytest.raises(InputError, match="does not combine with --mode gaussian"):
        RenderSettings(blur="precision", mode="gaussian")
    with pytest.raises(InputError, match="--color-by"):
        RenderSettings(color_by="photons")
    with pytest.raises(InputError, match="longer than the 3200 nm wide image"):
        render_table(flat, tmp_path / "a.png", client=client, pixel_nm=50.0,
                     scale_bar_nm=5000.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flat.parquet"]
