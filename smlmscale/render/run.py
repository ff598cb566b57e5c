"""Orchestration: render a localization table to a PNG or TIFF, by blocks across the cluster.

The table is read lazily, part by part; each part is histogrammed on a worker and the
partial images are summed pairwise in the graph, so no worker holds more than two images
and the table never passes through the driver. With ``widefield``, the movie's frames are
summed on the cluster too and shown beside the rendering (seed 002's visual check).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from smlmscale.errors import InputError
from smlmscale.render.image import MODES, blur, display, histogram
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
    """

    pixel_size_nm: float = setting(10.0, unit="nm", help="Render pixel size")
    mode: str = setting("histogram", help="histogram or gaussian")
    sigma_nm: float = setting(10.0, min=0, unit="nm", help="Gaussian width of --mode gaussian")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.pixel_size_nm > 0:
            raise InputError(f"--pixel-size must be positive, got {self.pixel_size_nm!r}",
                             param="pixel_size_nm")
        if self.mode not in MODES:
            raise InputError(f"unknown render mode {self.mode!r}", param="mode",
                             hint=f"choose {' or '.join(MODES)}")


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


def _tree_sum(parts: list) -> object:
    from dask import delayed

    while len(parts) > 1:
        parts = [delayed(np.add)(a, b) if b is not None else a
                 for a, b in zip(parts[::2], parts[1::2] + [None] * (len(parts) % 2))]
    return parts[0]


def _part_histogram(part, shape, pixel_nm):
    return histogram(part["x_nm"].to_numpy(), part["y_nm"].to_numpy(), shape=shape,
                     pixel_nm=pixel_nm), len(part)


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
        Unknown image extension, an existing output, an unreadable table or movie.
    """
    from smlmscale.io.outputs import check_output
    from smlmscale.io.tables import read_table_lazy

    output = Path(output)
    settings = settings or RenderSettings()
    kind = FORMATS.get(output.suffix.lower())
    if kind is None:
        raise InputError("the image must be .png or .tif", path=output)
    check_output(output, kind="file", overwrite=overwrite)
    table, meta = read_table_lazy(locs)
    if widefield is not None:
        from smlmscale.io.ome_zarr import open_image_store

        open_image_store(widefield)
    return RenderPlan(locs=str(locs), table=table, meta=meta, output=output, format=kind,
                      settings=settings, widefield=None if widefield is None else str(widefield),
                      overwrite=overwrite)


def run_render(plan: RenderPlan, *, client, progress=None) -> RenderResult:
    """Render a :class:`RenderPlan` on the cluster and write the image atomically.

    ``progress`` is accepted for the shape every stage shares; a render is one compute.

    Raises
    ------
    InputError
        An empty table, a field too large to render.
    """
    from dask import delayed

    from smlmscale.io.outputs import staged_output

    pixel_nm = plan.settings.pixel_size_nm
    shape = _field(plan.table, plan.meta, pixel_nm, path=plan.locs)
    parts = [delayed(_part_histogram)(p, shape, pixel_nm) for p in plan.table.to_delayed()]
    images = _tree_sum([delayed(lambda r: r[0])(p) for p in parts])
    counts = [delayed(lambda r: r[1])(p) for p in parts]
    image, rows = client.compute([images, delayed(sum)(counts)], sync=True)
    if rows == 0:
        raise InputError("the table has no localizations", path=plan.locs)
    if plan.settings.mode == "gaussian":
        image = blur(image, sigma_nm=plan.settings.sigma_nm, pixel_nm=pixel_nm)
    wide = _widefield(plan.widefield, shape, client) if plan.widefield is not None else None
    with staged_output(plan.output, kind="file", overwrite=plan.overwrite) as staged:
        _write(staged.path, plan.format, image, pixel_nm, wide)
    return RenderResult(path=str(plan.output), shape=shape, localizations=int(rows),
                        pixel_nm=float(pixel_nm))


def render_table(locs: str | os.PathLike, output: str | os.PathLike, *, client,
                 pixel_nm: float = 10.0, mode: str = "histogram", sigma_nm: float = 10.0,
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
    widefield : str or os.PathLike, optional
        The movie the table came from: its frames summed, beside the rendering (PNG).
    overwrite : bool

    Raises
    ------
    InputError
        Bad pixel size or mode, unknown image extension, an existing output, an empty
        table, a field too large to render.
    """
    settings = RenderSettings(pixel_size_nm=pixel_nm, mode=mode, sigma_nm=sigma_nm)
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


def _write(path: Path, kind: str, image: np.ndarray, pixel_nm: float,
           wide: np.ndarray | None) -> None:
    if kind == "tiff":
        import tifffile

        tifffile.imwrite(path, image.astype(np.float32), imagej=True,
                         resolution=(1 / pixel_nm, 1 / pixel_nm),
                         metadata={"unit": "nm"})
        return
    from matplotlib.figure import Figure

    panels = [("super-resolution", image)] + ([("widefield (sum)", wide)]
                                              if wide is not None else [])
    height, width = image.shape
    scale = 6.0 / max(height, width)
    fig = Figure(figsize=(len(panels) * width * scale + 0.4, height * scale + 0.6), dpi=150)
    for i, (title, panel) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        ax.imshow(display(panel), cmap="hot" if i == 0 else "gray", interpolation="nearest")
        ax.set_title(title, fontsize="small")
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, format="png")


__all__ = ["RenderPlan", "RenderResult", "RenderSettings", "prepare_render", "render_table",
           "run_render"]
