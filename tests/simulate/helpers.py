"""Helpers for the simulator tests: small settings, a tiny PSF file (laziness checks in
tests.helpers)."""

from __future__ import annotations

from smlmscale.simulate import EmitterSettings, MovieSettings, StructureSettings

#: The tiny PSF file's z range (nm), pixel (nm) and window (px).
TINY_Z_NM, TINY_PIXEL_NM, TINY_SIZE_PX = (0.0, 2000.0), 110.0, 15


def small_settings(**changes) -> MovieSettings:
    """A 40-frame 24x24 px movie with a dozen emitters per frame."""
    values = dict(frames=40, size_px=24, seed=7,
                  emitters=EmitterSettings(density_per_um2=2.0),
                  structure=StructureSettings(n_sites=2000))
    values.update(changes)
    return MovieSettings(**values)


def tiny_psf_file(path, *, builtin: str = "tetrapod") -> str:
    """A fast pupil PSF file at ``path``: a 101-sample grid (60 um SLM pixel), 5 planes
    0..2000 nm of 15x15 px at 110 nm, blur range 0.99..1.01 px; returns the path."""
    from smlmscale.psf import MaskSettings, OpticsSettings, PsfGridSettings, make_pupil_psf

    make_pupil_psf(path, optics=OpticsSettings(slm_pixel_um=60, pixel_size_nm=TINY_PIXEL_NM),
                   grid=PsfGridSettings(z_range_nm=TINY_Z_NM, z_step_nm=500.0,
                                        size_px=TINY_SIZE_PX),
                   mask=MaskSettings(builtin=builtin))
    return str(path)


def tiny_bead_file(path) -> str:
    """A bead PSF file at ``path``: 5 planes 0..2000 nm of 15x15 px Gaussians widening
    with z, at 110 nm, no blur; returns the path."""
    import numpy as np

    from smlmscale.psf import write_psf_group

    z_nm = np.linspace(*TINY_Z_NM, 5)
    r = np.arange(TINY_SIZE_PX) - TINY_SIZE_PX // 2
    sigma = 1.0 + z_nm / 1000.0
    squared = r[None, :, None] ** 2 + r[None, None, :] ** 2
    images = np.exp(-squared / (2 * sigma[:, None, None] ** 2))
    images /= images.sum(axis=(1, 2), keepdims=True)
    write_psf_group(path, images, attrs={"model": "bead", "z_nm": z_nm.tolist(),
                                         "pixel_size_nm": TINY_PIXEL_NM,
                                         "size_px": [TINY_SIZE_PX] * 2,
                                         "blur_sigma_px_range": [0.0, 0.0]})
    return str(path)
