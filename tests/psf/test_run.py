"""Making PSF files: pupil and bead, staged outputs, refused inputs."""

from __future__ import annotations

import os

import numpy as np
import pytest

from smlmscale.errors import InputError
from smlmscale.psf import (BeadSettings, MaskSettings, OpticsSettings, PsfGridSettings,
                           load_psf, make_bead_psf, make_pupil_psf)
from tests.psf.test_bead import BEAD_PX, Z_NM, simulated_stack
from tests.tiffdata import write_tiff

SMALL = OpticsSettings(slm_pixel_um=60.0)
GRID = PsfGridSettings(z_range_nm=(0.0, 2000.0), z_step_nm=100.0, size_px=31)


def test_pupil_psf_file(tmp_path):
    out = tmp_path / "astig.psf.zarr"
    result = make_pupil_psf(out, optics=SMALL, grid=GRID,
                            mask=MaskSettings(builtin="astigmatism"), command="smlmscale psf")
    assert result.shape == (21, 31, 31) and result.z_range_nm == (0.0, 2000.0)
    assert result.details["grid_n"] == 101 and result.details["mask"] == "builtin"
    assert os.path.isdir(out) and not os.path.exists(f"{out}.partial")
    model = load_psf(out)
    assert model.model == "pupil" and model.attrs["command"] == "smlmscale psf"
    assert model.attrs["pupil"]["mask"] == {"source": "builtin", "builtin": "astigmatism",
                                            "zernike": {"6": 1.0}}
    assert model.attrs["pupil"]["optics"] == SMALL.to_mapping()
    np.testing.assert_allclose(model.z_nm, np.arange(0.0, 2001.0, 100.0))


def test_existing_output_is_refused_untouched(tmp_path):
    out = tmp_path / "p.psf.zarr"
    make_pupil_psf(out, optics=SMALL, grid=GRID)
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(InputError, match="output exists; pass --overwrite"):
        make_pupil_psf(out, optics=SMALL, grid=GRID, mask=MaskSettings(builtin="tetrapod"))
    assert sorted(p.name for p in out.iterdir()) == before
    assert load_psf(out).attrs["pupil"]["mask"]["source"] == "none"
    make_pupil_psf(out, optics=SMALL, grid=GRID, mask=MaskSettings(builtin="tetrapod"),
                   overwrite=True)
    assert load_psf(out).attrs["pupil"]["mask"]["source"] == "builtin"


def test_a_failing_mask_leaves_no_partial_output(tmp_path):
    np.save(tmp_path / "small.npy", np.zeros((20, 20)))
    out = tmp_path / "p.psf.zarr"
    with pytest.raises(InputError, match="the pupil is 49 SLM px across"):
        make_pupil_psf(out, optics=SMALL, grid=GRID,
                       mask=MaskSettings(mask=str(tmp_path / "small.npy")))
    assert not out.exists() and not os.path.exists(f"{out}.partial")


def test_negative_depths_with_supercritical_light_are_refused(tmp_path):
    with pytest.raises(InputError, match="starts below the coverslip"):
        make_pupil_psf(tmp_path / "p.zarr", optics=SMALL,
                       grid=GRID.replace(z_range_nm=(-500.0, 500.0)))
    matched = SMALL.replace(n_sample=1.518, focus_nm=0.0)  # relative defocus is fine here
    make_pupil_psf(tmp_path / "p.zarr", optics=matched,
                   grid=GRID.replace(z_range_nm=(-500.0, 500.0)))


def test_bead_psf_file(tmp_path, small_grid):
    stack, _, _ = simulated_stack(small_grid)
    tif = write_tiff(tmp_path / "bead.tif", stack)
    out = tmp_path / "bead.psf.zarr"
    settings = BeadSettings(pixel_size_nm=110.0, z_step_nm=50.0, bead_step_nm=100.0,
                            size_px=41)
    result = make_bead_psf(out, tif, settings=settings)
    assert result.shape == (41, 41, 41) and result.z_range_nm == (0.0, 2000.0)
    assert result.details["centre_px"] == BEAD_PX and result.details["slices"] == len(Z_NM)
    model = load_psf(out)
    assert model.model == "bead" and model.pixel_size_nm == 110.0
    bead = model.attrs["bead"]
    assert bead["stack_step_nm"] == 100.0 and bead["centre_px"] == list(BEAD_PX)
    assert bead["source"]["path"] == str(tif) and len(bead["centroids_px"]) == len(Z_NM)
    np.testing.assert_allclose(model.images.sum(axis=(1, 2)), 1.0, rtol=1e-5)
    part = make_bead_psf(tmp_path / "part.psf.zarr", tif,
                         settings=settings.replace(z_range_nm=(500.0, 1500.0)))
    assert part.z_range_nm == (500.0, 1500.0) and part.shape[0] == 21


def test_bead_inputs_refused(tmp_path, small_grid):
    stack, _, _ = simulated_stack(small_grid)
    tif = write_tiff(tmp_path / "bead.tif", stack)
    with pytest.raises(InputError, match="no pixel size in its metadata; give --pixel-size"):
        make_bead_psf(tmp_path / "a.zarr", tif)
    settings = BeadSettings(pixel_size_nm=110.0)
    with pytest.raises(InputError, match="outside the bead stack's 0..1000 nm"):
        make_bead_psf(tmp_path / "a.zarr", tif,
                      settings=settings.replace(z_range_nm=(0.0, 3000.0)))
    noise = write_tiff(tmp_path / "noise.tif",
                       np.random.default_rng(0).poisson(100, (10, 40, 40)).astype(np.uint16))
    with pytest.raises(InputError, match=r"noise.tif: no bead found.*--min-snr"):
        make_bead_psf(tmp_path / "a.zarr", noise, settings=settings)
    (tmp_path / "x.png").write_bytes(b"png")
    with pytest.raises(InputError, match="must be a TIFF"):
        make_bead_psf(tmp_path / "a.zarr", tmp_path / "x.png", settings=settings)
    with pytest.raises(InputError, match="no such bead stack"):
        make_bead_psf(tmp_path / "a.zarr", tmp_path / "none.tif", settings=settings)
    assert not (tmp_path / "a.zarr").exists()
