"""deepstorm3d patch sets: the graph against an eager loop, the z range, laziness, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from smlmscale.errors import InputError
from smlmscale.io.tables import TableMeta, write_table
from smlmscale.kernels.normalize import normalize_patch
from smlmscale.patches import Deepstorm3dSettings, generator, make_patches, open_patchset
from smlmscale.patches import prepare_patches
from smlmscale.patches.deepstorm3d_graph import resolve_z_range
from smlmscale.patches.plan import frame_corners
from tests.helpers import raise_if_dask_computes
from tests.patches import PIXEL_NM, make_data

pytestmark = pytest.mark.timeout(180)


def reference_pairs(movie, table, settings, pixel=PIXEL_NM):
    """The pairs of a whole movie, frame by frame and emitter by emitter (eager), and the
    count of emitters inside the patches."""
    size = settings.patch_size_px
    inputs, targets, members = [], [], 0
    for frame in range(movie.shape[0]):
        rows = table[table.frame == frame]
        if settings.min_emitters > 0 and rows.empty:
            continue
        x, y = rows.x_nm.to_numpy() / pixel, rows.y_nm.to_numpy() / pixel
        for r0, c0 in zip(*frame_corners(frame, seed=settings.seed, per_frame=settings.per_frame,
                                         height=movie.shape[1], width=movie.shape[2],
                                         size=size)):
            inside = (x >= c0) & (x < c0 + size) & (y >= r0) & (y < r0 + size)
            if inside.sum() < settings.min_emitters:
                continue
            raw = movie[frame].astype(np.float64)
            if settings.normalize == "frame":
                patch = normalize_patch(raw)[r0:r0 + size, c0:c0 + size]
            elif settings.normalize == "patch":
                patch = normalize_patch(raw[r0:r0 + size, c0:c0 + size])
            else:
                offset, scale = settings.global_factors
                patch = (raw[r0:r0 + size, c0:c0 + size] - offset) / scale
            inputs.append(patch)
            members += int(inside.sum())
            maps = np.zeros((size, size, 5))
            for i in np.flatnonzero(inside):
                r, c = int(np.floor(y[i])) - r0, int(np.floor(x[i])) - c0
                photons = rows.photons.iloc[i]
                if maps[r, c, 0] and maps[r, c, 1] >= photons:
                    continue  # the brighter emitter of a pixel is kept
                maps[r, c] = (1, photons, x[i] - np.floor(x[i]) - 0.5,
                              y[i] - np.floor(y[i]) - 0.5, rows.z_nm.iloc[i])
            targets.append(maps)
    return np.array(inputs)[..., None], np.array(targets), members


@pytest.mark.parametrize("normalize", ["frame", "patch", "global"])
def test_make_patches_equals_the_eager_loop_whatever_the_chunks(tmp_path, client, normalize):
    store, locs, movie, table = make_data(tmp_path, per_frame=30, z=True, chunk=4)
    settings = Deepstorm3dSettings(patch_size_px=12, per_frame=3, min_emitters=2, seed=5,
                                   z_voxels=9, z_range_nm=(-450.0, 450.0), normalize=normalize,
                                   global_factors=(100.0, 300.0))
    a = make_patches(store, tmp_path / "a.zarr", locs=locs, kind="deepstorm3d",
                     settings=settings, client=client, chunk_patches=5)
    b = make_patches(store, tmp_path / "b.zarr", locs=locs, kind="deepstorm3d",
                     settings=settings, chunk_patches=7, in_flight=2)
    pa, pb = open_patchset(a.path), open_patchset(b.path)
    assert a.n_patches == len(pa) > 5 and pa.inputs.chunks[0] == 5
    for name in ("inputs", "targets", "validation"):
        np.testing.assert_array_equal(getattr(pa, name)[:], getattr(pb, name)[:])
    detectable = table[table.detectable == 1].reset_index(drop=True)
    want_in, want_tg, members = reference_pairs(movie, detectable, settings)
    np.testing.assert_allclose(pa.inputs[:], want_in, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(pa.targets[:], want_tg, rtol=1e-6, atol=1e-4)
    assert pa.inputs.shape[1:] == (12, 12, 1) and pa.targets.shape[1:] == (12, 12, 5)
    attrs = pa.attrs
    assert attrs["generator"] == "deepstorm3d" and attrs["upsampling"] == 4
    assert attrs["z_range_nm"] == [-450.0, 450.0] and attrs["z_range_source"] == "given"
    assert attrs["z_voxels"] == 9 and attrs["voxel_nm"] == [25.0, 100.0]
    assert attrs["channels"] == ["occupancy", "photons", "dx_px", "dy_px", "z_nm"]
    assert attrs["pixel_size_nm"] == PIXEL_NM and attrs["params"]["z_voxels"] == 9
    mode = "affine" if normalize == "global" else normalize
    assert attrs["normalization"]["mode"] == mode
    occupied = int((pa.targets[:][..., 0] > 0).sum())
    assert attrs["collisions"] == a.stats["collisions"]
    assert occupied + attrs["collisions"] == members


def test_z_range_defaults_to_the_emitters_then_the_simulation(tmp_path):
    store, locs, _, table = make_data(tmp_path, per_frame=20, z=True)
    result = make_patches(store, tmp_path / "e.zarr", locs=locs, kind="deepstorm3d",
                          settings={"patch_size_px": 10, "per_frame": 2, "z_voxels": 4})
    ps = open_patchset(result.path)
    z, occupied = ps.targets[:][..., 4], ps.targets[:][..., 0] > 0
    assert ps.attrs["z_range_source"] == "emitters"
    lo, hi = ps.attrs["z_range_nm"]
    assert lo == pytest.approx(z[occupied].min()) and hi == pytest.approx(z[occupied].max())
    assert ps.attrs["params"]["z_range_nm"] == [lo, hi]
    from smlmscale.simulate import EmitterSettings, MovieSettings, simulate_movie
    from smlmscale.simulate.instrument import PsfSettings

    sim = simulate_movie(tmp_path / "sim.zarr", settings=MovieSettings(
        frames=4, size_px=24, seed=2, emitters=EmitterSettings(density_per_um2=2.0),
        psf=PsfSettings(model="astigmatic", z_range_nm=(-300.0, 500.0))))
    result = make_patches(sim.path, tmp_path / "s.zarr", locs=sim.truth_path,
                          kind="deepstorm3d", settings={"patch_size_px": 16, "z_voxels": 8})
    assert open_patchset(result.path).attrs["z_range_nm"] == [-300.0, 500.0]
    assert open_patchset(result.path).attrs["z_range_source"] == "simulation"


def test_resolve_z_range():
    given = Deepstorm3dSettings(z_range_nm=(-100.0, 100.0))
    assert resolve_z_range(given, -100.0, 99.0, (-5.0, 5.0), path="t") == ((-100.0, 100.0),
                                                                            "given")
    with pytest.raises(InputError, match=r"t: --z-range -100:100 nm does not cover the "
                                         r"emitters' z \(-100 to 120 nm\)"):
        resolve_z_range(given, -100.0, 120.0, None, path="t")
    with pytest.raises(InputError, match="the simulation's z range -5:5 nm does not cover"):
        resolve_z_range(Deepstorm3dSettings(), -6.0, 0.0, (-5.0, 5.0), path="t")
    assert resolve_z_range(Deepstorm3dSettings(), 7.0, 7.0, None, path="t") == ((7.0, 8.0),
                                                                                "emitters")


def test_building_reads_no_pixel_and_the_record(tmp_path):
    import dask.array as da

    from smlmscale.patches.base import Runner
    from smlmscale.patches.deepstorm3d_graph import build_deepstorm3d
    from smlmscale.patches.frames import FrameTable

    record = generator("deepstorm3d")
    assert record.planned and record.table_columns(Deepstorm3dSettings()) == (
        ["x_nm", "y_nm", "z_nm", "photons"], ["x_nm", "y_nm", "z_nm"])
    store, locs, movie, _ = make_data(tmp_path, z=True)
    reads = []

    def read(block):
        if block.size:
            reads.append(1)
        return block

    lazy = da.from_array(movie, chunks=(5, 40, 40)).map_blocks(read, dtype=movie.dtype)
    table = FrameTable.open(locs, columns=["x_nm", "y_nm", "z_nm"])
    gen = build_deepstorm3d(lazy, table, pixel_size_nm=PIXEL_NM, settings=Deepstorm3dSettings(
        patch_size_px=10), chunk=4, runner=Runner())
    assert not reads and gen.sizes and all(s == 4 for s in gen.sizes[:-1])
    inputs, targets = gen.tasks[0].compute()
    assert reads and len(inputs) == gen.sizes[0] and targets.shape[1:] == (10, 10, 5)
    assert (targets[..., 1][targets[..., 0] > 0] == 1).all()  # no photons column: weight 1


def _no_z(folder):
    table = pd.DataFrame({"frame": [0, 1], "x_nm": [500.0, 900.0], "y_nm": [800.0, 300.0]})
    path = folder / "noz.parquet"
    write_table(table, path, meta=TableMeta(pixel_size_nm=PIXEL_NM))
    return path


@pytest.mark.parametrize("changes, fragment", [
    ({"settings": {"z_voxels": 1}}, "--z-voxels must be at least 2, got 1"),
    ({"locs": "noz"}, "no z_nm column"),
    ({"settings": {"patch_size_px": 41}}, "larger than the 40x40 frame"),
    ({"settings": {"z_range_nm": (5.0, -5.0)}}, "--z-range must go from low to high"),
    ({"settings": {"global_factors": (0.0, 0.0)}}, "--global-factors must be greater than 0"),
    ({"settings": {"normalize": "mean"}}, "--normalize must be one of frame, patch, global"),
    ({"kind": "deepstorm", "settings": {"z_voxels": 8}},
     "--z-voxels does not apply to --kind deepstorm"),
    ({"settings": {"z_bins": 8}}, "--z-bins does not apply to --kind deepstorm3d"),
])
def test_prepare_refuses_bad_input_cheaply(tmp_path, changes, fragment):
    store, locs, _, _ = make_data(tmp_path, frames=3, z=True)
    args = {"locs": locs, "kind": "deepstorm3d", **changes}
    if args["kind"] == "deepstorm3d":
        args["settings"] = {"patch_size_px": 16, **args.get("settings", {})}
    if args["locs"] == "noz":
        args["locs"] = _no_z(tmp_path)
    with raise_if_dask_computes(), pytest.raises(InputError) as info:
        prepare_patches(store, tmp_path / "out.zarr", **args)
    assert fragment in str(info.value)
    assert not (tmp_path / "out.zarr").exists()


def test_a_z_range_not_covering_the_truth_writes_nothing(tmp_path):
    store, locs, _, _ = make_data(tmp_path, frames=4, z=True)  # z in -400..400
    with pytest.raises(InputError, match="does not cover the emitters' z"):
        make_patches(store, tmp_path / "out.zarr", locs=locs, kind="deepstorm3d",
                     settings={"patch_size_px": 10, "z_range_nm": (-100.0, 100.0)})
    assert not (tmp_path / "out.zarr").exists()
    assert not (tmp_path / "out.zarr.partial").exists()
