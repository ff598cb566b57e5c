"""What Picasso sees of smlmscale's HDF5 (issue 18 items 1 and 2).

``picasso_loads`` below is Picasso's own rule, copied from picassosr 0.11.3
``picasso/lib.py`` ``ensure_sanity`` (called by ``io.load_locs`` and ``io.save_locs``):
drop rows with any NaN/inf field, ``x >= Width``, ``y >= Height``, or a negative
``x, y, lpx, lpy, lpz, photons, ellipticity, sx, sy``. picassosr is not in the test
extras (it pins its own NumPy/Qt); the slow test at the end runs the real reader from
``.venv-picasso`` when that venv exists.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from smlmscale.io.tables import TableMeta, convert_table, read_table, write_table
from smlmscale.io.tables.notices import TableWarning
from smlmscale.io.tables.picasso_rules import GIVEN, MORTENSEN, ONE_PIXEL

PIXEL = 100.0
ROOT = Path(__file__).resolve().parents[2]


def picasso_loads(path: Path) -> pd.DataFrame:
    """The rows Picasso keeps, by ``lib.ensure_sanity`` (re-implemented in pandas)."""
    with h5py.File(path, "r") as handle:
        locs = pd.DataFrame(handle["locs"][()])
    info = list(yaml.safe_load_all(path.with_suffix(".yaml").read_text()))
    get = {k: v for doc in info for k, v in doc.items()}
    for key in ("Width", "Height", "Frames"):
        assert key in get, f"Picasso raises KeyError without {key}"
    locs = locs.replace([np.inf, -np.inf], np.nan).dropna(axis=0, how="any")
    locs = locs[locs["x"] < get["Width"]]
    locs = locs[locs["y"] < get["Height"]]
    for attr in ["x", "y", "lpx", "lpy", "lpz", "photons", "ellipticity", "sx", "sy"]:
        if attr in locs.columns:
            locs = locs[locs[attr] >= 0]
    return locs


def _predicted(n=40, seed=0, **columns) -> pd.DataFrame:
    """A table like ``predict`` writes for a DeepSTORM model: no uncertainty."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({"frame": np.sort(rng.integers(0, 10, n)),
                          "x_nm": rng.uniform(60, 3000, n), "y_nm": rng.uniform(60, 3000, n),
                          "confidence": rng.uniform(0.1, 1, n)})
    return table.assign(**columns)


def _info(path: Path) -> dict:
    return yaml.safe_load(path.with_suffix(".yaml").read_text())


def test_table_without_uncertainty_loads_whole_in_picasso(tmp_path):
    out = tmp_path / "locs.hdf5"
    table = _predicted()
    write_table(table, out, meta=TableMeta(pixel_size_nm=PIXEL, image_shape=(32, 32)))
    assert len(picasso_loads(out)) == len(table)  # NaN lpx/lpy used to give 0 rows
    with h5py.File(out, "r") as handle:
        locs = handle["locs"][()]
    np.testing.assert_array_equal(locs["lpx"], np.ones(len(table), np.float32))
    assert _info(out)["smlmscale"]["lpx/lpy"] == ONE_PIXEL
    again, _ = read_table(out)  # read back: the same columns, no invented uncertainty
    assert list(again.columns) == list(table.columns)


def test_precision_is_estimated_by_mortensen(tmp_path):
    out = tmp_path / "locs.hdf5"
    n = 30
    rng = np.random.default_rng(1)
    photons, sigma, bg = rng.uniform(200, 5000, n), rng.uniform(90, 160, n), rng.uniform(0, 30, n)
    table = _predicted(n, photons=photons, sigma_nm=sigma, background=bg)
    write_table(table, out, meta=TableMeta(pixel_size_nm=PIXEL, image_shape=(32, 32)))
    sa2 = sigma ** 2 + PIXEL ** 2 / 12  # Mortensen et al. 2010 Eq. 6, by hand
    expected = np.sqrt(sa2 / photons * (16 / 9 + 8 * np.pi * sa2 * bg / (photons * PIXEL ** 2)))
    with h5py.File(out, "r") as handle:
        locs = handle["locs"][()]
    order = np.argsort(table["frame"].to_numpy(), kind="stable")
    np.testing.assert_allclose(locs["lpx"] * PIXEL, expected[order], rtol=1e-6)
    np.testing.assert_allclose(locs["lpy"], locs["lpx"])
    assert _info(out)["smlmscale"]["lpx/lpy"] == MORTENSEN
    assert len(picasso_loads(out)) == n


