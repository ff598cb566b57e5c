"""frames patch sets through make_patches: simulations, determinism, and bad input refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from smlmscale.errors import InputError
from smlmscale.io.tables import TableMeta, write_table
from smlmscale.patches import generator, make_patches, open_patchset, prepare_patches
from smlmscale.patches.stacks import FramesSettings
from tests.helpers import raise_if_dask_computes
from tests.patches import PIXEL_NM, make_data

pytestmark = pytest.mark.timeout(180)


def _simulate(folder, **psf):
    from smlmscale.simulate import EmitterSettings, MovieSettings, simulate_movie
    from smlmscale.simulate.instrument import (BackgroundSettings, CameraSettings,
                                               PsfSettings)

    settings = MovieSettings(
        frames=9, size_px=(40, 48), chunk_frames=2, seed=3,
        emitters=EmitterSettings(density_per_um2=1.5), psf=PsfSettings(**psf),
        background=BackgroundSettings(photons_per_px=15.0, nonuniform_photons=30.0),
        camera=CameraSettings(baseline_adu=90.0, e_per_adu=2.0, qe=0.8, em_gain=1.0))
    simulate_movie(folder / "sim.zarr", settings=settings)
    return folder / "sim.zarr", folder / "sim_truth.parquet", settings


def test_the_record():
    record = generator("frames")
    assert record.settings is FramesSettings and record.planned and not record.rois
    assert record.table_columns(FramesSettings()) == (["x_nm", "y_nm", "photons", "z_nm"],
                                                      ["x_nm", "y_nm", "photons"])


def test_a_simulation_gives_its_background_baseline_and_photon_calibration(tmp_path, client):
    from smlmscale.simulate.frames import movie_model

    store, truth, sim = _simulate(tmp_path)
    settings = FramesSettings(patch_size_px=16, per_frame=3, seed=2)
    result = make_patches(store, tmp_path / "a.zarr", locs=truth, kind="frames",
                          settings=settings, client=client, chunk_patches=4)
    ps = open_patchset(result.path)
    assert result.n_patches == len(ps) > 4 and ps.inputs.shape[1:] == (16, 16, 3)
    assert ps.targets.shape[1:] == (16, 16, 5) and ps.inputs.chunks[0] == 4
    attrs = ps.attrs
    norm = attrs["normalization"]
    assert norm["mode"] == "affine" and norm["offset_adu"] == 90.0
    assert norm["photons_per_adu"] == pytest.approx(2.0 / 0.8) and norm["scale_adu"] > 0
    assert attrs["background_units"] == "photons/px" and attrs["generator"] == "frames"
    assert attrs["context"] == 3 and attrs["is_3d"] is False and attrs["z_range_nm"] is None
    assert attrs["upsampling"] == 1 and attrs["params"]["seed"] == 2
    assert 1 <= attrs["max_emitters"] <= settings.max_emitters
    occupancy = ps.targets[:][..., 0].sum(axis=(1, 2))
    assert attrs["max_emitters"] == occupancy.max() and occupancy.min() >= 1
    background = movie_model(sim).background
    assert background.std() > 1  # non-uniform: the cut must be at the patch's corner
    found = [any(np.array_equal(tg[..., -1], background[r:r + 16, c:c + 16]
                                .astype(np.float32))
                 for r in range(40 - 15) for c in range(48 - 15)) for tg in ps.targets[:3]]
    assert all(found)
    again = make_patches(store, tmp_path / "b.zarr", locs=truth, kind="frames",
                         settings=settings, chunk_patches=7)
    other = open_patchset(again.path)
    for name in ("inputs", "targets", "validation"):
        np.testing.assert_array_equal(getattr(ps, name)[:], getattr(other, name)[:])


def test_a_3d_simulation_records_its_z_range(tmp_path):
    store, truth, sim = _simulate(tmp_path, model="astigmatic", astig_b=0.1)
    result = make_patches(store, tmp_path / "z.zarr", locs=truth, kind="frames",
                          settings=FramesSettings(patch_size_px=16, context=1))
    ps = open_patchset(result.path)
    assert ps.attrs["is_3d"] is True and ps.attrs["z_range_nm"] == [-600.0, 600.0]
    assert ps.targets.shape[1:] == (16, 16, 6) and ps.inputs.shape[1:] == (16, 16, 1)
    z, occupied = ps.targets[:][..., 4], ps.targets[:][..., 0] > 0
    assert np.abs(z[occupied]).max() <= 600 and not z[~occupied].any()


def _no_photons(folder):
    table = pd.DataFrame({"frame": [0, 1], "x_nm": [500.0, 900.0], "y_nm": [800.0, 300.0]})
    path = folder / "nophotons.parquet"
    write_table(table, path, meta=TableMeta(pixel_size_nm=PIXEL_NM))
    return path


@pytest.mark.parametrize("changes, fragment", [
    ({"settings": {"context": 2}}, "--context must be one of 1, 3, got 2"),
    ({"settings": {"patch_size_px": 41}}, "larger than the 40x40 frame"),
    ({"settings": {"scale_adu": -1.0}}, "--scale-adu must be greater than 0"),
    ({"locs": "nophotons"}, "no photons column"),
    ({"kind": "deepstorm", "settings": {"context": 3}},
     "--context does not apply to --kind deepstorm"),
    ({"kind": "summed", "settings": {"max_emitters": 3}},
     "--max-emitters does not apply to --kind summed"),
    ({"settings": {"upsampling": 4}}, "--upsampling does not apply to --kind frames"),
])
def test_prepare_refuses_bad_input_cheaply(tmp_path, changes, fragment):
    store, locs, _, _ = make_data(tmp_path, frames=3)
    args = {"locs": locs, "kind": "frames", **changes}
    if args["locs"] == "nophotons":
        args["locs"] = _no_photons(tmp_path)
    with raise_if_dask_computes(), pytest.raises(InputError) as info:
        prepare_patches(store, tmp_path / "out.zarr", **args)
    assert fragment in str(info.value)
    assert not (tmp_path / "out.zarr").exists()


def test_a_context_longer_than_the_movie_is_refused(tmp_path):
    store, locs, _, _ = make_data(tmp_path, frames=2)
    with pytest.raises(InputError, match="--context 3 needs at least 3 frames, the movie has 2"):
        prepare_patches(store, tmp_path / "out.zarr", locs=locs, kind="frames")
    plan = prepare_patches(store, tmp_path / "out.zarr", locs=locs, kind="frames",
                           settings={"context": 1, "patch_size_px": 8})
    assert plan.settings.context == 1


def test_no_patch_is_refused_and_nothing_is_left(tmp_path):
    store, locs, _, _ = make_data(tmp_path, frames=4)
    with pytest.raises(InputError, match="no patch holds at least 90 emitters"):
        make_patches(store, tmp_path / "out.zarr", locs=locs, kind="frames",
                     settings={"patch_size_px": 8, "min_emitters": 90})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["movie.zarr", "truth.parquet"]
