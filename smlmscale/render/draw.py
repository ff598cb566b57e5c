"""Kernel: one table partition -> a stack of render channels (what each worker draws).

:class:`Drawing` is the picklable per-partition kernel :func:`smlmscale.render.graph.drawn`
sums: channel 0 holds the localizations' density (a histogram, or with
``blur="precision"`` each localization's own Gaussian, :func:`~smlmscale.render.splat.splat`);
with ``color_by``, channel 1 holds the same density weighted by the coloured column, so
that after the sum ``channel 1 / channel 0`` is the density-weighted mean of that column
in each pixel (its hue); rows without a finite value of that column are left out of
both. Positions are taken relative to ``origin_nm``. Rows with non-finite positions are
left out. NumPy in, NumPy out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from smlmscale.render.image import histogram
from smlmscale.render.splat import splat

BLURS = ("none", "precision")
COLOR_COLUMNS = {"z": "z_nm", "frame": "frame"}
PER_AXIS = ("uncertainty_x_nm", "uncertainty_y_nm")
ISOTROPIC = "uncertainty_nm"


def precision_columns(columns) -> tuple[str, str] | None:
    """The ``(x, y)`` precision columns of a table: ``uncertainty_x_nm``/``uncertainty_y_nm``,
    else ``uncertainty_nm`` for both, else None.

    >>> precision_columns(["x_nm", "y_nm", "uncertainty_nm"])
    ('uncertainty_nm', 'uncertainty_nm')
    """
    columns = set(columns)
    if set(PER_AXIS) <= columns:
        return PER_AXIS
    if ISOTROPIC in columns:
        return ISOTROPIC, ISOTROPIC
    return None


@dataclass(frozen=True)
class Drawing:
    """Draws a partition as ``(C, H, W)`` float64 channels.

    Attributes
    ----------
    shape : tuple of int
        ``(H, W)`` render pixels.
    pixel_nm : float
        Render pixel size, nm.
    origin_nm : tuple of float
        ``(x0, y0)`` of the field's top-left corner, nm.
    precision : tuple of str, optional
        The ``(x, y)`` precision columns (:func:`precision_columns`) to blur by; None: a
        histogram.
    color_column : str, optional
        The column whose weighted values fill channel 1.
    """

    shape: tuple[int, int]
    pixel_nm: float
    origin_nm: tuple[float, float] = (0.0, 0.0)
    precision: tuple[str, str] | None = None
    color_column: str | None = None

    @property
    def channels(self) -> int:
        return 1 if self.color_column is None else 2

    def density(self, part: pd.DataFrame, weights: np.ndarray | None = None) -> np.ndarray:
        """One ``(H, W)`` density image of ``part`` (weighted by ``weights``)."""
        x = part["x_nm"].to_numpy(np.float64) - self.origin_nm[0]
        y = part["y_nm"].to_numpy(np.float64) - self.origin_nm[1]
        if self.precision is None:
            return histogram(x, y, shape=self.shape, pixel_nm=self.pixel_nm, weights=weights)
        sx, sy = (part[c].to_numpy(np.float64) for c in self.precision)
        return splat(x, y, sx, sy, shape=self.shape, pixel_nm=self.pixel_nm, weights=weights)

    def __call__(self, part: pd.DataFrame) -> np.ndarray:
        if self.color_column is None:
            return self.density(part)[None]
        value = part[self.color_column].to_numpy(np.float64)
        finite = np.isfinite(value)
        if not finite.all():
            part, value = part[finite], value[finite]
        return np.stack([self.density(part), self.density(part, value)])


def mean_value(stack: np.ndarray) -> np.ndarray:
    """Channel 1 over channel 0 of a summed ``(2, H, W)`` stack; NaN where it is empty."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(stack[0] > 0, stack[1] / stack[0], np.nan)


__all__ = ["BLURS", "COLOR_COLUMNS", "Drawing", "mean_value", "precision_columns"]
