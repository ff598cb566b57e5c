"""Helpers of the PSF tests: image moments."""

from __future__ import annotations

import numpy as np


def moments(image: np.ndarray) -> tuple[float, float, float, float, float]:
    """Centroid ``(x, y)`` (px, array indices) and second moments ``xx, yy, xy`` of an image."""
    rows, cols = np.indices(image.shape)
    total = image.sum()
    x, y = (image * cols).sum() / total, (image * rows).sum() / total
    xx = (image * (cols - x) ** 2).sum() / total
    yy = (image * (rows - y) ** 2).sum() / total
    xy = (image * (cols - x) * (rows - y)).sum() / total
    return float(x), float(y), float(xx), float(yy), float(xy)


def ellipticity(image: np.ndarray) -> float:
    """``(xx - yy) / (xx + yy)``: > 0 elongated along x (columns), < 0 along y."""
    _, _, xx, yy, _ = moments(image)
    return (xx - yy) / (xx + yy)
