"""Orchestration: predict the ROI tiles of a section stack with a ``counts`` model -> 3D points.

The ROI list is cut into groups of tiles (ordered by section), one task each
(:mod:`smlmscale.predict.sections`); each task writes its Parquet part into
``OUT.partial/parts``. As for movies (:mod:`smlmscale.predict.run`), the table appears only
when every part exists, ``resume`` predicts only the missing groups, and a worker that
dies costs only its running tasks.

Points keep their ROI (``roi``): where two ROI tiles of one section overlap, the points of
the shared pixels appear once per tile (``smlmscale cluster`` keeps one copy).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from smlmscale.errors import InputError
from smlmscale.predict.parts import run_tasks, staged_parts, table_from_parts
from smlmscale.predict.plan import PredictPlan, prepare_predict
from smlmscale.predict.sections import TileJob, TileSettings, run_tiles, tiles_part
from smlmscale.predict.settings import StackSettings, check_stack


@dataclass
class StackResult:
    """What a section-stack run did: table ``path``, ``points``, ``tiles``, ``sections``,
    ``tasks`` and ``tasks_resumed``, wall ``seconds``."""

    path: str
    points: int
    tiles: int
    sections: int
    tasks: int
    tasks_resumed: int
    seconds: float


def tile_settings(meta: dict, settings: StackSettings, pixel_nm: float,
                  thickness_nm: float) -> TileSettings:
    """The kernel settings of a run from the model's metadata and the user's settings."""
    channels = int((meta.get("input_shape") or [0, 0, 1])[-1])
    estimate = meta.get("estimate") or {}
    params = meta.get("generator_params") or {}
    normalization = meta.get("normalization") or {}
    return TileSettings(
        input_scale=float(normalization.get("input_scale") or 1.0),
        coefficients=tuple(estimate["coefficients"]) if channels == 2 else None,
        nn_size=int(params.get("nn_size", 3)), target_scale=float(meta.get("target_scale") or 1),
        pixel_size_nm=pixel_nm, section_thickness_nm=thickness_nm,
        min_count=float(settings.min_count), batch_size=settings.batch_size)


def run_stack(plan: PredictPlan, *, client,
              progress: Callable[[int, int], None] | None = None) -> StackResult:
    """Carry out the plan of a section-stack run (``plan.kind == "sections"``).

    Raises
    ------
    InputError
        A resumed run with other settings; no pixel reaching ``min_count``.
    """
    started = time.perf_counter()
    settings, roi_list = plan.settings, plan.rois
    step = settings.rois_per_task
    groups = [roi_list.iloc[a:a + step].reset_index(drop=True)
              for a in range(0, len(roi_list), step)]
    with staged_parts(plan) as staged:
        parts = staged.path / "parts"
        todo = [i for i in range(len(groups))
                if not (staged.resumed and tiles_part(parts, i).exists())]
        jobs = [TileJob(store=plan.input, model=plan.model, parts=str(parts), index=i,
                        rois=groups[i]) for i in todo]
        run_tasks(client, run_tiles, jobs,
                  tile_settings(plan.meta, settings, plan.pixel_size_nm,
                                plan.section_thickness_nm),
                  total=len(groups), name=lambda job: f"predict-rois-{job.index}",
                  progress=progress)
        files = [str(tiles_part(parts, i)) for i in range(len(groups))]
        points = table_from_parts(
            files, plan.output, meta=plan.table_meta, overwrite=plan.overwrite,
            format=plan.format,
            discard=[staged], empty=InputError(
                f"no pixel of the {len(roi_list)} ROI tiles predicts {settings.min_count:g} "
                "localizations or more", path=plan.input,
                hint="lower --threshold, or check the model fits this stack"))
    return StackResult(path=plan.output, points=points, tiles=len(roi_list),
                       sections=int(roi_list["section"].nunique()), tasks=len(groups),
                       tasks_resumed=len(groups) - len(todo),
                       seconds=time.perf_counter() - started)


def predict_sections(input: str | os.PathLike, model: str | os.PathLike,
                     output: str | os.PathLike, *, rois: str | os.PathLike, client,
                     settings: StackSettings | None = None, resume: bool = False,
                     overwrite: bool = False, command: str | None = None,
                     progress: Callable[[int, int], None] | None = None) -> StackResult:
    """Predict the localizations of a section stack's ROI tiles as 3D points.

    :func:`~smlmscale.predict.plan.prepare_predict` then :func:`run_stack`.

    Parameters
    ----------
    input : str or os.PathLike
        OME-Zarr section stack ``(z, y, x)`` (``smlmscale simulate --sections`` or
        ``preprocess``); a ``(t, y, x)`` store is read as one section per frame.
    model : str or os.PathLike
        A ``counts`` model folder.
    output : str or os.PathLike
        Point table (``frame, x_nm, y_nm, z_nm, confidence, section, roi``); the format
        comes from the extension.
    rois : str or os.PathLike
        ROI list CSV (``roi, section, x, y, size``).
    client : distributed.Client
    settings : StackSettings, optional
    resume, overwrite : bool, optional
    command : str, optional
        Provenance.
    progress : callable, optional
        ``progress(tasks_done, tasks_total)``.

    Raises
    ------
    InputError
        See :func:`~smlmscale.predict.settings.check_stack`,
        :func:`smlmscale.io.rois.read_rois`; outputs that exist; a resumed run with
        other settings; no pixel reaching ``min_count``.
    """
    plan = prepare_predict(input, model=model, output=output, rois=rois,
                           settings=settings or StackSettings(), resume=resume,
                           overwrite=overwrite, command=command)
    return run_stack(plan, client=client, progress=progress)


__all__ = ["StackResult", "StackSettings", "check_stack", "predict_sections", "run_stack",
           "tile_settings"]
