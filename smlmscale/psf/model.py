"""PSF models that render spots: :class:`PupilPsf` (exact, from the optics and the mask)
and :class:`BeadPsf` (a measured bead, interpolated). Both come from a PSF file
(:func:`smlmscale.psf.store.load_psf`).

Coordinates follow the localization-table convention in pixels: pixel ``(i, j)`` spans
``[j, j + 1) x [i, i + 1)`` in ``(x, y)``, so an emitter at ``x_px = j + 0.5`` sits on
the centre of column ``j``. ``z_nm`` is the emitter's depth above the coverslip (pupil
models) or the bead stack's z (bead models), inside the file's z range.

Typical use (the simulator)::

    model = load_psf("tetrapod.psf.zarr")
    model.check_z_range(0, 4000)                     # InputError when outside the file's
    frame = model.render(x_px, y_px, z_nm, photons, shape=(121, 121),
                         blur_sigma_px=rng.uniform(*model.blur_sigma_px_range, len(x_px)))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from smlmscale.errors import InputError

#: Emitters per batch of pupil spots: bounds the ``(B, N, N)`` complex temporaries to a
#: few MB, which the allocator reuses (measured on the seed's 203-sample grid: 32 spots a
#: batch page-fault on every batch and take 25 % more CPU than 8; 2 workers contend on it).
PUPIL_BATCH = 8


class PsfModel:
    """What every PSF model offers.

    Attributes
    ----------
    model : {"pupil", "bead"}
    images : numpy.ndarray
        ``(z, h, w)`` float32 stored images (no blur; the emitter at the centre of pixel
        ``(h // 2, w // 2)``).
    z_nm : numpy.ndarray
        The stored images' z grid, nm.
    pixel_size_nm : float
        Camera pixel in the sample plane, nm.
    blur_sigma_px_range : tuple of float
        The range per-emitter Gaussian blurs are drawn from (the seed's
        ``blur_std_range``), camera px; the images are stored without it.
    attrs : dict
        The file's ``"smlmscale"`` attributes.
    """

    model = ""

    def __init__(self, *, images: np.ndarray, z_nm: np.ndarray, pixel_size_nm: float,
                 blur_sigma_px_range: tuple[float, float], attrs: dict[str, Any]) -> None:
        self.images = np.asarray(images, np.float32)
        self.z_nm = np.asarray(z_nm, np.float64)
        self.pixel_size_nm = float(pixel_size_nm)
        self.blur_sigma_px_range = tuple(float(v) for v in blur_sigma_px_range)
        self.attrs = attrs

    @property
    def size_px(self) -> tuple[int, int]:
        """``(h, w)`` of the stored images, the default spot window."""
        return tuple(self.images.shape[1:])

    @property
    def z_range_nm(self) -> tuple[float, float]:
        """``(min, max)`` z of the file, nm."""
        return float(self.z_nm[0]), float(self.z_nm[-1])

    def check_z_range(self, low_nm: float, high_nm: float) -> None:
        """Refuse emitters between ``low_nm`` and ``high_nm`` that the file does not cover.

        Raises
        ------
        InputError
            Part of the range lies outside :attr:`z_range_nm`.
        """
        lo, hi = self.z_range_nm
        if low_nm < lo - 1e-6 or high_nm > hi + 1e-6:
            raise InputError(f"z range {low_nm:g}..{high_nm:g} nm is outside the PSF file's "
                             f"{lo:g}..{hi:g} nm", param="z_range_nm", flag="--z-range",
                             hint="give a {flag} inside it, or make the PSF over a wider one")

    def spots(self, dx_px: Any, dy_px: Any, z_nm: Any, *, blur_sigma_px: Any = None,
              size_px: int | tuple[int, int] | None = None) -> np.ndarray:
        """Unit-energy spot images ``(n, h, w)`` float64 of ``n`` emitters.

        Parameters
        ----------
        dx_px, dy_px : array_like of shape (n,)
            Offsets from the centre of pixel ``(h // 2, w // 2)``, px (within +-0.5 for
            the sharpest results; any value works).
        z_nm : array_like of shape (n,)
            Depths, nm, inside :attr:`z_range_nm`.
        blur_sigma_px : array_like of shape (n,), optional
            Gaussian blur per emitter, px.
        size_px : int or (int, int), optional
            The window; default :attr:`size_px`.

        Raises
        ------
        InputError
            A z outside the file's range, or a window the model cannot fill.
        """
        raise NotImplementedError

    def render(self, x_px: Any, y_px: Any, z_nm: Any, photons: Any, *,
               shape: tuple[int, int], blur_sigma_px: Any = None,
               size_px: int | tuple[int, int] | None = None,
               out: np.ndarray | None = None) -> np.ndarray:
        """The expected photons per pixel of emitters in a ``shape`` window.

        Parameters
        ----------
        x_px, y_px : array_like of shape (n,)
            Positions in the window, px (origin at the top-left corner of pixel (0, 0)).
        z_nm : array_like of shape (n,)
            Depths, nm.
        photons : array_like of shape (n,)
            Photons per emitter (the spot's energy, see :meth:`spots`).
        shape : (int, int)
            ``(H, W)`` of the window, px.
        blur_sigma_px : array_like of shape (n,), optional
            Gaussian blur per emitter, px.
        size_px : int or (int, int), optional
            Each spot's window, as in :meth:`spots`; emitters outside the frame still add
            what falls inside it.
        out : numpy.ndarray, optional
            ``(H, W)`` float64 image to add to (returned).
        """
        x = np.atleast_1d(np.asarray(x_px, np.float64))
        y = np.atleast_1d(np.asarray(y_px, np.float64))
        z = np.broadcast_to(np.asarray(z_nm, np.float64), x.shape)
        photons = np.broadcast_to(np.asarray(photons, np.float64), x.shape)
        image = np.zeros(tuple(shape), np.float64) if out is None else out
        if x.size == 0:
            return image
        cols, rows = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
        blur = None if blur_sigma_px is None else np.broadcast_to(
            np.asarray(blur_sigma_px, np.float64), x.shape)
        spots = self.spots(x - cols - 0.5, y - rows - 0.5, z, blur_sigma_px=blur,
                           size_px=size_px)
        add_spots(image, spots * photons[:, None, None], rows, cols)
        return image

    def _check_z(self, z: np.ndarray) -> None:
        if z.size:
            self.check_z_range(float(z.min()), float(z.max()))


def add_spots(image: np.ndarray, spots: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> None:
    """Add ``(n, h, w)`` spots to ``image`` with spot pixel ``(h // 2, w // 2)`` on
    ``(rows[k], cols[k])``, clipped at the image edges (in place)."""
    height, width = image.shape
    _, h, w = spots.shape
    for spot, r, c in zip(spots, rows - h // 2, cols - w // 2):
        r0, c0 = max(r, 0), max(c, 0)
        r1, c1 = min(r + h, height), min(c + w, width)
        if r0 < r1 and c0 < c1:
            image[r0:r1, c0:c1] += spot[r0 - r:r1 - r, c0 - c:c1 - c]


class PupilPsf(PsfModel):
    """A Fourier-optics PSF, recomputed exactly at any position and z.

    Parameters
    ----------
    grid : PupilGrid
        The optics' pupil plane.
    mask_phase : numpy.ndarray
        ``(N, N)`` phase on the grid, radians.
    **kw
        As :class:`PsfModel`.
    """

    model = "pupil"

    def __init__(self, *, grid, mask_phase: np.ndarray, **kw: Any) -> None:
        super().__init__(**kw)
        self.grid = grid
        self.mask_phase = np.asarray(mask_phase, np.float64)

    @property
    def optics(self):
        """The :class:`~smlmscale.psf.optics.OpticsSettings`."""
        return self.grid.optics

    def spots(self, dx_px, dy_px, z_nm, *, blur_sigma_px=None, size_px=None) -> np.ndarray:
        """As :meth:`PsfModel.spots`; each spot sums to 1 over the pupil's whole
        ``N x N`` field, so a window holds the fraction of the light inside it."""
        from smlmscale.psf.pupil import check_window, psf_images

        dx = np.atleast_1d(np.asarray(dx_px, np.float64))
        dy = np.broadcast_to(np.asarray(dy_px, np.float64), dx.shape)
        z = np.broadcast_to(np.asarray(z_nm, np.float64), dx.shape)
        self._check_z(z)
        size = check_window(self.grid, self.size_px if size_px is None else size_px)
        out = np.empty((dx.size, *size))
        for start in range(0, dx.size, PUPIL_BATCH):
            part = slice(start, start + PUPIL_BATCH)
            blur = None if blur_sigma_px is None else \
                np.broadcast_to(np.asarray(blur_sigma_px, np.float64), dx.shape)[part]
            out[part] = psf_images(self.grid, dx_px=dx[part], dy_px=dy[part], z_nm=z[part],
                                   mask_phase=self.mask_phase, blur_sigma_px=blur,
                                   size_px=size)
        return out


class BeadPsf(PsfModel):
    """A measured PSF: the stored images, linear in z between grid planes, shifted
    sub-pixel (and blurred) in Fourier space.

    Each spot sums to 1 over the stored window (all that was measured); a larger window
    is refused, a smaller one is a centred crop of it.
    """

    model = "bead"

    def spots(self, dx_px, dy_px, z_nm, *, blur_sigma_px=None, size_px=None) -> np.ndarray:
        """As :meth:`PsfModel.spots`."""
        from smlmscale.psf.bead import shift_blur

        dx = np.atleast_1d(np.asarray(dx_px, np.float64))
        dy = np.broadcast_to(np.asarray(dy_px, np.float64), dx.shape)
        z = np.broadcast_to(np.asarray(z_nm, np.float64), dx.shape)
        self._check_z(z)
        h, w = self.size_px if size_px is None else (
            (size_px, size_px) if isinstance(size_px, int) else tuple(size_px))
        if h > self.size_px[0] or w > self.size_px[1]:
            raise InputError(f"a {h}x{w} px spot window is larger than the bead PSF's "
                             f"{self.size_px[0]}x{self.size_px[1]} px", param="size_px",
                             flag="--size")
        if len(self.z_nm) > 1:
            step = (self.z_nm[-1] - self.z_nm[0]) / (len(self.z_nm) - 1)
            where = np.clip((z - self.z_nm[0]) / step, 0, len(self.z_nm) - 1)
        else:
            where = np.zeros_like(z)
        below = np.minimum(np.floor(where).astype(np.int64), len(self.z_nm) - 2) \
            if len(self.z_nm) > 1 else np.zeros(z.shape, np.int64)
        frac = (where - below)[:, None, None]
        stack = self.images.astype(np.float64)
        above = np.minimum(below + 1, len(stack) - 1)
        images = (1.0 - frac) * stack[below] + frac * stack[above]
        images = np.clip(shift_blur(images, dy, dx, blur_sigma_px), 0.0, None)
        images /= np.maximum(images.sum(axis=(1, 2), keepdims=True), 1e-300)
        r0, c0 = self.size_px[0] // 2 - h // 2, self.size_px[1] // 2 - w // 2
        return images[:, r0:r0 + h, c0:c0 + w]


__all__ = ["BeadPsf", "PUPIL_BATCH", "PsfModel", "PupilPsf", "add_spots"]
