"""Movies rendered by the model of a PSF file (``simulate --psf FILE.zarr``).

A PSF file (``smlmscale psf``) holds a pupil model (Fourier optics and a phase mask,
recomputed exactly at every position and z) or a measured bead (interpolated). The
settings carry only its path (``psf.file``): every task opens the file itself, once per
process (:func:`open_psf`), so nothing large travels through the Dask graph.

Rendering (:class:`FileSpots`): every frame's emitters are one batch of the model's spot
API; pupil spots are computed in single precision (``backend("numpy", double=False)``),
1.7-1.9x faster than double precision and within 1e-6 of a spot's peak of it (a
27,000-photon emitter: below 1e-4 photons per pixel, far below its shot noise). Each
emitter adds ``photons`` times its unit-energy spot (:meth:`~smlmscale.psf.PsfModel.spots`:
a pupil spot holds the fraction of the light inside its window) around its pixel,
clipped at the frame's edges. A frame's pixels depend only on its own emitters, so the
movie does not depend on the chunking.

Orchestration helpers: :func:`psf_file_defaults` fills in what a parameter mapping
leaves out (the pixel size and z range of the file), :func:`check_psf_file` refuses
settings the file does not cover.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from smlmscale.errors import InputError

#: Relative difference of pixel sizes taken as the same.
PIXEL_TOLERANCE = 1e-6


def _stamp(path: str) -> int:
    """The modification time of the file's ``zarr.json`` (0 when missing), ns."""
    try:
        return os.stat(os.path.join(path, "zarr.json")).st_mtime_ns
    except OSError:
        return 0


@functools.lru_cache(maxsize=4)
def _open(path: str, stamp: int):
    from smlmscale.psf import load_psf

    return load_psf(path)


def open_psf(path: str | os.PathLike):
    """The PSF model of ``path`` (:func:`smlmscale.psf.load_psf`), cached per process and
    reloaded when the file is rewritten.

    Raises
    ------
    InputError
        No such folder, or not a PSF file (one line naming it).
    """
    path = os.path.abspath(os.fspath(path))
    if not os.path.exists(path):
        raise InputError("no such PSF file", path=path,
                         hint="make one with smlmscale psf -o FILE.zarr, or check --psf")
    return _open(path, _stamp(path))


