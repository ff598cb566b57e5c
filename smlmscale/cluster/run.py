"""Orchestration of ``smlmscale cluster``: a localization table -> a ``clusters/`` folder.

Two modes:

- ``sequences`` (the seed workflow): the ROI tiles of a section stack are chained into
  tile sequences (:mod:`.sequences`), each sequence's 3D points are clustered alone
  (:mod:`.sequence_dbscan`), batches of sequences per task (:mod:`.run_sequences`);
- ``global``: exact DBSCAN of the whole table, equal to scikit-learn's
  (:mod:`.dbscan_global`, :mod:`.run_global`).

Both then compute cluster properties and, with ``randomize``, the randomized control,
per task, and write the folder described in :mod:`.output`.

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

import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from smlmscale.cluster.coords import check_eps
from smlmscale.errors import InputError
from smlmscale.validate import integer

MODES = ("sequences", "global")


@dataclass(frozen=True)
class ClusterSettings:
    """How ``smlmscale cluster`` clusters (built by the CLI).

    Attributes
    ----------
    mode : {"sequences", "global"}
        DBSCAN per tile sequence (needs an ROI list), or exact DBSCAN of the whole table.
    eps_nm : float
        Lateral neighbourhood radius, nm.
    min_samples : int
        Points (itself included) within the neighbourhood of a core point.
    eps_z_nm : float or None
        Axial neighbourhood radius, nm (None: ``eps_nm``).
    randomize : int
        Randomized copies of every cluster for the control (0: none).
    seed : int
        Seed of the randomization (per cluster and repeat, see :mod:`.randomize`).
    section_thickness_nm : float or None
        Section thickness for the hulls, nm (None: see the module notes).
    pixel_size_nm : float or None
        The ROI list's pixel, nm (None: the table's).
    min_overlap_px : int
        Least shared area, px, linking tiles of consecutive sections.
    sequences_per_task, points_per_task : int
        Sequences mode: a task gets on average at most this many sequences and points.
        Global mode: ``points_per_task`` is the points of a spatial block.
    """

    mode: str = "sequences"
    eps_nm: float = 80.0
    min_samples: int = 10
    eps_z_nm: float | None = None
    randomize: int = 0
    seed: int = 0
    section_thickness_nm: float | None = None
    pixel_size_nm: float | None = None
    min_overlap_px: int = 1
    sequences_per_task: int = 1000
    points_per_task: int = 500_000

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"--mode must be sequences or global, got {self.mode!r}",
                             hint="sequences clusters ROI tile sequences (--rois), global "
                                  "the whole table")
        check_eps(self.eps_nm, self.eps_z_nm, self.min_samples)
        integer("--randomize", self.randomize, 0)
        integer("--seed", self.seed, 0)
        integer("--min-overlap", self.min_overlap_px, 1)
        integer("--sequences-per-task", self.sequences_per_task, 1)
        integer("--points-per-task", self.points_per_task, 1)
        for name, value in (("--section-thickness", self.section_thickness_nm),
                            ("--pixel-size", self.pixel_size_nm)):
            if value is not None and not (isinstance(value, (int, float)) and not
                                          isinstance(value, bool) and math.isfinite(value)
                                          and value > 0):
                raise InputError(f"{name} must be a positive number of nm, got {value!r}")


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
class RunPlan:
    """The cheap checks' findings (:func:`prepare_run`): no rows read."""

    input: str
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


