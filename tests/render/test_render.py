"""Rendering: kernels against NumPy, the distributed render against an eager one, the CLI."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import tifffile
from scipy import ndimage
from typer.testing import CliRunner

from smlmscale.cli import app
from smlmscale.errors import InputError
from smlmscale.io.ome_zarr import create_image_store
from smlmscale.io.tables import TableMeta, write_table
from smlmscale.render.image import blur, display, histogram
from smlmscale.render.run import render_table
from tests.cli.helpers import assert_fails_with_one_line


def _table(n=5000, seed=0, size_nm=3200.0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"frame": np.sort(rng.integers(0, 500, n)).astype(np.int64),
                         "x_nm": rng.uniform(0, size_nm, n), "y_nm": rng.uniform(0, size_nm, n)})


def test_histogram_equals_numpy_histogram2d():
    table = _table()
    got = histogram(table.x_nm, table.y_nm, shape=(160, 320), pixel_nm=20.0)
    want, _, _ = np.histogram2d(table.y_nm, table.x_nm, bins=(160, 320),
                                range=((0, 3200), (0, 6400)))
    np.testing.assert_array_equal(got, want)
    outside = histogram([-5.0, 10.0, 1e9], [5.0, 5.0, 5.0], shape=(2, 2), pixel_nm=10.0)
    assert outside.sum() == 1 and outside[0, 1] == 1


def test_blur_and_display():
    image = np.zeros((21, 21))
    image[10, 10] = 1
    blurred = blur(image, sigma_nm=20.0, pixel_nm=10.0)
    np.testing.assert_allclose(blurred, ndimage.gaussian_filter(image, 2.0, mode="constant"))
    assert blurred.sum() == pytest.approx(1, abs=1e-3)
    shown = display(np.arange(1000.0), percentile=50)
    assert shown.max() == 1 and shown[0] == 0


def test_render_equals_eager_and_writes_png_and_tiff(client, tmp_path):
    table = _table()
    path = tmp_path / "locs.parquet"
    write_table(table, path, meta=TableMeta(pixel_size_nm=100.0, image_shape=(32, 32)))
    result = render_table(path, tmp_path / "r.tif", client=client, pixel_nm=20.0)
    assert result.shape == (160, 160) and result.localizations == 5000
    want = histogram(table.x_nm, table.y_nm, shape=(160, 160), pixel_nm=20.0)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "r.tif"), want.astype(np.float32))
    gauss = render_table(path, tmp_path / "g.tif", client=client, pixel_nm=20.0,
                         mode="gaussian", sigma_nm=30.0)
    np.testing.assert_allclose(tifffile.imread(gauss.path),
                               blur(want, sigma_nm=30.0, pixel_nm=20.0), rtol=1e-5, atol=1e-6)
    movie = tmp_path / "m.zarr"
    create_image_store(movie, shape=(4, 32, 32), dtype="uint16", chunks=(2, 32, 32),
                       pixel_size_nm=100.0)[:] = 7
    render_table(path, tmp_path / "r.png", client=client, pixel_nm=20.0, widefield=movie)
    png = matplotlib.image.imread(tmp_path / "r.png")
    assert png.shape[1] > 1.8 * png.shape[0], "two panels side by side"
    with pytest.raises(InputError, match="exists"):
        render_table(path, tmp_path / "r.png", client=client)
    with pytest.raises(InputError, match=".png or .tif"):
        render_table(path, tmp_path / "r.jpg", client=client)
    with pytest.raises(InputError, match="--pixel-size must be positive"):
        render_table(path, tmp_path / "x.png", client=client, pixel_nm=0)


def test_render_cli(dask_cluster, tmp_path):
    scheduler = dask_cluster.scheduler_address
    path = tmp_path / "locs.csv"
    write_table(_table(n=300), path, meta=TableMeta(pixel_size_nm=100.0))
    run = CliRunner().invoke(app, ["--scheduler", scheduler, "render", str(path), "-o",
                                   str(tmp_path / "r.png"), "--pixel-size", "25"])
    assert run.exit_code == 0, run.stderr
    assert "300 localizations" in run.stderr and (tmp_path / "r.png").is_file()
    bad = CliRunner().invoke(app, ["--scheduler", scheduler, "render", str(path), "-o",
                                   str(tmp_path / "r2.png"), "--mode", "dots"])
    assert_fails_with_one_line(bad, "unknown render mode")
    empty = tmp_path / "notes.txt"
    empty.write_text("nothing")
    bad = CliRunner().invoke(app, ["--scheduler", scheduler, "render", str(empty), "-o",
                                   str(tmp_path / "r3.png")])
    assert_fails_with_one_line(bad)


def test_render_without_image_shape_keeps_a_point_at_the_far_edge(client, tmp_path):
    # issue 18 item 5: the field was ceil(max / p) pixels, so a point at max = k p fell in
    # pixel k, one past the last, and was dropped.
    table = pd.DataFrame({"frame": np.arange(3, dtype=np.int64),
                          "x_nm": [0.0, 55.0, 200.0], "y_nm": [0.0, 100.0, 60.0]})
    path = tmp_path / "edge.parquet"
    write_table(table, path, meta=TableMeta())
    result = render_table(path, tmp_path / "e.tif", client=client, pixel_nm=20.0)
    image = tifffile.imread(result.path)
    assert result.shape == (6, 11) and image.sum() == 3
    assert image[3, 10] == 1 and image[5, 2] == 1 and image[0, 0] == 1
