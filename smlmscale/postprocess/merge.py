"""Merging a track's localizations into one row, from sums that add across partitions.

A track may cross partitions, so each partition contributes *partial sums* per track
(:func:`track_sums`) and a track's row is made once all its sums are added
(:func:`merged_rows`). The merged row:

- ``frame``: the first frame; ``last_frame`` the last; ``n_frames`` the localizations
  merged (one per frame); ``track_id``;
- ``x_nm``, ``y_nm`` (``z_nm``): weighted means. Weights (``weights``): ``"auto"``,
  inverse variance ``1 / uncertainty**2`` from ``uncertainty_x_nm``/``uncertainty_y_nm``
  (else ``uncertainty_nm`` for both; ``z_nm`` from ``uncertainty_z_nm``, else the x
  weights), or equal weights when the table has no uncertainty; ``"photons"``, photon
  counts; ``"equal"``, the plain mean;
- each uncertainty column: the standard error of that weighted mean for independent
  errors, ``sqrt(sum(w**2 * u**2)) / sum(w)``, which for inverse-variance weights is
  ``1 / sqrt(sum(1 / u**2))``;
- ``photons``: summed; other float columns: the mean; integer columns (``section``,
  ``roi``, ``cluster``, ...): the first localization's value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from smlmscale.errors import InputError

WEIGHTS = ("auto", "photons", "equal")
#: Lateral uncertainty columns per axis, in the order they are looked for.
_AXIS_UNCERTAINTY = {"x_nm": ("uncertainty_x_nm", "uncertainty_nm"),
                     "y_nm": ("uncertainty_y_nm", "uncertainty_nm"),
                     "z_nm": ("uncertainty_z_nm",)}
TRACK_COLUMNS = ("track_id", "n_frames", "last_frame")


def axis_weights(columns, weights: str) -> dict[str, str | None]:
    """For each coordinate, the column its weights come from (None: equal weights).

    An uncertainty column ``u`` gives ``1 / u**2``; ``"photons"`` the photon counts.

    >>> axis_weights(["frame", "x_nm", "y_nm", "uncertainty_nm"], "auto")
    {'x_nm': 'uncertainty_nm', 'y_nm': 'uncertainty_nm'}
    """
    coords = [c for c in ("x_nm", "y_nm", "z_nm") if c in columns]
    if weights == "photons":
        return {c: "photons" for c in coords}
    if weights == "equal":
        return {c: None for c in coords}
    out = {}
    for c in coords:
        found = [u for u in _AXIS_UNCERTAINTY[c] if u in columns]
        out[c] = found[0] if found else out.get("x_nm")
    return out


def _weights_of(part: pd.DataFrame, source: str | None) -> np.ndarray:
    if source is None:
        return np.ones(len(part))
    values = part[source].to_numpy(np.float64)
    w = values if source == "photons" else 1.0 / (values * values)
    bad = ~(np.isfinite(w) & (w > 0))
    if bad.any():
        what = "photon counts" if source == "photons" else "uncertainties"
        raise InputError(f"{int(bad.sum())} localizations have {what} ({source}) that are "
                         f"not positive and finite, so they cannot be weights",
                         hint="filter them out first, or pass --weights equal")
    return w


def _uncertainty_columns(columns) -> list[str]:
    return [u for u in ("uncertainty_x_nm", "uncertainty_y_nm", "uncertainty_z_nm",
                        "uncertainty_nm") if u in columns]


def _coordinate_of(uncertainty: str, plan: dict) -> str:
    """The coordinate whose weights the error of ``uncertainty`` goes with."""
    for coord in ("x_nm", "y_nm", "z_nm"):
        if uncertainty in _AXIS_UNCERTAINTY[coord] and coord in plan:
            return coord
    return "x_nm"


def _other_columns(part: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Columns averaged (float) and columns taken from the first row (integer)."""
    skip = {"frame", "x_nm", "y_nm", "z_nm", *_uncertainty_columns(part.columns),
            *TRACK_COLUMNS}
    rest = [c for c in part.columns if c not in skip]
    firsts = [c for c in rest if part[c].dtype.kind in "iub"]
    return [c for c in rest if c not in firsts], firsts


