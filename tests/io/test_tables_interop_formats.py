"""Files that locan, SMAP and DECODE write, reproduced by their writers' rules (issue 18
item 3). locan 0.22 is not in the test extras (46 packages with compiled ones: scikit-
learn, scikit-image, shapely, boost-histogram, QtPy...), so its writers are reproduced
from its source: ``save_thunderstorm_csv`` and ``save_SMAP_csv`` rename ``LocData``
columns by the inverse of ``locan.constants.THUNDERSTORM_KEYS`` / ``SMAP_KEYS`` and call
``DataFrame.to_csv(path, float_format="%.10g", index=False)`` (SMAP: only the mapped
columns). DECODE's ``emitter_io.save_h5`` layout is rebuilt with h5py."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from smlmscale.cli import app
from smlmscale.errors import InputError
from smlmscale.io.tables import read_table, read_table_lazy, sniff_text, write_table

# locan.constants (0.22), the mappings its writers invert
THUNDERSTORM_KEYS = {
    "id": "original_index", "frame": "frame", "x [nm]": "position_x", "y [nm]": "position_y",
    "z [nm]": "position_z", "uncertainty [nm]": "uncertainty",
    "uncertainty_xy [nm]": "uncertainty_x", "uncertainty_z [nm]": "uncertainty_z",
    "intensity [photon]": "intensity", "offset [photon]": "local_background",
    "bkgstd [photon]": "local_background_sigma", "chi2": "chi_square",
    "sigma1 [nm]": "psf_sigma_x", "sigma2 [nm]": "psf_sigma_y", "sigma [nm]": "psf_sigma",
    "detections": "frames_number"}
SMAP_KEYS = {"frame": "frame", "xnm": "position_x", "ynm": "position_y", "znm": "position_z",
             "bg": "local_background", "phot": "intensity", "channel": "channel",
             "xnmerr": "uncertainty_x", "ynmerr": "uncertainty_y", "znmerr": "uncertainty_z"}


def _locdata(n=30, seed=0) -> pd.DataFrame:
    """``LocData.data`` as locan holds it: 0-based frames (from DECODE, SMAP, ...)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "position_x": rng.uniform(0, 4000, n), "position_y": rng.uniform(0, 4000, n),
        "frame": np.sort(rng.integers(0, 12, n)), "intensity": rng.uniform(200, 900, n),
        "local_background": rng.uniform(1, 9, n), "uncertainty_x": rng.uniform(5, 20, n),
        "uncertainty_y": rng.uniform(5, 20, n), "cluster_label": rng.integers(-1, 4, n)})


def _locan_thunderstorm_csv(data: pd.DataFrame, path) -> None:
    inverse = {v: k for k, v in THUNDERSTORM_KEYS.items()}
    data.rename(index=str, columns=inverse).to_csv(path, float_format="%.10g", index=False)


def _locan_smap_csv(data: pd.DataFrame, path) -> None:
    inverse = {v: k for k, v in SMAP_KEYS.items()}
    renamed = data.rename(index=str, columns=inverse)
    renamed[[c for c in renamed.columns if c in SMAP_KEYS]].to_csv(
        path, float_format="%.10g", index=False)


def test_locan_thunderstorm_csv_needs_and_takes_frame_base_0(tmp_path):
    data, path = _locdata(), tmp_path / "locan.csv"
    _locan_thunderstorm_csv(data, path)
    assert sniff_text(path) == "thunderstorm"
    with pytest.raises(InputError) as refused:
        read_table(path)
    assert "--frame-base 0" in refused.value.hint  # the hint that fixes it, first
    table, _ = read_table(path, frame_base=0)
    np.testing.assert_array_equal(table["frame"], data["frame"])
    # positions exactly as written: no half-pixel move (--from picasso_csv moved them)
    np.testing.assert_allclose(table["x_nm"], data["position_x"], rtol=1e-9)
    np.testing.assert_allclose(table["y_nm"], data["position_y"], rtol=1e-9)
    np.testing.assert_allclose(table["photons"], data["intensity"], rtol=1e-9)
    np.testing.assert_allclose(table["uncertainty_nm"], data["uncertainty_x"], rtol=1e-9)
    assert table["cluster_label"].tolist() == data["cluster_label"].tolist()
    lazy, _ = read_table_lazy(path, frame_base=0, blocksize=400)  # blocks cut the file
    assert lazy.npartitions > 1
    pd.testing.assert_frame_equal(lazy.compute().reset_index(drop=True), table)


