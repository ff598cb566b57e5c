"""Orchestration of ``smlmscale cluster``: a localization table -> a ``clusters/`` folder.

Two modes:

- ``sequences`` (the seed workflow): the ROI tiles of a section stack are chained into
  tile sequences (:mod:`.sequences`), each sequence's 3D points are clustered alone
  (:mod:`.sequence_dbscan`), batches of sequences per task (:mod:`.run_sequences`);
- ``global``: exact DBSCAN of the whole table, equal to scikit-learn's
  (:mod:`.dbscan_global`, :mod:`.run_global`).

Both then compute cluster properties and, with ``randomize``, the randomized control,
per task, and write the folder described in :mod:`.output`.

:func:`prepare_cluster` makes every cheap check (options, the table's header, the ROI
list, the output) before a cluster starts and returns a :class:`ClusterPlan`;
:func:`run_cluster` runs it on a client. :func:`cluster_table` does both.

The section thickness
---------------------
Only the hulls use it (each point fills its section slab: properties, randomization).
It is, in this order: ``settings.section_thickness_nm`` (``--section-thickness``); the
table's own (``section_thickness_nm`` in its metadata, written by ``smlmscale simulate``);
inferred from z values at evenly spaced section centres
(:func:`~.run_common.infer_section_thickness`, as ``smlmscale predict --rois`` writes
them); else None: the hulls are those of the points themselves. ``cluster.json``
records the value and where it came from.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from smlmscale.cluster.settings import MODES, ClusterSettings
from smlmscale.errors import InputError


@dataclass(frozen=True)
class ClusterResult:
    """What a run wrote: the folder ``path`` and the counts of ``cluster.json``."""

    path: str
    mode: str
    localizations: int
    clustered: int
    noise: int
    clusters: int
    sequences: int | None
    tasks: int
    blocks: int | None
    section_thickness_nm: float | None
    seconds: float

    @property
    def clustered_fraction(self) -> float:
        """Clustered localizations over all localizations."""
        return self.clustered / self.localizations if self.localizations else 0.0


@dataclass(frozen=True)
class ClusterPlan:
    """What :func:`prepare_cluster` checked and found (no rows read), for :func:`run_cluster`."""

    input: str
    output: str
    settings: ClusterSettings
    overwrite: bool
    command: str | None
    meta: Any                       # TableMeta
    columns: tuple[str, ...]
    pixel_size_nm: float | None
    rois: str | None
    sequences: pd.DataFrame | None  # tile_sequences of the ROI list
    thickness_nm: float | None
    thickness_from: str | None


def _ranges(values) -> str:
    """``[1, 2, 3, 7]`` -> ``"1-3, 7"`` (at most 6 runs shown)."""
    values = np.unique(np.asarray(values, np.int64))
    runs = np.split(values, np.flatnonzero(np.diff(values) != 1) + 1)
    text = [f"{r[0]}-{r[-1]}" if r.size > 1 else f"{r[0]}" for r in runs]
    return ", ".join(text[:6]) + (", ..." if len(text) > 6 else "")


def _missing_sections(sequences: pd.DataFrame, have, *, rois: str, have_text: str) -> None:
    named = np.unique(sequences["section"].to_numpy(np.int64))
    absent = named[~np.isin(named, np.asarray(have, np.int64))]
    if absent.size:
        raise InputError(f"the ROI list names sections {_ranges(absent)} which the table does "
                         f"not have ({have_text})", path=rois,
                         hint="check that the ROI list belongs to this table")


_RESTART = "pass --overwrite to start again"


def prepare_cluster(locs: str | os.PathLike, output: str | os.PathLike, *,
                    settings: ClusterSettings, rois: str | os.PathLike | None = None,
                    overwrite: bool = False, command: str | None = None) -> ClusterPlan:
    """The cheap checks, before a cluster starts: options, table header, ROI list, output.

    Parameters
    ----------
    locs : str or os.PathLike
        A localization table (any readable format); only its header is read here.
    output : str or os.PathLike
        The folder to write (:mod:`.output`).
    settings : ClusterSettings
    rois : str or os.PathLike, optional
        ROI list CSV (``roi, section, x, y, size``); required in sequences mode.
    overwrite : bool, optional
        Replace an existing output (once the new one is complete).
    command : str, optional
        The command line, recorded as provenance.

    Returns
    -------
    ClusterPlan

    Raises
    ------
    InputError
        Sequences mode without ``rois`` (or global mode with them); an output that
        exists (without ``overwrite``) or is a file; an input that is not a table or is
        empty; a sequences-mode table without ``z_nm`` or ``section`` or pixel size; a
        bad ROI list; ROI sections beyond the table's frame count; a thickness for a 2D
        table. Nothing is written.
    """
    from smlmscale.io.outputs import check_output
    from smlmscale.io.tables.registry import open_table

    if settings.mode == "sequences" and rois is None:
        raise InputError("--mode sequences needs the ROI list: pass --rois ROIS.csv",
                         hint="or cluster the whole table with --mode global")
    if settings.mode == "global" and rois is not None:
        raise InputError("--rois goes with --mode sequences",
                         hint="leave out --rois to cluster the whole table")
    output = os.path.abspath(os.fspath(output))
    if os.path.isfile(output):
        raise InputError("the output is a file; smlmscale cluster writes a folder", path=output,
                         hint="choose another -o, e.g. clusters/")
    check_output(output, overwrite=overwrite, resume_hint=_RESTART)
    locs = os.path.abspath(os.fspath(locs))
    source = open_table(locs, pixel_size_nm=settings.pixel_size_nm, blocksize=None)
    columns, meta = tuple(source.empty.columns), source.meta
    pixel, sequences = meta.pixel_size_nm, None
    if settings.mode == "sequences":
        missing = [c for c in ("z_nm", "section") if c not in columns]
        if missing:
            raise InputError(f"points without z or section: the table has no "
                             f"{' or '.join(missing)} column", path=locs,
                             hint="sequences mode clusters the 3D points of a section stack "
                                  "(smlmscale predict --rois); use --mode global otherwise")
        if pixel is None:
            raise InputError("the table does not record its pixel size", path=locs,
                             hint="pass --pixel-size NM (the pixel of the ROI list)")
        from smlmscale.cluster.sequences import tile_sequences
        from smlmscale.io.rois import read_rois

        rois = os.path.abspath(os.fspath(rois))
        sequences = tile_sequences(read_rois(rois), min_overlap_px=settings.min_overlap_px)
        if meta.n_frames:
            _missing_sections(sequences, range(meta.n_frames), rois=rois,
                              have_text=f"it was made from {meta.n_frames} sections, "
                                        f"0-{meta.n_frames - 1}")
    thickness, origin = settings.section_thickness_nm, "option"
    if thickness is None and "z_nm" in columns:
        thickness, origin = (meta.extra or {}).get("section_thickness_nm"), "table"
    if thickness is not None and "z_nm" not in columns:
        raise InputError("--section-thickness needs z_nm; this table is 2D", path=locs,
                         hint="leave out --section-thickness")
    return ClusterPlan(input=locs, output=output, settings=settings, overwrite=overwrite,
                       command=command, meta=meta, columns=columns, pixel_size_nm=pixel,
                       rois=rois, sequences=sequences,
                       thickness_nm=None if thickness is None else float(thickness),
                       thickness_from=None if thickness is None else origin)


def _thickness_survey(points, client, counter) -> pd.DataFrame:
    from dask import delayed

    from smlmscale.cluster.run_common import gather, merge_section_stats, section_stats

    parts = points[["section", "z_nm"]].to_delayed()
    counter.add(len(parts))
    return merge_section_stats(gather(client, client.compute(
        [delayed(section_stats)(p) for p in parts]), counter))


def _cluster_mode(points, plan: ClusterPlan, client, counter):
    """``(ModeOutput, thickness_nm, thickness origin)`` of the chosen mode."""
    from smlmscale.cluster.run_common import infer_section_thickness

    settings = plan.settings
    thickness, origin = plan.thickness_nm, plan.thickness_from
    needs_z = thickness is None and {"section", "z_nm"} <= set(plan.columns)
    if settings.mode == "global":
        from smlmscale.cluster.run_global import cluster_globally

        if needs_z:
            stats = _thickness_survey(points, client, counter)
            thickness, origin = infer_section_thickness(stats), "z spacing"
        return cluster_globally(points, client=client, settings=settings, thickness=thickness,
                                counter=counter), thickness, origin
    from smlmscale.cluster.run_sequences import cluster_by_sequences, survey_sequences

    survey = survey_sequences(points, client=client, sequences=plan.sequences,
                              pixel_size_nm=plan.pixel_size_nm, counter=counter)
    if not plan.meta.n_frames:
        _missing_sections(plan.sequences, survey["sections"]["section"], rois=plan.rois,
                          have_text="no localization lies in them")
    if needs_z:
        thickness, origin = infer_section_thickness(survey["sections"]), "z spacing"
    return cluster_by_sequences(points, client=client, sequences=plan.sequences,
                                survey=survey, settings=settings,
                                pixel_size_nm=plan.pixel_size_nm, thickness=thickness,
                                counter=counter), thickness, origin


def _write_folder(folder, plan: ClusterPlan, client, counter, blocksize) -> dict[str, Any]:
    """Cluster, measure and write every file of the clusters folder into ``folder``;
    the record's fields (without provenance)."""
    from smlmscale.cluster.output import LOCALIZATIONS, write_small_files
    from smlmscale.cluster.run_common import finish_properties
    from smlmscale.io.tables import TableMeta, read_table_lazy, write_table

    points, meta = read_table_lazy(plan.input, pixel_size_nm=plan.settings.pixel_size_nm,
                                   blocksize=blocksize)
    mode, thickness, origin = _cluster_mode(points, plan, client, counter)
    extra = dict(meta.extra or {})
    if thickness is not None:
        extra["section_thickness_nm"] = thickness
    table_meta = TableMeta(pixel_size_nm=plan.pixel_size_nm, image_shape=meta.image_shape,
                           n_frames=meta.n_frames, source=plan.input, extra=extra)
    written = write_table(mode.table, folder / LOCALIZATIONS, meta=table_meta)
    mode.table, mode.keep = None, []   # release what the workers hold
    properties = finish_properties(mode.properties)
    randomized = None if mode.randomized is None else \
        finish_properties(mode.randomized, by="repeat")
    write_small_files(folder, properties=properties, randomized=randomized,
                      sequences=mode.sequences)
    rows = int(written["rows"])
    clustered = int(mode.counts.pop("clustered", rows - mode.counts.get("noise", 0)))
    counts = {"localizations": rows, "clustered": clustered, "noise": rows - clustered,
              "sequences": None, "blocks": None,
              **{k: v for k, v in mode.counts.items() if k != "noise"}}
    return {"section_thickness_nm": thickness,
            "section_thickness_from": origin if thickness is not None else None,
            "counts": counts}


