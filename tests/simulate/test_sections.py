"""Section-stack simulator: truth geometry, ROI tiles, rendering, saturation, stores."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pandas as pd
import pytest
from scipy.special import erf

from smlmscale.errors import InputError
from smlmscale.ingest import partial_path
from smlmscale.io.describe import describe_store
from smlmscale.io.ome_zarr import open_image_store
from smlmscale.io.tables import read_table
from smlmscale.simulate.sections import SectionSettings, section_stack, simulate_sections
from smlmscale.simulate.sections_render import render_localizations, tile_origins

SMALL = SectionSettings(n_sections=6, size_px=128, n_clusters=10, seed=3)


@pytest.fixture(scope="module")
def stack():
    return section_stack(SMALL)


@pytest.fixture(scope="module")
def unsaturated():
    return section_stack(dataclasses.replace(SMALL, saturation_per_um2=None))


def _pixels(truth: pd.DataFrame, p: float) -> tuple[np.ndarray, np.ndarray]:
    return (np.floor(truth["x_nm"].to_numpy() / p).astype(int),
            np.floor(truth["y_nm"].to_numpy() / p).astype(int))


def test_localizations_lie_in_the_volume_and_their_sections(stack):
    images, truth, rois, clusters = stack
    s = SMALL
    assert images.shape == (6, 128, 128) and images.dtype == np.float32
    for name in ("frame", "section", "cluster"):
        assert truth[name].dtype == np.int64
    assert truth["x_nm"].between(0, s.image_width_nm, inclusive="left").all()
    assert truth["y_nm"].between(0, s.image_width_nm, inclusive="left").all()
    assert truth["z_nm"].between(0, s.depth_nm, inclusive="left").all()
    np.testing.assert_array_equal(truth["section"],
                                  np.floor(truth["z_nm"] / s.section_thickness_nm))
    np.testing.assert_array_equal(truth["frame"], truth["section"])
    assert truth["section"].is_monotonic_increasing
    assert set(truth["cluster"]) <= set(range(-1, s.n_clusters))
    assert (truth["cluster"] == -1).any() and (truth["cluster"] >= 0).mean() > 0.5
    assert truth["uncertainty_nm"].between(*s.precision_nm).all()


def test_cluster_table_describes_its_localizations(stack):
    _, truth, _, clusters = stack
    assert list(clusters["cluster"]) == list(range(SMALL.n_clusters))
    for row in clusters.itertuples():
        own = truth[truth["cluster"] == row.cluster]
        assert row.n_localizations == len(own) > 0
        assert np.allclose([row.x_nm, row.y_nm, row.z_nm],
                           own[["x_nm", "y_nm", "z_nm"]].mean().to_numpy())
        assert (row.first_section, row.last_section) == (own["section"].min(),
                                                         own["section"].max())
        radii = [row.radius_a_nm, row.radius_b_nm, row.radius_z_nm]
        assert all(100 <= r <= 400 for r in radii)
        # every localization lies in its ellipsoid, grown by the 4-sigma lateral jitter
        dx, dy = own["x_nm"] - row.centre_x_nm, own["y_nm"] - row.centre_y_nm
        a = np.cos(row.angle_rad) * dx + np.sin(row.angle_rad) * dy
        b = -np.sin(row.angle_rad) * dx + np.cos(row.angle_rad) * dy
        grow = 4 * SMALL.precision_nm[1]
        assert (np.abs(own["z_nm"] - row.centre_z_nm) <= row.radius_z_nm + 1e-6).all()
        assert ((a / (row.radius_a_nm + grow)) ** 2 + (b / (row.radius_b_nm + grow)) ** 2
                <= 1).all()
    centres = clusters[["centre_x_nm", "centre_y_nm", "centre_z_nm"]].to_numpy()
    distance = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    reach = clusters[["radius_a_nm", "radius_b_nm", "radius_z_nm"]].max(axis=1).to_numpy()
    np.fill_diagonal(distance, np.inf)
    assert (distance > reach[:, None] + reach[None]).all()  # synapses do not overlap


def test_rois_hold_their_clusters_localizations(stack):
    _, truth, rois, _ = stack
    s, p = SMALL, SMALL.pixel_size_nm
    assert rois["roi"].is_unique and (rois["size"] == s.tile_size_px).all()
    assert ((rois["x"] >= 0) & (rois["y"] >= 0) & (rois["x"] + rois["size"] <= s.size_px)
            & (rois["y"] + rois["size"] <= s.size_px)).all()
    own = truth[truth["cluster"] >= 0]
    pairs = own.groupby(["cluster", "section"]).size()
    assert len(rois) == len(pairs)
    for roi in rois.itertuples():
        members = own[(own["cluster"] == roi.cluster) & (own["section"] == roi.section)]
        assert len(members) == roi.n_localizations == pairs[(roi.cluster, roi.section)]
        col, row = _pixels(members, p)
        assert ((col >= roi.x) & (col < roi.x + roi.size)).all()
        assert ((row >= roi.y) & (row < roi.y + roi.size)).all()
    # several sections per cluster: the tiles form sequences across consecutive sections
    runs = rois.groupby("cluster")["section"].agg(["min", "max", "size"])
    assert (runs["size"] == runs["max"] - runs["min"] + 1).all() and runs["size"].max() > 1


def test_rendered_mass_sits_on_the_localizations(unsaturated):
    images, truth, rois, _ = unsaturated
    p = SMALL.pixel_size_nm
    for k, image in enumerate(images):
        assert image.sum() == pytest.approx((truth["section"] == k).sum(), abs=1.0)  # edge loss
    for roi in rois.itertuples():
        here = truth[truth["section"] == roi.section]
        col, row = _pixels(here, p)
        inside = ((col >= roi.x) & (col < roi.x + roi.size)
                  & (row >= roi.y) & (row < roi.y + roi.size))
        tile = images[roi.section, roi.y:roi.y + roi.size, roi.x:roi.x + roi.size]
        rows, cols = np.indices(tile.shape)
        centre = [(tile * (cols + roi.x + 0.5)).sum() / tile.sum(),
                  (tile * (rows + roi.y + 0.5)).sum() / tile.sum()]
        expected = here.loc[inside, ["x_nm", "y_nm"]].mean().to_numpy() / p
        assert np.abs(np.array(centre) - expected).max() < 1.0
        assert tile.sum() == pytest.approx(inside.sum(), abs=1.0)


def test_saturation_clips_cluster_pixels_only(stack, unsaturated):
    images, truth, rois, _ = stack
    raw, raw_truth, _, _ = unsaturated
    level = np.float32(SMALL.saturation_level)
    assert SMALL.saturation_level == pytest.approx(120 * 0.155 ** 2)
    pd.testing.assert_frame_equal(truth, raw_truth)
    np.testing.assert_array_equal(images, np.minimum(raw, level))
    assert images.max() == level
    in_tile = np.zeros(images.shape, dtype=bool)
    for roi in rois.itertuples():
        in_tile[roi.section, roi.y:roi.y + roi.size, roi.x:roi.x + roi.size] = True
    saturated = images == level
    cluster_px = np.zeros(images.shape, dtype=bool)
    own = truth[truth["cluster"] >= 0]
    col, row = _pixels(own, SMALL.pixel_size_nm)
    cluster_px[own["section"], row, col] = True
    assert saturated[cluster_px].mean() > 0.2
    assert not saturated[~in_tile].any()
    background = truth[truth["cluster"] < 0]
    col, row = _pixels(background, SMALL.pixel_size_nm)
    assert images[~in_tile].max() <= 2 and (images[background["section"], row, col] > 0).all()
    empty = np.ones(images.shape, dtype=bool)
    col, row = _pixels(truth, SMALL.pixel_size_nm)
    for dy in (-1, 0, 1):  # pixels with no localization in or next to them are exactly 0
        for dx in (-1, 0, 1):
            empty[truth["section"], np.clip(row + dy, 0, 127), np.clip(col + dx, 0, 127)] = False
    assert empty.mean() > 0.9 and not images[empty].any()


def test_render_kernel_conserves_mass_and_position():
    image = render_localizations([1055.0], [1050.0], [200.0], shape=(21, 21),
                                 pixel_size_nm=100.0)
    assert image.sum() == pytest.approx(1.0, abs=1e-6)
    rows, cols = np.indices(image.shape)
    assert (image * (cols + 0.5)).sum() == pytest.approx(10.55, abs=1e-3)
    assert (image * (rows + 0.5)).sum() == pytest.approx(10.5, abs=1e-3)
    np.testing.assert_allclose(image[:, 10], image[::-1, 10], atol=1e-7)  # symmetric in y
    assert image[10, 10] == image.max()
    edge = render_localizations([1.0], [1.0], [100.0], shape=(4, 4), pixel_size_nm=100.0)
    assert 0.2 < edge.sum() < 0.4  # a quarter-ish of the spot falls off the corner
    empty = render_localizations([], [], [], shape=(3, 2), pixel_size_nm=10.0)
    assert empty.shape == (3, 2) and not empty.any()
    np.testing.assert_array_equal(tile_origins(np.array([0, 60]), np.array([3, 63]),
                                               size_px=8, extent_px=64), [0, 56])
    with pytest.raises(ValueError):
        tile_origins(np.array([0]), np.array([8]), size_px=8, extent_px=64)


def test_same_seed_same_stack_other_seed_other_stack(stack):
    again = section_stack(SMALL)
    for first, second in zip(stack, again):
        if isinstance(first, np.ndarray):
            np.testing.assert_array_equal(first, second)
        else:
            pd.testing.assert_frame_equal(first, second)
    other = section_stack(dataclasses.replace(SMALL, seed=4))
    assert not np.array_equal(other[0], stack[0])
    assert not other[1][["x_nm", "y_nm"]].equals(stack[1][["x_nm", "y_nm"]])


def _read_outputs(summary: dict):
    store = open_image_store(summary["path"])
    truth, meta = read_table(summary["truth_path"])
    return (store, store.array[:], truth, meta, pd.read_csv(summary["rois_path"]),
            pd.read_parquet(summary["clusters_path"]))


def test_simulate_sections_on_a_cluster_equals_in_process(client, tmp_path, stack):
    local = simulate_sections(tmp_path / "local.zarr", settings=SMALL, command="test")
    remote = simulate_sections(tmp_path / "remote.zarr", settings=SMALL, client=client)
    assert local["truth_path"] == str(tmp_path / "local_truth.parquet")
    assert local["rois_path"] == str(tmp_path / "local_rois.csv")
    assert local["clusters_path"] == str(tmp_path / "local_clusters.parquet")
    first, second = _read_outputs(local), _read_outputs(remote)
    np.testing.assert_array_equal(first[1], second[1])
    np.testing.assert_array_equal(first[1], stack[0])
    for a, b, kernel in zip(first[2:], second[2:], (stack[1], None, stack[2], stack[3])):
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b)
            if kernel is not None:
                pd.testing.assert_frame_equal(a, kernel, check_dtype=False)
    assert local["n_sections"] == 6 and local["n_localizations"] == len(stack[1])
    assert local["n_rois"] == len(stack[2]) and 0 < local["saturated_fraction"] < 1
    store, _, _, meta = first[:4]
    assert store.axes == "zyx" and store.pixel_size_nm == SMALL.pixel_size_nm
    assert meta.pixel_size_nm == SMALL.pixel_size_nm and meta.n_frames == 6
    assert meta.image_shape == (128, 128)
    info = describe_store(local["path"])
    assert info["axes"] == "zyx" and info["chunks"] == [1, 128, 128]
    own = info["provenance"]
    assert own["kind"] == "sections" and own["section_thickness_nm"] == 70.0
    assert own["settings"]["seed"] == 3 and own["command"] == "test"
    assert own["saturation_level"] == pytest.approx(SMALL.saturation_level)
    assert sorted(os.listdir(tmp_path)) == sorted(
        f"{stem}{suffix}" for stem in ("local", "remote")
        for suffix in (".zarr", "_truth.parquet", "_rois.csv", "_clusters.parquet"))


def test_zarr_format_2_and_explicit_table_paths(tmp_path):
    settings = dataclasses.replace(SMALL, n_sections=2, n_clusters=3)
    summary = simulate_sections(tmp_path / "s.zarr", settings=settings, zarr_format=2,
                                truth_path=tmp_path / "t.parquet", rois_path=tmp_path / "r.csv",
                                clusters_path=tmp_path / "c.parquet")
    store = open_image_store(summary["path"])
    assert store.ngff_version == "0.4" and store.array.shape == (2, 128, 128)
    assert {"t.parquet", "r.csv", "c.parquet", "s.zarr"} == set(os.listdir(tmp_path))


def test_existing_outputs_are_refused_and_nothing_is_half_written(tmp_path, monkeypatch):
    settings = dataclasses.replace(SMALL, n_sections=2, n_clusters=3)
    out = tmp_path / "s.zarr"
    summary = simulate_sections(out, settings=settings)
    before = {name: os.path.getmtime(tmp_path / name) for name in os.listdir(tmp_path)}
    with pytest.raises(InputError, match="output exists"):
        simulate_sections(out, settings=settings)
    (tmp_path / "other_truth.parquet").write_bytes(b"keep")
    with pytest.raises(InputError, match="other_truth.parquet: output exists"):
        simulate_sections(tmp_path / "other.zarr", settings=settings)
    assert not (tmp_path / "other.zarr").exists()
    assert (tmp_path / "other_truth.parquet").read_bytes() == b"keep"

    import smlmscale.io.tables as tables

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tables, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        simulate_sections(out, settings=dataclasses.replace(settings, seed=9), overwrite=True)
    monkeypatch.undo()
    after = {name: os.path.getmtime(tmp_path / name) for name in os.listdir(tmp_path)}
    assert after == {**before, "other_truth.parquet": after["other_truth.parquet"]}
    assert not os.path.exists(partial_path(out))
    replaced = simulate_sections(out, settings=dataclasses.replace(settings, seed=9),
                                 overwrite=True)
    assert replaced["n_localizations"] != summary["n_localizations"]
    assert read_table(replaced["truth_path"])[0].shape[0] == replaced["n_localizations"]
    os.makedirs(partial_path(tmp_path / "x.zarr"))
    with pytest.raises(InputError, match="interrupted"):
        simulate_sections(tmp_path / "x.zarr", settings=settings)
    with pytest.raises(InputError, match="folder does not exist"):
        simulate_sections(tmp_path / "missing" / "y.zarr", settings=settings)


@pytest.mark.parametrize("changes", [
    {"n_sections": 0}, {"n_sections": 2.5}, {"n_sections": True}, {"n_clusters": -1},
    {"size_px": 4}, {"seed": -1}, {"section_thickness_nm": 0},
    {"section_thickness_nm": float("nan")}, {"pixel_size_nm": -155.0},
    {"pixel_size_nm": "big"}, {"cluster_diameter_nm": (800.0, 200.0)},
    {"cluster_diameter_nm": 300.0}, {"locs_per_cluster": (0, 10)},
    {"precision_nm": (0.0, 10.0)}, {"background_per_um2": -0.1},
    {"saturation_per_um2": 0.0}, {"saturation_per_um2": float("inf")},
    {"roi_size_px": 4}, {"size_px": 16}, {"n_clusters": 0, "background_per_um2": 0.0},
])
def test_bad_settings_are_input_errors(changes):
    with pytest.raises(InputError):
        SectionSettings(**{**dataclasses.asdict(SMALL), **changes})


def test_tile_size_follows_the_pixel_size():
    assert SectionSettings().tile_size_px == 32
    fine = SectionSettings(pixel_size_nm=15.5, size_px=256)
    assert fine.tile_size_px == 64
    lone_peak = erf(15.5 / (2 * np.sqrt(2) * 10.0)) ** 2  # the floor: twice one lone peak
    assert fine.saturation_level == pytest.approx(2 * lone_peak)
    assert SectionSettings(roi_size_px=48).tile_size_px == 48


def test_too_many_clusters_for_the_volume():
    with pytest.raises(InputError, match="non-overlapping"):
        section_stack(dataclasses.replace(SMALL, n_clusters=2000))


@pytest.mark.parametrize("pixel_size_nm, size_px", [(155.0, 128), (15.5, 1024)])
def test_lone_localizations_never_saturate(pixel_size_nm, size_px):
    settings = SectionSettings(n_sections=2, size_px=size_px, n_clusters=4,
                               pixel_size_nm=pixel_size_nm, seed=5, background_per_um2=0.5)
    images, truth, _, _ = section_stack(settings)
    lone = truth[truth["cluster"] == -1]
    rows = (lone["y_nm"] // pixel_size_nm).astype(int).to_numpy()
    cols = (lone["x_nm"] // pixel_size_nm).astype(int).to_numpy()
    values = images[lone["section"].to_numpy(), rows, cols]
    assert len(lone) > 5 and (values < settings.saturation_level).mean() > 0.9


def test_prepare_sections_refuses_bad_outputs_and_writes_nothing(tmp_path):
    from smlmscale.simulate.sections import prepare_sections, run_sections

    (tmp_path / "s_rois.csv").write_text("keep")
    with pytest.raises(InputError, match="s_rois.csv: output exists"):
        prepare_sections(tmp_path / "s.zarr", settings=SMALL)
    with pytest.raises(InputError, match="settings must be SectionSettings"):
        prepare_sections(tmp_path / "t.zarr", settings={"n_sections": 2})
    assert os.listdir(tmp_path) == ["s_rois.csv"]
    settings = dataclasses.replace(SMALL, n_sections=2, n_clusters=3)
    plan = prepare_sections(tmp_path / "s.zarr", settings=settings, overwrite=True)
    assert plan.tables["truth"] == tmp_path / "s_truth.parquet"
    calls = []
    summary = run_sections(plan, progress=lambda *args: calls.append(args))
    assert calls[-1][:2] == (2, 2) and (tmp_path / "s_rois.csv").read_text() != "keep"
    assert summary["n_sections"] == 2


def test_section_settings_round_trip_and_name_their_keys():
    assert SectionSettings.from_mapping(SMALL.to_mapping()) == SMALL
    hash(SMALL)
    with pytest.raises(InputError, match="n_sections must be at least 1, got 0"):
        SectionSettings(n_sections=0)
    with pytest.raises(InputError, match=r"p.yaml: unknown parameter\(s\) n_section"):
        SectionSettings.from_mapping({"n_section": 3}, source="p.yaml")
    with pytest.raises(InputError, match="cluster_diameter_nm is empty"):
        SectionSettings(cluster_diameter_nm=(800.0, 200.0))


def test_settings_import_no_simulator_module():
    import subprocess
    import sys

    code = ("import sys, smlmscale.simulate.settings as s; "
            "assert s.SectionSettings().tile_size_px == 32; "
            "print(sorted(m for m in sys.modules if m.startswith('smlmscale.simulate.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "smlmscale.simulate.sections" not in out and "smlmscale.simulate.run" not in out
