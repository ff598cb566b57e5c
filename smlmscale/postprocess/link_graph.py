"""Graph builders of ``link``: blocks linked on their own, then the linked table, lazily.

Each partition of the lazily read table (sorted by frame, a frame never split between
partitions) is a block. :func:`block_links` links every block on its own;
:func:`linked_table` renames the tracks by the seam fixes (:mod:`.link_seams`) and either
adds a ``track_id`` column to every row (``keep_all``) or merges every track into one row:
partial sums per partition (:func:`~smlmscale.postprocess.merge.track_sums`), the sums of
tracks that started in an earlier partition sent on to it (they are few: tracks crossing a
seam), one merged row per track in the partition where it starts.
"""

from __future__ import annotations

import dask
import numpy as np
import pandas as pd

from smlmscale.postprocess.link_kernel import link_block
from smlmscale.postprocess.link_seams import SeamFix
from smlmscale.postprocess.merge import add_sums, merged_rows, track_sums


def block_links(table, *, radius_nm: float, max_dark: int, head_frames: int) -> list:
    """``(track, links)`` delayed pairs, one per partition (see
    :func:`~smlmscale.postprocess.link_kernel.link_block`)."""
    parts = table[["frame", "x_nm", "y_nm"]].to_delayed()
    link = dask.delayed(link_block, nout=2, pure=True)
    return [link(part, block=k, radius_nm=radius_nm, max_dark=max_dark,
                 head_frames=head_frames) for k, part in enumerate(parts)]


def relabel(fix: SeamFix, track: np.ndarray) -> np.ndarray:
    """Global tracks of one block's rows (:meth:`SeamFix.relabel`)."""
    return fix.relabel(track)


def _with_tracks(part: pd.DataFrame, track: np.ndarray) -> pd.DataFrame:
    return part.assign(track_id=np.asarray(track, np.int64))


def _foreign(sums: pd.DataFrame, offset: int) -> pd.DataFrame:
    """Sums of tracks started before this partition (ids below ``offset``)."""
    return sums[sums.index < offset]


def _gather(foreign: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(foreign)


def _merged(sums: pd.DataFrame, foreign: pd.DataFrame, *, first: int, stop: int,
            columns: list[str]) -> pd.DataFrame:
    own = sums[sums.index >= first]
    later = foreign[(foreign.index >= first) & (foreign.index < stop)]
    if len(later):
        own = add_sums(pd.concat([own, later]).rename_axis("track_id").reset_index())
    return merged_rows(own, columns)


def linked_table(table, tracks: list, fixes: list[SeamFix], n_tracks: int, *,
                 weights: str, keep_all: bool):
    """The linked table, lazily.

    Parameters
    ----------
    table : dask.dataframe.DataFrame
        The table the blocks were linked from.
    tracks : list
        Per partition, its own run's local tracks (delayed objects or futures).
    fixes : list of SeamFix
        Per partition, its seam fix.
    n_tracks : int
        Tracks in all.
    weights : {"auto", "photons", "equal"}
        How positions are averaged (:mod:`smlmscale.postprocess.merge`).
    keep_all : bool
        Every row with its ``track_id`` instead of one merged row per track.

    Returns
    -------
    dask.dataframe.DataFrame
        Partitions in frame order; merged rows sorted by track id (= by first frame).
    """
    import dask.dataframe as dd

    parts = table.to_delayed()
    ids = [dask.delayed(relabel, pure=True)(fix, track) for fix, track in zip(fixes, tracks)]
    empty = table._meta
    if keep_all:
        meta = _with_tracks(empty, np.empty(0, np.int64))
        return dd.from_delayed([dask.delayed(_with_tracks, pure=True)(p, t)
                                for p, t in zip(parts, ids)], meta=meta, verify_meta=False)
    columns = list(empty.columns)
    sums = [dask.delayed(track_sums, pure=True)(p, t, weights=weights)
            for p, t in zip(parts, ids)]
    foreign = dask.delayed(_gather, pure=True)(
        [dask.delayed(_foreign, pure=True)(s, fix.offset) for s, fix in zip(sums, fixes)])
    stops = [fix.offset for fix in fixes[1:]] + [n_tracks]
    merged = [dask.delayed(_merged, pure=True)(s, foreign, first=fixes[k].offset,
                                               stop=stops[k], columns=columns)
              for k, s in enumerate(sums)]
    meta = merged_rows(track_sums(empty, np.empty(0, np.int64), weights="equal"), columns)
    return dd.from_delayed(merged, meta=meta, verify_meta=False)


__all__ = ["block_links", "linked_table", "relabel"]
