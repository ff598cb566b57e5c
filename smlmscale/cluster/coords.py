"""Coordinates for DBSCAN: the columns of a table as an ``(n, d)`` array, z rescaled.

DBSCAN takes one radius. An anisotropic neighbourhood, ``eps_nm`` laterally and
``eps_z_nm`` axially (serial sections are 70 nm thick but localized to ~20 nm in x, y),
is the isotropic one after z is multiplied by ``eps_nm / eps_z_nm``: two points are
neighbours when ``(dx^2 + dy^2) / eps^2 + dz^2 / eps_z^2 <= 1``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from smlmscale.errors import InputError


def check_eps(eps_nm: float, eps_z_nm: float | None = None, min_samples: int = 1) -> None:
    """Raise :class:`InputError` unless ``eps_nm > 0``, ``eps_z_nm > 0`` (when given)
    and ``min_samples >= 1``."""
    for param, flag, value in (("eps_nm", "--eps", eps_nm), ("eps_z_nm", "--eps-z", eps_z_nm)):
        if value is None and param == "eps_z_nm":
            continue
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise InputError(f"{{flag}} must be a distance > 0 nm, got {value!r}",
                             hint="the seed clusters synapses with --eps 80", param=param,
                             flag=flag)
    if isinstance(min_samples, bool) or not isinstance(min_samples, (int, np.integer)) \
            or min_samples < 1:
        raise InputError(f"{{flag}} must be an integer >= 1, got {min_samples!r}",
                         param="min_samples", flag="--min-samples")


def z_factor(eps_nm: float, eps_z_nm: float | None) -> float:
    """The factor z is multiplied by so that ``eps_nm`` applies on every axis (1 if isotropic)."""
    return 1.0 if eps_z_nm is None else float(eps_nm) / float(eps_z_nm)


def scaled_coordinates(table: pd.DataFrame, *, eps_nm: float, eps_z_nm: float | None = None,
                       use_z: bool = True) -> np.ndarray:
    """``(n, 2)`` or ``(n, 3)`` float64 coordinates, nm, z multiplied by :func:`z_factor`.

    Parameters
    ----------
    table : pandas.DataFrame
        With ``x_nm``, ``y_nm`` and, when ``use_z``, ``z_nm``.
    eps_nm, eps_z_nm : float
        Lateral and axial neighbourhood radii, nm (``eps_z_nm=None``: ``eps_nm``).
    use_z : bool, optional
        Include ``z_nm`` (when the table has it).

    Examples
    --------
    >>> t = pd.DataFrame({"x_nm": [0.0], "y_nm": [1.0], "z_nm": [140.0]})
    >>> scaled_coordinates(t, eps_nm=80, eps_z_nm=160).tolist()
    [[0.0, 1.0, 70.0]]
    """
    columns = ["x_nm", "y_nm"] + (["z_nm"] if use_z and "z_nm" in table.columns else [])
    points = table[columns].to_numpy(np.float64, copy=True)
    if points.shape[1] == 3:
        points[:, 2] *= z_factor(eps_nm, eps_z_nm)
    return points


__all__ = ["check_eps", "scaled_coordinates", "z_factor"]