def prepare_run(locs: str | os.PathLike, output: str | os.PathLike, *,
                settings: ClusterSettings, rois: str | os.PathLike | None = None,
                overwrite: bool = False) -> RunPlan:
    """The cheap checks, before a cluster starts: options, table header, ROI list, output.

    Raises
    ------
    InputError
        Sequences mode without ``rois`` (or global mode with them); an output that
        exists (without ``overwrite``); an input that is not a table or is empty; a
        sequences-mode table without ``z_nm`` or ``section`` or pixel size; a bad ROI
        list; ROI sections beyond the table's frame count; a thickness for a 2D table.
    """
    from smlmscale.cluster.output import check_output_folder
    from smlmscale.io.tables.registry import open_table

    if settings.mode == "sequences" and rois is None:
        raise InputError("--mode sequences needs the ROI list: pass --rois ROIS.csv",
                         hint="or cluster the whole table with --mode global")
    if settings.mode == "global" and rois is not None:
        raise InputError("--rois goes with --mode sequences",
                         hint="leave out --rois to cluster the whole table")
    check_output_folder(output, overwrite=overwrite)
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
    return RunPlan(input=locs, meta=meta, columns=columns, pixel_size_nm=pixel,
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


def _cluster_mode(points, plan: RunPlan, settings: ClusterSettings, client, counter):
    """``(ModeOutput, thickness_nm, thickness origin)`` of the chosen mode."""
    from smlmscale.cluster.run_common import infer_section_thickness

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


def cluster_table(locs: str | os.PathLike, output: str | os.PathLike, *, client,
                  settings: ClusterSettings, rois: str | os.PathLike | None = None,
                  overwrite: bool = False, command: str | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  blocksize: int | str = "64MiB") -> ClusterResult:
    """Cluster a localization table on ``client`` and write a ``clusters/`` folder.

    Parameters
    ----------
    locs : str or os.PathLike
        A localization table (any readable format; read partition by partition).
    output : str or os.PathLike
        The folder to write (:mod:`.output`); built in ``OUT.partial``, renamed when
        complete.
    client : distributed.Client
    settings : ClusterSettings
    rois : str or os.PathLike, optional
        ROI list CSV (``roi, section, x, y, size``); required in sequences mode.
    overwrite : bool, optional
        Replace an existing output (once the new one is complete).
    command : str, optional
        The command line, recorded as provenance.
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
        See :func:`prepare_run`; NaN coordinates; ROI sections without localizations
        (when the table does not record its frame count); no point in any ROI tile.
        Nothing is left behind.
    """
    from smlmscale import __version__
    from smlmscale.cluster.output import (LOCALIZATIONS, start_partial, write_record,
                                          write_small_files)
    from smlmscale.cluster.run_common import Progress, finish_properties
    from smlmscale.io.outputs import move_into_place, utc_now
    from smlmscale.io.tables import TableMeta, read_table_lazy, write_table

    started = time.perf_counter()
    plan = prepare_run(locs, output, settings=settings, rois=rois, overwrite=overwrite)
    partial = start_partial(output, overwrite=overwrite)
    counter = Progress(progress)
    try:
        points, meta = read_table_lazy(plan.input, pixel_size_nm=settings.pixel_size_nm,
                                       blocksize=blocksize)
        mode, thickness, origin = _cluster_mode(points, plan, settings, client, counter)
        origin = origin if thickness is not None else None
        extra = dict(meta.extra or {})
        if thickness is not None:
            extra["section_thickness_nm"] = thickness
        table_meta = TableMeta(pixel_size_nm=plan.pixel_size_nm, image_shape=meta.image_shape,
                               n_frames=meta.n_frames, source=plan.input, extra=extra)
        written = write_table(mode.table, partial / LOCALIZATIONS, meta=table_meta)
        mode.table, mode.keep = None, []   # release what the workers hold
        properties = finish_properties(mode.properties)
        randomized = None if mode.randomized is None else \
            finish_properties(mode.randomized, by="repeat")
        write_small_files(partial, properties=properties, randomized=randomized,
                          sequences=mode.sequences)
        rows = int(written["rows"])
        clustered = int(mode.counts.pop("clustered", rows - mode.counts.get("noise", 0)))
        counts = {"localizations": rows, "clustered": clustered, "noise": rows - clustered,
                  "sequences": None, "blocks": None,
                  **{k: v for k, v in mode.counts.items() if k != "noise"}}
        seconds = time.perf_counter() - started
        write_record(partial, {
            "kind": "clusters", "mode": settings.mode, "version": __version__,
            "created": utc_now(), "command": command, "input": plan.input, "rois": plan.rois,
            "settings": asdict(settings), "pixel_size_nm": plan.pixel_size_nm,
            "section_thickness_nm": thickness, "section_thickness_from": origin,
            "counts": counts, "seconds": round(seconds, 3)})
        move_into_place(partial, os.path.abspath(os.fspath(output)))
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    counter.step(0)
    return ClusterResult(path=os.path.abspath(os.fspath(output)), mode=settings.mode,
                         localizations=rows, clustered=clustered, noise=rows - clustered,
                         clusters=int(counts["clusters"]), sequences=counts.get("sequences"),
                         tasks=int(counts["tasks"]), blocks=counts.get("blocks"),
                         section_thickness_nm=thickness, seconds=seconds)


__all__ = ["ClusterResult", "ClusterSettings", "MODES", "RunPlan", "cluster_table",
           "prepare_run"]
