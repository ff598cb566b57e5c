"""PSF models from files: exact pupil spots, interpolated bead spots, rendering."""

from __future__ import annotations

import numpy as np
import pytest

from smlmscale.errors import InputError
from smlmscale.psf import (BeadSettings, MaskSettings, OpticsSettings, PsfGridSettings,
                           add_spots, load_psf, make_bead_psf, make_pupil_psf, psf_images)
from tests.psf import moments
from tests.psf.test_bead import simulated_stack
from tests.tiffdata import write_tiff


@pytest.fixture(scope="module")
def pupil_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("psf") / "tetrapod.psf.zarr"
    make_pupil_psf(out, optics=OpticsSettings(slm_pixel_um=60.0),
                   grid=PsfGridSettings(z_range_nm=(0.0, 3000.0), z_step_nm=100.0, size_px=41),
                   mask=MaskSettings(builtin="tetrapod"))
    return load_psf(out)


@pytest.fixture(scope="module")
def bead_model(tmp_path_factory, small_grid):
    folder = tmp_path_factory.mktemp("bead")
    stack, _, _ = simulated_stack(small_grid, photons=1e6)
    tif = write_tiff(folder / "bead.tif", stack)
    out = folder / "bead.psf.zarr"
    make_bead_psf(out, tif, settings=BeadSettings(pixel_size_nm=110.0, z_step_nm=100.0,
                                                  size_px=41))
    return load_psf(out)


def test_pupil_model_recomputes_the_stored_images(pupil_model):
    spots = pupil_model.spots(np.zeros(31), np.zeros(31), pupil_model.z_nm)
    np.testing.assert_allclose(spots, pupil_model.images, atol=1e-7 * spots.max())
    assert pupil_model.size_px == (41, 41) and pupil_model.z_range_nm == (0.0, 3000.0)
    assert pupil_model.blur_sigma_px_range == (0.99, 1.01)


def test_pupil_render_is_exact_at_sub_pixel_positions(pupil_model):
    grid = pupil_model.grid
    x, y, z = np.array([30.8, 52.1]), np.array([25.35, 40.5]), np.array([450.0, 2210.0])
    frame = pupil_model.render(x, y, z, [1000.0, 3000.0], shape=(64, 80))
    spots = psf_images(grid, dx_px=[0.3, -0.4], dy_px=[-0.15, 0.0], z_nm=z,
                       mask_phase=pupil_model.mask_phase, size_px=41)
    expected = np.zeros((64, 80))
    add_spots(expected, spots * np.array([1000.0, 3000.0])[:, None, None],
              np.array([25, 40]), np.array([30, 52]))
    np.testing.assert_allclose(frame, expected, atol=1e-9)
    # the photons land in the frame but for what falls outside the spot window
    assert 0.8 * 4000 < frame.sum() < 4000
    # a blur widens the spot and keeps its photons
    whole = dict(shape=(101, 101), size_px=101)  # the pupil grid's whole field
    sharp = pupil_model.render([50.5], [50.5], [1500.0], [1.0], **whole)
    blurred = pupil_model.render([50.5], [50.5], [1500.0], [1.0], blur_sigma_px=[1.5], **whole)
    assert blurred.sum() == pytest.approx(1.0) and sharp.sum() == pytest.approx(1.0)
    assert moments(blurred)[2] == pytest.approx(moments(sharp)[2] + 1.5 ** 2, rel=0.05)


def test_emitters_at_the_edge_are_clipped(pupil_model):
    inside = pupil_model.render([20.5], [20.5], [1000.0], [1.0], shape=(41, 41))
    corner = pupil_model.render([0.5], [0.5], [1000.0], [1.0], shape=(41, 41))
    np.testing.assert_allclose(corner, np.pad(inside[20:, 20:], ((0, 20), (0, 20))))
    assert pupil_model.render([-200.0], [0.0], [0.0], [1.0], shape=(8, 8)).sum() == 0
    assert pupil_model.render([], [], [], [], shape=(4, 5)).shape == (4, 5)


def test_z_outside_the_file_is_refused(pupil_model, bead_model):
    for model, top in ((pupil_model, 3000), (bead_model, 2000)):
        with pytest.raises(InputError, match=f"outside the PSF file's 0..{top} nm"):
            model.spots([0.0], [0.0], [top + 100.0])
        with pytest.raises(InputError, match="z range 0..5000 nm is outside") as err:
            model.check_z_range(0.0, 5000.0)
        assert "give a --z-range inside it" in str(err.value)
        model.check_z_range(0.0, float(top))


def test_bead_model_interpolates_and_shifts(bead_model):
    images = bead_model.images.astype(np.float64)
    on_grid = bead_model.spots(np.zeros(3), np.zeros(3), bead_model.z_nm[[0, 7, 20]])
    np.testing.assert_allclose(on_grid, images[[0, 7, 20]], atol=1e-6)
    between = bead_model.spots([0.0], [0.0], [750.0])[0]
    np.testing.assert_allclose(between, 0.5 * (images[7] + images[8]), atol=1e-6)
    x0, y0, *_ = moments(bead_model.spots([0.0], [0.0], [1000.0])[0])
    x1, y1, *_ = moments(bead_model.spots([0.4], [-0.3], [1000.0])[0])
    assert (x1 - x0, y1 - y0) == (pytest.approx(0.4, abs=0.02), pytest.approx(-0.3, abs=0.02))
    frame = bead_model.render([20.5], [20.5], [1000.0], [500.0], shape=(41, 41))
    np.testing.assert_allclose(frame, 500.0 * images[10], atol=1e-3)
    with pytest.raises(InputError, match="larger than the bead PSF's 41x41"):
        bead_model.spots([0.0], [0.0], [0.0], size_px=51)
    assert bead_model.spots([0.0], [0.0], [0.0], size_px=21).shape == (1, 21, 21)
