"""``counts`` training pairs: STORM-tiff ROI tiles -> localizations per pixel (seed 000).

The seed predicts, from a rendered and saturated STORM image (a "STORM-tiff"
section of a serial-section stack), how many localizations each pixel held.
Pairs are cut from ROI tiles (:mod:`smlmscale.io.rois`); px are pixels of
the stack, whose pixel size is ``pixel_size_nm``.

1. **ROI tiles.** Tile ``k`` is ``stack[section_k, y_k : y_k + size, x_k : x_k +
   size]`` (axis 0 of the ``z,y,x`` store is the section; the stack may be a
   preprocessed float32 one). The list is optionally shuffled
   (:func:`~smlmscale.io.rois.shuffle_rois`, seeded by ``seed``), cut to its
   first ``per_section`` ROIs per section
   (:func:`~smlmscale.io.rois.first_per_section`), and tiles that are zero
   everywhere are dropped (``drop_empty``; the seed's ``get_list_empty_tiles``).
2. **Target.** Localization counts per pixel (:func:`tile_counts`): the table rows
   with ``frame == section_k`` (canonical ``x_nm``, ``y_nm`` from the image corner)
   add 1 to pixel ``(r, c)`` with ``r = floor(y_nm / p) - y_k`` and ``c =
   floor(x_nm / p) - x_k`` when inside the tile; ``(size, size, 1)`` float32
   summing to the localizations in the tile.
3. **Inputs.** Channel 0 is ``tile / input_scale``, with ``input_scale`` the
   largest intensity over all kept tiles (1 if none is positive; kept in the
   patch-set attributes so that ``predict`` applies the same). With ``estimate``,
   channel 1 is the intensity-to-density estimate ``clip(poly(nn(tile)), 0,
   None)`` in localizations per pixel (:func:`density_estimate`), where ``nn`` is
   the mean over the ``nn_size x nn_size`` neighbourhood of each pixel (the pixel
   and its nearest neighbours for 3), computed on the tile alone with the edge
   pixels repeated outwards (:func:`scipy.ndimage.uniform_filter`,
   ``mode="nearest"``), so a tile needs nothing from outside it.
4. **Fit** (seed step 3, "nn-averaged signal intensity vs nn-averaged number of
   localizations per pixel ... fit with polynomial function"): least squares of
   ``D = sum_j c_j I^j`` of degree ``degree``, with ``I = nn(tile)`` and ``D =
   nn(counts)``, over the pixels with intensity > 0 of all kept tiles (the seed
   uses the pixels of its segmented clusters), from per-tile moment sums
   (:mod:`smlmscale.patches.counts_fit`); it equals :func:`numpy.polyfit` on the
   pooled pixels.

The graph (two passes over the ROI tiles) is built by
:func:`smlmscale.patches.counts_graph.build_counts`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from smlmscale.errors import InputError
from smlmscale.patches.counts_fit import (MAX_DEGREE, combine_moments, moment_length,
                                          nn_average, tile_moments)
from smlmscale.settings import Settings, setting


@dataclass(frozen=True)
class CountsSettings(Settings):
    """Parameters of the ``counts`` generator.

    Attributes
    ----------
    estimate : bool
        Add the intensity-to-density estimate as input channel 1 (and fit it).
    degree : int
        Degree of the intensity-to-density polynomial (1 to :data:`MAX_DEGREE`).
    nn_size : int
        Edge of the nearest-neighbour averaging window, px (odd; 1 = no averaging).
    shuffle : bool
        Shuffle the ROI list (seeded by ``seed``) before the per-section cut.
    per_section : int or None
        Keep the first this many ROIs of each section (after shuffling); all if None.
    drop_empty : bool
        Drop tiles that are zero everywhere (``--keep-empty`` keeps them).
    seed : int
        Seeds the shuffle.
    """

    settings_crossed_limit = True

    estimate: bool = setting(True, help="Add the intensity-to-density estimate channel")
    degree: int = setting(3, min=1, max=MAX_DEGREE, help="Degree of the estimate polynomial")
    nn_size: int = setting(3, min=1, unit="px", help="Neighbourhood averaging window")
    shuffle: bool = setting(False, flag="--shuffle-rois", help="Shuffle the ROI list (seeded)")
    per_section: int | None = setting(None, min=1, default_text="all",
                                      help="Only the first N ROIs of each section")
    drop_empty: bool = setting(True, flag="--keep-empty",
                               help="Drop tiles that are zero everywhere")
    seed: int = setting(0, min=0, help="Seeds the shuffle")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.nn_size % 2 == 0:
            raise InputError(f"{{flag}} must be odd (a window centred on the pixel), "
                             f"got {self.nn_size}", hint="use 1, 3 or 5", param="nn_size",
                             flag="--nn-size")

    @property
    def channels(self) -> int:
        """Input channels: 2 with the estimate, else 1."""
        return 2 if self.estimate else 1


def tile_counts(x_nm, y_nm, *, x0: int, y0: int, size: int, pixel_size_nm: float
                ) -> np.ndarray:
    """Localizations per pixel of the tile with top-left pixel ``(y0, x0)``.

    Parameters
    ----------
    x_nm, y_nm : array_like of float, shape (n,)
        Positions in nm from the top-left corner of pixel (0, 0) of the image.
    x0, y0 : int
        Column and row of the tile's top-left pixel.
    size : int
        Tile edge, px.
    pixel_size_nm : float

    Returns
    -------
    numpy.ndarray of float32, shape ``(size, size)``
        Pixel ``(r, c)`` counts the positions with ``floor(y_nm / p) - y0 == r``
        and ``floor(x_nm / p) - x0 == c``; positions outside the tile are ignored.

    Examples
    --------
    >>> tile_counts([150.0, 160.0, 950.0], [50.0, 90.0, 0.0], x0=1, y0=0, size=2,
    ...             pixel_size_nm=100.0).tolist()
    [[2.0, 0.0], [0.0, 0.0]]
    """
    return section_counts(x_nm, y_nm, xs=[x0], ys=[y0], size=size,
                          pixel_size_nm=pixel_size_nm)[0]


def density_estimate(tile, coefficients, nn_size: int) -> np.ndarray:
    """Localizations per pixel estimated from intensity: ``clip(poly(nn(tile)), 0, None)``.

    Parameters
    ----------
    tile : array_like, shape (size, size)
        Raw intensities (the units of the fit).
    coefficients : array_like
        Highest power first (:func:`fit_moments`).
    nn_size : int

    Returns
    -------
    numpy.ndarray of float32, shape ``(size, size)``

    Examples
    --------
    >>> density_estimate(np.array([[1.0, 3.0]]), [2.0, -3.0], 1).tolist()
    [[0.0, 3.0]]
    """
    values = np.polyval(np.asarray(coefficients, np.float64), nn_average(tile, nn_size))
    return np.clip(values, 0, None).astype(np.float32)


def cut_tiles(image: np.ndarray, *, origin: tuple[int, int], xs, ys, size: int) -> np.ndarray:
    """Tiles ``(k, size, size)`` of ``image``, a crop of a section whose top-left pixel is
    ``origin = (row, column)``; ``xs``, ``ys`` are the tiles' absolute top-left pixels."""
    r0, c0 = origin
    tiles = [image[y - r0:y - r0 + size, x - c0:x - c0 + size] for x, y in zip(xs, ys)]
    return np.stack(tiles) if tiles else np.zeros((0, size, size), image.dtype)