def test_locnet_per_axis_columns_survive_a_round_trip(tmp_path):
    """sigma_x/y and uncertainty_x/y are not replaced by their means (item 2)."""
    n = 25
    rng = np.random.default_rng(2)
    table = _predicted(n, photons=rng.uniform(500, 900, n), background=rng.uniform(1, 9, n),
                       sigma_x_nm=rng.uniform(80, 120, n), sigma_y_nm=rng.uniform(130, 200, n),
                       uncertainty_x_nm=rng.uniform(5, 10, n),
                       uncertainty_y_nm=rng.uniform(12, 30, n))
    table = table.sort_values("frame", kind="stable", ignore_index=True)
    out = tmp_path / "locs.hdf5"
    write_table(table, out, meta=TableMeta(pixel_size_nm=PIXEL, image_shape=(32, 32)))
    with h5py.File(out, "r") as handle:
        locs = handle["locs"][()]
    np.testing.assert_allclose(locs["sx"] * PIXEL, table["sigma_x_nm"], rtol=1e-6)
    np.testing.assert_allclose(locs["sy"] * PIXEL, table["sigma_y_nm"], rtol=1e-6)
    np.testing.assert_allclose(locs["lpy"] * PIXEL, table["uncertainty_y_nm"], rtol=1e-6)
    assert _info(out)["smlmscale"]["lpx/lpy"] == GIVEN
    again, _ = read_table(out)
    assert sorted(again.columns) == sorted(table.columns)
    for column in ("sigma_x_nm", "sigma_y_nm", "uncertainty_x_nm", "uncertainty_y_nm"):
        np.testing.assert_allclose(again[column], table[column], rtol=1e-6)
    # and through Parquet and back to Picasso: still per axis
    convert_table(out, tmp_path / "locs.parquet")
    convert_table(tmp_path / "locs.parquet", tmp_path / "again.hdf5")
    with h5py.File(tmp_path / "again.hdf5", "r") as handle:
        np.testing.assert_array_equal(handle["locs"]["sy"], locs["sy"])


def test_points_picasso_drops_are_written_with_a_warning(tmp_path):
    """y < half a pixel is y < 0 in Picasso's pixels: Picasso drops it, so warn."""
    table = pd.DataFrame({"frame": [0, 0, 1], "x_nm": [500.0, 500.0, 30.0],
                          "y_nm": [500.0, 49.0, 500.0]})
    out = tmp_path / "locs.hdf5"
    with pytest.warns(TableWarning, match="2 of 3 localizations will be dropped by Picasso"):
        write_table(table, out, meta=TableMeta(pixel_size_nm=PIXEL, image_shape=(8, 8)))
    assert len(picasso_loads(out)) == 1 and len(read_table(out)[0]) == 3


def test_no_warning_when_picasso_keeps_every_row(tmp_path, recwarn):
    write_table(_predicted(), tmp_path / "locs.hdf5", meta=TableMeta(pixel_size_nm=PIXEL))
    assert not [w for w in recwarn if issubclass(w.category, TableWarning)]


_PICASSO = sorted(ROOT.glob(".venv-picasso/bin/python"))
_LOAD = ("import sys; from picasso import io; locs, info = io.load_locs(sys.argv[1]); "
         "print(len(locs))")


@pytest.mark.slow
@pytest.mark.skipif(not _PICASSO, reason="no .venv-picasso (make bench-picasso)")
def test_real_picasso_loads_every_row(tmp_path):
    out = tmp_path / "locs.hdf5"
    table = _predicted(photons=np.full(40, 800.0), sigma_nm=np.full(40, 120.0))
    write_table(table, out, meta=TableMeta(pixel_size_nm=PIXEL, image_shape=(32, 32)))
    done = subprocess.run([str(_PICASSO[0]), "-c", _LOAD, str(out)], capture_output=True,
                          text=True, timeout=300, check=True)
    assert int(done.stdout.split()[-1]) == len(table), done.stderr
