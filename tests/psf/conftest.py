"""Fixtures of the PSF tests: small pupil grids (a 60 um SLM pixel: 101 samples across)."""

from __future__ import annotations

import pytest

from smlmscale.psf import OpticsSettings, pupil_grid


@pytest.fixture(scope="session")
def small_grid():
    """The seed's optics (water sample, NFP 1500 nm) on a 101-sample pupil grid."""
    return pupil_grid(OpticsSettings(slm_pixel_um=60.0))


@pytest.fixture(scope="session")
def matched_grid():
    """No index mismatch (n_sample = n_immersion), focus at z = 0, 101 samples."""
    return pupil_grid(OpticsSettings(slm_pixel_um=60.0, n_sample=1.518, focus_nm=0.0))
