"""The exact seam rule of partitioned linking: blocks linked on their own, then fixed.

Every block of frames is first linked on its own, as if no track came from before
(:func:`~smlmscale.postprocess.link_kernel.link_block`, all blocks in parallel). Then, block
after block, a sequential pass replays the block's first frames from the *true* open ends
of the previous block (:func:`fix_seam`). What the linker does at a frame depends only on
the open ends (identity, frame, position of each open track's last localization) and the
frame's rows, never on earlier history; so as soon as, after some frame ``f``, the replay
has the same set of open ends (by row identity) as the block's own run, every later
decision is the same in both. The replay stops there (*converged*). From then on, the
block's own tracks are renamed: a track open at ``f`` becomes the true track that ends at
the same localization; a track started after ``f`` gets the next new id. Track ids then
equal those of one sequential run over the whole table (new tracks numbered in start
order), so the result is the in-memory reference's exactly.

The replay reads only the block's first ``head_frames`` frames (shipped with its own run);
a block that has not converged by then is linked again whole from the true ends on a
worker (:func:`relink_block`). Convergence usually comes within ``max_dark + 2`` frames:
tracks from before the seam end or are continued, and the runs agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smlmscale.postprocess.link_kernel import (BlockLinks, Ends, Linker, block_keys,
                                               frame_groups, link_rows, positions)


@dataclass(frozen=True)
class SeamFix:
    """How one block's own track ids become global ones.

    Attributes
    ----------
    offset : int
        Global id of the block's first new track.
    head_track : numpy.ndarray
        Global tracks of the block's first ``len(head_track)`` rows (the replay).
    local_done : int
        Local tracks (ids below) started in the replayed rows; those still open at the
        convergence are renamed by ``mapped_local`` -> ``mapped_global`` (sorted by local).
    new_in_head : int
        New global tracks started in the replayed rows.
    complete : bool
        The replay covers every row (no own-run rows follow).
    """

    offset: int
    head_track: np.ndarray
    local_done: int
    mapped_local: np.ndarray
    mapped_global: np.ndarray
    new_in_head: int
    complete: bool = False

    @classmethod
    def identity(cls, offset: int) -> "SeamFix":
        """No track crosses the seam: local id ``i`` becomes ``offset + i``."""
        empty = np.empty(0, np.int64)
        return cls(offset, empty, 0, empty, empty, 0)

    def map_tracks(self, local: np.ndarray) -> np.ndarray:
        """Global ids of local track ids of the own run after the convergence."""
        local = np.asarray(local, np.int64)
        out = self.offset + self.new_in_head + local - self.local_done
        old = local < self.local_done
        if old.any():
            pos = np.searchsorted(self.mapped_local, local[old])
            pos = np.minimum(pos, max(len(self.mapped_local) - 1, 0))
            if not len(self.mapped_local) or np.any(self.mapped_local[pos] != local[old]):
                raise RuntimeError("a track continued after the seam was not open at it")
            out[old] = self.mapped_global[pos]
        return out

    def relabel(self, local_track: np.ndarray) -> np.ndarray:
        """Global track of every row of the block, from its own run's ``local_track``."""
        if self.complete:
            return self.head_track
        out = np.asarray(local_track, np.int64).copy()
        n = len(self.head_track)
        out[:n] = self.head_track
        out[n:] = self.map_tracks(out[n:])
        return out

    def next_offset(self, n_tracks: int) -> int:
        """Global id of the next block's first new track (``n_tracks``: the own run's)."""
        if self.complete:
            return self.offset + self.new_in_head
        return self.offset + self.new_in_head + n_tracks - self.local_done


def open_for(ends: Ends, frame: int, max_dark: int) -> Ends:
    """The ends a localization in ``frame`` may join."""
    return ends.take(frame - ends.frame <= max_dark + 1)


