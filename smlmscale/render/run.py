"""Orchestration: render a localization table to a PNG or TIFF, by blocks across the cluster.

The table is read lazily, part by part; each part is drawn on a worker
(:class:`~smlmscale.render.draw.Drawing`: a histogram, or with ``blur="precision"`` each
localization as a Gaussian of its own precision) and the partial images are summed
pairwise in the graph (:func:`~smlmscale.render.graph.drawn`), so no worker holds more than
a couple of images and the table never passes through the driver. ``color_by`` z or frame
adds a second channel (the density weighted by that column) for the hue; ``scale_bar_nm``
draws a scale bar on the PNG (:mod:`smlmscale.render.write`). With ``widefield``, the
movie's frames are summed on the cluster too and shown beside the rendering (seed 002's
visual check).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from smlmscale.errors import InputError
from smlmscale.render.draw import BLURS, COLOR_COLUMNS, Drawing, precision_columns
from smlmscale.render.image import MODES, blur
from smlmscale.settings import Settings, setting

FORMATS = {".png": "png", ".tif": "tiff", ".tiff": "tiff"}


@dataclass(frozen=True)
class RenderSettings(Settings):
    """How a table is rendered.

    Attributes
    ----------
    pixel_size_nm : float
        Render pixel size, nm.
    mode : {"histogram", "gaussian"}
    sigma_nm : float
        Gaussian width of ``gaussian`` mode, nm.
    blur : {"none", "precision"}
        ``precision``: each localization drawn as a Gaussian of its own uncertainty.
    color_by : {"none", "z", "frame"}
        Colour the image by ``z_nm`` or ``frame`` (hue weighted by density).
    scale_bar_nm : float
        Length of the PNG's scale bar, nm (0: none).
    """

    pixel_size_nm: float = setting(10.0, unit="nm", help="Render pixel size")
    mode: str = setting("histogram", help="histogram or gaussian")
    sigma_nm: float = setting(10.0, min=0, unit="nm", help="Gaussian width of --mode gaussian")
    blur: str = setting("none", choices=BLURS,
                        help="precision: each localization a Gaussian of its own uncertainty")
    color_by: str = setting("none", choices=("none", *COLOR_COLUMNS),
                            help="Colour by z or frame (hue), with a colour bar")
    scale_bar_nm: float = setting(0.0, min=0, unit="nm",
                                  help="Scale bar of this length on the PNG (0: none)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.pixel_size_nm > 0:
            raise InputError(f"--pixel-size must be positive, got {self.pixel_size_nm!r}",
                             param="pixel_size_nm")
        if self.mode not in MODES:
            raise InputError(f"unknown render mode {self.mode!r}", param="mode",
                             hint=f"choose {' or '.join(MODES)}")
        if self.blur == "precision" and self.mode == "gaussian":
            raise InputError("--blur precision draws each localization's own Gaussian; it "
                             "does not combine with --mode gaussian", param="blur")


@dataclass(frozen=True)
class RenderResult:
    """A rendered image: ``path``, ``shape`` (render px), ``localizations`` drawn."""

    path: str
    shape: tuple[int, int]
    localizations: int
    pixel_nm: float


@dataclass(frozen=True, eq=False)
class RenderPlan:
    """A checked render (:func:`prepare_render`): the ``output``, its ``format`` (``"png"``
    or ``"tiff"``) and ``overwrite``; the table's lazy ``table`` and ``meta``;
    ``settings``; the ``widefield`` movie (or None)."""

    locs: str
    output: Path
    format: str
    overwrite: bool
    table: Any
    meta: Any
    settings: RenderSettings
    widefield: str | None


def prepare_render(locs: str | os.PathLike, output: str | os.PathLike, *,
                   settings: RenderSettings | None = None,
                   widefield: str | os.PathLike | None = None,
                   overwrite: bool = False) -> RenderPlan:
    """Check a render (no cluster): the image format, the output, the table and movie.

    Parameters
    ----------
    locs : str or os.PathLike
        Any table format smlmscale reads (opened lazily).
    output : str or os.PathLike
        ``.png`` or ``.tif``.
    settings : RenderSettings, optional
    widefield : str or os.PathLike, optional
        The movie the table came from (its header is read).
    overwrite : bool

    Raises
    ------
    InputError
        Unknown image extension, an existing output, an unreadable table or movie, a
        table without the uncertainty columns ``blur="precision"`` needs or the column
        ``color_by`` needs, a scale bar on a TIFF.
    """
    from smlmscale.io.outputs import check_output
    from smlmscale.io.tables import read_table_lazy

    output = Path(output)
    settings = settings or RenderSettings()
    kind = FORMATS.get(output.suffix.lower())
    if kind is None:
        raise InputError("the image must be .png or .tif", path=output)
    if kind == "tiff" and settings.scale_bar_nm > 0:
        raise InputError("--scale-bar is drawn on PNG images only", path=output,
                         hint="a TIFF carries its pixel size in the ImageJ calibration")
    check_output(output, kind="file", overwrite=overwrite)
    table, meta = read_table_lazy(locs)
    _check_columns(table.columns, settings, path=locs)
    if widefield is not None:
        from smlmscale.io.ome_zarr import open_image_store

        open_image_store(widefield)
    return RenderPlan(locs=str(locs), table=table, meta=meta, output=output, format=kind,
                      settings=settings, widefield=None if widefield is None else str(widefield),
                      overwrite=overwrite)


def _check_columns(columns, settings: RenderSettings, *, path) -> None:
    if settings.blur == "precision" and precision_columns(columns) is None:
        raise InputError("--blur precision needs uncertainty_x_nm and uncertainty_y_nm (or "
                         "uncertainty_nm) columns; the table has none", path=path,
                         hint="render with --mode gaussian --sigma NM instead")
    column = COLOR_COLUMNS.get(settings.color_by)
    if column is not None and column not in columns:
        what = "a 2D table: " if column == "z_nm" else ""
        raise InputError(f"--color-by {settings.color_by} needs a {column} column; the table "
                         f"has none ({what}{', '.join(map(str, columns))})", path=path,
                         hint="choose another --color-by or none")


def drawing_of(columns, settings: RenderSettings, shape: tuple[int, int]) -> Drawing:
    """The per-partition kernel of a render of a table with ``columns`` at ``settings``."""
    return Drawing(shape=shape, pixel_nm=settings.pixel_size_nm,
                   precision=precision_columns(columns) if settings.blur == "precision"
                   else None, color_column=COLOR_COLUMNS.get(settings.color_by))


def run_render(plan: RenderPlan, *, client, progress=None) -> RenderResult:
    """Render a :class:`RenderPlan` on the cluster and write the image atomically.

    ``progress`` is accepted for the shape every stage shares; a render is one compute
    (after the field's extent, when the table does not record its image shape).

    Raises
    ------
    InputError
        An empty table, NaN positions, a field too large to render, a scale bar longer
        than the image.
    """
    from smlmscale.io.outputs import staged_output
    from smlmscale.render.graph import drawn
    from smlmscale.render.write import write_image

    settings = plan.settings
    pixel_nm = settings.pixel_size_nm
    shape = _field(plan.table, plan.meta, pixel_nm, path=plan.locs)
    if settings.scale_bar_nm > shape[1] * pixel_nm:
        raise InputError(f"a {settings.scale_bar_nm:g} nm scale bar is longer than the "
                         f"{shape[1] * pixel_nm:g} nm wide image", path=plan.locs,
                         hint="give a shorter --scale-bar")
    drawing = drawing_of(plan.table.columns, settings, shape)
    wanted = ["x_nm", "y_nm", *(drawing.precision or ()), *([drawing.color_column]
                                                             if drawing.color_column else [])]
    table = plan.table[list(dict.fromkeys(wanted))]
    stack, rows, bad = client.compute(drawn(table, drawing), sync=True)
    if rows == 0:
        raise InputError("the table has no localizations", path=plan.locs)
    if bad:
        raise InputError(f"{bad} localizations have NaN or infinite x/y", path=plan.locs,
                         hint="drop them first (smlmscale filter or your own tool)")
    if settings.mode == "gaussian":
        stack = np.stack([blur(c, sigma_nm=settings.sigma_nm, pixel_nm=pixel_nm)
                          for c in stack])
    wide = _widefield(plan.widefield, shape, client) if plan.widefield is not None else None
    with staged_output(plan.output, kind="file", overwrite=plan.overwrite) as staged:
        write_image(staged.path, plan.format, stack, pixel_nm=pixel_nm, wide=wide,
                    colour=colour_range(settings.color_by, stack),
                    scale_bar_nm=settings.scale_bar_nm)
    return RenderResult(path=str(plan.output), shape=shape, localizations=int(rows),
                        pixel_nm=float(pixel_nm))


def colour_range(color_by: str, stack: np.ndarray, *, percentile: float = 0.5):
    """How ``color_by`` is shown: its label and the range of the per-pixel mean values,
    from the ``percentile`` to the ``100 - percentile`` percentile over the pixels drawn
    (a few outlying pixels do not stretch the colours); None for ``"none"``."""
    from smlmscale.render.draw import mean_value
    from smlmscale.render.write import Colour

    if color_by == "none":
        return None
    label = "z (nm)" if color_by == "z" else "frame"
    mean = mean_value(stack)
    mean = mean[np.isfinite(mean)]
    if mean.size == 0:
        return Colour(label, 0.0, 1.0)
    low, high = np.percentile(mean, [percentile, 100 - percentile])
    return Colour(label, float(low), float(high))


def render_table(locs: str | os.PathLike, output: str | os.PathLike, *, client,
                 pixel_nm: float = 10.0, mode: str = "histogram", sigma_nm: float = 10.0,
                 blur: str = "none", color_by: str = "none", scale_bar_nm: float = 0.0,
                 widefield: str | os.PathLike | None = None,
                 overwrite: bool = False) -> RenderResult:
    """Render a localization table at ``pixel_nm`` to ``.png`` or ``.tif``.

    :func:`prepare_render` then :func:`run_render`.

    Parameters
    ----------
    locs : str or os.PathLike
        Any table format smlmscale reads.
    output : str or os.PathLike
        ``.png`` (display-scaled, "hot" colour map; with ``widefield``, two panels) or
        ``.tif`` (float32 counts or density, ImageJ metadata with the pixel size).
    client : distributed.Client
    pixel_nm : float
        Render pixel size, nm.
    mode : {"histogram", "gaussian"}
    sigma_nm : float
        Gaussian width of ``gaussian`` mode, nm.
    blur : {"none", "precision"}
        ``precision``: each localization a Gaussian of its ``uncertainty_x_nm``/
        ``uncertainty_y_nm`` (or ``uncertainty_nm``), :mod:`smlmscale.render.splat`.
    color_by : {"none", "z", "frame"}
        Hue by ``z_nm`` or ``frame``; the TIFF gets a second channel, the mean value.
    scale_bar_nm : float
        Scale bar on the PNG, nm (0: none).
    widefield : str or os.PathLike, optional
        The movie the table came from: its frames summed, beside the rendering (PNG).
    overwrite : bool

    Raises
    ------
    InputError
        Bad pixel size or mode, unknown image extension, an existing output, an empty
        table, a field too large to render, missing uncertainty or colour columns.
    """
    settings = RenderSettings(pixel_size_nm=pixel_nm, mode=mode, sigma_nm=sigma_nm,
                              blur=blur, color_by=color_by, scale_bar_nm=scale_bar_nm)
    plan = prepare_render(locs, output, settings=settings, widefield=widefield,
                          overwrite=overwrite)
    return run_render(plan, client=client)


def _field(table, meta, pixel_nm: float, *, path: str) -> tuple[int, int]:
    # With the movie's shape the field is that of the movie; without it, the field must
    # hold the farthest localization: a point exactly at ``max`` lies in pixel
    # ``floor(max / p)``, so the field is ``floor(max / p) + 1`` pixels (not ``ceil``,
    # which dropped a point at a multiple of the pixel size: issue 18 item 5).
    if meta.image_shape and meta.pixel_size_nm:
        height = meta.image_shape[-2] * meta.pixel_size_nm
        width = meta.image_shape[-1] * meta.pixel_size_nm
        shape = (max(1, math.ceil(height / pixel_nm)), max(1, math.ceil(width / pixel_nm)))
    else:
        height, width = (float(v) for v in table[["y_nm", "x_nm"]].max().compute())
        if not (math.isfinite(height) and math.isfinite(width)):
            raise InputError("the table has no finite positions", path=path)
        shape = (max(1, math.floor(height / pixel_nm) + 1),
                 max(1, math.floor(width / pixel_nm) + 1))
    if shape[0] * shape[1] > 2**28:
        raise InputError(f"a {shape[1]} x {shape[0]} px image is too large to render",
                         path=path, hint="give a larger --pixel-size")
    return shape


def _widefield(movie: str | os.PathLike, shape: tuple[int, int], client) -> np.ndarray:
    import dask.array as da

    from smlmscale.io.ome_zarr import open_image_store

    store = open_image_store(movie)
    frames = da.from_zarr(store.array).astype(np.float64)
    summed = client.compute(frames.sum(axis=0), sync=True)
    rows = np.minimum((np.arange(shape[0]) * summed.shape[0]) // shape[0], summed.shape[0] - 1)
    cols = np.minimum((np.arange(shape[1]) * summed.shape[1]) // shape[1], summed.shape[1] - 1)
    return summed[np.ix_(rows, cols)]


__all__ = ["RenderPlan", "RenderResult", "RenderSettings", "colour_range", "drawing_of",
           "prepare_render", "render_table", "run_render"]
