"""Linking kernel: one emitter's localizations in consecutive frames joined into tracks.

The rule, frame by frame in increasing order (the in-memory reference of the tests is
a plain loop over the same rule):

- a track is *open* for frame ``f`` when its last localization lies within
  ``max_dark + 1`` frames before ``f`` (``f - last_frame <= max_dark + 1``);
- every pair (localization of ``f``, open track) whose lateral distance from the
  track's last localization is at most ``radius_nm`` is a candidate;
- candidates are taken greedily by increasing distance (ties: the earlier localization
  of ``f`` first, then the track whose last localization comes first in the table), each
  localization joining at most one track and each track taking at most one
  localization per frame;
- a localization left over starts a new track; new tracks are numbered in the order
  they start (by frame, then row).

Only the *open ends* (last localization of each open track: its identity, frame and
position) decide what happens next, never a track's earlier history; this is what makes
the partitioned version exact (:mod:`.link_seams`). Identities (``key``) order as the
table's rows: ``block << 40 | row in the block``.

Candidates come from a k-d tree of the open ends (:class:`scipy.spatial.cKDTree`), queried
a hair wider than the radius; the exact test is ``dx * dx + dy * dy <= radius ** 2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KEY_SHIFT = 40


@dataclass(frozen=True)
class Ends:
    """The open ends of tracks: ``key`` (row identity), ``frame``, ``x``, ``y`` (nm) and
    ``track`` (track id), one entry each, all ``(n,)``."""

    key: np.ndarray
    frame: np.ndarray
    x: np.ndarray
    y: np.ndarray
    track: np.ndarray

    @classmethod
    def empty(cls) -> "Ends":
        return cls(*(np.empty(0, np.int64) for _ in range(2)), np.empty(0), np.empty(0),
                   np.empty(0, np.int64))

    def __len__(self) -> int:
        return len(self.key)

    def take(self, index) -> "Ends":
        return Ends(self.key[index], self.frame[index], self.x[index], self.y[index],
                    self.track[index])

    def open_after(self, frame: int, max_dark: int) -> "Ends":
        """The ends that can still be joined by a localization after ``frame``."""
        return self.take(self.frame >= frame - max_dark)

    def with_tracks(self, track: np.ndarray) -> "Ends":
        return Ends(self.key, self.frame, self.x, self.y, np.asarray(track, np.int64))


def frame_groups(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct frames of a frame-sorted ``frame`` array and the ``(k + 1,)`` row offsets.

    Raises
    ------
    ValueError
        ``frame`` is not sorted.
    """
    frame = np.asarray(frame, np.int64)
    if frame.size > 1 and np.any(frame[1:] < frame[:-1]):
        raise ValueError("rows must be sorted by frame")
    cut = np.flatnonzero(frame[1:] != frame[:-1]) + 1
    starts = np.concatenate(([0], cut, [frame.size])).astype(np.int64)
    return frame[starts[:-1]], starts


def greedy_pairs(loc: np.ndarray, end: np.ndarray, order: np.ndarray) -> np.ndarray:
    """The pairs ``(loc[p], end[p])`` taken greedily in ``order``: a boolean mask.

    A pair whose localization and end appear in no other pair is always taken; the
    others are decided one by one in ``order``.
    """
    taken = np.zeros(len(loc), bool)
    alone = (np.bincount(loc)[loc] == 1) & (np.bincount(end)[end] == 1)
    taken[alone] = True
    if alone.all():
        return taken
    used_loc, used_end = set(), set()
    for p in order:
        if alone[p]:
            continue
        a, b = int(loc[p]), int(end[p])
        if a not in used_loc and b not in used_end:
            used_loc.add(a)
            used_end.add(b)
            taken[p] = True
    return taken