def run_cluster(plan: ClusterPlan, *, client,
                progress: Callable[[int, int], None] | None = None,
                blocksize: int | str = "64MiB") -> ClusterResult:
    """Cluster the planned table on ``client`` and write the ``clusters/`` folder.

    The folder is built in ``OUT.partial`` (:func:`~smlmscale.io.outputs.staged_output`)
    and renamed when complete; on any error the partial folder is removed (there is no
    resume: an interrupted run is refused until ``overwrite``).

    Parameters
    ----------
    plan : ClusterPlan
        From :func:`prepare_cluster`.
    client : distributed.Client
    progress : callable, optional
        ``progress(done, total)`` over tasks; the total grows as stages are planned.
    blocksize : int or str, optional
        Bytes per input partition.

    Returns
    -------
    ClusterResult

    Raises
    ------
    InputError
        NaN coordinates; ROI sections without localizations (when the table does not
        record its frame count); no point in any ROI tile. Nothing is left behind.
    """
    from smlmscale import __version__
    from smlmscale.cluster.output import write_record
    from smlmscale.cluster.run_common import Progress
    from smlmscale.io.outputs import staged_output, utc_now

    started = time.perf_counter()
    counter = Progress(progress)
    settings = plan.settings
    with staged_output(plan.output, overwrite=plan.overwrite, resume_hint=_RESTART) as staged:
        found = _write_folder(staged.path, plan, client, counter, blocksize)
        seconds = time.perf_counter() - started
        write_record(staged.path, {
            "kind": "clusters", "mode": settings.mode, "version": __version__,
            "created": utc_now(), "command": plan.command, "input": plan.input,
            "rois": plan.rois, "settings": settings.to_mapping(),
            "pixel_size_nm": plan.pixel_size_nm,
            "section_thickness_nm": found["section_thickness_nm"],
            "section_thickness_from": found["section_thickness_from"],
            "counts": found["counts"], "seconds": round(seconds, 3)})
    counter.step(0)
    counts = found["counts"]
    return ClusterResult(path=plan.output, mode=settings.mode,
                         localizations=counts["localizations"], clustered=counts["clustered"],
                         noise=counts["noise"], clusters=int(counts["clusters"]),
                         sequences=counts.get("sequences"), tasks=int(counts["tasks"]),
                         blocks=counts.get("blocks"),
                         section_thickness_nm=found["section_thickness_nm"], seconds=seconds)


def cluster_table(locs: str | os.PathLike, output: str | os.PathLike, *, client,
                  settings: ClusterSettings, rois: str | os.PathLike | None = None,
                  overwrite: bool = False, command: str | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  blocksize: int | str = "64MiB") -> ClusterResult:
    """Cluster a localization table on ``client`` and write a ``clusters/`` folder.

    :func:`prepare_cluster` then :func:`run_cluster`; the parameters are theirs.

    Raises
    ------
    InputError
        See :func:`prepare_cluster` and :func:`run_cluster`. Nothing is left behind.
    """
    plan = prepare_cluster(locs, output, settings=settings, rois=rois, overwrite=overwrite,
                           command=command)
    return run_cluster(plan, client=client, progress=progress, blocksize=blocksize)


__all__ = ["ClusterPlan", "ClusterResult", "ClusterSettings", "MODES", "cluster_table",
           "prepare_cluster", "run_cluster"]
