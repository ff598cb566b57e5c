"""`smlmscale psf`: pupil models from optics and masks, bead PSFs, one-line refusals."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.io
from typer.testing import CliRunner

from smlmscale.cli import app
from smlmscale.psf import (BUILTIN_MASKS, OpticsSettings, load_psf, psf_images, pupil_grid,
                           zernike_mask)
from tests.cli.helpers import assert_fails_with_one_line
from tests.psf.test_bead import simulated_stack
from tests.tiffdata import write_tiff

pytestmark = pytest.mark.timeout(60)
runner = CliRunner()
#: A small, fast PSF: 101-sample grid (60 um SLM pixel), 11 planes of 21 x 21 px.
FAST = ["--slm-pixel", "60", "--z-range", "0", "2000", "--z-step", "200", "--size", "21"]


def _psf(*args):
    return runner.invoke(app, ["psf", *map(str, args)])


def test_the_issues_command_line(tmp_path):
    """The seed's optics and its 203 x 203 tetrapod mask (.mat, 30 um pixels)."""
    grid = pupil_grid(OpticsSettings())
    mask = zernike_mask(grid, BUILTIN_MASKS["tetrapod"])
    scipy.io.savemat(tmp_path / "mask_tetrapod.mat", {"mask_tetrapod": mask})
    out = tmp_path / "tetrapod.psf.zarr"
    result = _psf("-o", out, "--mask", tmp_path / "mask_tetrapod.mat", "--slm-pixel", 30,
                  "--na", 1.45, "--wavelength", 670, "--n-immersion", 1.518, "--n-sample", 1.33,
                  "--pixel-size", 110, "--z-range", 0, 4000, "--focus", 1500, "--z-step", 100)
    assert result.exit_code == 0, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"wrote {out}: pupil PSF (file mask), 41 planes 0..4000 nm of "
                           "61x61 px, pupil grid 203 px")
    model = load_psf(out)
    assert model.attrs["pupil"]["mask"]["shape"] == [203, 203]
    np.testing.assert_allclose(model.mask_phase, mask, atol=1e-12)
    np.testing.assert_allclose(model.images[15], psf_images(grid, z_nm=1500.0, mask_phase=mask,
                                                            size_px=61)[0], rtol=1e-5,
                               atol=1e-9)


def test_info_describes_a_psf_file(tmp_path):
    out = tmp_path / "tetrapod.psf.zarr"
    assert _psf("-o", out, "--builtin", "tetrapod", *FAST).exit_code == 0
    result = runner.invoke(app, ["info", str(out)])
    assert result.exit_code == 0, result.stderr
    assert "kind: PSF" in result.stdout and "model: pupil" in result.stdout
    assert "z range nm: 0.0, 2000.0" in result.stdout and "planes: 11" in result.stdout


def test_builtin_and_zernike_masks(tmp_path):
    out = tmp_path / "astig.psf.zarr"
    result = _psf("-o", out, "--builtin", "astigmatism", "--zernike", "12:0.25", *FAST,
                  "--blur-range", 0.5, 1.5, "--n-sample", 1.4, "--focus", 800)
    assert result.exit_code == 0, result.stderr
    model = load_psf(out)
    assert model.attrs["pupil"]["mask"]["zernike"] == {"6": 1.0, "12": 0.25}
    assert model.optics.n_sample == 1.4 and model.optics.focus_nm == 800.0
    assert model.blur_sigma_px_range == (0.5, 1.5) and model.images.shape == (11, 21, 21)


def test_existing_output_is_refused_then_replaced(tmp_path):
    out = tmp_path / "p.psf.zarr"
    assert _psf("-o", out, *FAST).exit_code == 0
    mtime = os.path.getmtime(out / "zarr.json")
    assert_fails_with_one_line(_psf("-o", out, *FAST, "--builtin", "tetrapod"),
                               "output exists", "--overwrite")
    assert os.path.getmtime(out / "zarr.json") == mtime
    assert load_psf(out).attrs["pupil"]["mask"]["source"] == "none"
    assert _psf("-o", out, *FAST, "--builtin", "tetrapod", "--overwrite").exit_code == 0
    assert load_psf(out).attrs["pupil"]["mask"]["source"] == "builtin"
    assert not os.path.exists(f"{out}.partial")


