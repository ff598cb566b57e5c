"""Simulated tables for the FRC: emitters on random lines, localized with a known precision."""

from __future__ import annotations

import numpy as np
import pandas as pd


def line_table(*, sigma_nm: float, emitters: int = 4000, repeats: int = 2, frames: int = 1000,
               size_nm: float = 2000.0, seed: int = 0) -> pd.DataFrame:
    """``emitters`` points on 12 random lines across ``size_nm``, each localized ``repeats``
    times in consecutive frames with Gaussian errors of ``sigma_nm``; sorted by frame."""
    rng = np.random.default_rng(seed)
    k = rng.integers(0, 12, emitters)
    t = rng.uniform(-0.3, 0.3, emitters) * size_nm
    angle = rng.uniform(0, np.pi, 12)[k]
    x0, y0 = (rng.uniform(0.25, 0.75, (2, 12)) * size_nm)[:, k]
    start = rng.integers(0, frames - repeats + 1, emitters)
    x = np.repeat(x0 + t * np.cos(angle), repeats)
    y = np.repeat(y0 + t * np.sin(angle), repeats)
    frame = (np.repeat(start, repeats) + np.tile(np.arange(repeats), emitters)).astype(np.int64)
    table = pd.DataFrame({"frame": frame, "x_nm": x + rng.normal(0, sigma_nm, x.size),
                          "y_nm": y + rng.normal(0, sigma_nm, x.size)})
    return table.sort_values("frame", kind="stable").reset_index(drop=True)
