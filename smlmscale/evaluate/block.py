"""Kernel of one block of frames: column arrays in, summed statistics and matched pairs out.

NumPy only (pandas only to pull column arrays out of a table); used as is in-process and
inside the tasks of :mod:`~smlmscale.evaluate.parallel`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from smlmscale.errors import InputError
from smlmscale.evaluate.crlb import localization_variance_nm2
from smlmscale.evaluate.crlb_frames import frame_bounds
from smlmscale.evaluate.matching import match_frames
from smlmscale.evaluate.metrics import MatchStatistics


@dataclass(frozen=True)
class CrlbInputs:
    """What the CRLB of a matched truth needs: constants, or ``None`` for a truth column."""

    pixel_size_nm: float
    psf_sigma_nm: float | None  # None: the truth's sigma_nm column
    background_photons: float | None  # None: the truth's background column
    noise_factor: float


@dataclass(frozen=True)
class BlockConfig:
    """Everything a block task needs; ``tolerance_axial_nm`` is ``None`` for lateral only."""

    tolerance_lateral_nm: float
    tolerance_axial_nm: float | None  # None: lateral only
    method: str
    crlb: CrlbInputs | None
    keep_pairs: bool
    frame_limit: bool = False   # also the frame limit (needs crlb)

    def truth_columns(self) -> list[str]:
        """Columns read from the truth table (``frame`` first)."""
        cols = ["frame", "x_nm", "y_nm"] + (["z_nm"] if self.tolerance_axial_nm else [])
        if self.crlb is not None:
            cols.append("photons")
            cols += ["sigma_nm"] if self.crlb.psf_sigma_nm is None else []
            cols += ["background"] if self.crlb.background_photons is None else []
        return cols

    def pred_columns(self) -> list[str]:
        """Columns read from the prediction table (``frame`` first)."""
        return ["frame", "x_nm", "y_nm"] + (["z_nm"] if self.tolerance_axial_nm else [])


@dataclass(frozen=True)
class BlockResult:
    """A block's statistics and, if kept, its pairs (global row positions, errors in nm)."""

    stats: MatchStatistics
    pairs: dict[str, np.ndarray] | None


def match_block(truth: dict[str, np.ndarray], pred: dict[str, np.ndarray],
                config: BlockConfig) -> BlockResult:
    """Match one block given as column arrays (``row`` holds global row positions)."""
    axes = ["x_nm", "y_nm"] + (["z_nm"] if config.tolerance_axial_nm else [])
    t_xyz = np.column_stack([truth[a] for a in axes]) if truth["frame"].size else \
        np.empty((0, len(axes)))
    p_xyz = np.column_stack([pred[a] for a in axes]) if pred["frame"].size else \
        np.empty((0, len(axes)))
    m = match_frames(truth["frame"], t_xyz, pred["frame"], p_xyz,
                     tolerance_lateral_nm=config.tolerance_lateral_nm,
                     tolerance_axial_nm=config.tolerance_axial_nm, method=config.method)
    ti, pj = m.truth_index, m.pred_index
    error = p_xyz[pj] - t_xyz[ti]
    dz = error[:, 2] if config.tolerance_axial_nm else None
    crlb = limit = None
    if config.crlb is not None:
        c = config.crlb
        sigma = truth["sigma_nm"] if c.psf_sigma_nm is None else c.psf_sigma_nm
        background = truth["background"] if c.background_photons is None \
            else c.background_photons
        crlb = localization_variance_nm2(
            truth["photons"][ti], psf_sigma_nm=_rows(sigma, ti),
            background_photons=_rows(background, ti), pixel_size_nm=c.pixel_size_nm,
            noise_factor=c.noise_factor)
        if config.frame_limit:      # every truth row of the block's frames is a neighbour
            limit = frame_bounds(truth["frame"], truth["x_nm"], truth["y_nm"],
                                 truth["photons"], psf_sigma_nm=sigma,
                                 background_photons=background,
                                 pixel_size_nm=c.pixel_size_nm,
                                 noise_factor=c.noise_factor).limit_nm2[ti]
    stats = MatchStatistics.from_pairs(n_truth=truth["frame"].size, n_pred=pred["frame"].size,
                                       dx_nm=error[:, 0], dy_nm=error[:, 1], dz_nm=dz,
                                       crlb_nm2=crlb, limit_nm2=limit)
    pairs = None
    if config.keep_pairs:
        pairs = {"truth_index": truth["row"][ti], "pred_index": pred["row"][pj],
                 "distance_nm": m.distance_nm, "dx_nm": error[:, 0], "dy_nm": error[:, 1]}
        if dz is not None:
            pairs["dz_nm"] = dz
    return BlockResult(stats, pairs)


def _rows(value: np.ndarray | float, index: np.ndarray) -> np.ndarray | float:
    """A truth column's values at the pairs, or the constant that stands for it."""
    return value[index] if isinstance(value, np.ndarray) else value


def table_arrays(df: pd.DataFrame, columns: list[str], *, label: str,
                 rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Column arrays (float64 coordinates, int64 frames) with a ``row`` position array."""
    out = {"frame": df["frame"].to_numpy(np.int64)}
    for name in columns[1:]:
        out[name] = df[name].to_numpy(np.float64)
        if name in ("x_nm", "y_nm", "z_nm") and not np.isfinite(out[name]).all():
            bad = int((~np.isfinite(out[name])).sum())
            raise InputError(f"the {label} table has {bad} NaN or infinite {name} value(s)",
                             hint="remove or fix those rows")
    out["row"] = np.arange(len(df), dtype=np.int64) if rows is None else rows
    return out


def select_rows(parts: list[pd.DataFrame], offsets: list[int], columns: list[str], lo: int,
                hi: int | None, label: str) -> dict[str, np.ndarray]:
    """The rows of some partitions with ``lo <= frame < hi``, with their global positions."""
    pieces = []
    for part, offset in zip(parts, offsets):
        frames = part["frame"].to_numpy(np.int64)
        keep = (frames >= lo) & (frames < hi) if hi is not None else frames >= lo
        rows = offset + np.flatnonzero(keep)
        pieces.append(table_arrays(part.iloc[rows - offset], columns, label=label, rows=rows))
    if not pieces:
        return {"frame": np.empty(0, np.int64), "row": np.empty(0, np.int64),
                **{c: np.empty(0) for c in columns[1:]}}
    return {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}
