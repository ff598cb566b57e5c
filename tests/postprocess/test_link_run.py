"""``link`` end to end on the test cluster: partitions that cut through tracks, merged rows
and labels against the in-memory references, laziness, bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from smlmscale.errors import InputError
from smlmscale.io.tables import read_table
from smlmscale.postprocess.link import LinkSettings, prepare_link, run_link
from tests.drift.data import write_in_groups
from tests.helpers import raise_if_dask_computes
from tests.postprocess.reference import blinking_table, link_reference, merged_reference

CUTS = (0, 37, 38, 101, 250, 10**9)


@pytest.fixture(scope="module")
def table():
    return blinking_table(seed=11, frames=300, emitters=400)


@pytest.fixture(scope="module")
def locs(table, tmp_path_factory):
    return write_in_groups(table, tmp_path_factory.mktemp("link") / "locs.parquet", cuts=CUTS)


def _link(locs, out, client, *, keep_all=False, head_frames=None, format=None, **settings):
    plan = prepare_link(locs, out, settings=LinkSettings(**settings), keep_all=keep_all,
                        blocksize=1, format=format)
    assert plan.table.npartitions == len(CUTS) - 1
    return run_link(plan, client=client, head_frames=head_frames)


@pytest.mark.parametrize("head_frames", [None, 1])
def test_track_ids_equal_one_sequential_run(table, locs, tmp_path, client, head_frames):
    result = _link(locs, tmp_path / "all.parquet", client, keep_all=True,
                   head_frames=head_frames, radius_nm=50.0, max_dark=2)
    ref = link_reference(table, radius_nm=50.0, max_dark=2)
    out, _ = read_table(tmp_path / "all.parquet")
    np.testing.assert_array_equal(out["track_id"].to_numpy(), ref)
    pd.testing.assert_frame_equal(out.drop(columns="track_id"), table, check_like=True)
    assert (result.tracks, result.localizations, result.rows) == (ref.max() + 1, len(table),
                                                                  len(table))
    assert result.blocks == len(CUTS) - 1 and (result.relinked > 0) == (head_frames == 1)


def test_merged_rows_equal_the_reference(table, locs, tmp_path, client):
    result = _link(locs, tmp_path / "merged.csv", client, radius_nm=40.0, max_dark=1,
                   format="csv")
    ref = link_reference(table, radius_nm=40.0, max_dark=1)
    expected = merged_reference(table, ref)
    out, _ = read_table(tmp_path / "merged.csv", format="csv")
    assert result.rows == len(expected) == ref.max() + 1 < len(table) * 0.8
    assert out["frame"].is_monotonic_increasing
    pd.testing.assert_frame_equal(out[expected.columns], expected, check_dtype=False,
                                  rtol=1e-9)
    # tracks crossing the partitions' seams were merged whole
    frame = table["frame"].to_numpy()
    assert len(np.intersect1d(ref[frame < 101], ref[frame >= 101])) > 0


def test_single_uncertainty_and_equal_weights(tmp_path, client):
    table = blinking_table(seed=2, frames=150, uncertainty="single")
    locs = write_in_groups(table, tmp_path / "l.parquet", cuts=(0, 70, 10**9))
    for weights in ("auto", "equal"):
        plan = prepare_link(locs, tmp_path / f"{weights}.parquet", blocksize=1,
                            settings=LinkSettings(radius_nm=50.0, weights=weights))
        run_link(plan, client=client)
        out, _ = read_table(tmp_path / f"{weights}.parquet")
        ref = link_reference(table, radius_nm=50.0, max_dark=1)
        expected = merged_reference(table, ref, weights=weights)
        pd.testing.assert_frame_equal(out[expected.columns], expected, check_dtype=False)
    equal, _ = read_table(tmp_path / "equal.parquet")
    n = equal["n_frames"].to_numpy()
    # the standard error of a plain mean: sqrt(sum u^2) / n
    grouped = table.assign(t=ref).groupby("t")["uncertainty_nm"]
    np.testing.assert_allclose(equal["uncertainty_nm"],
                               np.sqrt(grouped.apply(lambda u: (u ** 2).sum())) / n)


def test_graph_builders_stay_lazy(locs):
    from smlmscale.postprocess.link_graph import block_links, linked_table
    from smlmscale.postprocess.link_seams import SeamFix

    plan = prepare_link(locs, "unused.parquet", blocksize=1)
    with raise_if_dask_computes():
        pairs = block_links(plan.table, radius_nm=50.0, max_dark=1, head_frames=4)
        fixes = [SeamFix.identity(0)] * len(pairs)
        linked_table(plan.table, [t for t, _ in pairs], fixes, 10, weights="auto",
                     keep_all=False)
        linked_table(plan.table, [t for t, _ in pairs], fixes, 10, weights="auto",
                     keep_all=True)


def test_bad_inputs(tmp_path, client):
    table = blinking_table(seed=1, frames=50, emitters=20, noise=10)
    nan = table.copy()
    nan.loc[4, "x_nm"] = np.nan
    nan.to_csv(tmp_path / "nan.csv", index=False)
    plan = prepare_link(tmp_path / "nan.csv", tmp_path / "o.parquet")
    with pytest.raises(InputError, match="NaN"):
        run_link(plan, client=client)
    bad = table.assign(uncertainty_x_nm=0.0)
    bad.to_csv(tmp_path / "zero.csv", index=False)
    plan = prepare_link(tmp_path / "zero.csv", tmp_path / "o.parquet")
    with pytest.raises(InputError, match="not positive"):
        run_link(plan, client=client)
    table[["frame", "x_nm"]].to_csv(tmp_path / "noy.csv", index=False)
    with pytest.raises(InputError, match="y_nm"):
        prepare_link(tmp_path / "noy.csv", tmp_path / "o.parquet")
    table.drop(columns="photons").to_csv(tmp_path / "nophot.csv", index=False)
    with pytest.raises(InputError, match="photons"):
        prepare_link(tmp_path / "nophot.csv", tmp_path / "o.parquet",
                     settings=LinkSettings(weights="photons"))
    with pytest.raises(InputError, match="--radius"):
        LinkSettings(radius_nm=-1.0)
    assert not (tmp_path / "o.parquet").exists()


def test_unsorted_text_table_in_many_blocks(tmp_path, client):
    table = blinking_table(seed=12, frames=120, emitters=150)
    shuffled = table.sample(frac=1.0, random_state=0)
    shuffled.to_csv(tmp_path / "shuffled.csv", index=False)
    plan = prepare_link(tmp_path / "shuffled.csv", tmp_path / "o.parquet", keep_all=True,
                        blocksize=20_000)
    assert plan.table.npartitions > 2
    run_link(plan, client=client)
    out, _ = read_table(tmp_path / "o.parquet")
    ordered = shuffled.sort_values("frame", kind="stable", ignore_index=True)
    np.testing.assert_array_equal(out["track_id"],
                                  link_reference(ordered, radius_nm=50.0, max_dark=1))
    np.testing.assert_allclose(out["x_nm"], ordered["x_nm"])
