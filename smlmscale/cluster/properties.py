"""Cluster properties: size, shape, hull volume and density of every DBSCAN cluster.

One row per cluster label ``>= 0`` (noise, ``-1``, is left out). Centroids, extents and
radii of gyration come from ``groupby`` aggregates; the convex hulls are computed per
cluster with :class:`scipy.spatial.ConvexHull`.

The hull rule
-------------
Points of serial-section stacks sit at discrete z, the centre of their section, so a
cluster confined to one section is flat. With ``section_thickness_nm`` ``t`` each point
stands for its section slab: the hull is taken over the points copied at ``z - t/2`` and
``z + t/2`` (:func:`hull_points`), so a one-section cluster becomes a prism of volume
``area * t``. Without it the hull is that of the points themselves.

Degenerate hulls
----------------
A 3D hull of fewer than 4 distinct points, or of coplanar or collinear points (Qhull
raises :class:`scipy.spatial.QhullError`), has volume 0. Its surface area is that of a
flat plate seen from both sides: twice the area of the 2D hull of the points in their
own plane (any orientation, found by SVD), which is 0 for collinear points. This is the
limit of a slab whose thickness goes to zero, so areas stay continuous. A 2D hull
(``projected_area_nm2``) of fewer than 3 distinct points, or of collinear points, is 0.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.spatial import ConvexHull, QhullError, cKDTree

from smlmscale.errors import InputError

PROPERTY_COLUMNS = ("cluster", "n_localizations", "x_nm", "y_nm", "z_nm", "extent_x_nm",
                    "extent_y_nm", "extent_z_nm", "radius_of_gyration_nm", "hull_volume_nm3",
                    "hull_area_nm2", "projected_area_nm2", "density_per_um3", "sections",
                    "nearest_cluster_nm")
"""The columns of :func:`cluster_properties`, in order."""

SUMMARY_COLUMNS = ("count", "mean", "std", "median", "p05", "p95")
"""The columns of :func:`property_summary`, in order."""

NM3_PER_UM3 = 1e9


def check_points(points: pd.DataFrame, *, label: str = "cluster",
                 section_thickness_nm: float | None = None) -> bool:
    """Check a clustered table; return whether it is 3D (has usable ``z_nm``).

    Parameters
    ----------
    points : pandas.DataFrame
        Columns ``x_nm``, ``y_nm`` (nm), optionally ``z_nm`` (nm), and the integer
        ``label`` column (``-1`` for noise).
    label : str, optional
        The cluster-label column.
    section_thickness_nm : float, optional
        Section thickness in nm; must be finite and ``> 0`` and needs ``z_nm``.

    Returns
    -------
    bool
        True when ``z_nm`` exists and is not NaN everywhere among clustered points (a
        ``z_nm`` column of NaN only is a 2D table).

    Raises
    ------
    InputError
        Missing columns, non-integer labels, non-finite coordinates of clustered points,
        or a bad thickness.
    """
    if not isinstance(points, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame of points, got {type(points).__name__}")
    missing = [c for c in ("x_nm", "y_nm", label) if c not in points.columns]
    if missing:
        raise InputError(f"the point table has no column {', '.join(missing)}",
                         hint="cluster the localizations first (DBSCAN adds 'cluster')")
    if not pd.api.types.is_integer_dtype(points[label].dtype):
        raise InputError(f"the label column {label!r} must hold integers, "
                         f"got {points[label].dtype}", hint="-1 marks noise")
    clustered = points[label].to_numpy() >= 0
    use_z = "z_nm" in points.columns
    if use_z and clustered.any():
        use_z = not np.isnan(points["z_nm"].to_numpy(np.float64)[clustered]).all()
    columns = ["x_nm", "y_nm"] + (["z_nm"] if use_z else [])
    values = points[columns].to_numpy(np.float64)[clustered]
    if not np.isfinite(values).all():
        raise InputError("clustered points have non-finite coordinates",
                         hint="drop NaN or infinite x_nm/y_nm/z_nm before computing properties")
    if section_thickness_nm is not None:
        t = section_thickness_nm
        if isinstance(t, bool) or not isinstance(t, (int, float, np.number)) \
                or not math.isfinite(t) or t <= 0:
            raise InputError(f"the section thickness must be a distance > 0 nm, got {t!r}",
                             hint="serial sections are usually 70 nm")
        if not use_z:
            raise InputError("a section thickness needs z_nm; this table is 2D",
                             hint="leave the section thickness out for 2D tables")
    return use_z


def hull_points(xyz: np.ndarray, *, section_thickness_nm: float | None = None) -> np.ndarray:
    """The points whose convex hull is a cluster's volume, ``(m, 3)`` in nm.

    Without a thickness, ``xyz`` itself; with thickness ``t``, every point copied at
    ``z - t/2`` and ``z + t/2`` (each point fills its section slab).
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    if section_thickness_nm is None:
        return xyz
    half = np.array([0.0, 0.0, 0.5 * float(section_thickness_nm)])
    return np.concatenate([xyz - half, xyz + half])


