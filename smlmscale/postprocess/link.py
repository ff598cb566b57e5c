"""Orchestration: ``link`` a localization table, merging one emitter's consecutive frames.

The rule is :mod:`~smlmscale.postprocess.link_kernel`'s (greedy by distance, within
``radius_nm`` of a track's last localization, at most ``max_dark`` frames missed); the
merged row :mod:`~smlmscale.postprocess.merge`'s (inverse-variance weighted positions where
the table has uncertainties). The table is read lazily; its partitions (frame blocks) are
linked on their own on the workers, the seams fixed exactly in a short sequential pass
(:mod:`~smlmscale.postprocess.link_seams`: only the first frames of each block and the open
track ends come to the driver), and the merged or labelled table written partition by
partition by the project's table writer (any format). The result equals one sequential
run over the whole table, track ids included.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from smlmscale.errors import InputError
from smlmscale.postprocess.merge import WEIGHTS
from smlmscale.settings import Settings, setting


@dataclass(frozen=True)
class LinkSettings(Settings):
    """How localizations are linked.

    Attributes
    ----------
    radius_nm : float
        Largest lateral distance from a track's last localization, nm.
    max_dark : int
        Frames an emitter may be missed between two localizations of its track.
    weights : {"auto", "photons", "equal"}
        Averaging of the merged positions: inverse variance of the uncertainty columns
        (equal without them), photon counts, or the plain mean.
    """

    radius_nm: float = setting(50.0, min=0, unit="nm",
                               help="Largest distance from a track's last localization")
    max_dark: int = setting(1, min=0, unit="frames",
                            help="Frames a track may miss between two localizations")
    weights: str = setting("auto", choices=WEIGHTS,
                           help="Merged positions: auto (inverse variance of the "
                                "uncertainty columns, else the mean), photons or equal")


@dataclass(frozen=True, eq=False)
class LinkPlan:
    """A checked link (:func:`prepare_link`)."""

    locs: str
    output: Path
    format: str | None
    keep_all: bool
    overwrite: bool
    table: Any
    meta: Any
    settings: LinkSettings


@dataclass(frozen=True)
class LinkResult:
    """What was written: ``path``, the ``localizations`` read, the ``tracks`` found, the
    ``rows`` written, the ``blocks`` (partitions) and how many were ``relinked`` whole."""

    path: str
    localizations: int
    tracks: int
    rows: int
    blocks: int
    relinked: int


def prepare_link(locs: str | os.PathLike, output: str | os.PathLike, *,
                 settings: LinkSettings | None = None, format: str | None = None,
                 keep_all: bool = False, overwrite: bool = False,
                 blocksize: int | str | None = None) -> LinkPlan:
    """Check a link (no cluster): the output, the table's columns.

    Parameters
    ----------
    locs : str or os.PathLike
        Any table format smlmscale reads (opened lazily).
    output : str or os.PathLike
        The linked table; format from ``format`` or the extension.
    settings : LinkSettings, optional
    format : str, optional
    keep_all : bool
        Write every localization with its ``track_id`` instead of merged rows.
    overwrite : bool
    blocksize : int or str, optional
        Bytes per partition (frame block) of the reader.

    Raises
    ------
    InputError
        An existing output, an unknown format, an unreadable or empty table, one without
        ``frame``/``x_nm``/``y_nm``, ``weights="photons"`` without ``photons``.
    """
    from smlmscale.io.tables import read_table_lazy
    from smlmscale.io.tables.writer import prepare_output

    output = Path(output)
    settings = settings or LinkSettings()
    kwargs = {} if blocksize is None else {"blocksize": blocksize}
    table, meta = read_table_lazy(locs, **kwargs)    # frame, x_nm, y_nm are checked there
    if settings.weights == "photons" and "photons" not in table.columns:
        raise InputError("--weights photons needs a photons column; the table has none",
                         path=locs, hint="pass --weights auto or equal")
    prepare_output(output, meta=meta, format=format, overwrite=overwrite)
    return LinkPlan(locs=str(locs), output=output, format=format, keep_all=keep_all,
                    overwrite=overwrite, table=table, meta=meta, settings=settings)


def default_head_frames(max_dark: int) -> int:
    """Frames of each block replayed at its seam before it is linked again whole."""
    return max(32, 8 * (max_dark + 1))


def link_tracks(plan: LinkPlan, *, client, head_frames: int | None = None):
    """Link ``plan``'s table on the cluster: ``(tracks, fixes, n_tracks, rows, relinked)``,
    ``tracks`` the futures of each block's own run.

    Raises
    ------
    InputError
        NaN or infinite positions, an empty table.
    """
    import dask

    from smlmscale.postprocess.link_graph import block_links
    from smlmscale.postprocess.link_kernel import Ends
    from smlmscale.postprocess.link_seams import fix_seam, relink_block

    s = plan.settings
    head_frames = head_frames or default_head_frames(s.max_dark)
    pairs = block_links(plan.table, radius_nm=s.radius_nm, max_dark=s.max_dark,
                        head_frames=head_frames)
    futures = client.compute([t for t, _ in pairs] + [b for _, b in pairs])
    tracks, links = futures[:len(pairs)], client.gather(futures[len(pairs):])
    bad = sum(b.not_finite for b in links)
    if bad:
        raise InputError(f"{bad} localizations have NaN or infinite x/y", path=plan.locs,
                         hint="remove or fix those rows")
    rows = sum(b.rows for b in links)
    if rows == 0:
        raise InputError("the table has no localizations", path=plan.locs)
    positions = plan.table[["frame", "x_nm", "y_nm"]].to_delayed()
    fixes, incoming, offset, relinked = [], Ends.empty(), 0, 0
    for k, block in enumerate(links):
        done = fix_seam(block, incoming, offset=offset, radius_nm=s.radius_nm,
                        max_dark=s.max_dark)
        if done is None:
            relinked += 1
            done = client.compute(dask.delayed(relink_block)(
                positions[k], incoming, block=k, offset=offset, radius_nm=s.radius_nm,
                max_dark=s.max_dark), sync=True)
        fix, incoming, offset = done
        fixes.append(fix)
    return tracks, fixes, offset, rows, relinked


def run_link(plan: LinkPlan, *, client, progress=None,
             head_frames: int | None = None) -> LinkResult:
    """Link a :class:`LinkPlan` on the cluster and write the table atomically.

    ``head_frames`` (tests) sets how many frames of a block the seam replays before the
    block is linked again whole (default :func:`default_head_frames`).
    """
    from smlmscale.io.tables import write_table
    from smlmscale.postprocess.link_graph import linked_table

    s = plan.settings
    tracks, fixes, n_tracks, rows, relinked = link_tracks(plan, client=client,
                                                          head_frames=head_frames)
    table = linked_table(plan.table, tracks, fixes, n_tracks, weights=s.weights,
                         keep_all=plan.keep_all)
    meta = replace(plan.meta, extra={**dict(plan.meta.extra), "link": {
        "radius_nm": s.radius_nm, "max_dark": s.max_dark, "weights": s.weights,
        "keep_all": plan.keep_all, "localizations": rows, "tracks": n_tracks}})
    summary = write_table(table, plan.output, meta=meta, format=plan.format,
                          overwrite=plan.overwrite)
    return LinkResult(path=str(plan.output), localizations=rows, tracks=n_tracks,
                      rows=int(summary["rows"]), blocks=len(fixes), relinked=relinked)


__all__ = ["LinkPlan", "LinkResult", "LinkSettings", "default_head_frames", "link_tracks",
           "prepare_link", "run_link"]
