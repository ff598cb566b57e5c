"""Prepare a prediction: every check of a movie or section-stack run, before a cluster starts.

:func:`prepare_predict` reads the model's ``smlmscale.json``, the store's header and the
ROI list (section stacks), checks that they fit each other and the settings, and checks
the outputs; it returns a :class:`PredictPlan` that
:func:`smlmscale.predict.run.run_predict` carries out on a cluster.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from smlmscale.errors import InputError
from smlmscale.predict.settings import (Z_FORMATS, PredictSettings, StackSettings,
                                        check_geometry, check_stack, gives_z)

RESUME_HINT = "pass --resume to continue it or --overwrite to start again"
DENSITY_EXISTS = "pass --overwrite to replace it, or choose another --density-out"
HISTOGRAM_EXISTS = "pass --overwrite to replace it, or choose another -o"


def histogram_path(output: str | os.PathLike) -> str:
    """``<output stem>_uncertainty.png`` beside the table (locnet models)."""
    root, _ = os.path.splitext(os.fspath(output))
    return f"{root}_uncertainty.png"


def _check_z(fmt: str, meta: dict, *, path) -> None:
    """Refuse a table format that needs z (a request for z) with a model that gives none."""
    if fmt in Z_FORMATS and not gives_z(meta):
        raise InputError(f"the {fmt} format needs z, but this {meta.get('model')} model is "
                         "2D: it predicts no z", path=path,
                         hint="write another format (.parquet, .csv), or train a 3D model "
                              "(deepstorm3d, deepstorm on --z-bins patches, or locnet on 3D "
                              "frames)")


def _check_model_kind(meta: dict, given, *, rois, density_out, n_frames: int) -> None:
    """Options a model kind refuses; locnet's temporal context against the movie."""
    from smlmscale.predict.context import check_context

    cut = getattr(given, "max_uncertainty_nm", None)
    if meta.get("model") != "locnet":
        if cut is not None:
            raise InputError(f"--max-uncertainty needs a locnet model, this one is "
                             f"{meta.get('model')!r}", param="max_uncertainty_nm",
                             hint="leave out --max-uncertainty")
        if meta.get("model") == "deepstorm3d" and density_out is not None:
            raise InputError("--density-out is not for deepstorm3d models (their voxel "
                             "grids are localized tile by tile, never stored)",
                             hint="leave out --density-out")
        return
    for name, value in (("--rois", rois), ("--density-out", density_out)):
        if value is not None:
            raise InputError(f"{name} is not for locnet models", hint=f"leave out {name}")
    check_context(int(meta["input_shape"][-1]), n_frames=n_frames)

@dataclass(frozen=True, eq=False)
class PredictPlan:
    """A checked prediction run (:func:`prepare_predict`).

    Attributes
    ----------
    kind : {"movie", "sections"}
        A movie (``t, y, x``) or the ROI tiles of a section stack (``--rois``).
    input, model : str
        The store and the model folder, absolute.
    output : str
        The localization table, as given.
    settings : PredictSettings or StackSettings
    meta : dict
        The model's ``smlmscale.json``.
    table_meta : TableMeta
        The metadata of the table written.
    pixel_size_nm : float
        Camera pixel size predicted with, nm.
    frames : tuple of int
        ``(first, stop)`` frames predicted (movies; ``(0, sections)`` for stacks).
    image_shape : tuple of int
        ``(height, width)`` of a frame or section, px.
    rois : pandas.DataFrame or None
        The ROI list, ordered by section then ROI (section stacks).
    section_thickness_nm : float or None
        Section thickness (section stacks), nm.
    density_out : str or None
        The density store to write as well (movies), absolute.
    histogram : str or None
        locnet models: the PNG of the predicted uncertainties, beside the table.
    format : str or None
        The table format (None: from the extension).
    resume, overwrite : bool
    command : str or None
        Provenance.
    record : dict
        What the run is asked, kept in ``OUT.partial`` and compared on ``resume``.
    """

    kind: str
    input: str
    model: str
    output: str
    settings: PredictSettings | StackSettings
    meta: dict
    table_meta: Any
    pixel_size_nm: float
    frames: tuple[int, int]
    image_shape: tuple[int, int]
    rois: Any = None
    section_thickness_nm: float | None = None
    density_out: str | None = None
    resume: bool = False
    overwrite: bool = False
    command: str | None = None
    record: dict | None = None
    histogram: str | None = None
    format: str | None = None


def _stack_settings(settings: PredictSettings | StackSettings | None,
                    section_thickness_nm: float | None) -> StackSettings:
    if isinstance(settings, StackSettings):
        stack = settings
    else:
        given = settings or PredictSettings()
        counts = {} if given.threshold is None else {"min_count": given.threshold}
        stack = StackSettings(**counts, batch_size=given.batch_size,
                              pixel_size_nm=given.pixel_size_nm)
    if section_thickness_nm is not None:
        stack = stack.replace(section_thickness_nm=section_thickness_nm)
    return stack