def test_convert_frame_base_option(tmp_path):
    data, src = _locdata(), tmp_path / "locan.csv"
    _locan_thunderstorm_csv(data, src)
    runner = CliRunner()
    refused = runner.invoke(app, ["convert", str(src), "-o", str(tmp_path / "a.parquet")])
    assert refused.exit_code == 2 and "--frame-base 0" in refused.stderr
    assert not (tmp_path / "a.parquet").exists()
    done = runner.invoke(app, ["convert", str(src), "-o", str(tmp_path / "a.parquet"),
                               "--frame-base", "0"])
    assert done.exit_code == 0, done.stderr
    table, _ = read_table(tmp_path / "a.parquet")
    assert table["frame"].tolist() == data["frame"].tolist()
    bad = runner.invoke(app, ["convert", str(tmp_path / "a.parquet"), "-o",
                              str(tmp_path / "b.csv"), "--frame-base", "0"])
    assert bad.exit_code == 2 and "--frame-base applies to text tables" in bad.stderr
    two = runner.invoke(app, ["convert", str(src), "-o", str(tmp_path / "c.parquet"),
                              "--frame-base", "2"])
    assert two.exit_code == 2 and "0 or 1" in two.stderr


def test_a_1_based_plain_csv(tmp_path):
    path = tmp_path / "t.csv"
    write_table(pd.DataFrame({"frame": [1, 2], "x_nm": [1.0, 2.0], "y_nm": [3.0, 4.0]}), path,
                format="csv")
    assert read_table(path, frame_base=1)[0]["frame"].tolist() == [0, 1]


def test_locan_smap_csv(tmp_path):
    data, path = _locdata(), tmp_path / "smap.csv"
    _locan_smap_csv(data, path)
    assert sniff_text(path) == "smap"
    table, _ = read_table(path, frame_base=0)  # locan keeps its 0-based frames
    np.testing.assert_array_equal(table["frame"], data["frame"])
    np.testing.assert_allclose(table["x_nm"], data["position_x"], rtol=1e-9)
    np.testing.assert_allclose(table["background"], data["local_background"], rtol=1e-9)
    np.testing.assert_allclose(table["uncertainty_x_nm"], data["uncertainty_x"], rtol=1e-9)
    np.testing.assert_allclose(table["uncertainty_y_nm"], data["uncertainty_y"], rtol=1e-9)
    np.testing.assert_allclose(table["uncertainty_nm"],
                               (data["uncertainty_x"] + data["uncertainty_y"]) / 2, rtol=1e-9)
    assert "cluster_label" not in table.columns  # locan writes SMAP columns only


def test_smap_export_has_1_based_frames(tmp_path):
    path = tmp_path / "smap.csv"
    path.write_text("frame,xnm,ynm,znm,phot,bg,locprecnm,PSFxnm,PSFynm,channel\n"
                    "1,150.5,200.25,-30,1200,3.5,8.5,110,130,1\n"
                    "3,10,20,40,800,2.5,12,120,120,2\n")
    table, _ = read_table(path)
    assert table["frame"].tolist() == [0, 2] and table["z_nm"].tolist() == [-30.0, 40.0]
    assert table["uncertainty_nm"].tolist() == [8.5, 12.0]
    assert table["sigma_nm"].tolist() == [120.0, 120.0]
    assert table["sigma_x_nm"].tolist() == [110.0, 120.0]
    assert table["channel"].tolist() == [1, 2]


