"""Orchestration: make a PSF file from optics and a phase mask, or from a bead z-stack.

Both check the output first (an existing one is refused untouched unless ``overwrite``),
compute in this process (a PSF file is a few hundred FFTs: no cluster), and write the
file through :func:`~smlmscale.io.outputs.staged_output`: it is built in
``OUT.partial`` and renamed when complete.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from smlmscale import __version__
from smlmscale.errors import InputError
from smlmscale.psf.masks import fit_mask, read_mask, zernike_mask
from smlmscale.psf.optics import OpticsSettings, PupilGrid, pupil_grid
from smlmscale.psf.settings import BeadSettings, MaskSettings, PsfGridSettings, z_grid
from smlmscale.psf.zernike import builtin_coefficients

#: Planes computed per batch of pupil images.
BATCH_PLANES = 32


@dataclass(frozen=True)
class PsfResult:
    """A written PSF file: ``path``, ``model`` (``"pupil"`` or ``"bead"``), ``shape``
    ``(z, h, w)``, ``z_range_nm``, ``seconds``, and ``details`` (the pupil grid's size
    and the mask's source, or the bead's position and SNR)."""

    path: str
    model: str
    shape: tuple[int, int, int]
    z_range_nm: tuple[float, float]
    seconds: float
    details: dict[str, Any]


def build_mask(grid: PupilGrid, settings: MaskSettings) -> tuple[np.ndarray, dict[str, Any]]:
    """The ``(N, N)`` phase (radians) of ``settings`` on ``grid``, and its record.

    File, built-in and Zernike phases are added; with none the mask is 0 (a clear pupil).

    Raises
    ------
    InputError
        As :func:`~smlmscale.psf.masks.read_mask` and :func:`~smlmscale.psf.masks.fit_mask`.
    """
    phase = np.zeros((grid.n, grid.n))
    record: dict[str, Any] = {"source": settings.source}
    if settings.mask is not None:
        raw = read_mask(settings.mask, key=settings.mask_key)
        phase += fit_mask(raw, grid, path=settings.mask)
        record.update(path=os.path.abspath(settings.mask), key=settings.mask_key,
                      shape=list(raw.shape), slm_pixel_um=grid.optics.slm_pixel_um)
    coefficients: dict[int, float] = {}
    if settings.builtin is not None:
        coefficients = builtin_coefficients(settings.builtin)
        record["builtin"] = settings.builtin
    for j, c in settings.zernike:
        coefficients[j] = coefficients.get(j, 0.0) + c
    if coefficients:
        phase += zernike_mask(grid, coefficients)
        record["zernike"] = {str(j): c for j, c in sorted(coefficients.items())}
    return phase, record


def pupil_stack(grid: PupilGrid, mask_phase: np.ndarray, z_nm: np.ndarray,
                size_px: int) -> np.ndarray:
    """``(z, size, size)`` float32 PSF images at ``z_nm`` (no offset, no blur)."""
    from smlmscale.psf.pupil import check_window, psf_images

    size = check_window(grid, size_px)
    out = np.empty((len(z_nm), *size), np.float32)
    for start in range(0, len(z_nm), BATCH_PLANES):
        part = slice(start, start + BATCH_PLANES)
        out[part] = psf_images(grid, z_nm=z_nm[part], mask_phase=mask_phase, size_px=size)
    return out


def _common(kind: str, *, z_nm: np.ndarray, pixel_size_nm: float, size: tuple[int, int],
            blur: tuple[float, float], normalization: str, command: str | None) -> dict:
    from smlmscale.io.outputs import utc_now

    return {"model": kind, "z_nm": [float(z) for z in z_nm], "pixel_size_nm": pixel_size_nm,
            "size_px": list(size), "blur_sigma_px_range": list(blur),
            "normalization": normalization, "version": __version__, "command": command,
            "created": utc_now()}


def _write(output: Path, images: np.ndarray, attrs: dict, mask: np.ndarray | None,
           overwrite: bool) -> None:
    from smlmscale.io.outputs import staged_output
    from smlmscale.psf.store import write_psf_group

    with staged_output(output, overwrite=overwrite) as staged:
        write_psf_group(staged.path, images, attrs=attrs, mask=mask)


def make_pupil_psf(output: str | os.PathLike, *, optics: OpticsSettings | None = None,
                   grid: PsfGridSettings | None = None, mask: MaskSettings | None = None,
                   overwrite: bool = False, command: str | None = None) -> PsfResult:
    """Write the PSF file of a Fourier-optics (pupil) model.

    Parameters
    ----------
    output : str or os.PathLike
        The PSF folder (``.zarr``) to write.
    optics : OpticsSettings, optional
    grid : PsfGridSettings, optional
        z range and step, window, blur range.
    mask : MaskSettings, optional
        The phase mask; default none (a clear pupil).
    overwrite : bool
        Replace an existing output once the new one is complete.
    command : str, optional
        The command line, recorded as provenance.

    Raises
    ------
    InputError
        An existing output; a mask that is unreadable or does not cover the pupil; a
        window larger than the pupil grid; negative z with supercritical light.
    """
    from smlmscale.io.outputs import check_output

    start = time.perf_counter()
    optics, grid, mask = optics or OpticsSettings(), grid or PsfGridSettings(), \
        mask or MaskSettings()
    output = Path(os.path.abspath(os.fspath(output)))
    check_output(output, overwrite=overwrite)
    if grid.z_range_nm[0] < 0 and optics.n_sample < optics.na:
        raise InputError(f"{{flag}} starts below the coverslip ({grid.z_range_nm[0]:g} nm) "
                         f"while NA {optics.na:g} exceeds the sample index "
                         f"{optics.n_sample:g}", param="z_range_nm", flag="--z-range",
                         hint="give depths of 0 nm or more")
    pupil = pupil_grid(optics)
    phase, mask_record = build_mask(pupil, mask)
    z_nm = grid.z_nm
    images = pupil_stack(pupil, phase, z_nm, grid.size_px)
    attrs = _common("pupil", z_nm=z_nm, pixel_size_nm=optics.pixel_size_nm,
                    size=images.shape[1:], blur=grid.blur_sigma_px_range, command=command,
                    normalization="each image sums to 1 over the N x N pupil-grid field "
                                  "before the crop (the window holds that fraction)")
    attrs["pupil"] = {"optics": optics.to_mapping(), "grid_n": pupil.n,
                      "pupil_radius_px": optics.pupil_radius_px, "mask": mask_record}
    _write(output, images, attrs, phase, overwrite)
    return PsfResult(path=str(output), model="pupil", shape=images.shape,
                     z_range_nm=(float(z_nm[0]), float(z_nm[-1])),
                     seconds=time.perf_counter() - start,
                     details={"grid_n": pupil.n, "mask": mask_record["source"],
                              "in_window": float(images.sum(axis=(1, 2)).mean())})


def read_bead_stack(path: str | os.PathLike) -> tuple[np.ndarray, Any]:
    """A bead z-stack ``(z, y, x)`` float64 from a TIFF, and its :class:`TiffFileInfo`.

    Raises
    ------
    InputError
        Not a readable TIFF.
    """
    from smlmscale.io.tiff import inspect_tiff, read_frames

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError("no such bead stack", path=path, hint="give a TIFF z-stack of a bead")
    if Path(path).suffix.lower() not in (".tif", ".tiff"):
        raise InputError("a bead stack must be a TIFF (.tif) z-stack", path=path)
    info = inspect_tiff(path)
    return read_frames(info, 0, info.n_frames).astype(np.float64), info


def make_bead_psf(output: str | os.PathLike, stack_path: str | os.PathLike, *,
                  settings: BeadSettings | None = None, overwrite: bool = False,
                  command: str | None = None) -> PsfResult:
    """Write the PSF file of a measured bead z-stack (:func:`smlmscale.psf.bead.bead_psf`).

    Parameters
    ----------
    output : str or os.PathLike
        The PSF folder (``.zarr``) to write.
    stack_path : str or os.PathLike
        TIFF ``(z, y, x)`` of one bead, slices ``settings.stack_step_nm`` apart.
    settings : BeadSettings, optional
    overwrite : bool
    command : str, optional

    Raises
    ------
    InputError
        An existing output; an unreadable stack; no pixel size; no bead in the stack; a
        z range outside it.
    """
    from smlmscale.io.outputs import check_output
    from smlmscale.psf.bead import bead_psf, interpolate_z

    start = time.perf_counter()
    settings = settings or BeadSettings()
    output = Path(os.path.abspath(os.fspath(output)))
    check_output(output, overwrite=overwrite)
    stack, info = read_bead_stack(stack_path)
    pixel_size_nm = settings.pixel_size_nm or info.pixel_size_nm
    if pixel_size_nm is None:
        raise InputError("the bead stack has no pixel size in its metadata",
                         path=info.path, hint="give --pixel-size NM")
    try:
        found = bead_psf(stack, size_px=settings.size_px, min_snr=settings.min_snr)
    except InputError as exc:  # name the stack; its flags as the CLI's
        raise InputError(exc.message, path=info.path, hint=exc.hint, param=exc.param,
                         flag=exc.flag) from None
    z_stack = settings.stack_step_nm * np.arange(len(stack), dtype=np.float64)
    z_range = settings.z_range_nm or (0.0, float(z_stack[-1]))
    z_nm = z_grid(z_range, settings.z_step_nm)
    images = interpolate_z(found.images, z_stack, z_nm).astype(np.float32)
    attrs = _common("bead", z_nm=z_nm, pixel_size_nm=float(pixel_size_nm),
                    size=images.shape[1:], blur=settings.blur_sigma_px_range, command=command,
                    normalization="each image sums to 1 over its window (all that was "
                                  "measured)")
    attrs["bead"] = {
        "source": {"path": info.path, "size_bytes": info.size_bytes,
                   "mtime": datetime.fromtimestamp(info.mtime, timezone.utc).isoformat()},
        "stack_step_nm": settings.stack_step_nm, "centre_px": list(found.centre_px),
        "snr": found.snr if np.isfinite(found.snr) else None, "noise": found.noise,
        "background": found.background.tolist(),
        "centroids_px": found.centroids_px.tolist(), "photons": found.photons.tolist()}
    _write(output, images, attrs, None, overwrite)
    return PsfResult(path=str(output), model="bead", shape=images.shape,
                     z_range_nm=(float(z_nm[0]), float(z_nm[-1])),
                     seconds=time.perf_counter() - start,
                     details={"centre_px": found.centre_px, "snr": found.snr,
                              "slices": len(stack)})


__all__ = ["BATCH_PLANES", "PsfResult", "build_mask", "make_bead_psf", "make_pupil_psf",
           "pupil_stack", "read_bead_stack"]
