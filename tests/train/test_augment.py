"""Augmentation: the same symmetry on input and target, only those the geometry allows."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from smlmscale.train.augment import allowed_augmentation, apply_symmetry, augment_pairs

tf = pytest.importorskip("tensorflow")


def _numpy_symmetry(a, bits, mode):
    out = []
    for sample, (ud, lr, tr) in zip(a, bits):
        if ud:
            sample = sample[::-1]
        if lr and mode in ("flips", "dihedral"):
            sample = sample[:, ::-1]
        if tr and mode == "dihedral":
            sample = sample.transpose(1, 0, 2)
        out.append(sample)
    return np.stack(out)


@pytest.mark.parametrize("mode", ["none", "vflip", "flips", "dihedral"])
def test_apply_symmetry_equals_numpy_per_sample(mode):
    rng = np.random.default_rng(0)
    bits = np.array(list(itertools.product([False, True], repeat=3)))
    x = rng.random((8, 6, 6, 2)).astype(np.float32)
    y = rng.random((8, 6, 6, 1)).astype(np.float32)
    got_x, got_y = apply_symmetry(tf.constant(x), tf.constant(y), tf.constant(bits), mode)
    expected = (x, y) if mode == "none" else (_numpy_symmetry(x, bits, mode),
                                              _numpy_symmetry(y, bits, mode))
    np.testing.assert_array_equal(got_x.numpy(), expected[0])
    np.testing.assert_array_equal(got_y.numpy(), expected[1])


def _dihedral(image):
    """The 8 images of the dihedral group acting on ``(H, W, C)``."""
    out = []
    for k in range(4):
        rotated = np.rot90(image, k)
        out += [rotated, rotated[:, ::-1]]
    return out


def test_augment_pairs_keeps_pairs_and_draws_all_eight_symmetries_seeded():
    rng = np.random.default_rng(1)
    x = rng.random((64, 5, 5, 1)).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices((x, 3 * x)).batch(16)
    aug = augment_pairs(ds, "dihedral", seed=4)
    seen = set()
    first = [(a.numpy(), b.numpy()) for a, b in aug]
    got_x = np.concatenate([a for a, _ in first])
    got_y = np.concatenate([b for _, b in first])
    np.testing.assert_allclose(got_y, 3 * got_x, rtol=1e-6)
    for original, out in zip(x, got_x):
        matches = [k for k, cand in enumerate(_dihedral(original)) if np.array_equal(cand, out)]
        assert matches, "the output is not a symmetry of its input"
        seen.add(matches[0])
    assert seen == set(range(8))
    again = np.concatenate([a.numpy() for a, _ in augment_pairs(ds, "dihedral", seed=4)])
    np.testing.assert_array_equal(again, got_x)
    second_epoch = np.concatenate([a.numpy() for a, _ in aug])
    assert not np.array_equal(second_epoch, got_x), "each epoch draws anew"


def test_vflip_never_flips_left_right():
    x = np.arange(2 * 4 * 12, dtype=np.float32).reshape(2, 4, 12, 1)
    ds = tf.data.Dataset.from_tensor_slices((x, x)).batch(2).repeat(20)
    for a, _ in augment_pairs(ds, "vflip", seed=0):
        for original, out in zip(x, a.numpy()):
            assert np.array_equal(out, original) or np.array_equal(out, original[::-1])


def test_allowed_augmentation_by_geometry_and_generator():
    assert allowed_augmentation("deepstorm", (32, 32, 1), (32, 32, 1)) == "dihedral"
    assert allowed_augmentation("counts", (40, 40, 2), (40, 40, 1)) == "dihedral"
    assert allowed_augmentation("fusion", (16, 64, 1), (16, 64, 1)) == "vflip"
    assert allowed_augmentation("summed", (16, 32, 1), (16, 32, 1)) == "flips"
    # z read from the PSF's shape: no symmetry keeps it
    assert allowed_augmentation("deepstorm3d", (16, 16, 1), (16, 16, 5)) == "none"
    assert allowed_augmentation("deepstorm", (32, 32, 1), (32, 32, 8),
                                {"params": {"z_bins": 8}}) == "none"
    assert allowed_augmentation("deepstorm", (32, 32, 1), (32, 32, 1),
                                {"params": {"z_bins": 0}}) == "dihedral"
    with pytest.raises(ValueError):
        augment_pairs(None, "rotate")


def _positions(maps):
    """(x_px, y_px) of every occupied pixel of ``(H, W, C)`` maps [occ, ph, dx, dy, ...]."""
    rows, cols = np.nonzero(maps[..., 0] > 0.5)
    return sorted((round(float(c + 0.5 + maps[r, c, 2]), 5),
                   round(float(r + 0.5 + maps[r, c, 3]), 5)) for r, c in zip(rows, cols))


def test_offsets_transform_as_vectors_so_emitters_keep_their_place():
    """A locnet target's emitters move exactly as the image does, under all 8 symmetries."""
    from smlmscale.train.augment import offset_channels

    size = 5
    y = np.zeros((1, size, size, 5), np.float32)
    emitters = [(1, 3, 0.3, -0.2), (4, 0, -0.45, 0.1)]       # row, col, dx, dy
    for r, c, dx, dy in emitters:
        y[0, r, c] = [1.0, 500.0, dx, dy, 7.0]
    offsets = offset_channels({"channels": ["occupancy", "photons", "dx_px", "dy_px",
                                            "background"]})
    assert offsets == (2, 3) and offset_channels({"channels": ["counts"]}) is None
    for ud, lr, tr in itertools.product([False, True], repeat=3):
        bits = tf.constant([[ud, lr, tr]])
        _, got = apply_symmetry(tf.zeros((1, size, size, 3)), tf.constant(y), bits,
                                "dihedral", offsets)
        want = []
        for r, c, dx, dy in emitters:
            x_px, y_px = c + 0.5 + dx, r + 0.5 + dy
            if ud:
                y_px = size - y_px
            if lr:
                x_px = size - x_px
            if tr:
                x_px, y_px = y_px, x_px
            want.append((round(x_px, 5), round(y_px, 5)))
        assert _positions(got.numpy()[0]) == sorted(want), (ud, lr, tr)
