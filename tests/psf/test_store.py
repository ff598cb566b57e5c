"""PSF files: layout on disk, sniffing, summaries, refused folders."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import zarr

from smlmscale.errors import InputError
from smlmscale.psf import (MaskSettings, OpticsSettings, PsfGridSettings, describe_psf,
                           is_psf_store, load_psf, make_pupil_psf)


@pytest.fixture(scope="module")
def psf_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("store") / "astig.psf.zarr"
    make_pupil_psf(out, optics=OpticsSettings(slm_pixel_um=60.0),
                   grid=PsfGridSettings(z_range_nm=(0.0, 1000.0), z_step_nm=250.0, size_px=21),
                   mask=MaskSettings(zernike=((6, 1.0),)), command="smlmscale psf -o x")
    return out


def test_layout(psf_file):
    group = zarr.open_group(str(psf_file), mode="r")
    assert group.metadata.zarr_format == 3
    psf, mask = group["psf"], group["mask"]
    assert psf.shape == (5, 21, 21) and psf.dtype == np.float32
    assert psf.metadata.dimension_names == ("z", "y", "x")
    assert mask.shape == (101, 101) and mask.dtype == np.float64
    attrs = group.attrs["smlmscale"]
    assert attrs["kind"] == "psf" and attrs["model"] == "pupil"
    assert attrs["z_nm"] == [0.0, 250.0, 500.0, 750.0, 1000.0]
    assert attrs["pixel_size_nm"] == 110.0 and attrs["size_px"] == [21, 21]
    assert attrs["pupil"]["grid_n"] == 101 and attrs["pupil"]["optics"]["na"] == 1.45
    assert "sums to 1 over the N x N" in attrs["normalization"]
    assert set(attrs) >= {"version", "command", "created", "blur_sigma_px_range"}


def test_sniff_and_describe(psf_file, tmp_path):
    assert is_psf_store(psf_file) and not is_psf_store(tmp_path)
    summary = describe_psf(psf_file)
    assert summary["kind"] == "PSF" and summary["model"] == "pupil"
    assert summary["planes"] == 5 and summary["z_range_nm"] == [0.0, 1000.0]
    assert summary["mask"]["zernike"] == {"6": 1.0}
    json.dumps(summary)


def test_refused_folders(psf_file, tmp_path):
    with pytest.raises(InputError, match="no such PSF file"):
        load_psf(tmp_path / "missing.zarr")
    (tmp_path / "file.zarr").write_text("x")
    with pytest.raises(InputError, match="it is a file, not a Zarr folder"):
        load_psf(tmp_path / "file.zarr")
    zarr.open_group(str(tmp_path / "other.zarr"), mode="w", attributes={"smlmscale": {
        "kind": "patchset"}})
    with pytest.raises(InputError, match="not a PSF file"):
        load_psf(tmp_path / "other.zarr")
    damaged = tmp_path / "damaged.zarr"
    shutil.copytree(psf_file, damaged)
    shutil.rmtree(damaged / "mask")
    with pytest.raises(InputError, match="a damaged PSF file"):
        load_psf(damaged)
