"""The random control: every cluster's points redrawn uniformly inside the cluster's volume.

The properties of randomized clusters (same number of points, same volume, no internal
structure) are the reference that real cluster properties are compared with, as in the
seed's ``cluster_randomization.py``.

The volume is the convex hull of :func:`~smlmscale.cluster.properties.hull_points`: with
a section thickness ``t``, the points spread over their section slabs. Points are drawn
by rejection from the hull's bounding box (:meth:`scipy.spatial.Delaunay.find_simplex`
``>= 0``). With ``t`` the section structure is kept: z is snapped to the centre of the
section it falls in, ``z = (floor(z / t) + 0.5) t``, and ``section = floor(z / t)`` (the
convention of :mod:`smlmscale.simulate.sections`), limited to the cluster's own range of
sections.

Fallbacks for degenerate hulls (< 4 distinct points, or coplanar points without a
thickness, e.g. a one-section cluster):

1. x, y uniform in the 2D hull of the points in x, y; z drawn (with replacement) from
   the cluster's own z values;
2. x, y collinear: x, y uniform on the segment they span; z as in 1;
3. one point (or all x, y equal): x, y stay put; z as in 1 (a single point stays put).

Each (cluster, repeat) has its own generator, ``np.random.default_rng([seed, cluster,
repeat])``, so a cluster's randomization does not depend on the other clusters of the
task: clusters may be split over Dask workers in any way.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from scipy.spatial import ConvexHull, Delaunay, QhullError

from smlmscale.cluster.properties import (PROPERTY_COLUMNS, check_points, cluster_properties,
                                          hull_points)
from smlmscale.errors import InputError

MAX_BATCH = 1_000_000
"""Most candidate points drawn at once by the rejection sampler."""


def _hull(points: np.ndarray) -> tuple[Delaunay, float] | None:
    """Triangulation of the convex hull of ``points`` and its volume, or None if degenerate."""
    points = np.unique(points, axis=0)
    if len(points) <= points.shape[1]:
        return None
    try:
        hull = ConvexHull(points)
        if not hull.volume > 0:
            return None
        return Delaunay(points[hull.vertices]), float(hull.volume)
    except QhullError:
        return None


def _uniform_in_hull(rng: np.random.Generator, n: int, tri: Delaunay,
                     volume: float) -> np.ndarray:
    """``n`` points uniform inside the hull triangulated by ``tri``, by rejection."""
    lo, hi = tri.points.min(axis=0), tri.points.max(axis=0)
    accept = max(volume / float(np.prod(hi - lo)), 1e-9)
    parts, need = [], n
    while need > 0:
        size = int(min(MAX_BATCH, max(64, 1.25 * need / accept + 16)))
        candidates = lo + (hi - lo) * rng.random((size, len(lo)))
        inside = candidates[tri.find_simplex(candidates) >= 0][:need]
        parts.append(inside)
        need -= len(inside)
    return np.concatenate(parts)


class _Sampler:
    """Draws the random counterpart of one cluster; the hull is built once for all repeats."""

    def __init__(self, xyz: np.ndarray, *, section_thickness_nm: float | None) -> None:
        self.xyz = xyz
        self.n = len(xyz)
        self.use_z = xyz.shape[1] == 3
        self.thickness = section_thickness_nm
        self.hull3 = self.hull2 = self.segment = None
        if self.n == 1:
            self.mode = "fixed"
            return
        if self.use_z:
            self.hull3 = _hull(hull_points(xyz, section_thickness_nm=section_thickness_nm))
        if self.hull3 is not None:
            self.mode = "3d"
            return
        self.hull2 = _hull(xy := xyz[:, :2])
        if self.hull2 is not None:
            self.mode = "2d"
            return
        centre = xy.mean(axis=0)
        _, _, vt = np.linalg.svd(xy - centre, full_matrices=False)
        along = (xy - centre) @ vt[0]
        self.segment = (centre, vt[0], float(along.min()), float(along.max()))
        self.mode = "segment"

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """``(n, d)`` random points, nm (z not yet snapped to sections)."""
        if self.mode == "fixed":
            return self.xyz.copy()
        if self.mode == "3d":
            return _uniform_in_hull(rng, self.n, *self.hull3)
        if self.mode == "2d":
            xy = _uniform_in_hull(rng, self.n, *self.hull2)
        else:
            centre, direction, low, high = self.segment
            xy = centre + np.outer(low + (high - low) * rng.random(self.n), direction)
        if not self.use_z:
            return xy
        z = rng.choice(self.xyz[:, 2], size=self.n, replace=True)
        return np.column_stack([xy, z])

    def sections(self, z: np.ndarray) -> np.ndarray:
        """Section index ``floor(z / t)`` of each z, limited to the cluster's own sections."""
        own = np.floor(self.xyz[:, 2] / self.thickness)
        return np.clip(np.floor(z / self.thickness), own.min(), own.max()).astype(np.int64)


