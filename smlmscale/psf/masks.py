"""Phase masks: read from ``.mat``, ``.npy``/``.npz`` or ``.tif``, built from Zernike
coefficients, and placed on the pupil grid.

A mask is a 2D array of phase, radians, one value per SLM pixel (the pixel given as
``slm_pixel_um``: after any binning, as the seed's 30 um). On the pupil grid
(:mod:`smlmscale.psf.optics`) one SLM pixel is one sample, so the mask is placed
centred, its pixel ``(h // 2, w // 2)`` on the optical axis; it must cover the aperture
(:attr:`~smlmscale.psf.optics.OpticsSettings.pupil_diameter_px` samples across), and
what lies beyond the grid is outside the aperture and dropped.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from smlmscale.errors import InputError
from smlmscale.psf.optics import PupilGrid
from smlmscale.psf.zernike import zernike_phase

#: Mask file types by extension.
MASK_SUFFIXES = (".mat", ".npy", ".npz", ".tif", ".tiff")


def read_mask(path: str | os.PathLike, *, key: str | None = None) -> np.ndarray:
    """A phase mask (radians) from a file, as a 2D float64 array.

    Parameters
    ----------
    path : str or os.PathLike
        ``.mat`` (MATLAB up to v7, :func:`scipy.io.loadmat`), ``.npy``, ``.npz`` or a
        single-image ``.tif``.
    key : str, optional
        The variable of a ``.mat`` / ``.npz`` file; needed only when it holds several
        (MATLAB's ``__header__`` and the like do not count).

    Raises
    ------
    InputError
        No such file, another file type, an unreadable file, an ambiguous or missing
        ``key``, or content that is not a finite, real 2D array.
    """
    path = Path(os.fspath(path))
    suffix = path.suffix.lower()
    if suffix not in MASK_SUFFIXES:
        raise InputError(f"not a phase-mask file type ({suffix or 'no extension'})",
                         path=path, hint="give a .mat, .npy, .npz or .tif phase mask (radians)")
    if not path.is_file():
        raise InputError("no such phase-mask file", path=path)
    if suffix == ".mat":
        mask = _pick(_read_mat(path), key, path)
    elif suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                mask = _pick({k: data[k] for k in data.files}, key, path)
        except (OSError, ValueError) as exc:
            raise InputError(f"not a readable .npz file ({exc})", path=path) from None
    elif suffix == ".npy":
        try:
            mask = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputError(f"not a readable .npy file ({exc})", path=path) from None
    else:
        mask = _read_tif(path)
    return check_mask(mask, path=path)


def _read_mat(path: Path) -> dict:
    import scipy.io

    try:
        data = scipy.io.loadmat(path)
    except NotImplementedError:
        raise InputError("a MATLAB v7.3 (HDF5) file, which scipy cannot read", path=path,
                         hint="save it in MATLAB with save(..., '-v7') or as .npy") from None
    except Exception as exc:  # noqa: BLE001 - scipy raises many kinds on a bad file
        raise InputError(f"not a readable .mat file ({exc})", path=path,
                         hint="give a MATLAB .mat (v5-v7), .npy or .tif phase mask") from None
    return {k: v for k, v in data.items() if not k.startswith("__")}


def _pick(variables: Mapping[str, np.ndarray], key: str | None, path: Path) -> np.ndarray:
    names = sorted(variables)
    if key is not None:
        if key not in variables:
            raise InputError(f"no variable {key!r} in the mask file (it has "
                             f"{', '.join(names) or 'none'})", path=path, param="mask_key")
        return variables[key]
    if len(names) != 1:
        raise InputError(f"the mask file holds {len(names)} variables "
                         f"({', '.join(names) or 'none'})", path=path, param="mask_key",
                         hint="name the mask's with {flag}")
    return variables[names[0]]


def _read_tif(path: Path) -> np.ndarray:
    from smlmscale.io.tiff import inspect_tiff, read_frames

    info = inspect_tiff(path)
    if info.n_frames != 1:
        raise InputError(f"a phase-mask TIFF must hold one image, this one has "
                         f"{info.n_frames}", path=path)
    return read_frames(info, 0, 1)[0]


def check_mask(mask: np.ndarray, *, path: str | os.PathLike | None = None) -> np.ndarray:
    """``mask`` as a finite, real 2D float64 array of phase (a squeezed singleton axis is
    allowed).

    Raises
    ------
    InputError
        Not numeric, complex, not 2D, empty, or with NaN/inf values.
    """
    mask = np.asarray(mask)
    if mask.dtype.kind == "c":
        raise InputError("the phase mask is complex", path=path,
                         hint="save its phase in radians (numpy.angle) instead")
    if mask.dtype.kind not in "biuf":
        raise InputError(f"the phase mask is not numeric ({mask.dtype})", path=path)
    mask = np.squeeze(mask).astype(np.float64)
    if mask.ndim != 2 or mask.size == 0:
        raise InputError(f"the phase mask must be a 2D image, got shape {mask.shape}", path=path)
    if not np.all(np.isfinite(mask)):
        raise InputError("the phase mask has NaN or infinite values", path=path)
    return mask


def fit_mask(mask: np.ndarray, grid: PupilGrid, *,
             path: str | os.PathLike | None = None) -> np.ndarray:
    """``mask`` placed on the pupil grid: ``(N, N)`` radians, 0 where it has no pixels.

    Parameters
    ----------
    mask : numpy.ndarray
        ``(h, w)`` phase, radians, one value per SLM pixel; its pixel ``(h // 2, w // 2)``
        goes on the optical axis.
    grid : PupilGrid
    path : path-like, optional
        The mask's file, named in errors.

    Raises
    ------
    InputError
        The mask does not cover the aperture (too few SLM pixels across).

    Examples
    --------
    >>> from smlmscale.psf.optics import OpticsSettings, pupil_grid
    >>> g = pupil_grid(OpticsSettings(slm_pixel_um=60))
    >>> fit_mask(np.ones((300, 300)), g).shape
    (101, 101)
    """
    mask = check_mask(mask, path=path)
    optics, n, c = grid.optics, grid.n, grid.centre
    need = optics.pupil_diameter_px
    half = need // 2
    h, w = mask.shape
    if min(h // 2, h - 1 - h // 2, w // 2, w - 1 - w // 2) < half:
        raise InputError(
            f"the phase mask is {h}x{w} SLM px but the pupil is {need} SLM px across "
            f"(NA {optics.na:g}, M {optics.magnification:g}, f_4f {optics.f_4f_um:g} um, "
            f"SLM pixel {optics.slm_pixel_um:g} um)", path=path, param="slm_pixel_um",
            flag="--slm-pixel",
            hint=f"give a mask of at least {need}x{need} px (an even size needs {need + 1}), "
                 "or the SLM pixel the mask was made for with {flag}")
    out = np.zeros((n, n))
    # rows r of the grid take mask rows r - c + h // 2, where both exist
    r0, r1 = max(0, c - h // 2), min(n, c - h // 2 + h)
    c0, c1 = max(0, c - w // 2), min(n, c - w // 2 + w)
    out[r0:r1, c0:c1] = mask[r0 - c + h // 2: r1 - c + h // 2, c0 - c + w // 2: c1 - c + w // 2]
    return out * grid.amplitude


def zernike_mask(grid: PupilGrid, coefficients: Mapping[int, float]) -> np.ndarray:
    """``(N, N)`` phase, radians, of ``{Noll index: coefficient (rad RMS)}`` on the unit
    pupil of ``grid`` (0 outside the aperture)."""
    return zernike_phase(coefficients, grid.rho, grid.theta) * grid.amplitude


__all__ = ["MASK_SUFFIXES", "check_mask", "fit_mask", "read_mask", "zernike_mask"]