def section_counts(x_nm, y_nm, *, xs, ys, size: int, pixel_size_nm: float) -> np.ndarray:
    """:func:`tile_counts` of many tiles of one section at once, ``(k, size, size)`` float32.

    The positions are binned to pixels once and sorted by row, so each tile
    visits only the rows it spans.
    """
    cols = np.floor(np.asarray(x_nm, np.float64) / pixel_size_nm).astype(np.int64)
    rows = np.floor(np.asarray(y_nm, np.float64) / pixel_size_nm).astype(np.int64)
    order = np.argsort(rows, kind="stable")
    rows, cols = rows[order], cols[order]
    xs, ys = np.asarray(xs, np.int64), np.asarray(ys, np.int64)
    out = np.zeros((len(xs), size, size), np.float32)
    bounds = zip(np.searchsorted(rows, ys), np.searchsorted(rows, ys + size))
    for k, (lo, hi) in enumerate(bounds):
        r, c = rows[lo:hi] - ys[k], cols[lo:hi] - xs[k]
        inside = (c >= 0) & (c < size)
        flat = np.bincount(r[inside] * size + c[inside], minlength=size * size)
        out[k] = flat.reshape(size, size)
    return out


def _counts(rows: pd.DataFrame | None, xs, ys, size: int, pixel_size_nm: float) -> np.ndarray:
    if rows is None or not len(rows):
        return np.zeros((len(xs), size, size), np.float32)
    return section_counts(rows["x_nm"].to_numpy(np.float64), rows["y_nm"].to_numpy(np.float64),
                          xs=xs, ys=ys, size=size, pixel_size_nm=pixel_size_nm)


