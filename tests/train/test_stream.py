"""The tf.data stream: every patch of a split once per epoch, read chunk by chunk, bounded."""

from __future__ import annotations

import threading
import time

import numpy as np
import psutil
import pytest

from smlmscale.errors import InputError
from smlmscale.patches.patchset import PatchSet, open_patchset
from smlmscale.train.stream import (ChunkReader, pair_bytes, patch_stream, plan_stream,
                                    split_selection)
from tests.train import numbered_patchset

pytest.importorskip("tensorflow")


def _ids(ds):
    """Patch indices (inputs hold their index) in stream order; checks targets = 2 x inputs."""
    ids = []
    for x, y in ds:
        x, y = x.numpy(), y.numpy()
        np.testing.assert_array_equal(y, 2 * x)
        assert (x == x[:, :1, :1, :1]).all()
        ids.extend(x[:, 0, 0, 0].astype(int).tolist())
    return ids


@pytest.fixture
def ps(tmp_path):
    # 300 patches in chunks of 32: the last chunk is partial; every 10th is validation.
    numbered_patchset(tmp_path / "ps.zarr", n=300, chunk=32)
    return open_patchset(tmp_path / "ps.zarr")


def test_split_selection_counts_each_chunk(ps):
    flags = np.arange(300) % 10 == 0
    chunks, counts = split_selection(ps, "train")
    expected = [np.count_nonzero(~flags[c * 32:(c + 1) * 32]) for c in range(10)]
    assert chunks.tolist() == list(range(10)) and counts.tolist() == expected
    chunks, counts = split_selection(ps, "validation")
    assert counts.sum() == 30
    with pytest.raises(ValueError):
        split_selection(ps, "test")


def test_train_stream_yields_each_train_patch_once_per_epoch_reshuffled(ps):
    plan = plan_stream(ps, batch_size=16, budget_bytes=4 << 20)
    ds = patch_stream(ps, "train", plan, seed=5)
    train = sorted(i for i in range(300) if i % 10)
    first, second = _ids(ds), _ids(ds)
    assert sorted(first) == train and sorted(second) == train
    assert first != second, "each epoch must reshuffle"
    assert int(ds.cardinality()) == -(-270 // 16)
    again = _ids(patch_stream(ps, "train", plan, seed=5))
    assert again == first, "the same seed must give the same order"
    assert _ids(patch_stream(ps, "train", plan, seed=6)) != first


def test_validation_stream_in_order_without_shuffle(ps):
    plan = plan_stream(ps, batch_size=7, budget_bytes=4 << 20)
    ids = _ids(patch_stream(ps, "validation", plan, shuffle=False))
    assert ids == list(range(0, 300, 10))


def test_target_scale_multiplies_targets_only(ps):
    plan = plan_stream(ps, batch_size=8, budget_bytes=4 << 20)
    for x, y in patch_stream(ps, "validation", plan, shuffle=False, target_scale=100.0):
        np.testing.assert_allclose(y.numpy(), 200 * x.numpy())


def test_empty_split_is_refused(tmp_path):
    ps = numbered_patchset(tmp_path / "p.zarr", n=40, validation_every=0)
    plan = plan_stream(ps, batch_size=4, budget_bytes=4 << 20)
    with pytest.raises(InputError, match="validation split holds no patch"):
        patch_stream(ps, "validation", plan)


class _Recording:
    """An array proxy recording how many patches each read asked for."""

    def __init__(self, array, sizes):
        self.array, self.sizes = array, sizes
        self.shape, self.chunks, self.dtype = array.shape, array.chunks, array.dtype

    def __getitem__(self, key):
        start, stop, _ = key.indices(self.shape[0])
        self.sizes.append(stop - start)
        return self.array[key]


def test_stream_reads_chunk_by_chunk_never_the_whole_set(ps):
    sizes = []
    wrapped = PatchSet(path=ps.path, attrs=ps.attrs,
                       **{name: _Recording(getattr(ps, name), sizes)
                          for name in ("inputs", "targets", "validation")})
    plan = plan_stream(wrapped, batch_size=16, budget_bytes=4 << 20)
    assert len(_ids(patch_stream(wrapped, "train", plan, augment="dihedral"))) == 270
    assert sizes and max(sizes) <= 32


def test_chunk_reader_selects_split(ps):
    x, y = ChunkReader(ps, "validation")(1)
    assert x[:, 0, 0, 0].tolist() == [40, 50, 60]
    x, y = ChunkReader(ps, "train")(9)
    assert len(x) == 300 - 288 - 1 and (y == 2 * x).all()


def test_plan_fits_the_budget_and_refuses_a_budget_below_one_chunk(ps):
    for budget in (1 << 20, 4 << 20, 64 << 20):
        plan = plan_stream(ps, batch_size=16, budget_bytes=budget)
        assert plan.bytes <= budget
        assert 1 <= plan.cycle_length <= 8 and plan.shuffle_patches >= 16
    assert plan_stream(ps, batch_size=16, budget_bytes=64 << 20).shuffle_patches <= len(ps)
    with pytest.raises(InputError, match="too small"):
        plan_stream(ps, batch_size=16, budget_bytes=50_000)
    assert pair_bytes(ps) == 2 * 8 * 8 * 4


def _peak_rss_growth(fn, interval=0.005):
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        fn()
    finally:
        done.set()
        thread.join()
    return peak[0] - base


def test_stream_memory_stays_bounded_on_a_set_larger_than_its_budget(tmp_path):
    # 6,400 pairs of 64 x 64 float32 (200 MiB) streamed with a 12 MiB budget. Besides the
    # stream's own buffers, RSS holds a constant ~30-50 MiB that does not grow with the set:
    # malloc arenas of the tf.data and zarr threads and TensorFlow's first-use allocations.
    numbered_patchset(tmp_path / "big.zarr", n=6400, shape=(64, 64, 1), chunk=32,
                      validation_every=0)
    ps = open_patchset(tmp_path / "big.zarr")
    budget = 12 << 20
    plan = plan_stream(ps, batch_size=16, budget_bytes=budget)
    assert plan.bytes <= budget
    ds = patch_stream(ps, "train", plan, augment="dihedral")
    for _ in ds.take(2):
        pass
    count = []
    growth = _peak_rss_growth(lambda: count.append(sum(int(x.shape[0]) for x, _ in ds)))
    assert count == [6400]
    set_bytes = 6400 * pair_bytes(ps)
    assert growth < budget + (64 << 20), (growth / 2**20, set_bytes / 2**20)
    assert growth < 0.4 * set_bytes


def test_targets_only_streams_targets_without_reading_the_inputs(ps):
    class Unread:
        shape, dtype, chunks = ps.inputs.shape, ps.inputs.dtype, ps.inputs.chunks

        def __getitem__(self, key):
            raise AssertionError("the inputs were read")

    wrapped = PatchSet(path=ps.path, attrs=ps.attrs, inputs=Unread(), targets=ps.targets,
                       validation=ps.validation)
    x, y = ChunkReader(wrapped, "train", targets_only=True)(9)
    np.testing.assert_array_equal(x, y)
    plan = plan_stream(ps, batch_size=16, budget_bytes=4 << 20)
    batches = list(patch_stream(wrapped, "train", plan, shuffle=False, target_scale=2.0,
                                targets_only=True))
    assert sum(len(bx) for bx, _ in batches) == 270
    np.testing.assert_array_equal(2 * batches[0][0].numpy(), batches[0][1].numpy())
