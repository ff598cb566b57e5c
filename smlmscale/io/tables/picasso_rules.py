"""Kernels: what Picasso needs of a localization, and the precision it needs.

Picasso (picassosr 0.11.3) passes every table it loads or saves through
``lib.ensure_sanity`` (``picasso/lib.py``), which **drops** a localization when

* any of its fields is NaN or infinite (``locs.dropna(how="any")``),
* ``x >= Width`` or ``y >= Height`` (the YAML's image size, camera pixels),
* any of ``x, y, lpx, lpy, lpz, photons, ellipticity, sx, sy`` is negative.

Picasso's pixel centres are at integer coordinates, so ``x < 0`` means within half a
pixel of the left edge (``x_nm < pixel_size_nm / 2``). :func:`picasso_drops` counts
those rows exactly by that rule, so that the writer can warn.

``lpx``/``lpy`` (precision, camera px) are required. :func:`lateral_precision_px`
takes them from the table (``uncertainty_x_nm``/``uncertainty_y_nm``, else
``uncertainty_nm``), else estimates them by Mortensen et al. 2010 Eq. 6
(:func:`smlmscale.evaluate.crlb.localization_precision_nm`) from ``photons``,
the PSF sigma (``sigma_x_nm``/``sigma_y_nm``, else ``sigma_nm``) and ``background``
(0 when absent), and where that is impossible (no photons or sigma, or a non-finite
result) uses one camera pixel.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Fields ``ensure_sanity`` requires to be >= 0.
NON_NEGATIVE = ("x", "y", "lpx", "lpy", "lpz", "photons", "ellipticity", "sx", "sy")
#: How ``lpx``/``lpy`` were obtained, as recorded in the YAML (key ``smlmscale``).
GIVEN = "from the table's uncertainty columns"
MORTENSEN = ("estimated by Mortensen et al. 2010 Eq. 6 from photons, sigma and "
             "background (0 where absent); 1 camera pixel where that is not finite")
ONE_PIXEL = "unknown (no uncertainty, photons or sigma): 1 camera pixel"


def _axis_columns(df: pd.DataFrame, per_axis: tuple[str, str], mean: str):
    if all(c in df.columns for c in per_axis):
        return tuple(df[c].to_numpy(np.float64) for c in per_axis)
    if mean in df.columns:
        values = df[mean].to_numpy(np.float64)
        return values, values
    return None


def sigma_nm_per_axis(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """``(sigma_x, sigma_y)`` in nm: the per-axis columns, else ``sigma_nm`` twice."""
    return _axis_columns(df, ("sigma_x_nm", "sigma_y_nm"), "sigma_nm")


def lateral_precision_px(df: pd.DataFrame, pixel_size_nm: float
                         ) -> tuple[np.ndarray, np.ndarray, str]:
    """``lpx``, ``lpy`` (float32, camera px) for one partition, and how they were obtained.

    Examples
    --------
    >>> df = pd.DataFrame({"photons": [1000.0], "sigma_nm": [100.0]})
    >>> lpx, lpy, how = lateral_precision_px(df, 100.0)
    >>> round(float(lpx[0]) * 100.0, 3), how == MORTENSEN   # sqrt(16/9 * 10833.3 / 1000)
    (4.389, True)
    """
    from smlmscale.evaluate.crlb import localization_precision_nm

    given = _axis_columns(df, ("uncertainty_x_nm", "uncertainty_y_nm"), "uncertainty_nm")
    if given is not None:
        lp, how = given, GIVEN
    else:
        sigma = sigma_nm_per_axis(df)
        if sigma is None or "photons" not in df.columns:
            ones = np.full(len(df), pixel_size_nm)
            lp, how = (ones, ones), ONE_PIXEL
        else:
            photons = df["photons"].to_numpy(np.float64)
            background = (df["background"].to_numpy(np.float64) if "background" in df.columns
                          else np.zeros(len(df)))
            background = np.where(np.isfinite(background) & (background > 0), background, 0.0)
            lp = tuple(localization_precision_nm(photons, psf_sigma_nm=s,
                                                 background_photons=background,
                                                 pixel_size_nm=pixel_size_nm) for s in sigma)
            lp = tuple(np.where(np.isfinite(v) & (v > 0), v, pixel_size_nm) for v in lp)
            how = MORTENSEN
    return (*(np.asarray(v / pixel_size_nm, np.float32) for v in lp), how)


def picasso_drops(records: np.ndarray, *, width: int, height: int) -> int:
    """How many rows of a Picasso ``/locs`` array ``lib.ensure_sanity`` would drop.

    >>> locs = np.array([(0, 1.0, -0.2), (0, 1.0, 2.0), (0, np.nan, 1.0)],
    ...                 dtype=[("frame", "u4"), ("x", "f4"), ("y", "f4")])
    >>> picasso_drops(locs, width=8, height=8)
    2
    """
    keep = np.ones(len(records), bool)
    for name in records.dtype.names:
        values = records[name]
        if values.dtype.kind == "f":
            keep &= np.isfinite(values)
    keep &= records["x"] < width
    keep &= records["y"] < height
    for name in NON_NEGATIVE:
        if name in records.dtype.names:
            keep &= ~(records[name] < 0)
    return int((~keep).sum())
