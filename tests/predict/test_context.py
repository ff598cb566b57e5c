"""Temporal context of frame blocks: the frames read and the K-frame stacks, against a loop."""

from __future__ import annotations

import numpy as np
import pytest

from smlmscale.errors import InputError
from smlmscale.patches.stacks import cut_windows
from smlmscale.predict.context import check_context, context_range, context_stacks

N_FRAMES = 9


@pytest.fixture(scope="module")
def movie():
    return np.random.default_rng(0).integers(0, 1000, (N_FRAMES, 5, 4)).astype(np.uint16)


def naive_stack(movie, t, context):
    """Frames t - K//2 .. t + K//2, a missing one replaced by the nearest existing frame."""
    out = []
    for u in range(t - context // 2, t + context // 2 + 1):
        out.append(movie[min(max(u, 0), len(movie) - 1)])
    return np.stack(out, axis=-1)


BLOCKS = [(0, 3), (3, 6), (6, 9), (0, 1), (4, 5), (8, 9), (0, 9), (1, 8)]


@pytest.mark.parametrize("context", [1, 3, 5])
@pytest.mark.parametrize("start,stop", BLOCKS)
def test_stacks_match_the_loop(movie, context, start, stop):
    lo, hi = context_range(start, stop, n_frames=N_FRAMES, context=context)
    half = context // 2
    assert (lo, hi) == (max(0, start - half), min(N_FRAMES, stop + half))
    stacks = context_stacks(movie[lo:hi], first=start, stop=stop, n_frames=N_FRAMES,
                            context=context)
    assert stacks.shape == (stop - start, 5, 4, context) and stacks.dtype == movie.dtype
    for s, t in enumerate(range(start, stop)):
        np.testing.assert_array_equal(stacks[s], naive_stack(movie, t, context))


def test_blocks_do_not_change_the_stacks(movie):
    whole = context_stacks(movie, first=0, stop=N_FRAMES, n_frames=N_FRAMES, context=3)
    for start, stop in [(0, 2), (2, 5), (5, 6), (6, 9)]:
        lo, hi = context_range(start, stop, n_frames=N_FRAMES, context=3)
        np.testing.assert_array_equal(
            context_stacks(movie[lo:hi], first=start, stop=stop, n_frames=N_FRAMES,
                           context=3), whole[start:stop])


def test_same_rule_as_the_frames_patch_generator(movie):
    frames = np.arange(N_FRAMES)
    patches = cut_windows(movie, frames, frames, np.zeros(N_FRAMES, int),
                          np.zeros(N_FRAMES, int), size_px=4, window=3, n_frames=N_FRAMES)
    stacks = context_stacks(movie, first=0, stop=N_FRAMES, n_frames=N_FRAMES, context=3)
    np.testing.assert_array_equal(stacks[:, :4, :4], patches)


def test_bad_blocks_and_contexts(movie):
    with pytest.raises(ValueError, match="odd"):
        context_range(0, 2, n_frames=N_FRAMES, context=2)
    with pytest.raises(ValueError, match="block"):
        context_range(3, 3, n_frames=N_FRAMES, context=3)
    with pytest.raises(ValueError, match="block"):
        context_range(5, 10, n_frames=N_FRAMES, context=3)
    with pytest.raises(ValueError, match=r"\[2, 6\)"):
        context_stacks(movie[3:6], first=3, stop=5, n_frames=N_FRAMES, context=3)
    check_context(3, n_frames=3)
    with pytest.raises(InputError, match="only 2") as info:
        check_context(3, n_frames=2)
    assert info.value.param == "context"
