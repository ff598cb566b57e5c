"""tf.data streams of training pairs read chunk by chunk from a patch-set Zarr.

A patch set is never loaded whole. The stream is

    chunk indices -> shuffle (per epoch) -> parallel interleave of chunk reads
    -> patch shuffle buffer -> augmentation -> batch -> prefetch

Each chunk read (a :func:`tf.numpy_function` on a worker thread of tf.data) returns the
patches of one Zarr chunk that belong to the requested split (``validation`` flag).
What is held at once is bounded by :class:`StreamPlan`: ``cycle_length`` chunks being
read and unbatched, the shuffle buffer, and the prefetched batches; :func:`plan_stream`
sizes them from a memory budget in bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from smlmscale.errors import InputError
from smlmscale.patches.patchset import PatchSet
from smlmscale.train.augment import augment_pairs, offset_channels

SPLITS = ("train", "validation")
# Bytes a chunk costs while it is read: the decoded slice, the split selection and the
# tensors tf.data makes of it.
READ_COPIES = 3
PREFETCH_BATCHES = 2
# A buffered pair costs about 1.2 times its bytes (tensor headers, buffer bookkeeping).
BUFFER_OVERHEAD = 1.2
# Parallel calls of the element-wise maps (fixed: tf.data's autotuning is off, see below).
MAP_PARALLELISM = 2


def _release_freed_memory() -> None:
    """Return freed heap pages to the system (glibc ``malloc_trim``; a no-op elsewhere).

    Decoded chunks are large, short-lived buffers; glibc keeps them mapped after they are
    freed, which grows the process by several chunks per reading thread.
    """
    try:
        _LIBC.malloc_trim(0)
    except AttributeError:
        pass


def _load_libc():
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


_LIBC = _load_libc()


@dataclass(frozen=True)
class StreamPlan:
    """How much of a patch set a stream holds at once.

    Attributes
    ----------
    batch_size : int
        Patches per batch.
    cycle_length : int
        Chunks read in parallel and interleaved patch by patch.
    shuffle_patches : int
        Patches in the shuffle buffer (train stream only).
    prefetch_batches : int
        Batches prepared ahead of the training step.
    pair_bytes : int
        Bytes of one input-target pair (float32).
    chunk_patches : int
        Patches per Zarr chunk.
    """

    batch_size: int
    cycle_length: int
    shuffle_patches: int
    prefetch_batches: int
    pair_bytes: int
    chunk_patches: int

    @property
    def bytes(self) -> int:
        """The most bytes of patch data the stream holds at once (estimate)."""
        reading = self.cycle_length * self.chunk_patches * READ_COPIES
        batches = (self.prefetch_batches + 1) * self.batch_size
        buffered = BUFFER_OVERHEAD * self.shuffle_patches
        return int((reading + buffered + batches) * self.pair_bytes)


def pair_bytes(ps: PatchSet) -> int:
    """Bytes of one input-target pair of a patch set."""
    return int(np.prod(ps.inputs.shape[1:]) * ps.inputs.dtype.itemsize
               + np.prod(ps.targets.shape[1:]) * ps.targets.dtype.itemsize)


def plan_stream(ps: PatchSet, *, batch_size: int, budget_bytes: int,
                max_cycle: int = 8) -> StreamPlan:
    """Size the chunk reads and the shuffle buffer of a stream to a memory budget.

    A quarter of the budget goes to chunks in flight (up to ``max_cycle`` of them), a
    quarter (at most the whole set) to the shuffle buffer, the rest to batches and to what
    TensorFlow and the allocator hold beside the data (about 100 MiB measured on a CPU:
    ``benchmarks/RESULTS.md``, Train).

    Parameters
    ----------
    ps : PatchSet
    batch_size : int
        Patches per batch.
    budget_bytes : int
        Memory the stream may use, in bytes.
    max_cycle : int, optional
        Most chunks read in parallel.

    Raises
    ------
    InputError
        When one chunk being read and two batches do not fit in the budget.
    """
    pair = pair_bytes(ps)
    chunk = int(ps.inputs.chunks[0])
    batches = (PREFETCH_BATCHES + 1) * batch_size * pair
    least = chunk * READ_COPIES * pair + batches
    if budget_bytes < least:
        from dask.utils import format_bytes

        raise InputError(
            f"a memory budget of {format_bytes(budget_bytes)} is too small for this patch "
            f"set: one chunk of {chunk} patches and {PREFETCH_BATCHES + 1} batches of "
            f"{batch_size} need {format_bytes(least)}", path=ps.path,
            hint="give a larger --memory-budget or a smaller --batch-size")
    cycle = int(min(max_cycle, max(1, budget_bytes // 4 // (chunk * READ_COPIES * pair))))
    spare = budget_bytes - cycle * chunk * READ_COPIES * pair - batches
    shuffle = int(max(batch_size, min(len(ps), budget_bytes / 4 / BUFFER_OVERHEAD // pair,
                                      spare / BUFFER_OVERHEAD // pair)))
    return StreamPlan(batch_size=batch_size, cycle_length=cycle, shuffle_patches=shuffle,
                      prefetch_batches=PREFETCH_BATCHES, pair_bytes=pair,
                      chunk_patches=chunk)


def split_selection(ps: PatchSet, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The chunks holding patches of a split, and each chunk's patch count in it.

    Reads the ``validation`` flags chunk by chunk (one byte per patch).

    Returns
    -------
    chunks : numpy.ndarray
        int64 indices of the chunks with at least one patch of the split.
    counts : numpy.ndarray
        int64 patches of the split in each of those chunks.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    chunk = int(ps.inputs.chunks[0])
    n_chunks = math.ceil(len(ps) / chunk)
    counts = np.zeros(n_chunks, dtype=np.int64)
    want = split == "validation"
    for c in range(n_chunks):
        flags = np.asarray(ps.validation[c * chunk:(c + 1) * chunk], dtype=bool)
        counts[c] = np.count_nonzero(flags == want)
    keep = np.flatnonzero(counts)
    return keep.astype(np.int64), counts[keep]


class ChunkReader:
    """Reads the patches of one split from one chunk of a patch set (thread-safe).

    Parameters
    ----------
    ps : PatchSet
    split : {"train", "validation"}
    """

    def __init__(self, ps: PatchSet, split: str, *, targets_only: bool = False) -> None:
        self.inputs, self.targets, self.flags = ps.inputs, ps.targets, ps.validation
        self.chunk = int(ps.inputs.chunks[0])
        self.want = split == "validation"
        self.targets_only = targets_only

    def __call__(self, index: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(inputs, targets)`` of chunk ``index`` that belong to the split, float32
        (``targets_only``: ``(targets, targets)``, the inputs not read)."""
        start = int(index) * self.chunk
        stop = start + self.chunk
        keep = np.asarray(self.flags[start:stop], dtype=bool) == self.want
        targets = np.asarray(self.targets[start:stop], dtype=np.float32)
        inputs = (targets if self.targets_only
                  else np.asarray(self.inputs[start:stop], dtype=np.float32))
        if not keep.all():
            inputs, targets = inputs[keep], targets[keep]
        _release_freed_memory()
        return inputs, targets


