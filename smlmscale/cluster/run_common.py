"""Pieces shared by the two clustering modes of :func:`smlmscale.cluster.run.cluster_table`.

What a mode hands back (:class:`ModeOutput`), the per-section z statistics from which
a section thickness can be inferred (:func:`section_stats`,
:func:`infer_section_thickness`), the global nearest-cluster distances that tasks
cannot compute alone (:func:`finish_properties`), and progress counting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pandas as pd

from smlmscale.cluster.properties import nearest_distances

if TYPE_CHECKING:
    import dask.dataframe as dd

#: Input columns that the output's own columns would replace, and their new names.
RENAMED = {"cluster": "input_cluster", "sequence": "input_sequence"}


@dataclass
class ModeOutput:
    """What one clustering mode computed; the labelled rows stay lazy on the cluster.

    Attributes
    ----------
    table : dask.dataframe.DataFrame
        The input rows, in input order, with ``cluster`` (int64, -1 noise) and, in
        sequences mode, ``sequence`` (int64). Built on results held in ``keep``.
    properties : pandas.DataFrame
        One row per cluster (``cluster_properties``; in sequences mode with
        ``sequence`` after ``cluster``), sorted by cluster.
    randomized : pandas.DataFrame or None
        ``randomized_properties`` of every cluster, or None without randomization.
    sequences : pandas.DataFrame or None
        ``sequence_summary`` with ``n_localizations`` and ``n_clusters`` (sequences mode).
    counts : dict
        Mode-specific counts for ``cluster.json`` (``clusters``, ``tasks``, ``blocks``...).
    keep : list
        Persisted Dask objects ``table`` depends on; dropped once it is written.
    """

    table: dd.DataFrame
    properties: pd.DataFrame
    randomized: pd.DataFrame | None
    sequences: pd.DataFrame | None
    counts: dict[str, Any]
    keep: list = field(default_factory=list)


class Progress:
    """Counts finished steps and reports ``progress(done, total)``; the total may grow."""

    def __init__(self, progress: Callable[[int, int], None] | None, total: int = 0) -> None:
        self.report, self.done, self.total = progress, 0, total

    def add(self, steps: int) -> None:
        self.total += steps
        self._emit()

    def step(self, steps: int = 1) -> None:
        self.done += steps
        self._emit()

    def _emit(self) -> None:
        if self.report is not None:
            self.report(self.done, max(self.total, self.done))


def gather(client, futures: Sequence, counter: Progress) -> list:
    """The results of ``futures`` in order, counting each as it finishes."""
    from distributed import as_completed

    futures = list(futures)
    for _ in as_completed(futures):
        counter.step()
    return client.gather(futures)


def renamed(part: pd.DataFrame) -> pd.DataFrame:
    """``part`` with an input ``cluster``/``sequence`` column renamed (see :data:`RENAMED`)."""
    clash = {k: v for k, v in RENAMED.items() if k in part.columns}
    return part.rename(columns=clash) if clash else part


def section_stats(part: pd.DataFrame) -> pd.DataFrame:
    """Per section of one partition: rows ``n`` and the least and largest ``z_nm``.

    Columns ``section`` (int64), ``n`` (int64), ``z_min``, ``z_max`` (nm); empty when
    the table has no ``section`` column. ``z_min``/``z_max`` are NaN without ``z_nm``.
    """
    columns = {"section": np.int64, "n": np.int64, "z_min": np.float64, "z_max": np.float64}
    if "section" not in part.columns or not len(part):
        return pd.DataFrame({c: pd.Series([], dtype=d) for c, d in columns.items()})
    section = part["section"].to_numpy(np.int64)
    z = part["z_nm"].to_numpy(np.float64) if "z_nm" in part.columns \
        else np.full(len(part), np.nan)
    grouped = pd.DataFrame({"section": section, "z": z}).groupby("section", sort=True)["z"]
    out = grouped.agg(["size", "min", "max"]).reset_index()
    out.columns = ["section", "n", "z_min", "z_max"]
    return out.astype(columns)


def merge_section_stats(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Combine :func:`section_stats` of several partitions (a section may span them)."""
    stats = pd.concat(list(parts), ignore_index=True)
    if stats.empty:
        return stats
    return stats.groupby("section", sort=True).agg(
        n=("n", "sum"), z_min=("z_min", "min"), z_max=("z_max", "max")).reset_index()


def infer_section_thickness(stats: pd.DataFrame) -> float | None:
    """The section thickness implied by z values at section centres, nm, or None.

    A thickness is inferred only when every section holds a single z value (the
    section centre, as ``smlmscale predict --rois`` writes ``z = (s + 0.5) t``), at
    least two sections are present, and the centres are evenly spaced per section:
    ``(z_j - z_i) / (s_j - s_i)`` is the same ``t > 0`` for all consecutive present
    sections (relative tolerance 1e-6). Anything else (z spread within sections, as
    for measured 3D localizations, or uneven spacing) gives None.

    Examples
    --------
    >>> stats = pd.DataFrame({"section": [0, 1, 3], "n": 1,
    ...                       "z_min": [35.0, 105.0, 245.0], "z_max": [35.0, 105.0, 245.0]})
    >>> infer_section_thickness(stats)
    70.0
    """
    if stats is None or len(stats) < 2:
        return None
    z_min, z_max = stats["z_min"].to_numpy(np.float64), stats["z_max"].to_numpy(np.float64)
    if not (np.isfinite(z_min).all() and np.isfinite(z_max).all()):
        return None
    scale = max(float(np.abs(z_max).max()), 1.0)
    if not np.all(z_max - z_min <= 1e-9 * scale):
        return None
    spacing = np.diff(z_min) / np.diff(stats["section"].to_numpy(np.float64))
    if not (np.all(spacing > 0) and np.allclose(spacing, spacing[0], rtol=1e-6, atol=0)):
        return None
    return float(np.median(spacing))


def finish_properties(props: pd.DataFrame, *, by: str | None = None) -> pd.DataFrame:
    """Sort by cluster (within ``by``) and recompute ``nearest_cluster_nm`` over all rows.

    Tasks see only their own clusters, so their nearest-cluster distances are local;
    this replaces them by the distance to the nearest centroid of the whole data set
    (of the same ``by`` group, e.g. the same randomization ``repeat``), exactly as
    :func:`~smlmscale.cluster.properties.cluster_properties` on the whole table.
    """
    keys = ([by] if by else []) + ["cluster"]
    props = props.sort_values(keys, kind="stable", ignore_index=True)
    if not len(props):
        return props
    use_z = bool(props["z_nm"].notna().any())
    coords = ["x_nm", "y_nm"] + (["z_nm"] if use_z else [])
    nearest = np.empty(len(props))
    groups = [np.arange(len(props))] if by is None else \
        list(props.groupby(by, sort=True).indices.values())
    for rows in groups:
        nearest[rows] = nearest_distances(props[coords].to_numpy(np.float64)[rows])
    props["nearest_cluster_nm"] = nearest
    return props


__all__ = ["ModeOutput", "Progress", "RENAMED", "finish_properties", "gather",
           "infer_section_thickness", "merge_section_stats", "renamed", "section_stats"]
