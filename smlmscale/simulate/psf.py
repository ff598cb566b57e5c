"""PSF kernels: pixel-integrated Gaussians, astigmatic defocus curves.

Kernels: NumPy in, NumPy out, coordinates in pixels with the origin at the
top-left corner of pixel (0, 0) (pixel ``i`` spans ``[i, i + 1)``; its centre is
``i + 0.5``). A spot is a 2D Gaussian of standard deviations ``sigma_x_px``,
``sigma_y_px`` integrated over each pixel, the product of two 1D erf
differences, so its pixel values sum to its photons (less what falls outside
the frame or beyond ``TRUNCATE_SIGMA`` standard deviations, < 6e-7 of it).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

#: Spots are computed out to this many standard deviations on each side.
TRUNCATE_SIGMA = 5.0
#: Spots rendered per batch (bounds the temporary arrays).
BATCH_SPOTS = 512


def pixel_fractions(centre_px: np.ndarray, sigma_px: np.ndarray, first_px: np.ndarray,
                    n_px: int) -> np.ndarray:
    """Fraction of 1D Gaussians in ``n_px`` consecutive pixels from ``first_px``.

    Parameters
    ----------
    centre_px, sigma_px : numpy.ndarray
        ``(n,)`` centres and standard deviations, px.
    first_px : numpy.ndarray
        ``(n,)`` int index of each window's first pixel.
    n_px : int
        Window length, px.

    Returns
    -------
    numpy.ndarray
        ``(n, n_px)`` float64: ``Phi((first + k + 1 - c) / s) - Phi((first + k - c) / s)``.

    Examples
    --------
    >>> f = pixel_fractions(np.array([5.5]), np.array([1.0]), np.array([0]), 11)
    >>> round(float(f.sum()), 6), int(f.argmax())
    (1.0, 5)
    """
    edges = first_px[:, None] + np.arange(n_px + 1, dtype=np.float64)[None, :]
    cdf = erf((edges - centre_px[:, None]) / (math.sqrt(2.0) * sigma_px[:, None]))
    return 0.5 * (cdf[:, 1:] - cdf[:, :-1])


def half_window_px(max_sigma_px: float) -> int:
    """Half width of a spot's window: pixels ``floor(c) - h .. floor(c) + h`` hold it."""
    return max(1, int(math.ceil(TRUNCATE_SIGMA * max_sigma_px)))


class SpotCanvas:
    """Reusable buffers that add pixel-integrated Gaussian spots to frames of one shape.

    Rendering a frame allocates nothing large: the padded canvas and the batch
    buffers are made once (per chunk of frames) and reused, which matters in
    Dask workers, where every large temporary array can be a fresh memory mapping
    (distributed lowers glibc's ``MALLOC_TRIM_THRESHOLD_``; smlmscale's own local
    workers raise it again, :mod:`smlmscale.runtime.malloc`, but a user's cluster may not).

    Parameters
    ----------
    shape : (int, int)
        ``(height, width)`` of the frames, px.
    half_x, half_y : int
        Window half widths (:func:`half_window_px` of the largest sigma): a spot
        covers pixels ``floor(c) - h .. floor(c) + h``. Fixed per movie, so a
        frame's pixels do not depend on which other frames are rendered with it.
    batch : int
        Spots per batch.
    """

    def __init__(self, shape: tuple[int, int], half_x: int, half_y: int, *,
                 batch: int = BATCH_SPOTS) -> None:
        self.height, self.width = shape
        self.half_x, self.half_y = half_x, half_y
        self.nx, self.ny = 2 * half_x + 1, 2 * half_y + 1
        # Spots up to a window outside the frame still land inside the padded canvas.
        self.canvas_w = self.width + 2 * self.nx
        self.canvas = np.zeros((self.height + 2 * self.ny) * self.canvas_w)
        self.batch = batch
        self.weights = np.empty((batch, self.ny, self.nx))
        self.index = np.empty((batch, self.ny, self.nx), dtype=np.int64)
        self.steps_x, self.steps_y = np.arange(self.nx), np.arange(self.ny)

    def add(self, image: np.ndarray, x_px: np.ndarray, y_px: np.ndarray,
            sigma_x_px: np.ndarray, sigma_y_px: np.ndarray, photons: np.ndarray) -> np.ndarray:
        """Add spots to ``image`` (``(height, width)`` float64) in place; see :func:`add_spots`."""
        x_px, y_px = np.asarray(x_px, np.float64), np.asarray(y_px, np.float64)
        ix, iy = np.floor(x_px).astype(np.int64), np.floor(y_px).astype(np.int64)
        near = np.flatnonzero((ix >= -self.half_x - 1) & (ix <= self.width + self.half_x)
                              & (iy >= -self.half_y - 1) & (iy <= self.height + self.half_y))
        if not len(near):
            return image
        sigma_x_px, sigma_y_px = np.asarray(sigma_x_px, np.float64), np.asarray(sigma_y_px,
                                                                                np.float64)
        photons = np.asarray(photons, np.float64)
        canvas = self.canvas
        canvas.fill(0.0)
        for lo in range(0, len(near), self.batch):
            sel = near[lo:lo + self.batch]
            n = len(sel)
            x0, y0 = ix[sel] - self.half_x, iy[sel] - self.half_y
            fx = pixel_fractions(x_px[sel], sigma_x_px[sel], x0, self.nx)
            fy = pixel_fractions(y_px[sel], sigma_y_px[sel], y0, self.ny)
            fy *= photons[sel, None]
            weights, index = self.weights[:n], self.index[:n]
            np.multiply(fy[:, :, None], fx[:, None, :], out=weights)
            rows = ((y0 + self.ny)[:, None] + self.steps_y[None, :]) * self.canvas_w
            np.add(rows[:, :, None], ((x0 + self.nx)[:, None] + self.steps_x[None, :])[:, None, :],
                   out=index)
            np.add.at(canvas, index.reshape(-1), weights.reshape(-1))
        frame = canvas.reshape(-1, self.canvas_w)[self.ny:self.ny + self.height,
                                                  self.nx:self.nx + self.width]
        image += frame
        return image


