"""Phase masks: files of every type, placement on the pupil grid, refused masks."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from smlmscale.errors import InputError
from smlmscale.psf import (MaskSettings, OpticsSettings, build_mask, fit_mask, psf_images,
                           pupil_grid, read_mask, zernike_mask)
from tests.tiffdata import write_tiff


@pytest.fixture()
def phase():
    return np.random.default_rng(0).uniform(-np.pi, np.pi, (55, 55))


def test_every_file_type_reads_the_same_mask(tmp_path, phase):
    scipy.io.savemat(tmp_path / "m.mat", {"mask_tetrapod": phase})
    np.save(tmp_path / "m.npy", phase)
    np.savez(tmp_path / "m.npz", phase=phase)
    write_tiff(tmp_path / "m.tif", phase.astype(np.float32)[None])
    for name in ("m.mat", "m.npy", "m.npz"):
        np.testing.assert_array_equal(read_mask(tmp_path / name), phase)
    np.testing.assert_allclose(read_mask(tmp_path / "m.tif"), phase, rtol=1e-6)


def test_mat_with_several_variables_needs_a_key(tmp_path, phase):
    scipy.io.savemat(tmp_path / "two.mat", {"mask": phase, "other": np.zeros(3)})
    with pytest.raises(InputError, match=r"holds 2 variables \(mask, other\)") as err:
        read_mask(tmp_path / "two.mat")
    assert "--mask-key" in str(err.value)
    np.testing.assert_array_equal(read_mask(tmp_path / "two.mat", key="mask"), phase)
    with pytest.raises(InputError, match="no variable 'nope'"):
        read_mask(tmp_path / "two.mat", key="nope")


@pytest.mark.parametrize("name, content, fragment", [
    ("m.png", b"\x89PNG", "not a phase-mask file type (.png)"),
    ("m.mat", b"not matlab at all", "not a readable .mat file"),
    ("m.npy", b"garbage", "not a readable .npy file"),
    ("m.tif", b"II*\x00junk", "TIFF holds no images"),
])
def test_unreadable_files(tmp_path, name, content, fragment):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InputError, match=None) as err:
        read_mask(tmp_path / name)
    assert fragment in str(err.value) and name in str(err.value)


def test_matlab_v73_is_explained(tmp_path):
    import h5py

    path = tmp_path / "v73.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        f["mask"] = np.zeros((5, 5))
    with open(path, "r+b") as fh:  # MATLAB's 7.3 header in the user block
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(116) + b"\x00" * 8
                 + b"\x00\x02IM")
    with pytest.raises(InputError, match=r"v7\.3 \(HDF5\).*'-v7'"):
        read_mask(path)


@pytest.mark.parametrize("value, fragment", [
    (np.zeros((3, 4, 5)), "must be a 2D image"),
    (np.full((5, 5), np.nan), "NaN or infinite"),
    (np.ones((5, 5)) * 1j, "complex"),
    (np.array([["a"]]), "not numeric"),
])
def test_bad_contents(tmp_path, value, fragment):
    np.save(tmp_path / "m.npy", value)
    with pytest.raises(InputError, match=fragment):
        read_mask(tmp_path / "m.npy")


def test_too_small_a_mask_names_the_sizes(small_grid):
    need = small_grid.optics.pupil_diameter_px  # 49 SLM px across at a 60 um pixel
    assert need == 49
    with pytest.raises(InputError) as err:
        fit_mask(np.zeros((48, 60)), small_grid, path="m.mat")
    text = str(err.value)
    assert text.startswith("m.mat: the phase mask is 48x60 SLM px but the pupil is 49 SLM px")
    assert "--slm-pixel" in text and "at least 49x49" in text
    fit_mask(np.zeros((49, 49)), small_grid)  # just enough
    with pytest.raises(InputError, match="an even size needs 50"):
        fit_mask(np.zeros((49, 48)), small_grid)


def test_placement_centres_the_mask_and_drops_what_lies_outside(small_grid):
    n, c = small_grid.n, small_grid.centre
    mask = np.zeros((301, 301))
    mask[150, 150 + 5] = 1.0  # 5 SLM px right of the mask's centre
    placed = fit_mask(mask, small_grid)
    assert placed.shape == (n, n) and placed[c, c + 5] == 1.0 and placed.sum() == 1.0
    even = np.zeros((60, 60))
    even[30, 30] = 2.0  # pixel (h // 2, w // 2) lands on the optical axis
    assert fit_mask(even, small_grid)[c, c] == 2.0
    assert np.all(fit_mask(np.ones((99, 99)), small_grid)[small_grid.amplitude == 0] == 0)


def test_a_file_mask_equals_the_same_zernike_mask(tmp_path, small_grid):
    """A mask saved from the grid and read back gives the same PSF as computed."""
    phase = zernike_mask(small_grid, {6: 1.0})
    scipy.io.savemat(tmp_path / "astig.mat", {"mask": phase})
    from_file, record = build_mask(small_grid, MaskSettings(mask=str(tmp_path / "astig.mat")))
    from_zernike, _ = build_mask(small_grid, MaskSettings(zernike=((6, 1.0),)))
    np.testing.assert_allclose(from_file, from_zernike, atol=1e-12)
    assert record["source"] == "file" and record["shape"] == [small_grid.n] * 2
    both, record = build_mask(small_grid, MaskSettings(builtin="astigmatism",
                                                       zernike=((6, -1.0), (12, 0.5))))
    np.testing.assert_allclose(both, zernike_mask(small_grid, {12: 0.5}), atol=1e-12)
    assert record["source"] == "builtin+zernike" and record["zernike"] == {"6": 0.0, "12": 0.5}
    np.testing.assert_allclose(psf_images(small_grid, mask_phase=from_file, z_nm=500.0),
                               psf_images(small_grid, mask_phase=from_zernike, z_nm=500.0),
                               atol=1e-12)


def test_the_seeds_mask_size_fits_the_seeds_optics():
    """The seed's 203 x 203 mask at 30 um fills its grid (Hmask = Wmask = 203)."""
    grid = pupil_grid(OpticsSettings())
    assert fit_mask(np.ones((203, 203)), grid).shape == (203, 203)