class Linker:
    """Links frames one at a time (the rule of the module docstring).

    Parameters
    ----------
    radius_nm : float
        Largest lateral distance from a track's last localization, nm.
    max_dark : int
        Frames a track may miss between two of its localizations.
    ends : Ends, optional
        Open ends to start from (a previous block's), default none.
    next_track : int
        Id of the next new track.
    """

    def __init__(self, *, radius_nm: float, max_dark: int, ends: Ends | None = None,
                 next_track: int = 0) -> None:
        from scipy.spatial import cKDTree

        self._tree = cKDTree
        self.radius_nm = float(radius_nm)
        self.max_dark = int(max_dark)
        self.ends = ends if ends is not None else Ends.empty()
        self.next_track = int(next_track)

    def step(self, frame: int, key: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Link the localizations of one ``frame`` (rows in table order); their tracks."""
        ends = self.ends.take(frame - self.ends.frame <= self.max_dark + 1)
        n = len(key)
        track = np.full(n, -1, np.int64)
        joined = np.zeros(len(ends), bool)
        if len(ends) and n:
            loc, end = self._candidates(ends, x, y)
            if len(loc):
                dx, dy = x[loc] - ends.x[end], y[loc] - ends.y[end]
                d2 = dx * dx + dy * dy
                near = d2 <= self.radius_nm * self.radius_nm
                loc, end, d2 = loc[near], end[near], d2[near]
                order = np.lexsort((ends.key[end], loc, d2))
                taken = greedy_pairs(loc, end, order)
                track[loc[taken]] = ends.track[end[taken]]
                joined[end[taken]] = True
        new = track < 0
        track[new] = self.next_track + np.arange(int(new.sum()))
        self.next_track += int(new.sum())
        frames = np.full(n, frame, np.int64)
        kept = ends.take(~joined)
        self.ends = Ends(np.concatenate((kept.key, key)), np.concatenate((kept.frame, frames)),
                         np.concatenate((kept.x, x)), np.concatenate((kept.y, y)),
                         np.concatenate((kept.track, track)))
        return track

    def _candidates(self, ends: Ends, x: np.ndarray, y: np.ndarray):
        reach = self.radius_nm * (1 + 1e-9) + 1e-9
        if len(ends) * len(x) <= 64:     # a handful: every pair
            loc, end = np.divmod(np.arange(len(ends) * len(x)), len(ends))
            return loc, end
        pairs = self._tree(np.c_[x, y]).sparse_distance_matrix(
            self._tree(np.c_[ends.x, ends.y]), reach, output_type="ndarray")
        loc, end = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)
        return loc, end


@dataclass(frozen=True)
class BlockLinks:
    """What the seams need of a block linked on its own (no tracks from before).

    Attributes
    ----------
    block : int
        The partition's number.
    n_tracks : int
        Tracks started in the block (local ids ``0..n_tracks-1``, in start order).
    ends : Ends
        Open ends at the block's last frame (local track ids).
    first_frame, last_frame, rows : int
    not_finite : int
        Rows with a NaN or infinite ``x_nm``/``y_nm`` (then nothing is linked).
    head_frame, head_x, head_y, head_track : numpy.ndarray
        The rows of the block's first ``head_frames`` frames and their local tracks.
    """

    block: int
    n_tracks: int
    ends: Ends
    first_frame: int
    last_frame: int
    rows: int
    not_finite: int
    head_frame: np.ndarray
    head_x: np.ndarray
    head_y: np.ndarray
    head_track: np.ndarray

    @property
    def head_complete(self) -> bool:
        """Whether the head holds every row of the block."""
        return len(self.head_frame) == self.rows


def block_keys(block: int, rows: int) -> np.ndarray:
    """Row identities of a block: ``block << 40 | row``."""
    return (np.int64(block) << KEY_SHIFT) + np.arange(rows, dtype=np.int64)


def link_rows(frame: np.ndarray, x: np.ndarray, y: np.ndarray, key: np.ndarray, *,
              linker: Linker) -> np.ndarray:
    """Run ``linker`` over frame-sorted rows; the track of each row."""
    track = np.full(len(frame), -1, np.int64)
    frames, starts = frame_groups(frame)
    for f, a, b in zip(frames.tolist(), starts[:-1].tolist(), starts[1:].tolist()):
        track[a:b] = linker.step(f, key[a:b], x[a:b], y[a:b])
    return track


def positions(part) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``frame`` (int64), ``x_nm``, ``y_nm`` (float64) of a table partition."""
    return (part["frame"].to_numpy(np.int64), part["x_nm"].to_numpy(np.float64),
            part["y_nm"].to_numpy(np.float64))


def link_block(part, *, block: int, radius_nm: float, max_dark: int,
               head_frames: int) -> tuple[np.ndarray, BlockLinks]:
    """Link one frame-sorted partition on its own.

    Parameters
    ----------
    part : pandas.DataFrame
        ``frame``, ``x_nm``, ``y_nm``, rows sorted by frame.
    block : int
        The partition's number (row identities).
    radius_nm, max_dark
        As :class:`Linker`.
    head_frames : int
        Frames at the block's start whose rows are returned for the seam.

    Returns
    -------
    track : numpy.ndarray
        Local track of every row (all -1 when positions are not finite).
    links : BlockLinks
    """
    frame, x, y = positions(part)
    bad = int((~(np.isfinite(x) & np.isfinite(y))).sum())
    first = int(frame[0]) if frame.size else 0
    last = int(frame[-1]) if frame.size else -1
    track = np.full(frame.size, -1, np.int64)
    ends, n_tracks = Ends.empty(), 0
    if not bad and frame.size:
        linker = Linker(radius_nm=radius_nm, max_dark=max_dark)
        track = link_rows(frame, x, y, block_keys(block, frame.size), linker=linker)
        ends, n_tracks = linker.ends.open_after(last, max_dark), linker.next_track
    frames, starts = frame_groups(frame)
    head = int(starts[min(head_frames, len(frames))])
    return track, BlockLinks(block, n_tracks, ends, first, last, int(frame.size), bad,
                             frame[:head], x[:head], y[:head], track[:head])


__all__ = ["BlockLinks", "Ends", "KEY_SHIFT", "Linker", "block_keys", "frame_groups",
           "greedy_pairs", "link_block", "link_rows", "positions"]
