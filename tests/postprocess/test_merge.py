"""Merged rows from partial sums of partitions that cut through tracks, against the
per-track reference, for every weighting and 3D tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from smlmscale.postprocess.merge import add_sums, axis_weights, merged_rows, track_sums
from tests.postprocess.reference import blinking_table, link_reference, merged_reference


def _merged_in_parts(table, track, cuts, weights):
    frame = table["frame"].to_numpy()
    edges = [-1, *cuts, 2**40]
    sums = [track_sums(table[(frame >= a) & (frame < b)].reset_index(drop=True),
                       track[(frame >= a) & (frame < b)], weights=weights)
            for a, b in zip(edges[:-1], edges[1:])]
    total = add_sums(pd.concat(sums).reset_index())
    return merged_rows(total, list(table.columns))


@pytest.mark.parametrize("weights", ["auto", "photons", "equal"])
@pytest.mark.parametrize("uncertainty", ["xy", "single", None])
def test_merged_rows_equal_the_reference(weights, uncertainty):
    table = blinking_table(seed=9, frames=120, emitters=150, uncertainty=uncertainty)
    rng = np.random.default_rng(1)
    table["z_nm"] = rng.normal(0, 50, len(table))
    if uncertainty == "xy":
        table["uncertainty_z_nm"] = rng.uniform(20, 60, len(table))
    track = link_reference(table, radius_nm=50.0, max_dark=1)
    out = _merged_in_parts(table, track, [30, 31, 77], weights)
    expected = merged_reference(table, track, weights=weights)
    assert list(out.columns[:4]) == ["frame", "x_nm", "y_nm", "z_nm"]
    pd.testing.assert_frame_equal(out[expected.columns], expected, check_dtype=False,
                                  rtol=1e-9)
    assert out["roi"].dtype == np.int64 and np.bincount(track).max() > 3


def test_weight_columns():
    assert axis_weights(["x_nm", "y_nm", "z_nm", "uncertainty_x_nm", "uncertainty_y_nm"],
                        "auto") == {"x_nm": "uncertainty_x_nm", "y_nm": "uncertainty_y_nm",
                                    "z_nm": "uncertainty_x_nm"}
    assert axis_weights(["x_nm", "y_nm"], "auto") == {"x_nm": None, "y_nm": None}
    assert axis_weights(["x_nm", "y_nm", "photons"], "photons") == {"x_nm": "photons",
                                                                     "y_nm": "photons"}


def test_doctests():
    import doctest

    from smlmscale.postprocess import merge

    assert doctest.testmod(merge).failed == 0
