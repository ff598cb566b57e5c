"""The linking kernel and the exact seam rule against the plain in-memory loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smlmscale.postprocess.link_kernel import Ends, greedy_pairs, link_block
from smlmscale.postprocess.link_seams import fix_seam, relink_block
from tests.postprocess.reference import blinking_table, link_reference


def link_in_blocks(table, cuts, *, radius_nm, max_dark, head_frames):
    """Blocks cut at frames ``cuts``, each linked on its own, seams fixed in order."""
    frame = table["frame"].to_numpy()
    edges = [-1, *cuts, 2**40]
    blocks = [table[(frame >= a) & (frame < b)].reset_index(drop=True)
              for a, b in zip(edges[:-1], edges[1:])]
    blocks = [b for b in blocks if len(b)]
    own = [link_block(b, block=k, radius_nm=radius_nm, max_dark=max_dark,
                      head_frames=head_frames) for k, b in enumerate(blocks)]
    out, incoming, offset, relinked = [], Ends.empty(), 0, 0
    for k, (track, links) in enumerate(own):
        done = fix_seam(links, incoming, offset=offset, radius_nm=radius_nm, max_dark=max_dark)
        if done is None:
            relinked += 1
            done = relink_block(blocks[k], incoming, block=k, offset=offset,
                                radius_nm=radius_nm, max_dark=max_dark)
        fix, incoming, offset = done
        out.append(fix.relabel(track))
    return np.concatenate(out), offset, relinked


def test_kernel_equals_reference_on_blinking_emitters():
    table = blinking_table(seed=3, uncertainty=None)
    for radius, dark in [(50.0, 1), (30.0, 0), (80.0, 3)]:
        ref = link_reference(table, radius_nm=radius, max_dark=dark)
        track, links = link_block(table, block=0, radius_nm=radius, max_dark=dark,
                                  head_frames=5)
        np.testing.assert_array_equal(track, ref)
        assert links.n_tracks == ref.max() + 1
        # emitters blink: most tracks have more than one localization
        assert np.bincount(ref).max() > 3


def test_seams_exact_with_tracks_and_dark_gaps_across_them():
    table = blinking_table(seed=5, frames=300, emitters=400)
    ref = link_reference(table, radius_nm=50.0, max_dark=2)
    cuts = [17, 18, 60, 131, 250]
    frame = table["frame"].to_numpy()
    crossing = [c for c in cuts if len(np.intersect1d(ref[frame < c], ref[frame >= c]))]
    assert len(crossing) == len(cuts)             # tracks cross every seam
    for head in (40, 1):                         # 1: seams that do not converge are relinked
        track, n_tracks, relinked = link_in_blocks(table, cuts, radius_nm=50.0, max_dark=2,
                                                   head_frames=head)
        np.testing.assert_array_equal(track, ref)
        assert n_tracks == ref.max() + 1
        assert (relinked > 0) == (head == 1)


def test_a_dark_gap_on_the_seam_keeps_the_track():
    table = pd.DataFrame({"frame": [0, 1, 4, 5, 9], "x_nm": [0.0, 1.0, 2.0, 3.0, 4.0],
                          "y_nm": 0.0})
    track, _, _ = link_in_blocks(table, [3], radius_nm=5.0, max_dark=2, head_frames=8)
    assert track.tolist() == [0, 0, 0, 0, 1]       # frames 2, 3 dark; 6-8 dark: too long


def test_greedy_takes_the_nearest_first():
    # loc 0 is nearest end 0, loc 1 then gets end 1 although end 0 is nearer to it too
    loc, end = np.array([0, 1, 1]), np.array([0, 0, 1])
    order = np.array([0, 1, 2])
    assert greedy_pairs(loc, end, order).tolist() == [True, False, True]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_seams_exact_on_random_tables(data):
    n = data.draw(st.integers(1, 60))
    frames = data.draw(st.lists(st.integers(0, 25), min_size=n, max_size=n))
    xy = data.draw(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)),
                            min_size=n, max_size=n))            # integers: distance ties
    table = pd.DataFrame({"frame": frames, "x_nm": [float(a) for a, _ in xy],
                          "y_nm": [float(b) for _, b in xy]})
    table = table.sort_values("frame", kind="stable", ignore_index=True)
    radius = float(data.draw(st.sampled_from([0.0, 1.0, 1.5, 2.0, 4.0])))
    dark = data.draw(st.integers(0, 3))
    cuts = sorted(data.draw(st.sets(st.integers(1, 25), max_size=5)))
    head = data.draw(st.integers(1, 6))
    ref = link_reference(table, radius_nm=radius, max_dark=dark)
    track, n_tracks, _ = link_in_blocks(table, cuts, radius_nm=radius, max_dark=dark,
                                        head_frames=head)
    np.testing.assert_array_equal(track, ref)
    assert n_tracks == ref.max() + 1


def test_unsorted_rows_are_refused():
    table = pd.DataFrame({"frame": [2, 1], "x_nm": [0.0, 0.0], "y_nm": [0.0, 0.0]})
    with pytest.raises(ValueError, match="sorted"):
        link_block(table, block=0, radius_nm=1.0, max_dark=0, head_frames=2)