def section_stats(image: np.ndarray, rows: pd.DataFrame | None, *, origin: tuple[int, int],
                  xs, ys, size: int, pixel_size_nm: float, degree: int, nn_size: int,
                  estimate: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Pass 1 of one section: per tile its largest value and non-zero pixels; fit moments.

    Parameters
    ----------
    image : numpy.ndarray, shape (h, w)
        A crop of the section holding every tile.
    rows : pandas.DataFrame or None
        The section's localizations (``x_nm``, ``y_nm``); unused without ``estimate``.
    origin : (int, int)
        Row and column of the crop's top-left pixel in the section.
    xs, ys : sequence of int
        Top-left columns and rows of the tiles (section px).
    size : int
        Tile edge, px.
    pixel_size_nm : float
    degree, nn_size : int
    estimate : bool
        Compute the moments.

    Returns
    -------
    maxima : numpy.ndarray of float64, shape (k,)
    nonzero : numpy.ndarray of int64, shape (k,)
    moments : numpy.ndarray of float64, shape ``(3 * degree + 4,)``, or None
        The tiles' moments combined (:func:`combine_moments`). A tile that is zero
        everywhere has no pixel > 0, hence zero moments: dropping empty tiles
        afterwards does not change the sum.
    """
    tiles = cut_tiles(image, origin=origin, xs=xs, ys=ys, size=size)
    flat = tiles.reshape(len(tiles), -1)
    maxima = flat.max(axis=1, initial=-np.inf).astype(np.float64)
    nonzero = np.count_nonzero(flat, axis=1).astype(np.int64)
    if not estimate:
        return maxima, nonzero, None
    counts = _counts(rows, xs, ys, size, pixel_size_nm)
    moments = np.zeros((len(tiles), moment_length(degree)))
    for k, tile in enumerate(tiles):
        moments[k] = tile_moments(tile, counts[k], degree=degree, nn_size=nn_size)
    return maxima, nonzero, combine_moments(moments, degree=degree)


def section_pairs(image: np.ndarray, rows: pd.DataFrame | None, *, origin: tuple[int, int],
                  xs, ys, size: int, pixel_size_nm: float, input_scale: float,
                  coefficients, nn_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pass 2 of one section: the training pairs of its tiles, in the order given.

    Parameters are those of :func:`section_stats`, and
    ``input_scale`` (channel 0 is ``tile / input_scale``) and ``coefficients`` (the
    fit, highest power first; ``None`` gives one input channel).

    Returns
    -------
    inputs : numpy.ndarray of float32, shape ``(k, size, size, 1 or 2)``
    targets : numpy.ndarray of float32, shape ``(k, size, size, 1)``
    """
    tiles = cut_tiles(image, origin=origin, xs=xs, ys=ys, size=size)
    targets = _counts(rows, xs, ys, size, pixel_size_nm)[..., None]
    return tile_inputs(tiles, input_scale=input_scale, coefficients=coefficients,
                       nn_size=nn_size), targets


def tile_inputs(tiles, *, input_scale: float, coefficients, nn_size: int) -> np.ndarray:
    """Network inputs ``(k, size, size, 1 or 2)`` float32 of raw tiles ``(k, size, size)``:
    ``tile / input_scale`` and, with ``coefficients``, :func:`density_estimate`."""
    tiles = np.asarray(tiles, np.float64)
    inputs = np.zeros(tiles.shape + (1 if coefficients is None else 2,), np.float32)
    for k, tile in enumerate(tiles):
        inputs[k, ..., 0] = tile / input_scale
        if coefficients is not None:
            inputs[k, ..., 1] = density_estimate(tile, coefficients, nn_size)
    return inputs


__all__ = ["CountsSettings", "cut_tiles", "density_estimate", "section_counts", "section_pairs",
           "section_stats", "tile_counts", "tile_inputs"]