def _check_run(repeats: int, seed: int) -> None:
    for name, value, minimum in (("repeats", repeats, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
                or value < minimum:
            raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")


def randomize_clusters(points: pd.DataFrame, *, repeats: int, seed: int,
                       section_thickness_nm: float | None = None,
                       label: str = "cluster") -> pd.DataFrame:
    """Redraw every cluster's points uniformly inside its volume, ``repeats`` times.

    Parameters
    ----------
    points : pandas.DataFrame
        ``x_nm``, ``y_nm``, optionally ``z_nm`` (float, nm) and the integer ``label``
        column (``-1`` = noise, left out).
    repeats : int
        Randomizations per cluster, ``>= 1``.
    seed : int
        Seed, ``>= 0``; repeat ``r`` of cluster ``c`` uses
        ``np.random.default_rng([seed, c, r])``.
    section_thickness_nm : float, optional
        Section thickness, nm: points fill their section slabs and the drawn z are snapped
        to section centres (module notes). Requires ``z_nm``.
    label : str, optional
        The cluster-label column of ``points``. Default ``"cluster"``.

    Returns
    -------
    pandas.DataFrame
        Columns ``repeat`` (int64), ``cluster`` (int64, the label), ``x_nm``, ``y_nm``,
        ``z_nm`` (float64, nm; NaN for 2D tables) and, with a thickness, ``section``
        (int64); every cluster has its own number of points in every repeat. Rows are
        sorted by repeat, then cluster.

    Raises
    ------
    InputError
        Bad table (see :func:`~smlmscale.cluster.properties.check_points`), ``repeats``
        or ``seed``.
    """
    use_z = check_points(points, label=label, section_thickness_nm=section_thickness_nm)
    _check_run(repeats, seed)
    coords = ["x_nm", "y_nm"] + (["z_nm"] if use_z else [])
    table = points.loc[points[label].to_numpy() >= 0].sort_values(label, kind="stable")
    labels = table[label].to_numpy(np.int64)
    xyz = table[coords].to_numpy(np.float64)
    ids, starts = np.unique(labels, return_index=True)
    ends = np.append(starts[1:], len(labels))
    parts: list[tuple[int, int, np.ndarray, np.ndarray | None]] = []
    for cluster, start, end in zip(ids.tolist(), starts, ends):
        sampler = _Sampler(xyz[start:end], section_thickness_nm=section_thickness_nm)
        for repeat in range(repeats):
            drawn = sampler.draw(np.random.default_rng([seed, cluster, repeat]))
            section = None
            if section_thickness_nm is not None:
                section = sampler.sections(drawn[:, 2])
                if sampler.mode != "fixed":
                    drawn[:, 2] = (section + 0.5) * section_thickness_nm
            parts.append((repeat, cluster, drawn, section))
    return _assemble(parts, use_z=use_z, sections=section_thickness_nm is not None)


def _assemble(parts: list, *, use_z: bool, sections: bool) -> pd.DataFrame:
    """The output table of :func:`randomize_clusters`, sorted by repeat then cluster."""
    parts = sorted(parts, key=lambda part: (part[0], part[1]))
    sizes = [len(part[2]) for part in parts]
    drawn = np.concatenate([p[2] for p in parts]) if parts else np.empty((0, 3))
    out = {"repeat": np.repeat([p[0] for p in parts], sizes).astype(np.int64),
           "cluster": np.repeat([p[1] for p in parts], sizes).astype(np.int64),
           "x_nm": drawn[:, 0].astype(np.float64), "y_nm": drawn[:, 1].astype(np.float64),
           "z_nm": drawn[:, 2] if use_z and parts else np.full(len(drawn), np.nan)}
    if sections:
        out["section"] = (np.concatenate([p[3] for p in parts]) if parts
                          else np.empty(0)).astype(np.int64)
    return pd.DataFrame(out)


def randomized_properties(points: pd.DataFrame, *, repeats: int, seed: int,
                          section_thickness_nm: float | None = None,
                          label: str = "cluster") -> pd.DataFrame:
    """Cluster properties of the randomized clusters, one block of rows per repeat.

    Parameters
    ----------
    points, repeats, seed, section_thickness_nm, label
        As for :func:`randomize_clusters`.

    Returns
    -------
    pandas.DataFrame
        Column ``repeat`` (int64) followed by the columns of
        :func:`~smlmscale.cluster.properties.cluster_properties`, computed per repeat
        (so ``nearest_cluster_nm`` is the distance to the nearest randomized cluster of
        the same repeat) with the same section thickness. Sorted by repeat, then cluster.
    """
    randomized = randomize_clusters(points, repeats=repeats, seed=seed,
                                    section_thickness_nm=section_thickness_nm, label=label)
    frames = []
    for repeat, part in randomized.groupby("repeat", sort=True):
        props = cluster_properties(part.drop(columns="repeat"),
                                   section_thickness_nm=section_thickness_nm)
        props.insert(0, "repeat", np.int64(repeat))
        frames.append(props)
    if not frames:
        empty = cluster_properties(randomized.drop(columns="repeat"))
        empty.insert(0, "repeat", pd.Series([], dtype=np.int64))
        return empty[["repeat", *PROPERTY_COLUMNS]]
    return pd.concat(frames, ignore_index=True)


__all__ = ["MAX_BATCH", "randomize_clusters", "randomized_properties"]