def _own_open_rows(track: np.ndarray, starts: np.ndarray, frames: np.ndarray, i: int,
                   max_dark: int) -> np.ndarray:
    """Rows of the own run's open ends after its ``i``-th frame: in the frames since
    ``frames[i] - max_dark``, the last row of each track up to that frame."""
    first = int(np.searchsorted(frames, frames[i] - max_dark))
    window = track[starts[first]:starts[i + 1]]
    last = len(window) - 1 - np.unique(window[::-1], return_index=True)[1]
    return starts[first] + last


def fix_seam(links: BlockLinks, incoming: Ends, *, offset: int, radius_nm: float,
             max_dark: int) -> tuple[SeamFix, Ends, int] | None:
    """Replay a block's head from the true open ends of the blocks before it.

    Parameters
    ----------
    links : BlockLinks
        The block's own run.
    incoming : Ends
        True open ends (global track ids) after the previous blocks.
    offset : int
        Global id of the block's first new track.
    radius_nm, max_dark
        As :class:`~smlmscale.postprocess.link_kernel.Linker`.

    Returns
    -------
    tuple or None
        ``(fix, outgoing ends, next offset)``; None when the head ended before the
        replay converged and the block must be linked again whole (:func:`relink_block`).
    """
    incoming = open_for(incoming, links.first_frame, max_dark)
    if not len(incoming) or not links.rows:
        fix = SeamFix.identity(offset)
        return fix, links.ends.with_tracks(fix.map_tracks(links.ends.track)), \
            fix.next_offset(links.n_tracks)
    linker = Linker(radius_nm=radius_nm, max_dark=max_dark, ends=incoming, next_track=offset)
    key = block_keys(links.block, len(links.head_frame))
    head_track = np.full(len(key), -1, np.int64)
    frames, starts = frame_groups(links.head_frame)
    for i, (f, a, b) in enumerate(zip(frames.tolist(), starts[:-1].tolist(),
                                      starts[1:].tolist())):
        head_track[a:b] = linker.step(f, key[a:b], links.head_x[a:b], links.head_y[a:b])
        open_true = linker.ends.open_after(f, max_dark)
        own_rows = _own_open_rows(links.head_track, starts, frames, i, max_dark)
        if np.array_equal(np.sort(open_true.key), np.sort(key[own_rows])):
            true_track = dict(zip(open_true.key.tolist(), open_true.track.tolist()))
            order = np.argsort(links.head_track[own_rows], kind="stable")
            mapped_local = links.head_track[own_rows][order]
            mapped_global = np.array([true_track[k] for k in key[own_rows][order].tolist()],
                                     np.int64)
            fix = SeamFix(offset, head_track[:b], int(links.head_track[:b].max()) + 1,
                          mapped_local, mapped_global, linker.next_track - offset)
            return fix, links.ends.with_tracks(fix.map_tracks(links.ends.track)), \
                fix.next_offset(links.n_tracks)
    if not links.head_complete:
        return None
    fix = SeamFix(offset, head_track, 0, np.empty(0, np.int64), np.empty(0, np.int64),
                  linker.next_track - offset, complete=True)
    return fix, linker.ends.open_after(links.last_frame, max_dark), linker.next_track


def relink_block(part, incoming: Ends, *, block: int, offset: int, radius_nm: float,
                 max_dark: int) -> tuple[SeamFix, Ends, int]:
    """Link a whole block from the true open ends before it (a seam that did not converge
    within the head); as :func:`fix_seam`, with the fix covering every row."""
    frame, x, y = positions(part)
    linker = Linker(radius_nm=radius_nm, max_dark=max_dark,
                    ends=open_for(incoming, int(frame[0]), max_dark), next_track=offset)
    track = link_rows(frame, x, y, block_keys(block, len(frame)), linker=linker)
    empty = np.empty(0, np.int64)
    fix = SeamFix(offset, track, 0, empty, empty, linker.next_track - offset, complete=True)
    return fix, linker.ends.open_after(int(frame[-1]), max_dark), linker.next_track


__all__ = ["SeamFix", "fix_seam", "open_for", "relink_block"]