def test_bad_masks_fail_with_one_line(tmp_path):
    np.save(tmp_path / "small.npy", np.zeros((40, 40)))
    out = tmp_path / "p.zarr"
    assert_fails_with_one_line(_psf("-o", out, "--mask", tmp_path / "small.npy", *FAST),
                               "small.npy", "40x40 SLM px but the pupil is 49 SLM px across",
                               "--slm-pixel")
    (tmp_path / "broken.mat").write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 10)
    assert_fails_with_one_line(_psf("-o", out, "--mask", tmp_path / "broken.mat"),
                               "broken.mat: not a readable .mat file")
    (tmp_path / "mask.png").write_bytes(b"\x89PNG")
    assert_fails_with_one_line(_psf("-o", out, "--mask", tmp_path / "mask.png"),
                               "not a phase-mask file type (.png)")
    scipy.io.savemat(tmp_path / "two.mat", {"a": np.zeros((60, 60)), "b": np.ones(2)})
    assert_fails_with_one_line(_psf("-o", out, "--mask", tmp_path / "two.mat", *FAST),
                               "holds 2 variables (a, b)", "--mask-key")
    assert _psf("-o", out, "--mask", tmp_path / "two.mat", "--mask-key", "a",
                *FAST).exit_code == 0
    assert not os.path.exists(f"{out}.partial")


@pytest.mark.parametrize("args, fragments", [
    (["--builtin", "vortex"], ["--builtin must be one of astigmatism, tetrapod"]),
    (["--zernike", "6=1"], ["--zernike '6=1' is not a list of NOLL:RADIANS pairs"]),
    (["--na", "1.6"], ["--na 1.6 must be below the immersion index"]),
    (["--size", "20"], ["--size must be odd"]),
    (["--size", "301"], ["does not fit the pupil grid's 203x203", "--size"]),
    (["--z-range", "3000", "0"], ["--z-range must be LOW, HIGH"]),
    (["--z-range", "-100", "100"], ["--z-range starts below the coverslip"]),
    (["--min-snr", "5"], ["--min-snr applies to --bead-stack only"]),
    (["--mask-key", "m"], ["--mask-key needs --mask"]),
    (["--bead-stack", "x.tif", "--na", "1.4", "--builtin", "tetrapod"],
     ["--builtin, --na apply to pupil models only, not --bead-stack"]),
])
def test_bad_options_fail_with_one_line(tmp_path, args, fragments):
    assert_fails_with_one_line(_psf("-o", tmp_path / "p.zarr", *args), *fragments)
    assert not (tmp_path / "p.zarr").exists()


def test_bead_stack(tmp_path):
    grid = pupil_grid(OpticsSettings(slm_pixel_um=60.0))
    stack, _, _ = simulated_stack(grid)
    tif = write_tiff(tmp_path / "bead_zstack.tif", stack)
    out = tmp_path / "bead.psf.zarr"
    result = _psf("-o", out, "--bead-stack", tif, "--z-step", 50, "--bead-step", 100,
                  "--pixel-size", 110, "--size", 41)
    assert result.exit_code == 0, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"wrote {out}: bead PSF from 21 slices (bead at row 28, col 33")
    assert "41 planes 0..2000 nm of 41x41 px" in line
    model = load_psf(out)
    assert model.model == "bead" and model.images.shape == (41, 41, 41)
    assert_fails_with_one_line(_psf("-o", tmp_path / "b2.zarr", "--bead-stack", tif,
                                    "--z-step", 50, "--bead-step", 100, "--pixel-size", 110,
                                    "--z-range", 0, 4000),
                               "outside the bead stack's 0..2000 nm", "--z-range")
    assert_fails_with_one_line(_psf("-o", tmp_path / "b2.zarr", "--bead-stack", tif),
                               "no pixel size", "--pixel-size")


def test_bead_stack_without_a_bead(tmp_path):
    noise = np.random.default_rng(0).poisson(100, (15, 40, 40)).astype(np.uint16)
    tif = write_tiff(tmp_path / "empty.tif", noise)
    assert_fails_with_one_line(_psf("-o", tmp_path / "b.zarr", "--bead-stack", tif,
                                    "--pixel-size", 110),
                               "empty.tif: no bead found", "--min-snr")
    (tmp_path / "stack.npy").write_bytes(b"x")
    assert_fails_with_one_line(_psf("-o", tmp_path / "b.zarr", "--bead-stack",
                                    tmp_path / "stack.npy", "--pixel-size", 110),
                               "must be a TIFF")
    assert not (tmp_path / "b.zarr").exists()


def test_the_installed_script(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "smlmscale")
    out = tmp_path / "t.psf.zarr"
    ok = subprocess.run([exe, "psf", "-o", str(out), "--builtin", "tetrapod", *FAST],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert f"wrote {out}: pupil PSF (builtin mask)" in ok.stderr
    assert load_psf(out).attrs["command"] == f"smlmscale psf -o {out} --builtin tetrapod " \
        + " ".join(FAST)
    bad = subprocess.run([exe, "psf", "-o", str(out), *FAST], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        f"error: {out}: output exists; pass --overwrite to replace it, or choose another -o"]
