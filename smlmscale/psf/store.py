"""PSF files: a Zarr v3 group of PSF images and the parameters that made them.

Layout::

    PSF.zarr/
      psf     (z, y, x) float32   images on the z grid, the emitter on the centre of
                                  pixel (y // 2, x // 2), no blur; chunks of 16 planes
      mask    (N, N) float64      pupil models only: the phase on the pupil grid, radians
      zarr.json                   attributes["smlmscale"]:
        kind: "psf"; model: "pupil" | "bead"; z_nm: [...] (the grid, nm);
        pixel_size_nm; size_px: [h, w]; blur_sigma_px_range: [lo, hi] (px);
        normalization (in words); version, command, created;
        pupil: optics {wavelength_nm, na, n_immersion, n_sample, pixel_size_nm,
               magnification, slm_pixel_um, f_4f_um, focus_nm}, grid_n, pupil_radius_px,
               mask {source, ...};
        bead:  source {path, size_bytes, mtime}, stack_step_nm, centre_px, snr, noise,
               background, centroids_px, photons (per slice)

A pupil model is recomputed exactly from ``optics`` and ``mask`` (:class:`PupilPsf`); a
bead model renders from ``psf`` (:class:`BeadPsf`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from smlmscale.errors import InputError
from smlmscale.psf.model import BeadPsf, PsfModel, PupilPsf

KIND = "psf"
MODELS = ("pupil", "bead")
#: z planes per chunk of the ``psf`` array.
CHUNK_PLANES = 16


def write_psf_group(path: str | os.PathLike, images: np.ndarray, *, attrs: dict[str, Any],
                    mask: np.ndarray | None = None) -> None:
    """Write a PSF group at ``path`` (an empty or absent folder).

    Parameters
    ----------
    path : str or os.PathLike
    images : numpy.ndarray
        ``(z, h, w)`` PSF images.
    attrs : dict
        Stored under ``"smlmscale"`` after ``kind: "psf"``; must hold ``model``.
    mask : numpy.ndarray, optional
        ``(N, N)`` pupil phase (pupil models).
    """
    import zarr

    from smlmscale.io.ome_zarr import compressor_codecs

    group = zarr.open_group(os.fspath(path), mode="w", zarr_format=3,
                            attributes={"smlmscale": {"kind": KIND, **attrs}})
    images = np.asarray(images, np.float32)
    psf = group.create_array(
        "psf", shape=images.shape, dtype=np.float32,
        chunks=(min(CHUNK_PLANES, images.shape[0]), *images.shape[1:]),
        compressors=compressor_codecs("zstd", zarr_format=3, itemsize=4), fill_value=0.0,
        dimension_names=["z", "y", "x"])
    psf[...] = images
    if mask is not None:
        stored = group.create_array("mask", shape=mask.shape, dtype=np.float64,
                                    chunks=mask.shape, fill_value=0.0,
                                    dimension_names=["ky", "kx"])
        stored[...] = np.asarray(mask, np.float64)


def is_psf_store(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a Zarr group whose attributes say ``kind: "psf"`` (cheap)."""
    try:
        meta = json.loads((Path(os.fspath(path)) / "zarr.json").read_text())
    except (OSError, ValueError):
        return False
    attrs = meta.get("attributes", {}).get("smlmscale")
    return isinstance(attrs, dict) and attrs.get("kind") == KIND


def load_psf(path: str | os.PathLike) -> PsfModel:
    """The PSF model stored at ``path``: a :class:`PupilPsf` or a :class:`BeadPsf`.

    Raises
    ------
    InputError
        No such folder, not a Zarr group, not a PSF file, or a PSF file with missing or
        inconsistent parts.
    """
    from smlmscale.io.ome_zarr import open_zarr_group
    from smlmscale.psf.optics import OpticsSettings, pupil_grid

    path = os.fspath(path)
    if os.path.isfile(path):
        raise InputError("not a PSF file: it is a file, not a Zarr folder", path=path,
                         hint="give a folder written by smlmscale psf")
    group = open_zarr_group(path, what="PSF file")
    attrs = dict(group.attrs.asdict().get("smlmscale", {}))
    if attrs.get("kind") != KIND or attrs.get("model") not in MODELS:
        raise InputError("not a PSF file (no smlmscale kind 'psf')", path=path,
                         hint="give a folder written by smlmscale psf")
    try:
        images = np.asarray(group["psf"][...])
        z_nm = np.asarray(attrs["z_nm"], np.float64)
        common = dict(images=images, z_nm=z_nm, pixel_size_nm=attrs["pixel_size_nm"],
                      blur_sigma_px_range=attrs.get("blur_sigma_px_range", (0.0, 0.0)),
                      attrs=attrs)
        if images.ndim != 3 or len(z_nm) != images.shape[0]:
            raise ValueError(f"{images.shape[0]} images for {len(z_nm)} z values")
        if attrs["model"] == "bead":
            return BeadPsf(**common)
        optics = OpticsSettings.from_mapping(attrs["pupil"]["optics"], source=path)
        grid = pupil_grid(optics)
        mask = np.asarray(group["mask"][...])
        if mask.shape != (grid.n, grid.n):
            raise ValueError(f"mask {mask.shape} does not match the {grid.n}x{grid.n} grid")
        return PupilPsf(grid=grid, mask_phase=mask, **common)
    except (KeyError, ValueError, TypeError) as exc:
        raise InputError(f"a damaged PSF file ({type(exc).__name__}: {exc})", path=path,
                         hint="make it again with smlmscale psf") from None


def describe_psf(path: str | os.PathLike) -> dict[str, Any]:
    """A JSON-able summary of a PSF file (for ``smlmscale info``)."""
    model = load_psf(path)
    attrs = model.attrs
    out = {"kind": "PSF", "model": model.model, "planes": len(model.z_nm),
           "z_range_nm": list(model.z_range_nm), "size_px": list(model.size_px),
           "pixel_size_nm": model.pixel_size_nm,
           "blur_sigma_px_range": list(model.blur_sigma_px_range)}
    if model.model == "pupil":
        out.update(optics=attrs["pupil"]["optics"], grid_n=attrs["pupil"]["grid_n"],
                   mask=attrs["pupil"]["mask"])
    else:
        out.update(source=attrs["bead"]["source"], snr=attrs["bead"]["snr"])
    out.update({k: attrs.get(k) for k in ("version", "command", "created")})
    return out


__all__ = ["KIND", "MODELS", "describe_psf", "is_psf_store", "load_psf", "write_psf_group"]
