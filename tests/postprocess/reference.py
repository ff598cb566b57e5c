"""In-memory references of ``link``: a plain loop over the rule, and the merged rows, and
tables of blinking emitters to link."""

from __future__ import annotations

import numpy as np
import pandas as pd


def link_reference(table: pd.DataFrame, *, radius_nm: float, max_dark: int) -> np.ndarray:
    """The track of every row of a frame-sorted table, by the rule of
    :mod:`smlmscale.postprocess.link_kernel`, one frame, one pair at a time."""
    frame = table["frame"].to_numpy()
    x, y = table["x_nm"].to_numpy(), table["y_nm"].to_numpy()
    track = np.full(len(table), -1, np.int64)
    open_tracks: list[dict] = []
    next_id = 0
    r2 = radius_nm * radius_nm
    for f in sorted(set(frame.tolist())):
        rows = [i for i in np.flatnonzero(frame == f).tolist()]
        open_tracks = [t for t in open_tracks if f - t["frame"] <= max_dark + 1]
        pairs = []
        for i in rows:
            for t in open_tracks:
                dx, dy = x[i] - t["x"], y[i] - t["y"]
                d2 = dx * dx + dy * dy
                if d2 <= r2:
                    pairs.append((d2, i, t["row"], t))
        pairs.sort(key=lambda p: p[:3])
        used_rows, used_tracks, joins = set(), set(), []
        for d2, i, _, t in pairs:
            if i in used_rows or t["id"] in used_tracks:
                continue
            used_rows.add(i)
            used_tracks.add(t["id"])
            joins.append((i, t))
        for i, t in joins:
            track[i] = t["id"]
            t.update(row=i, frame=f, x=x[i], y=y[i])
        for i in rows:
            if i not in used_rows:
                track[i] = next_id
                open_tracks.append({"id": next_id, "row": i, "frame": f, "x": x[i], "y": y[i]})
                next_id += 1
    return track


def merged_reference(table: pd.DataFrame, track: np.ndarray, *,
                     weights: str = "auto") -> pd.DataFrame:
    """One row per track, track by track: x/y weighted by inverse variance from
    ``uncertainty_x_nm``/``uncertainty_y_nm`` (else ``uncertainty_nm``, else equally), z by
    ``uncertainty_z_nm`` (else as x); or all by photons, or equally; the error of each
    weighted mean; photons summed, other floats averaged, integers first."""
    rows = []
    for t in np.unique(track):
        g = table[track == t]
        one = pd.Series(1.0, index=g.index)
        if weights == "photons":
            wx = wy = wz = g.photons
        elif weights == "equal":
            wx = wy = wz = one
        elif "uncertainty_x_nm" in g:
            wx, wy = 1 / g.uncertainty_x_nm ** 2, 1 / g.uncertainty_y_nm ** 2
        elif "uncertainty_nm" in g:
            wx = wy = 1 / g.uncertainty_nm ** 2
        else:
            wx = wy = one
        if weights == "auto":
            wz = 1 / g.uncertainty_z_nm ** 2 if "uncertainty_z_nm" in g else wx
        row = {"frame": g.frame.min(), "x_nm": (wx * g.x_nm).sum() / wx.sum(),
               "y_nm": (wy * g.y_nm).sum() / wy.sum()}
        if "z_nm" in g:
            row["z_nm"] = (wz * g.z_nm).sum() / wz.sum()
        error = {"uncertainty_x_nm": wx, "uncertainty_y_nm": wy, "uncertainty_nm": wx,
                 "uncertainty_z_nm": wz}
        for c in g.columns:
            if c in row:
                continue
            if c == "photons":
                row[c] = g[c].sum()
            elif c in error:
                w = error[c]
                row[c] = np.sqrt((w ** 2 * g[c] ** 2).sum()) / w.sum()
            elif g[c].dtype.kind in "iu":
                row[c] = g[c].iloc[0]
            else:
                row[c] = g[c].mean()
        row.update(track_id=t, n_frames=len(g), last_frame=g.frame.max())
        rows.append(row)
    return pd.DataFrame(rows)


def blinking_table(*, seed: int = 0, emitters: int = 300, frames: int = 400,
                   field_nm: float = 3000.0, precision_nm: float = 15.0,
                   noise: int = 500, uncertainty: str | None = "xy") -> pd.DataFrame:
    """Emitters on ``field_nm`` switching on for runs of frames (with one-frame gaps),
    localized with ``precision_nm`` error, plus ``noise`` random points; sorted by frame
    (stable). ``uncertainty``: ``"xy"`` (uncertainty_x_nm/_y_nm), ``"single"``
    (uncertainty_nm) or None."""
    rng = np.random.default_rng(seed)
    site = rng.uniform(0, field_nm, (emitters, 2))
    parts = []
    for e in range(emitters):
        start = int(rng.integers(0, frames))
        length = int(rng.geometric(0.3))
        on = np.arange(start, min(frames, start + length + 2))
        on = on[rng.random(on.size) > 0.2]               # missed frames: dark gaps
        parts.append(pd.DataFrame({"frame": on, "x_nm": site[e, 0], "y_nm": site[e, 1]}))
    parts.append(pd.DataFrame({"frame": rng.integers(0, frames, noise),
                               "x_nm": rng.uniform(0, field_nm, noise),
                               "y_nm": rng.uniform(0, field_nm, noise)}))
    table = pd.concat(parts, ignore_index=True)
    n = len(table)
    sigma = precision_nm * rng.uniform(0.5, 1.5, (n, 2))
    table["x_nm"] += rng.normal(0, 1, n) * sigma[:, 0]
    table["y_nm"] += rng.normal(0, 1, n) * sigma[:, 1]
    table["photons"] = rng.gamma(4.0, 300.0, n)
    table["confidence"] = rng.uniform(0, 1, n)
    table["roi"] = rng.integers(0, 5, n)
    if uncertainty == "xy":
        table["uncertainty_x_nm"], table["uncertainty_y_nm"] = sigma[:, 0], sigma[:, 1]
    elif uncertainty == "single":
        table["uncertainty_nm"] = sigma.mean(axis=1)
    table = table.iloc[rng.permutation(n)]
    return table.sort_values("frame", kind="stable", ignore_index=True)