def prepare_predict(input: str | os.PathLike, *, model: str | os.PathLike,
                    output: str | os.PathLike,
                    settings: PredictSettings | StackSettings | None = None,
                    rois: str | os.PathLike | None = None,
                    density_out: str | os.PathLike | None = None,
                    frames: tuple[int, int] | None = None,
                    section_thickness_nm: float | None = None, resume: bool = False,
                    overwrite: bool = False, command: str | None = None,
                    format: str | None = None) -> PredictPlan:
    """Check a prediction run (cheap: headers and small files only, no cluster).

    Parameters
    ----------
    input : str or os.PathLike
        OME-Zarr movie ``(t, y, x)``; with ``rois``, a section stack ``(z, y, x)``.
    model : str or os.PathLike
        Model folder from ``smlmscale train`` (a ``counts`` model for section stacks).
    output : str or os.PathLike
        Localization table; the format comes from the extension.
    settings : PredictSettings or StackSettings, optional
        For section stacks, a :class:`PredictSettings` gives its ``threshold`` (the least
        count a pixel keeps), ``batch_size`` and ``pixel_size_nm``.
    rois : str or os.PathLike, optional
        ROI list CSV (``roi, section, x, y, size``): predict a section stack's tiles.
    density_out : str or os.PathLike, optional
        Movies: also write the network density as OME-Zarr.
    frames : tuple of int, optional
        Movies: ``(first, stop)`` frames to predict (replaces ``settings.frames``).
    section_thickness_nm : float, optional
        Section stacks: the section thickness, nm (default: the stack's own).
    resume, overwrite : bool
        Continue an interrupted run; replace existing outputs.
    command : str, optional
        Provenance.
    format : str, optional
        The table format (default: from the extension); a format that needs z
        (``deepstorm3d``) asks for z, which a 2D model refuses.

    Raises
    ------
    InputError
        Options that exclude each other or do not fit the input's kind; not a model
        folder, a movie or a stack; geometry, pixel size or ROIs contradicting the model
        or the store; an empty movie or frame range; outputs that exist; ``resume`` with
        nothing to resume.
    """
    from smlmscale.io.modeldir import read_model_json
    from smlmscale.io.ome_zarr import open_image_store
    from smlmscale.io.outputs import check_output, partial_path
    from smlmscale.io.tables import TableMeta
    from smlmscale.io.tables.schema import PREDICTED_FRAMES
    from smlmscale.io.tables.writer import prepare_output

    if resume and overwrite:
        raise InputError("--resume and --overwrite exclude each other",
                         hint="--resume continues an interrupted run, --overwrite starts again")
    given = settings
    if rois is not None:
        for name, value in (("--density-out", density_out), ("--frames", frames)):
            if value is not None:
                raise InputError(f"{name} is for movies, not --rois section stacks",
                                 hint=f"leave out {name}")
        settings = _stack_settings(settings, section_thickness_nm)
    elif section_thickness_nm is not None:
        raise InputError("--section-thickness goes with --rois (section stacks)",
                         hint="give the ROI list with --rois, or leave it out")
    else:
        settings = settings or PredictSettings()
        if frames is not None:
            settings = settings.replace(frames=frames)
    meta = read_model_json(model)
    store = open_image_store(input)
    n_frames, *shape = (int(s) for s in store.array.shape)
    _check_model_kind(meta, given, rois=rois, density_out=density_out, n_frames=n_frames)
    where = {"input": os.path.abspath(input), "model": os.path.abspath(model)}
    extra: dict[str, Any] = {}
    if rois is not None:
        from smlmscale.io.rois import read_rois

        roi_list = read_rois(rois).sort_values(["section", "roi"], kind="stable")
        pixel_nm, thickness = check_stack(store, meta, roi_list, settings, path=str(input),
                                          model=str(model))
        span = (0, n_frames)
        extra = {"rois": roi_list, "section_thickness_nm": thickness}
        record = {**where, "rois": os.path.abspath(rois), "settings": settings.to_mapping()}
    else:
        pixel_nm = check_geometry(store, meta, settings, path=str(input))
        span = settings.frame_range(n_frames, path=str(input))
        density = os.path.abspath(density_out) if density_out is not None else None
        extra = {"density_out": density}
        record = {**where, "settings": settings.to_mapping(), "frames": list(span),
                  "density": density}
    # the frames scored: evaluate restricts the truth to them (issue 18 item 6)
    table_meta = TableMeta(pixel_size_nm=pixel_nm, image_shape=tuple(shape),
                           n_frames=n_frames, source=where["input"],
                           extra={PREDICTED_FRAMES: list(span)})
    fmt, _ = prepare_output(output, meta=table_meta, format=format, overwrite=overwrite)
    _check_z(fmt, meta, path=output)
    check_output(output, kind="file", work_folder=True, overwrite=overwrite, resume=resume,
                 resume_hint=RESUME_HINT)
    if resume and not os.path.isdir(partial_path(output)):
        raise InputError("nothing to resume: no interrupted run here",
                         path=partial_path(output), hint="leave out --resume")
    if meta.get("model") == "locnet":
        extra["histogram"] = histogram_path(output)
        check_output(extra["histogram"], kind="file", overwrite=overwrite,
                     exists_hint=HISTOGRAM_EXISTS)
    if extra.get("density_out") is not None:
        check_output(extra["density_out"], overwrite=overwrite, resume=resume,
                     resume_hint=RESUME_HINT, exists_hint=DENSITY_EXISTS)
    return PredictPlan(kind="sections" if rois is not None else "movie", **where,
                       output=str(output), settings=settings, meta=meta,
                       table_meta=table_meta, pixel_size_nm=pixel_nm, frames=span,
                       image_shape=tuple(shape), resume=resume, overwrite=overwrite,
                       command=command, record=record, format=format, **extra)


__all__ = ["PredictPlan", "histogram_path", "prepare_predict"]