def _decode_h5(path, *, xy_unit="px", px_size=(100.0, 110.0), n=40, sig=True, seed=0):
    """A file laid out as DECODE's ``emitter_io.save_h5`` writes it."""
    rng = np.random.default_rng(seed)
    xyz = np.stack([rng.uniform(-0.5, 31.5, n), rng.uniform(-0.5, 47.5, n),
                    rng.uniform(-500, 500, n)], 1).astype(np.float32)
    if xy_unit == "nm":
        xyz[:, :2] *= np.asarray(px_size, np.float32)
    data = {"xyz": xyz, "phot": rng.uniform(500, 3000, n).astype(np.float32),
            "frame_ix": np.sort(rng.integers(0, 20, n)), "id": np.arange(n),
            "prob": rng.uniform(0.5, 1, n).astype(np.float32),
            "bg": rng.uniform(5, 20, n).astype(np.float32)}
    with h5py.File(path, "w") as handle:
        handle.create_group("meta").attrs.update({"xy_unit": xy_unit, "px_size": px_size})
        handle.create_group("decode").attrs.update({"version": "0.10.0"})
        group = handle.create_group("data")
        for key in ("xyz", "phot", "frame_ix", "id", "prob", "bg"):
            group.create_dataset(key, data=data[key])
        for key in ("xyz_cr", "phot_cr", "phot_sig", "bg_cr", "bg_sig"):
            group.create_dataset(key, data=h5py.Empty("f"))
        if sig:
            data["xyz_sig"] = rng.uniform(0.05, 0.2, (n, 3)).astype(np.float32)
            group.create_dataset("xyz_sig", data=data["xyz_sig"])
        else:
            group.create_dataset("xyz_sig", data=h5py.Empty("f"))
    return data


@pytest.mark.parametrize("xy_unit", ["px", "nm"])
def test_decode_h5(tmp_path, xy_unit):
    path = tmp_path / "emitters.h5"
    data = _decode_h5(path, xy_unit=xy_unit)
    table, meta = read_table(path)  # .h5 holding /data/xyz: DECODE, not Picasso
    xyz = data["xyz"].astype(np.float64)
    scale = (100.0, 110.0) if xy_unit == "px" else (1.0, 1.0)
    # DECODE x is the row axis, pixel centres at integers
    np.testing.assert_allclose(table["x_nm"], xyz[:, 1] * scale[1] + 55.0, rtol=1e-12)
    np.testing.assert_allclose(table["y_nm"], xyz[:, 0] * scale[0] + 50.0, rtol=1e-12)
    np.testing.assert_allclose(table["z_nm"], xyz[:, 2])
    assert table["frame"].tolist() == data["frame_ix"].tolist()
    np.testing.assert_allclose(table["photons"], data["phot"])
    np.testing.assert_allclose(table["confidence"], data["prob"])
    assert table["id"].tolist() == list(range(40))
    if xy_unit == "px":
        np.testing.assert_allclose(table["uncertainty_x_nm"],
                                   data["xyz_sig"][:, 1].astype(np.float64) * 110.0)
        np.testing.assert_allclose(table["uncertainty_z_nm"], data["xyz_sig"][:, 2])
    assert meta.pixel_size_nm == 110.0
    lazy, _ = read_table_lazy(path, blocksize=64 * 7)  # 7-row blocks cut frames
    assert lazy.npartitions > 1
    pd.testing.assert_frame_equal(lazy.compute().reset_index(drop=True), table,
                                  check_dtype=False)


def test_decode_without_sigmas_or_pixel_size(tmp_path):
    path = tmp_path / "e.h5"
    _decode_h5(path, sig=False)
    table, _ = read_table(path)
    assert "uncertainty_nm" not in table.columns and "phot_sig" not in table.columns
    with h5py.File(path, "a") as handle:
        del handle["meta"].attrs["px_size"]
    with pytest.raises(InputError, match="no px_size"):
        read_table(path)
    assert len(read_table(path, pixel_size_nm=100.0)[0]) == 40
    with pytest.raises(InputError) as as_picasso:
        read_table(path, format="picasso")
    assert as_picasso.value.hint == "a DECODE emitter file? pass --from decode"