def psf_file_defaults(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """A movie parameter mapping with a PSF file's values where it gives none.

    With ``psf.file`` given (relative to the working directory): ``psf.model`` defaults
    to ``"file"``, ``pixel_size_nm`` and ``psf.z_range_nm`` to the file's. Any other
    mapping is returned as it is.

    Raises
    ------
    InputError
        As :func:`open_psf`.
    """
    data = dict(data or {})
    psf = data.get("psf")
    if not isinstance(psf, Mapping) or psf.get("file") is None:
        return data
    psf = dict(psf)
    model = open_psf(psf["file"])
    psf.setdefault("model", "file")
    psf.setdefault("z_range_nm", list(model.z_range_nm))
    data.setdefault("pixel_size_nm", model.pixel_size_nm)
    data["psf"] = psf
    return data


def check_psf_file(settings) -> None:
    """Refuse movie settings a PSF file does not cover (no-op for built-in PSFs).

    Parameters
    ----------
    settings : MovieSettings

    Raises
    ------
    InputError
        The file is missing or not a PSF file, ``psf.z_range_nm`` reaches outside its z
        range, or the movie's pixel differs from the file's; one line naming the file.
    """
    if not settings.psf.from_file:
        return
    path = settings.psf.file
    model = open_psf(path)
    try:
        model.check_z_range(*settings.psf.z_range_nm)
    except InputError as exc:
        raise InputError(exc.message, path=path, hint=exc.hint, param=exc.param,
                         flag="--z-range") from None
    px, file_px = settings.pixel_size_nm, model.pixel_size_nm
    if abs(px - file_px) > PIXEL_TOLERANCE * file_px:
        raise InputError(f"the movie's pixel size {px:g} nm differs from the PSF file's "
                         f"{file_px:g} nm", path=path, param="pixel_size_nm",
                         hint="leave out --pixel-size to take the file's, or make the PSF "
                              "at this pixel size")


def blur_range_nm(model) -> tuple[float, float]:
    """A PSF model's per-emitter blur range (``blur_sigma_px_range``) in nm."""
    lo, hi = model.blur_sigma_px_range
    return lo * model.pixel_size_nm, hi * model.pixel_size_nm


@functools.lru_cache(maxsize=1)
def _single():
    from smlmscale.psf import backend

    return backend("numpy", double=False)


def model_spots(model, dx_px: np.ndarray, dy_px: np.ndarray, z_nm: np.ndarray,
                blur_sigma_px: np.ndarray | None) -> np.ndarray:
    """Unit-energy spots ``(n, h, w)`` of ``n`` emitters, as
    :meth:`smlmscale.psf.PsfModel.spots` with the model's window, pupil models in single
    precision (float32), batches of :data:`smlmscale.psf.model.PUPIL_BATCH`.

    Parameters
    ----------
    model : PsfModel
    dx_px, dy_px : numpy.ndarray
        ``(n,)`` offsets from the centre of each emitter's pixel, px.
    z_nm : numpy.ndarray
        ``(n,)`` depths, nm.
    blur_sigma_px : numpy.ndarray or None
        ``(n,)`` Gaussian blur per emitter, px, or none.
    """
    if model.model != "pupil":
        return model.spots(dx_px, dy_px, z_nm, blur_sigma_px=blur_sigma_px)
    from smlmscale.psf.model import PUPIL_BATCH
    from smlmscale.psf.pupil import psf_images

    if len(z_nm):
        model.check_z_range(float(np.min(z_nm)), float(np.max(z_nm)))
    out = np.empty((len(dx_px), *model.size_px), np.float32)
    for start in range(0, len(dx_px), PUPIL_BATCH):
        part = slice(start, start + PUPIL_BATCH)
        blur = None if blur_sigma_px is None else blur_sigma_px[part]
        out[part] = psf_images(model.grid, dx_px=dx_px[part], dy_px=dy_px[part],
                               z_nm=z_nm[part], mask_phase=model.mask_phase,
                               blur_sigma_px=blur, size_px=model.size_px, xp=_single())
    return out


class FileSpots:
    """Adds the spots of a PSF model to frames.

    Parameters
    ----------
    model : PsfModel
        From :func:`open_psf`.
    """

    def __init__(self, model) -> None:
        self.model = model
        self.blurred = model.blur_sigma_px_range[1] > 0

    def add(self, image: np.ndarray, x_px: np.ndarray, y_px: np.ndarray, z_nm: np.ndarray,
            blur_sigma_px: np.ndarray, photons: np.ndarray) -> np.ndarray:
        """Add one frame's emitters to ``image`` (``(H, W)`` float64, photons) in place.

        Parameters
        ----------
        image : numpy.ndarray
        x_px, y_px : numpy.ndarray
            ``(n,)`` positions, px (origin at the top-left corner of pixel (0, 0)).
        z_nm : numpy.ndarray
            ``(n,)`` depths, nm.
        blur_sigma_px : numpy.ndarray
            ``(n,)`` Gaussian blur of each spot, px (not applied when the file's blur
            range is 0).
        photons : numpy.ndarray
            ``(n,)`` photons of each emitter.

        Returns
        -------
        numpy.ndarray
            ``image``.
        """
        from smlmscale.psf.model import add_spots

        if not len(x_px):
            return image
        cols, rows = np.floor(x_px).astype(np.int64), np.floor(y_px).astype(np.int64)
        spots = model_spots(self.model, x_px - cols - 0.5, y_px - rows - 0.5, z_nm,
                            blur_sigma_px if self.blurred else None)
        add_spots(image, spots * np.asarray(photons, np.float64)[:, None, None], rows, cols)
        return image


__all__ = ["FileSpots", "PIXEL_TOLERANCE", "blur_range_nm", "check_psf_file", "model_spots",
           "open_psf", "psf_file_defaults"]
