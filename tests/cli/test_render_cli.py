"""``smlmscale render`` through CliRunner: --blur precision, --color-by, --scale-bar, bad
inputs (exit 2, one line, nothing overwritten)."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import tifffile
from typer.testing import CliRunner

from smlmscale.cli import app
from smlmscale.io.tables import TableMeta, write_table
from tests.cli.helpers import assert_fails_with_one_line
from tests.render.test_render_features import table_3d

runner = CliRunner()


def _render(scheduler, *args, quiet=False):
    return runner.invoke(app, ["--quiet"] * quiet + ["--scheduler", scheduler, "render",
                                                     *map(str, args)])


def _write(path, table):
    write_table(table, path, meta=TableMeta(pixel_size_nm=100.0, image_shape=(32, 32)))
    return path


def test_render_blur_colour_and_scale_bar(scheduler, tmp_path):
    locs = _write(tmp_path / "locs.parquet", table_3d(n=2000))
    image = tmp_path / "img.png"
    result = _render(scheduler, locs, "-o", image, "--pixel-size", "10", "--blur", "precision",
                     "--color-by", "z", "--scale-bar", "500")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == \
        f"wrote {image}: 2000 localizations, 320 x 320 px of 10 nm"
    rgb = matplotlib.image.imread(image)[..., :3]
    assert rgb.shape[1] > rgb.shape[0] and (rgb.max(axis=2) - rgb.min(axis=2)).max() > 0.5
    tif = tmp_path / "img.tif"
    again = _render(scheduler, locs, "-o", tif, "--pixel-size", "20", "--color-by", "frame",
                    quiet=True)
    assert again.exit_code == 0 and again.stderr == ""
    stack = tifffile.imread(tif)
    assert stack.shape == (2, 160, 160) and stack[0].sum() == 2000
    drawn = stack[0] > 0
    assert np.isfinite(stack[1][drawn]).all() and np.isnan(stack[1][~drawn]).all()


def test_render_bad_inputs_exit_2_and_overwrite_nothing(scheduler, tmp_path):
    flat = _write(tmp_path / "flat.csv", table_3d(n=300).drop(
        columns=["z_nm", "uncertainty_x_nm", "uncertainty_y_nm"]))
    out = tmp_path / "img.png"
    out.write_bytes(b"keep")
    assert_fails_with_one_line(_render(scheduler, flat, "-o", out), "img.png", "--overwrite")
    assert out.read_bytes() == b"keep"
    fresh = tmp_path / "new.png"
    assert_fails_with_one_line(_render(scheduler, flat, "-o", fresh, "--blur", "precision"),
                               "flat.csv", "uncertainty_x_nm and uncertainty_y_nm",
                               "uncertainty_nm")
    assert_fails_with_one_line(_render(scheduler, flat, "-o", fresh, "--color-by", "z"),
                               "flat.csv", "z_nm", "2D table")
    assert_fails_with_one_line(_render(scheduler, flat, "-o", fresh, "--color-by", "photons"),
                               "--color-by")
    assert_fails_with_one_line(_render(scheduler, flat, "-o", tmp_path / "x.tif",
                                       "--scale-bar", "500"), "--scale-bar", "PNG")
    assert_fails_with_one_line(_render(scheduler, flat, "-o", fresh, "--scale-bar", "-5"),
                               "--scale-bar")
    assert_fails_with_one_line(_render(scheduler, flat, "-o", fresh, "--scale-bar", "9000"),
                               "longer than the 3200 nm wide image")
    assert_fails_with_one_line(_render(scheduler, flat, "-o", fresh, "--blur", "precision",
                                       "--mode", "gaussian"), "--mode gaussian")
    nan = tmp_path / "nan.csv"
    table = table_3d(n=300)
    table.loc[9, "x_nm"] = np.nan
    table.to_csv(nan, index=False)
    assert_fails_with_one_line(_render(scheduler, nan, "-o", fresh), "nan.csv",
                               "NaN or infinite x_nm")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flat.csv", "img.png", "nan.csv"]