def area_2d(xy: np.ndarray) -> float:
    """Area of the 2D convex hull of ``(n, 2)`` points, nm^2; 0 when < 3 points or collinear."""
    xy = np.asarray(xy, dtype=np.float64)
    if len(xy) < 3:  # duplicates and collinear points make Qhull raise
        return 0.0
    try:
        return float(ConvexHull(xy).volume)  # in 2D "volume" is the area
    except QhullError:
        return 0.0


def planar_area(xyz: np.ndarray) -> float:
    """Area of the 2D hull of 3D points in their best-fit plane (any orientation), nm^2."""
    xyz = np.asarray(xyz, dtype=np.float64)
    if len(xyz) < 3:
        return 0.0
    centred = xyz - xyz.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return area_2d(centred @ vt[:2].T)


def hull_measures(xyz: np.ndarray) -> tuple[float, float]:
    """``(volume_nm3, area_nm2)`` of the 3D convex hull of ``(n, 3)`` points.

    Degenerate hulls (< 4 distinct points, coplanar or collinear points) have volume 0 and
    area ``2 * planar_area`` (a flat plate counted on both sides; 0 when collinear).
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    if len(xyz) >= 4:  # < 4 distinct (duplicates), coplanar or collinear: Qhull raises
        try:
            hull = ConvexHull(xyz)
            if hull.volume > 0:
                return float(hull.volume), float(hull.area)
        except QhullError:
            pass
    return 0.0, 2.0 * planar_area(xyz)


def _empty_properties() -> pd.DataFrame:
    dtypes = {c: np.float64 for c in PROPERTY_COLUMNS}
    dtypes.update(cluster=np.int64, n_localizations=np.int64)
    return pd.DataFrame({c: pd.Series([], dtype=d) for c, d in dtypes.items()})


def _sections(table: pd.DataFrame, labels: np.ndarray, *, use_z: bool,
              section_thickness_nm: float | None) -> np.ndarray | None:
    """Distinct sections per cluster (sorted by label), or None when unknown."""
    if "section" in table.columns:
        values = table["section"]
    elif use_z and section_thickness_nm is not None:
        values = pd.Series(np.floor(table["z_nm"].to_numpy() / section_thickness_nm),
                           index=table.index)
    elif use_z:
        values = table["z_nm"]
    else:
        return None
    return values.groupby(labels, sort=True).nunique().to_numpy(np.float64)


def cluster_properties(points: pd.DataFrame, *, section_thickness_nm: float | None = None,
                       label: str = "cluster") -> pd.DataFrame:
    """Size, shape and density of every cluster of a labelled point table.

    Parameters
    ----------
    points : pandas.DataFrame
        ``x_nm``, ``y_nm`` and optionally ``z_nm`` (float, nm), optionally ``section``
        (int), and the integer ``label`` column (``-1`` = noise, left out).
    section_thickness_nm : float, optional
        Section thickness, nm. When given each point fills its section slab for the hull
        (see the module notes); requires ``z_nm``.
    label : str, optional
        The cluster-label column. Default ``"cluster"``.

    Returns
    -------
    pandas.DataFrame
        One row per label ``>= 0``, sorted by label, columns :data:`PROPERTY_COLUMNS`:

        - ``cluster`` (int64), ``n_localizations`` (int64);
        - ``x_nm``, ``y_nm``, ``z_nm``: centroid, nm;
        - ``extent_x_nm``, ``extent_y_nm``, ``extent_z_nm``: max - min, nm;
        - ``radius_of_gyration_nm``: root mean squared distance to the centroid, nm (3D,
          or 2D for 2D tables);
        - ``hull_volume_nm3``, ``hull_area_nm2``: 3D convex hull volume (nm^3) and
          surface area (nm^2), degenerate hulls as in the module notes;
        - ``projected_area_nm2``: area of the 2D hull in x, y, nm^2;
        - ``density_per_um3``: localizations per um^3 of hull (NaN when the volume is 0);
        - ``sections``: distinct values of the ``section`` column when there is one, else
          distinct ``floor(z / t)`` with a thickness, else distinct ``z_nm`` values (the
          section count when z is the section centre), else NaN;
        - ``nearest_cluster_nm``: centroid distance to the nearest other centroid, nm
          (NaN with one cluster).

        For 2D tables (no ``z_nm``, or NaN only) the z columns, the 3D hull columns and
        the density are NaN.

    Raises
    ------
    InputError
        See :func:`check_points`.

    Examples
    --------
    >>> cube = pd.DataFrame([(x, y, z) for x in (0., 10.) for y in (0., 10.)
    ...                      for z in (0., 10.)], columns=["x_nm", "y_nm", "z_nm"])
    >>> p = cluster_properties(cube.assign(cluster=0))
    >>> float(p.hull_volume_nm3[0]), float(p.hull_area_nm2[0]), float(p.extent_z_nm[0])
    (1000.0, 600.0, 10.0)
    """
    use_z = check_points(points, label=label, section_thickness_nm=section_thickness_nm)
    table = points.loc[points[label].to_numpy() >= 0]
    if table.empty:
        return _empty_properties()
    coords = ["x_nm", "y_nm"] + (["z_nm"] if use_z else [])
    table = table.sort_values(label, kind="stable")
    labels = table[label].to_numpy(np.int64)
    xyz = table[coords].to_numpy(np.float64)
    groups = table[coords].groupby(labels, sort=True)
    centroid = groups.mean()
    lo, hi = groups.min(), groups.max()
    ids = centroid.index.to_numpy(np.int64)
    starts = np.searchsorted(labels, ids)
    ends = np.append(starts[1:], len(labels))
    counts = ends - starts
    dev = xyz - np.repeat(centroid.to_numpy(), counts, axis=0)
    rg = np.sqrt(np.add.reduceat((dev * dev).sum(axis=1), starts) / counts)

    nan = np.full(len(ids), np.nan)
    props = {"cluster": ids, "n_localizations": counts.astype(np.int64)}
    for axis in ("x", "y", "z"):
        column = f"{axis}_nm"
        props[column] = centroid[column].to_numpy() if column in coords else nan
    for axis in ("x", "y", "z"):
        column = f"{axis}_nm"
        props[f"extent_{axis}_nm"] = (hi[column] - lo[column]).to_numpy() \
            if column in coords else nan
    props["radius_of_gyration_nm"] = rg

    volume, area, projected = nan.copy(), nan.copy(), np.empty(len(ids))
    for k, (start, end) in enumerate(zip(starts, ends)):
        part = xyz[start:end]
        projected[k] = area_2d(part[:, :2])
        if use_z:
            volume[k], area[k] = hull_measures(
                hull_points(part, section_thickness_nm=section_thickness_nm))
    props["hull_volume_nm3"], props["hull_area_nm2"] = volume, area
    props["projected_area_nm2"] = projected
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(volume > 0, counts * NM3_PER_UM3 / volume, np.nan)
    props["density_per_um3"] = density
    sections = _sections(table, labels, use_z=use_z, section_thickness_nm=section_thickness_nm)
    props["sections"] = nan if sections is None else sections
    props["nearest_cluster_nm"] = nearest_distances(centroid.to_numpy())
    return pd.DataFrame(props, columns=list(PROPERTY_COLUMNS))


def nearest_distances(centres: np.ndarray) -> np.ndarray:
    """Distance from each centre to the nearest other one, nm (NaN when there is one centre)."""
    centres = np.asarray(centres, dtype=np.float64)
    if len(centres) < 2:
        return np.full(len(centres), np.nan)
    distances, _ = cKDTree(centres).query(centres, k=2)
    return distances[:, 1]


def property_summary(props: pd.DataFrame) -> pd.DataFrame:
    """Count, mean, std, median, 5th and 95th percentile of each numeric property.

    Parameters
    ----------
    props : pandas.DataFrame
        A table of :func:`cluster_properties` (or any table of numbers). The identifier
        columns ``cluster`` and ``repeat`` are left out.

    Returns
    -------
    pandas.DataFrame
        One row per property (index ``property``), columns :data:`SUMMARY_COLUMNS`:
        ``count`` (non-NaN values), ``mean``, ``std`` (sample, ``ddof=1``), ``median``,
        ``p05``, ``p95`` (linear interpolation), in the property's own unit. NaN values
        are ignored; a property with no values has count 0 and NaN statistics.
    """
    if not isinstance(props, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(props).__name__}")
    numeric = props.select_dtypes(include="number").drop(columns=["cluster", "repeat"],
                                                         errors="ignore")
    numeric = numeric.astype(np.float64)
    summary = pd.DataFrame({
        "count": numeric.count().astype(np.int64),
        "mean": numeric.mean(),
        "std": numeric.std(ddof=1),
        "median": numeric.median(),
        "p05": numeric.quantile(0.05),
        "p95": numeric.quantile(0.95),
    }, index=numeric.columns, columns=list(SUMMARY_COLUMNS))
    summary.index.name = "property"
    return summary


__all__ = ["PROPERTY_COLUMNS", "SUMMARY_COLUMNS", "area_2d", "check_points",
           "cluster_properties", "hull_measures", "hull_points", "nearest_distances",
           "planar_area", "property_summary"]
