"""FRC orchestration: the splits, the partitioned halves against an eager render, the
resolution of simulated tables of known precision, bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from smlmscale.errors import InputError
from smlmscale.io.tables import read_table_lazy
from smlmscale.render.draw import Drawing
from smlmscale.render.graph import drawn
from smlmscale.resolution.frc import crossing, frc_curve
from smlmscale.resolution.run import (ResolutionSettings, field_of, prepare_resolution,
                                      run_resolution)
from smlmscale.resolution.split import Halves, frame_half, random_half
from tests.drift.data import write_in_groups
from tests.helpers import raise_if_dask_computes
from tests.resolution.data import line_table


def test_random_split_is_balanced_seeded_and_independent_of_order():
    table = line_table(sigma_nm=5.0)
    x, y, f = (table[c].to_numpy() for c in ("x_nm", "y_nm", "frame"))
    half = random_half(x, y, f, seed=1)
    assert set(np.unique(half)) == {0, 1} and abs(half.mean() - 0.5) < 0.02
    order = np.random.default_rng(0).permutation(x.size)
    np.testing.assert_array_equal(random_half(x[order], y[order], f[order], seed=1), half[order])
    other = random_half(x, y, f, seed=2)
    assert 0.45 < (other == half).mean() < 0.55
    # localizations a hair apart are split independently
    nearby = random_half(np.nextafter(x, np.inf), y, f, seed=1)
    assert 0.45 < (nearby == half).mean() < 0.55
    np.testing.assert_array_equal(frame_half(np.arange(8), block_frames=3),
                                  [0, 0, 0, 1, 1, 1, 0, 0])


def _eager_halves(table: pd.DataFrame, halves: Halves) -> np.ndarray:
    if halves.split == "frames":
        half = frame_half(table.frame.to_numpy(), block_frames=halves.block_frames)
    else:
        half = random_half(table.x_nm.to_numpy(), table.y_nm.to_numpy(),
                           table.frame.to_numpy(), seed=halves.seed)
    field = halves.field
    edges = [field.origin_nm[1 - a] + field.pixel_nm * np.arange(field.shape[a] + 1)
             for a in range(2)]
    return np.stack([np.histogram2d(table.y_nm[half == h], table.x_nm[half == h],
                                    bins=edges)[0] for h in (0, 1)])


@pytest.mark.parametrize("split", ["random", "frames"])
def test_partitioned_halves_equal_an_eager_render(client, tmp_path, split):
    table = line_table(sigma_nm=8.0, emitters=1500)
    path = write_in_groups(table, tmp_path / "l.parquet")
    lazy, _ = read_table_lazy(path, blocksize=1)
    assert lazy.npartitions == 4
    settings = ResolutionSettings(pixel_size_nm=7.0, split=split, block_frames=50, seed=3)
    stats = [{"rows": len(table), "not_finite": 0,
              "low": table[["x_nm", "y_nm"]].min().to_numpy(),
              "high": table[["x_nm", "y_nm"]].max().to_numpy()}]
    halves = field_of(stats, settings, path="l.parquet")
    with raise_if_dask_computes():
        graph = drawn(lazy, halves)
    stack, rows, bad = client.compute(graph, sync=True)
    assert rows == len(table) and bad == 0 and stack.shape == (2, *halves.field.shape)
    want = _eager_halves(table, halves)
    np.testing.assert_array_equal(stack, want)
    assert stack.sum() == len(table)


def _resolution(client, tmp_path, table, name, **settings):
    path = write_in_groups(table, tmp_path / f"{name}.parquet")
    plan = prepare_resolution(path, settings=ResolutionSettings(**settings),
                              curve_out=tmp_path / f"{name}.csv")
    return run_resolution(plan, client=client)


def test_resolution_follows_the_localization_precision(client, tmp_path):
    got = {}
    for sigma in (4.0, 12.0):
        table = line_table(sigma_nm=sigma, seed=5)
        got[sigma] = _resolution(client, tmp_path, table, f"s{sigma:g}", pixel_size_nm=4.0)
    assert got[4.0].resolution_nm < got[12.0].resolution_nm
    for sigma, result in got.items():
        assert 1.5 * sigma < result.resolution_nm < 6 * sigma, (sigma, result.resolution_nm)
        assert sum(result.halves) == 8000 and min(result.halves) > 3800
    # the whole curve equals the kernel on the eager halves
    table = line_table(sigma_nm=12.0, seed=5)
    halves = Halves(field=Drawing(shape=got[12.0].shape, pixel_nm=4.0,
                                  origin_nm=tuple(table[["x_nm", "y_nm"]].min())))
    freq, frc = frc_curve(*_eager_halves(table, halves), pixel_nm=4.0)
    curve = pd.read_csv(tmp_path / "s12.csv")
    np.testing.assert_allclose(curve.frequency_per_nm, freq)
    np.testing.assert_allclose(curve.frc, frc, atol=1e-12)
    np.testing.assert_allclose(curve.resolution_nm, 1 / freq)
    assert got[12.0].resolution_nm == pytest.approx(1 / crossing(freq, frc))


def test_blinking_inflates_a_random_split_not_a_frame_split(client, tmp_path):
    # each emitter localized in 10 consecutive frames: a random split puts the repeats in
    # both halves (the same molecules twice, a finer FRC); blocks of 100 frames keep them
    table = line_table(sigma_nm=10.0, emitters=800, repeats=10, seed=7)
    random = _resolution(client, tmp_path, table, "r", pixel_size_nm=5.0)
    frames = _resolution(client, tmp_path, table, "f", pixel_size_nm=5.0, split="frames",
                         block_frames=100)
    assert random.resolution_nm < frames.resolution_nm


def test_bad_tables(client, tmp_path):
    table = line_table(sigma_nm=5.0, emitters=200)
    nan = table.copy()
    nan.loc[7, "x_nm"] = np.nan
    nan.to_csv(tmp_path / "nan.csv", index=False)  # the writer refuses NaN, the reader too
    with pytest.raises(InputError, match="1 .* NaN or infinite x"):
        run_resolution(prepare_resolution(tmp_path / "nan.csv"), client=client)
    with pytest.raises(InputError, match="at least 100 localizations, the table has 60"):
        _resolution(client, tmp_path, table.iloc[:60], "few")
    with pytest.raises(InputError, match="halves hold .* and 0 localizations"):
        _resolution(client, tmp_path, table, "blocks", split="frames", block_frames=10**6)
    with pytest.raises(InputError, match="too large for the FRC"):
        _resolution(client, tmp_path, table, "big", pixel_size_nm=0.1)
    with pytest.raises(InputError, match=".png"):
        prepare_resolution(tmp_path / "nan.csv", plot=tmp_path / "frc.jpg")
    assert not any(p.suffix in (".png", ".jpg") for p in tmp_path.iterdir())
    assert not (tmp_path / "few.csv").exists() and not (tmp_path / "blocks.csv").exists()
    with pytest.raises(InputError, match="--split"):
        ResolutionSettings(split="emitter")