def add_spots(image: np.ndarray, x_px: np.ndarray, y_px: np.ndarray, sigma_x_px: np.ndarray,
              sigma_y_px: np.ndarray, photons: np.ndarray, *, half_x: int | None = None,
              half_y: int | None = None) -> np.ndarray:
    """Add pixel-integrated Gaussian spots to a 2D image, in place.

    Parameters
    ----------
    image : numpy.ndarray
        ``(height, width)`` float64, photons per pixel; modified.
    x_px, y_px : numpy.ndarray
        ``(n,)`` spot centres, px (column, row; pixel-corner origin).
    sigma_x_px, sigma_y_px : numpy.ndarray
        ``(n,)`` standard deviations along x and y, px.
    photons : numpy.ndarray
        ``(n,)`` photons of each spot.
    half_x, half_y : int, optional
        Window half widths (:func:`half_window_px` of the largest sigma); default
        from the given sigmas.

    Returns
    -------
    numpy.ndarray
        ``image``. The result depends only on the spots and their order. To
        render many frames, make one :class:`SpotCanvas` and call its ``add``.

    Examples
    --------
    >>> img = add_spots(np.zeros((16, 16)), np.array([8.0]), np.array([8.0]),
    ...                 np.array([1.3]), np.array([1.3]), np.array([1000.0]))
    >>> round(float(img.sum()), 3)
    1000.0
    """
    if not len(x_px):
        return image
    half_x = half_window_px(float(np.max(sigma_x_px))) if half_x is None else half_x
    half_y = half_window_px(float(np.max(sigma_y_px))) if half_y is None else half_y
    return SpotCanvas(image.shape, half_x, half_y).add(image, x_px, y_px, sigma_x_px,
                                                       sigma_y_px, photons)


def defocus_factor(z_nm: np.ndarray, focus_nm: float, depth_nm: float, a: float = 0.0,
                   b: float = 0.0) -> np.ndarray:
    """Widening of an astigmatic PSF axis: ``sqrt(1 + u^2 + a u^3 + b u^4)``, ``u = (z - c) / d``.

    The expression under the root is floored at 1e-4 (a steep negative cubic
    term would otherwise make it negative).
    """
    u = (np.asarray(z_nm, np.float64) - focus_nm) / depth_nm
    return np.sqrt(np.maximum(1.0 + u**2 + a * u**3 + b * u**4, 1e-4))


def astigmatic_sigmas(z_nm: np.ndarray, sigma0_nm: np.ndarray, *, focal_offset_nm: float,
                      depth_of_focus_nm: float, a: float = 0.0, b: float = 0.0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Astigmatic PSF widths (Huang et al. 2008): x in focus at ``z = +c``, y at ``z = -c``.

    Parameters
    ----------
    z_nm : numpy.ndarray
        Axial positions, nm.
    sigma0_nm : numpy.ndarray or float
        In-focus standard deviation, nm.
    focal_offset_nm, depth_of_focus_nm : float
        ``c`` and ``d``, nm.
    a, b : float
        Cubic and quartic coefficients.

    Returns
    -------
    sigma_x_nm, sigma_y_nm : numpy.ndarray

    Examples
    --------
    >>> sx, sy = astigmatic_sigmas(np.array([300.0, 0.0]), 100.0, focal_offset_nm=300,
    ...                            depth_of_focus_nm=300)
    >>> sx.round(1).tolist(), sy.round(1).tolist()
    ([100.0, 141.4], [223.6, 141.4])
    """
    sigma_x = sigma0_nm * defocus_factor(z_nm, focal_offset_nm, depth_of_focus_nm, a, b)
    sigma_y = sigma0_nm * defocus_factor(z_nm, -focal_offset_nm, depth_of_focus_nm, a, b)
    return sigma_x, sigma_y


def max_defocus_factor(z_range_nm: tuple[float, float], *, focal_offset_nm: float,
                       depth_of_focus_nm: float, a: float = 0.0, b: float = 0.0) -> float:
    """Largest widening over a z range, on either axis (for the window size)."""
    z = np.linspace(z_range_nm[0], z_range_nm[1], 2001)
    return float(max(defocus_factor(z, c, depth_of_focus_nm, a, b).max()
                     for c in (focal_offset_nm, -focal_offset_nm)))
