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

import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from smlmscale.errors import InputError
from smlmscale.predict.parts import prepare_partial, run_tasks, table_from_parts
from smlmscale.predict.sections import TileJob, TileSettings, run_tiles, tiles_part
from smlmscale.validate import integer


@dataclass(frozen=True)
class StackSettings:
    """How a section stack is predicted.

    Attributes
    ----------
    section_thickness_nm : float or None
        Section thickness (z of section ``s`` is ``(s + 0.5) * t``); None: the stack's own
        (``section_thickness_nm`` in its attributes, written by ``smlmscale simulate``).
    min_count : float
        Pixels predicting fewer localizations are dropped (>= 0).
    batch_size : int
        Tiles per model call.
    rois_per_task : int
        ROI tiles per task.
    pixel_size_nm : float or None
        Overrides the stack's pixel size.
    """

    section_thickness_nm: float | None = None
    min_count: float = 0.1
    batch_size: int = 8
    rois_per_task: int = 64
    pixel_size_nm: float | None = None

    def __post_init__(self) -> None:
        integer("--batch-size", self.batch_size, 1)
        integer("--rois-per-task", self.rois_per_task, 1)
        for name, value in (("--section-thickness", self.section_thickness_nm),
                            ("--pixel-size", self.pixel_size_nm)):
            if value is not None and not (isinstance(value, (int, float))
                                          and math.isfinite(value) and value > 0):
                raise InputError(f"{name} must be a positive number of nm, got {value!r}")
        if not (isinstance(self.min_count, (int, float)) and math.isfinite(self.min_count)
                and self.min_count >= 0):
            raise InputError(f"--threshold must be a number >= 0, got {self.min_count!r}",
                             hint="for counts models it is the least count a pixel keeps")


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


def check_stack(store, meta: dict, rois: pd.DataFrame, settings: StackSettings, *,
                path: str, model: str | None = None) -> tuple[float, float]:
    """``(pixel_size_nm, section_thickness_nm)`` after checking stack, model and ROIs agree.

    Raises
    ------
    InputError
        Not a counts model; not a 3D stack; ROIs naming sections the stack lacks or
        reaching outside its sections; no pixel size or section thickness; a pixel size
        contradicting the model's.
    """
    from smlmscale.predict.settings import pixel_size

    if meta.get("model") != "counts":
        raise InputError(f"--rois takes a counts model, this one is {meta.get('model')!r}",
                         hint="train one with smlmscale train --model counts, or leave out "
                              "--rois to predict a movie")
    if store.array.ndim != 3:
        raise InputError(f"a section stack needs 3 axes (z, y, x), got {store.axes}", path=path)
    n, height, width = (int(s) for s in store.array.shape)
    outside = rois[(rois["section"] >= n)]
    if len(outside):
        row = outside.iloc[0]
        raise InputError(f"ROI {row['roi']} names section {row['section']} but the stack has "
                         f"{n} sections (0-{n - 1})", path=path,
                         hint="check that the ROI list belongs to this stack")
    beyond = rois[(rois["x"] + rois["size"] > width) | (rois["y"] + rois["size"] > height)]
    if len(beyond):
        row = beyond.iloc[0]
        raise InputError(f"ROI {row['roi']} ({row['size']} px at x {row['x']}, y {row['y']}) "
                         f"reaches outside the {width} x {height} px sections", path=path,
                         hint="check that the ROI list belongs to this stack")
    channels = int((meta.get("input_shape") or [0, 0, 1])[-1])
    if channels == 2 and not (meta.get("estimate") or {}).get("coefficients"):
        raise InputError("the model takes the count estimate as input but its "
                         "smlmscale.json has no estimate coefficients", path=model,
                         hint="retrain it with smlmscale train")
    thickness = settings.section_thickness_nm or store.attrs.get("section_thickness_nm")
    if not thickness:
        raise InputError("the stack does not record its section thickness", path=path,
                         hint="pass --section-thickness NM")
    return pixel_size(store, meta, settings.pixel_size_nm, path=path), float(thickness)


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


def predict_sections(input: str | os.PathLike, model: str | os.PathLike,
                     output: str | os.PathLike, *, rois: str | os.PathLike, client,
                     settings: StackSettings | None = None, resume: bool = False,
                     overwrite: bool = False, command: str | None = None,
                     progress: Callable[[int, int], None] | None = None) -> StackResult:
    """Predict the localizations of a section stack's ROI tiles as 3D points.

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
        See :func:`check_stack`, :func:`smlmscale.io.rois.read_rois`; outputs that
        exist; a resumed run with other settings; no pixel reaching ``min_count``.
    """
    from smlmscale.io.ome_zarr import open_image_store
    from smlmscale.io.outputs import partial_path
    from smlmscale.io.tables import TableMeta
    from smlmscale.io.tables.writer import prepare_output
    from smlmscale.io.rois import read_rois
    from smlmscale.io.modeldir import read_model_json

    started = time.perf_counter()
    settings = settings or StackSettings()
    meta = read_model_json(model)
    store = open_image_store(input)
    roi_list = read_rois(rois).sort_values(["section", "roi"], kind="stable")
    pixel_nm, thickness = check_stack(store, meta, roi_list, settings, path=str(input),
                                     model=str(model))
    table_meta = TableMeta(pixel_size_nm=pixel_nm, image_shape=tuple(store.array.shape[1:]),
                           n_frames=int(store.array.shape[0]), source=os.path.abspath(input))
    prepare_output(Path(output), meta=table_meta, format=None, overwrite=overwrite)
    partial = Path(partial_path(output))
    run = {"input": os.path.abspath(input), "model": os.path.abspath(model),
           "rois": os.path.abspath(rois), "settings": asdict(settings)}
    resumed = prepare_partial(partial, run, resume=resume, overwrite=overwrite)
    step = settings.rois_per_task
    groups = [roi_list.iloc[a:a + step].reset_index(drop=True)
              for a in range(0, len(roi_list), step)]
    parts = partial / "parts"
    todo = [i for i in range(len(groups)) if not tiles_part(parts, i).exists()]
    jobs = [TileJob(store=os.path.abspath(input), model=os.path.abspath(model),
                    parts=str(parts), index=i, rois=groups[i]) for i in todo]
    run_tasks(client, run_tiles, jobs, tile_settings(meta, settings, pixel_nm, thickness),
              total=len(groups), name=lambda job: f"predict-rois-{job.index}", progress=progress)
    files = [str(tiles_part(parts, i)) for i in range(len(groups))]
    points = table_from_parts(files, output, meta=table_meta, overwrite=overwrite,
                              partial=partial, empty=InputError(
                                  f"no pixel of the {len(roi_list)} ROI tiles predicts "
                                  f"{settings.min_count:g} localizations or more",
                                  path=str(input), hint="lower --threshold, or check the "
                                                        "model fits this stack"))
    shutil.rmtree(partial, ignore_errors=True)
    return StackResult(path=str(output), points=points, tiles=len(roi_list),
                       sections=int(roi_list["section"].nunique()), tasks=len(groups),
                       tasks_resumed=len(groups) - len(todo) if resumed else 0,
                       seconds=time.perf_counter() - started)


__all__ = ["StackResult", "StackSettings", "check_stack", "predict_sections", "tile_settings"]
