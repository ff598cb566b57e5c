"""deepstorm kernels (targets, inputs), the plan, and make_patches against an eager loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.ndimage import gaussian_filter

from smlmscale.errors import InputError
from smlmscale.patches import DeepstormSettings, make_patches, open_patchset
from smlmscale.kernels.gaussian import spike_target, stamp_targets
from smlmscale.kernels.normalize import normalize_patch, normalize_patches
from smlmscale.patches.deepstorm import pairs_from_block, upsample_nearest
from smlmscale.patches.plan import frame_corners, plan_block
from tests.patches import PIXEL_NM, make_data

pytestmark = pytest.mark.timeout(120)


def reference_pairs(movie, table, settings, pixel=PIXEL_NM):
    """The deepstorm pairs of a whole movie, frame by frame, the plain way (eager)."""
    size, up = settings.patch_size_px, settings.upsampling
    side = size * up
    inputs, targets = [], []
    for frame in range(movie.shape[0]):
        rows = table[table.frame == frame]
        if settings.min_emitters > 0 and rows.empty:
            continue
        r0s, c0s = frame_corners(frame, seed=settings.seed, per_frame=settings.per_frame,
                                 height=movie.shape[1], width=movie.shape[2], size=size)
        x, y = rows.x_nm.to_numpy() / pixel, rows.y_nm.to_numpy() / pixel
        for r0, c0 in zip(r0s, c0s):
            inside = (x >= c0) & (x < c0 + size) & (y >= r0) & (y < r0 + size)
            if inside.sum() < settings.min_emitters:
                continue
            if settings.normalize == "frame":
                patch = normalize_patch(movie[frame])[r0:r0 + size, c0:c0 + size]
            else:
                patch = normalize_patch(movie[frame, r0:r0 + size, c0:c0 + size])
            inputs.append(upsample_nearest(patch, up))
            spikes = np.zeros((side, side, max(1, settings.z_bins)))
            weight = (rows.photons.to_numpy() if settings.weight == "photons"
                      else np.ones(len(rows)))
            for i in np.flatnonzero(inside):
                ch = 0
                if settings.z_bins:
                    lo, hi = settings.z_range_nm
                    ch = int(np.clip(np.floor((rows.z_nm.iloc[i] - lo) / (hi - lo)
                                              * settings.z_bins), 0, settings.z_bins - 1))
                spikes[int(np.floor(y[i] * up)) - r0 * up,
                       int(np.floor(x[i] * up)) - c0 * up, ch] += weight[i]
            if settings.target_sigma_px:
                spikes = gaussian_filter(spikes, (settings.target_sigma_px,) * 2 + (0,),
                                         mode="constant")
            targets.append(spikes)
    return np.array(inputs)[..., None], np.array(targets)


@pytest.mark.parametrize("sigma", [0.0, 0.7, 1.0, 2.3])
def test_stamped_targets_equal_gaussian_filter(sigma):
    rng = np.random.default_rng(2)
    n, side, k = 3, 24, 40
    patch, rows, cols = rng.integers(0, n, k), rng.integers(0, side, k), rng.integers(0, side, k)
    weights = rng.uniform(0.5, 3, k)
    got = stamp_targets(patch, rows, cols, weights, n=n, side=side, sigma_px=sigma)
    for p in range(n):
        spikes = np.zeros((side, side))
        np.add.at(spikes, (rows[patch == p], cols[patch == p]), weights[patch == p])
        want = gaussian_filter(spikes, sigma, mode="constant") if sigma else spikes
        np.testing.assert_allclose(got[p, ..., 0], want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("weight", ["one", "photons"])
def test_target_mass_and_peak(weight):
    up, size = 4, 30
    settings = DeepstormSettings(patch_size_px=size, upsampling=up, per_frame=1,
                                 target_sigma_px=1.5, weight=weight)
    xs = np.array([5.3, 15.71, 24.02])  # px, far apart, far from the edges
    ys = np.array([6.9, 20.5, 9.25])
    photons = np.array([800.0, 1500.0, 2500.0])
    image = np.random.default_rng(0).normal(size=(1, size, size))
    corners = pd.DataFrame({"frame": [0], "row0": [0], "col0": [0]})
    members = pd.DataFrame({"patch": [0, 0, 0], "x_px": xs, "y_px": ys, "photons": photons})
    inputs, targets = pairs_from_block(image, 0, corners, members, settings)
    assert inputs.shape == targets.shape == (1, size * up, size * up, 1)
    weights = photons if weight == "photons" else np.ones(3)
    target = targets[0, ..., 0]
    np.testing.assert_allclose(target.sum(), weights.sum(), rtol=1e-5)
    for x, y, w in zip(xs * up, ys * up, weights):
        r, c = int(y), int(x)
        window = target[r - 6:r + 7, c - 6:c + 7]
        np.testing.assert_allclose(window.sum(), w, rtol=1e-3)  # mass around the emitter
        pr, pc = np.unravel_index(np.argmax(window), window.shape)
        assert abs(r - 6 + pr + 0.5 - y) <= 0.5 and abs(c - 6 + pc + 0.5 - x) <= 0.5
    np.testing.assert_array_equal(inputs[0, ..., 0],
                                  upsample_nearest(normalize_patch(image[0]), up))


def test_spike_target_and_normalization():
    target = spike_target(np.array([2.5, 2.7]), np.array([1.2, 1.9]), np.array([1.0, 2.0]),
                          side=4, sigma_px=0)
    assert target[1, 2] == 3 and target.sum() == 3
    assert not normalize_patch(np.full((3, 3), 7)).any()
    stack = np.random.default_rng(1).normal(size=(4, 5, 6))
    np.testing.assert_array_equal(normalize_patches(stack),
                                  np.stack([normalize_patch(p) for p in stack]))


@pytest.mark.parametrize("min_emitters", [0, 2])
def test_plan_matches_a_loop(min_emitters):
    rng = np.random.default_rng(4)
    table = pd.DataFrame({"frame": np.sort(rng.choice([1, 2, 4, 5], 60)),
                          "x_nm": rng.uniform(0, 3500, 60), "y_nm": rng.uniform(0, 3000, 60),
                          "photons": rng.uniform(1, 2, 60)})
    patches, members = plan_block(table, t0=0, t1=6, height=30, width=35, pixel_size_nm=100,
                                  size=8, per_frame=10, min_emitters=min_emitters, seed=3,
                                  extra=("photons",))
    want = []
    for frame in range(6):
        rows = table[table.frame == frame]
        if min_emitters and rows.empty:
            continue
        for r0, c0 in zip(*frame_corners(frame, seed=3, per_frame=10, height=30, width=35,
                                         size=8)):
            x, y = rows.x_nm / 100, rows.y_nm / 100
            n = int(((x >= c0) & (x < c0 + 8) & (y >= r0) & (y < r0 + 8)).sum())
            if n >= min_emitters:
                want.append((frame, r0, c0, n))
    assert [tuple(r) for r in patches.itertuples(index=False)] == want
    assert len(members) == patches.n.sum()
    assert (members.groupby("patch").size().reindex(range(len(patches)), fill_value=0)
            == patches.n.to_numpy()).all()
    if min_emitters == 0:
        assert set(patches.frame) == set(range(6))


@pytest.mark.parametrize("z_bins, normalize", [(0, "frame"), (3, "patch")])
def test_make_patches_equals_eager_loop_and_is_deterministic(tmp_path, client, z_bins,
                                                             normalize):
    store, locs, movie, table = make_data(tmp_path, per_frame=40, z=True)
    settings = DeepstormSettings(patch_size_px=12, upsampling=3, per_frame=4, min_emitters=2,
                                 seed=5, weight="photons", z_bins=z_bins,
                                 z_range_nm=(-300.0, 300.0), normalize=normalize)
    a = make_patches(store, tmp_path / "a.zarr", locs=locs, settings=settings,
                     validation_fraction=0.25, client=client, chunk_patches=7)
    b = make_patches(store, tmp_path / "b.zarr", locs=locs, settings=settings,
                     validation_fraction=0.25, chunk_patches=7, in_flight=2)
    pa, pb = open_patchset(a.path), open_patchset(b.path)
    assert a.n_patches == b.n_patches == len(pa) > 7
    for name in ("inputs", "targets", "validation"):
        np.testing.assert_array_equal(getattr(pa, name)[:], getattr(pb, name)[:])
    detectable = table[table.detectable == 1].reset_index(drop=True)
    want_in, want_tg = reference_pairs(movie, detectable, settings)
    np.testing.assert_array_equal(pa.inputs[:], want_in)
    np.testing.assert_allclose(pa.targets[:], want_tg, rtol=1e-5, atol=1e-4)
    assert pa.inputs.chunks == (7, 36, 36, 1) and pa.inputs.dtype == np.float32
    assert pa.targets.shape[1:] == (36, 36, max(1, z_bins))
    assert int(pa.validation[:].sum()) == a.n_validation == round(0.25 * a.n_patches)
    assert pa.attrs["split"] == {"validation_fraction": 0.25, "seed": 5, "n_train": a.n_train,
                                 "n_validation": a.n_validation}
    assert pa.attrs["generator"] == "deepstorm" and pa.attrs["upsampling"] == 3
    assert pa.attrs["params"]["min_emitters"] == 2 and pa.attrs["pixel_size_nm"] == PIXEL_NM
    assert pa.attrs["source"]["table"] == str(locs)
    assert not (tmp_path / "a.zarr.partial").exists()


def test_movie_chunking_and_table_parts_do_not_matter(tmp_path, monkeypatch):
    import smlmscale.patches.plan as plan
    import smlmscale.patches.frames as frames

    store, locs, movie, table = make_data(tmp_path, frames=23, per_frame=30, chunk=4,
                                          csv=True)
    settings = DeepstormSettings(patch_size_px=10, upsampling=2, min_emitters=3, seed=9)
    one = make_patches(store, tmp_path / "one.zarr", locs=locs, settings=settings)
    monkeypatch.setattr(plan, "PLAN_FRAMES", 5)  # several plan tasks
    monkeypatch.setattr(frames, "PART_BYTES", 2000)  # several table parts
    two = make_patches(store, tmp_path / "two.zarr", locs=locs, settings=settings,
                       chunk_patches=3)
    np.testing.assert_array_equal(open_patchset(one.path).inputs[:],
                                  open_patchset(two.path).inputs[:])
    np.testing.assert_array_equal(open_patchset(one.path).targets[:],
                                  open_patchset(two.path).targets[:])


def test_building_reads_no_pixel(tmp_path):
    import dask.array as da

    from smlmscale.patches.base import Runner
    from smlmscale.patches.deepstorm_graph import build_deepstorm
    from smlmscale.patches.frames import FrameTable

    store, locs, movie, _ = make_data(tmp_path)
    reads = []

    def read(block):
        if block.size:  # not dask's probe on an empty meta array
            reads.append(1)
        return block

    lazy = da.from_array(movie, chunks=(5, 40, 40)).map_blocks(read, dtype=movie.dtype)
    table = FrameTable.open(locs, columns=["x_nm", "y_nm"])
    gen = build_deepstorm(lazy, table, pixel_size_nm=PIXEL_NM, settings=DeepstormSettings(
        patch_size_px=10, upsampling=2), chunk=4, runner=Runner())
    assert not reads and gen.sizes and all(s == 4 for s in gen.sizes[:-1])
    first = gen.tasks[0].compute()
    assert reads and len(first[0]) == gen.sizes[0]


@pytest.mark.parametrize("changes, fragment", [
    ({"settings": DeepstormSettings(patch_size_px=41)}, "larger than the 40x40 frame"),
    ({"settings": DeepstormSettings(patch_size_px=5, min_emitters=50)}, "no patch holds"),
    ({"settings": DeepstormSettings(z_bins=2)}, "no z_nm column"),
    ({"kind": "nonsense"}, "unknown patch kind"),
    ({"rois": "rois.csv"}, "--rois is used by --kind counts only"),
    ({"validation_fraction": 1.0}, "--validation"),
])
def test_bad_input(tmp_path, changes, fragment):
    store, locs, _, _ = make_data(tmp_path, frames=3)
    with pytest.raises(InputError, match=fragment):
        make_patches(store, tmp_path / "out.zarr", locs=locs, **changes)
    assert not (tmp_path / "out.zarr").exists() and not (tmp_path / "out.zarr.partial").exists()


def test_frames_beyond_the_movie(tmp_path):
    store, _, _, _ = make_data(tmp_path, frames=3)
    (tmp_path / "other").mkdir()
    _, locs, _, _ = make_data(tmp_path / "other", frames=5)  # a table of 5 frames
    with pytest.raises(InputError, match="frame 4 but the movie has only 3"):
        make_patches(store, tmp_path / "out.zarr", locs=locs)