def track_sums(part: pd.DataFrame, track: np.ndarray, *, weights: str) -> pd.DataFrame:
    """Partial sums of one partition's rows per track (index ``track_id``).

    Parameters
    ----------
    part : pandas.DataFrame
        Rows sorted by frame (a track's first row is its first frame).
    track : numpy.ndarray
        Global track of every row.
    weights : {"auto", "photons", "equal"}

    Raises
    ------
    InputError
        A weight (uncertainty or photon count) that is not positive and finite.
    """
    plan = axis_weights(part.columns, weights)
    track = np.asarray(track, np.int64)
    frame = part["frame"].to_numpy(np.int64)
    ids, first, group = np.unique(track, return_index=True, return_inverse=True)
    last = len(track) - 1 - np.unique(track[::-1], return_index=True)[1]
    group = group.ravel()

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=values, minlength=len(ids))

    data = {"n_frames": np.bincount(group, minlength=len(ids)).astype(np.int64)}
    w_of = {c: _weights_of(part, source) for c, source in plan.items()}
    for c, w in w_of.items():
        data[f"w:{c}"] = total(w)
        data[f"wv:{c}"] = total(w * part[c].to_numpy(np.float64))
    for u in _uncertainty_columns(part.columns):
        w = w_of[_coordinate_of(u, plan)]
        values = part[u].to_numpy(np.float64)
        data[f"w:{u}"] = total(w)
        data[f"w2u2:{u}"] = total(w * w * values * values)
    floats, firsts = _other_columns(part)
    for c in floats:
        data[f"sum:{c}"] = total(part[c].to_numpy(np.float64))
    data["frame"], data["last_frame"] = frame[first], frame[last]
    for c in firsts:
        data[f"first:{c}"] = part[c].to_numpy()[first]
    return pd.DataFrame(data, index=pd.Index(ids, name="track_id"))


def _how(columns) -> dict[str, list[str]]:
    return {"sum": [c for c in columns if c == "n_frames" or c.split(":")[0] in
                    ("w", "wv", "w2u2", "sum")],
            "min": ["frame"], "max": ["last_frame"],
            "first": [c for c in columns if c.startswith("first:")]}


def add_sums(rows: pd.DataFrame, how: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """Partial sums added per ``track_id`` (rows ordered by first frame within a track)."""
    how = how or _how(rows.columns)
    grouped = rows.groupby("track_id", sort=True)
    parts = [grouped[how["sum"]].sum(), grouped[how["min"]].min(),
             grouped[how["max"]].max()]
    if how["first"]:
        first = rows.sort_values("frame", kind="stable").groupby("track_id", sort=True)
        parts.append(first[how["first"]].first())
    return pd.concat(parts, axis=1)


def merged_rows(sums: pd.DataFrame, columns) -> pd.DataFrame:
    """The merged table (canonical column order, then :data:`TRACK_COLUMNS`) from the
    complete sums of the tracks, sorted by track id."""
    from smlmscale.io.tables.schema import ordered_columns

    sums = sums.sort_index()
    out = {"frame": sums["frame"].to_numpy(np.int64)}
    for name in columns:
        if f"wv:{name}" in sums:
            out[name] = (sums[f"wv:{name}"] / sums[f"w:{name}"]).to_numpy()
        elif f"w2u2:{name}" in sums:
            out[name] = (np.sqrt(sums[f"w2u2:{name}"]) / sums[f"w:{name}"]).to_numpy()
        elif name == "photons" and f"sum:{name}" in sums:
            out[name] = sums[f"sum:{name}"].to_numpy()
        elif f"sum:{name}" in sums:
            out[name] = (sums[f"sum:{name}"] / sums["n_frames"]).to_numpy()
        elif f"first:{name}" in sums:
            out[name] = sums[f"first:{name}"].to_numpy()
    table = pd.DataFrame(out)
    table = table[ordered_columns([c for c in columns if c in table.columns])]
    table["track_id"] = sums.index.to_numpy(np.int64)
    table["n_frames"] = sums["n_frames"].to_numpy(np.int64)
    table["last_frame"] = sums["last_frame"].to_numpy(np.int64)
    return table.reset_index(drop=True)


__all__ = ["TRACK_COLUMNS", "WEIGHTS", "add_sums", "axis_weights", "merged_rows",
           "track_sums"]