def patch_stream(ps: PatchSet, split: str, plan: StreamPlan, *, shuffle: bool = True,
                 augment: str = "none", seed: int = 0, target_scale: float = 1.0,
                 targets_only: bool = False) -> Any:
    """A batched ``tf.data.Dataset`` of ``(inputs, targets)`` of one split of a patch set.

    One pass over the dataset is one epoch; each pass shuffles the chunk order and the
    patches again (seeded).

    Parameters
    ----------
    ps : PatchSet
    split : {"train", "validation"}
    plan : StreamPlan
        Batch size, parallel chunk reads and shuffle buffer (see :func:`plan_stream`).
    shuffle : bool, optional
        Shuffle chunks and patches; the validation stream is read in order without.
    augment : {"none", "vflip", "flips", "dihedral"}, optional
        Random symmetry applied identically to input and target (see
        :mod:`smlmscale.train.augment`).
    seed : int, optional
        Seed of the shuffles and the augmentation.
    target_scale : float, optional
        Factor applied to the targets (Deep-STORM trains on heatmaps x 100).
    targets_only : bool, optional
        Stream the (unscaled) targets in place of the inputs, which are not read: mask
        learning images its inputs from the targets (:mod:`smlmscale.train.mask_learning`).

    Returns
    -------
    tf.data.Dataset
        Batches ``(B, H, W, C)`` float32 with a known cardinality (batches per epoch).

    Raises
    ------
    InputError
        When the split holds no patch.
    """
    import tensorflow as tf

    chunks, counts = split_selection(ps, split)
    total = int(counts.sum())
    if total == 0:
        raise InputError(f"the patch set's {split} split holds no patch", path=ps.path,
                         hint="make the patch set again with more patches"
                              + (" or a --validation fraction above 0"
                                 if split == "validation" else ""))
    reader = ChunkReader(ps, split, targets_only=targets_only)
    out_shape = tuple(ps.targets.shape[1:])
    in_shape = out_shape if targets_only else tuple(ps.inputs.shape[1:])

    def read(index: Any) -> tuple[Any, Any]:
        inputs, targets = tf.numpy_function(reader, [index], (tf.float32, tf.float32),
                                            stateful=False)
        inputs.set_shape((None, *in_shape))
        targets.set_shape((None, *out_shape))
        return inputs, targets

    ds = tf.data.Dataset.from_tensor_slices(chunks)
    if shuffle:
        # Patches of cycle_length chunks, read in parallel, alternate one by one.
        ds = ds.shuffle(len(chunks), seed=seed, reshuffle_each_iteration=True)
        # Each patch is copied out of its chunk: a slice would keep the whole chunk alive
        # until its last patch leaves the shuffle buffer (the set would stay resident).
        def copied(index: Any) -> Any:
            return tf.data.Dataset.from_tensor_slices(read(index)).map(
                lambda x, y: (tf.raw_ops.DeepCopy(x=x), tf.raw_ops.DeepCopy(x=y)))

        ds = ds.interleave(copied, cycle_length=plan.cycle_length, block_length=1,
                           num_parallel_calls=plan.cycle_length, deterministic=True)
    else:
        # In patch order, cycle_length chunks read ahead in parallel.
        ds = ds.map(read, num_parallel_calls=plan.cycle_length, deterministic=True).unbatch()
    if shuffle:
        ds = ds.shuffle(min(plan.shuffle_patches, total), seed=seed + 1,
                        reshuffle_each_iteration=True)
    ds = ds.batch(plan.batch_size)
    if target_scale != 1:
        ds = ds.map(lambda x, y: (x, y * target_scale), num_parallel_calls=MAP_PARALLELISM,
                    deterministic=True)
    if augment != "none":
        ds = augment_pairs(ds, augment, seed=seed + 2, offsets=offset_channels(ps.attrs))
    ds = ds.apply(tf.data.experimental.assert_cardinality(math.ceil(total / plan.batch_size)))
    options = tf.data.Options()
    # Autotuning off: with it, TensorFlow 2.21 often ends an epoch only when its tuning
    # thread next wakes (10, 20, 41, 82 s...): 243 s against 87 s for 4 short epochs.
    options.autotune.enabled = False
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    return ds.with_options(options).prefetch(plan.prefetch_batches)


__all__ = ["ChunkReader", "SPLITS", "StreamPlan", "pair_bytes", "patch_stream", "plan_stream",
           "split_selection"]
