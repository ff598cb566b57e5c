"""Summed patches as a TIFF movie and a DeepSTORM CSV, the layout ZeroCostDL4Mic reads.

``--export-tiff DIR`` writes what the ImageSumming notebook hands to
ZeroCostDL4Mic's Deep-STORM 2D notebook ("training with experimental data"):

- ``DIR/summed.tif``: one float32 frame ``(P, P)`` per summed patch, the raw
  offset-corrected sums in ADU (sum of ``bin_size`` patches minus
  ``(bin_size - 1) * camera_offset``), before any normalization; an ImageJ
  hyperstack (axes ``TYX``) whose resolution carries the camera pixel size
  (``unit=um``), or a BigTIFF without ImageJ metadata beyond 4 GB.
- ``DIR/summed.csv``: the union localizations in the DeepSTORM / ZeroCostDL4Mic
  CSV format (:mod:`smlmscale.io.tables.deepstorm`: 1-based row index and
  frames, ``x [nm]``, ``y [nm]``, ``Photon #`` and ``Sigma [nm]`` when the table
  has them); the frame is the summed patch index and the positions are in nm
  from the top-left corner of the summed patch.

In the Deep-STORM notebook, set ``patch_size`` to at most ``P - 1`` (it crops
inside the frame) and ``num_patches_per_frame`` to 1, so each summed patch is
used once.

The folder is built as ``DIR.partial`` and renamed when complete; the summed
patches are computed a few output chunks at a time, in order, and their frames
appended to the TIFF as they arrive; the localizations of each chunk are staged
as Parquet inside the folder and streamed into the CSV at the end. The driver
holds a bounded window of chunks, never the whole set.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from smlmscale.errors import InputError
from smlmscale.io.outputs import Staged, staged_output
from smlmscale.patches.base import Runner
from smlmscale.patches.summed import SummedRaw

TIFF_NAME = "summed.tif"
CSV_NAME = "summed.csv"
_STAGE = ".locs-stage"
#: Pixel bytes beyond which the TIFF is a BigTIFF (ImageJ hyperstacks are classic TIFFs).
_CLASSIC_BYTES = 2**32 - 2**26


@dataclass(frozen=True)
class SummedExport:
    """What :func:`export_summed_tiff` wrote.

    Attributes
    ----------
    path : str
        The folder.
    tiff, csv : str
        The two files in it.
    n_patches : int
        TIFF frames (summed patches).
    n_localizations : int
        CSV rows.
    seconds : float
    """

    path: str
    tiff: str
    csv: str
    n_patches: int
    n_localizations: int
    seconds: float


def canonical_locs(locs: pd.DataFrame, *, pixel_size_nm: float,
                   carried: tuple = ()) -> pd.DataFrame:
    """Summed-patch localizations as a canonical table relative to the patch corner.

    Parameters
    ----------
    locs : pandas.DataFrame
        ``patch``, ``x_px``, ``y_px`` (absolute camera px), ``row0``, ``col0`` (the
        source's corner, px) and the ``carried`` columns.
    pixel_size_nm : float
    carried : tuple of str
        Columns copied (``photons``, ``sigma_nm``).

    Returns
    -------
    pandas.DataFrame
        ``frame`` (the summed patch index), ``x_nm``, ``y_nm`` (nm from the summed
        patch's top-left corner) and the carried columns.
    """
    out = pd.DataFrame({
        "frame": locs["patch"].to_numpy(np.int64),
        "x_nm": (locs["x_px"].to_numpy(np.float64) - locs["col0"].to_numpy()) * pixel_size_nm,
        "y_nm": (locs["y_px"].to_numpy(np.float64) - locs["row0"].to_numpy()) * pixel_size_nm})
    for name in carried:
        out[name] = locs[name].to_numpy(np.float64)
    return out


def results_in_order(tasks: list, runner: Runner, *, in_flight: int) -> Iterator:
    """Results of ``tasks`` in order, at most ``in_flight`` computed or held at once."""
    import dask

    client = runner.client
    if client is None:
        for start in range(0, len(tasks), in_flight):
            yield from dask.compute(*tasks[start:start + in_flight])
        return
    pending: deque = deque()
    queued = iter(tasks)
    for task in queued:
        pending.append(client.compute(task))
        if len(pending) >= in_flight:
            break
    while pending:
        future = pending.popleft()
        result = future.result()
        future.release()
        task = next(queued, None)
        if task is not None:
            pending.append(client.compute(task))
        yield result


def export_summed_tiff(raw: SummedRaw, directory: str | os.PathLike, *,
                       runner: Runner | None = None, overwrite: bool = False,
                       in_flight: int = 4,
                       progress: Callable[[int, int, int], None] | None = None
                       ) -> SummedExport:
    """Write the summed patches of ``raw`` as ``DIR/summed.tif`` and ``DIR/summed.csv``.

    Parameters
    ----------
    raw : SummedRaw
        From :func:`~smlmscale.patches.summed_graph.summed_raw` (the same object given
        to :func:`~smlmscale.patches.summed_graph.build_summed` so the exported patches
        are the training pairs' sums).
    directory : str or os.PathLike
        The folder to create (built as ``DIR.partial``, renamed when complete).
    runner : Runner, optional
        Computes the tasks (on its client when it has one); default: the current
        Dask scheduler.
    overwrite : bool
        Replace an existing folder (and an interrupted ``DIR.partial``).
    in_flight : int
        Output chunks computed or held at once.
    progress : callable, optional
        ``progress(chunks_done, chunks_total, patches_done)``.

    Returns
    -------
    SummedExport

    Raises
    ------
    InputError
        The folder (or ``DIR.partial``) exists without ``overwrite``; its parent does
        not exist; the summed patches hold no localization.
    """
    with staged_output(directory, overwrite=overwrite) as out:
        written = write_summed_export(raw, out, runner=runner, in_flight=in_flight,
                                      progress=progress)
    return written


def write_summed_export(raw: SummedRaw, out: Staged, *, runner: Runner | None = None,
                        in_flight: int = 4,
                        progress: Callable[[int, int, int], None] | None = None
                        ) -> SummedExport:
    """Write the TIFF and the CSV into ``out.path``, a staged folder (see
    :func:`~smlmscale.io.outputs.staged_output`) that becomes ``out.final``.

    Parameters are those of :func:`export_summed_tiff`; errors name ``out.final``.
    """
    started = time.perf_counter()
    runner = runner or Runner()
    folder, final = os.fspath(out.path), os.fspath(out.final)
    os.makedirs(os.path.join(folder, _STAGE))
    staged = _write_tiff(raw, folder, runner, max(1, int(in_flight)), progress)
    rows = _write_csv(raw, folder, staged, final)
    shutil.rmtree(os.path.join(folder, _STAGE))
    return SummedExport(path=final, tiff=os.path.join(final, TIFF_NAME),
                        csv=os.path.join(final, CSV_NAME), n_patches=int(sum(raw.sizes)),
                        n_localizations=rows, seconds=time.perf_counter() - started)


def _write_tiff(raw: SummedRaw, folder: str, runner: Runner, in_flight: int,
                progress) -> list[str]:
    """Stream the frames into the TIFF; stage each chunk's localizations; their paths."""
    import tifffile

    size = raw.settings.patch_size_px
    n = int(sum(raw.sizes))
    staged: list[str] = []

    def frames() -> Iterator[np.ndarray]:
        done = 0
        results = results_in_order(raw.tasks, runner, in_flight=in_flight)
        for i, (patches, locs) in enumerate(results):
            path = os.path.join(folder, _STAGE, f"{i:09d}.parquet")
            canonical_locs(locs, pixel_size_nm=raw.pixel_size_nm,
                           carried=raw.carried).to_parquet(path, index=False)
            staged.append(path)
            yield from np.asarray(patches, np.float32)
            done += len(patches)
            if progress is not None:
                progress(i + 1, len(raw.tasks), done)

    per_um = 1e3 / raw.pixel_size_nm
    if n * size * size * 4 <= _CLASSIC_BYTES:
        writer = {"imagej": True}
        tags = {"resolution": (per_um, per_um), "metadata": {"axes": "TYX", "unit": "um"}}
    else:
        writer = {"bigtiff": True}
        tags = {"resolution": (per_um * 1e4, per_um * 1e4), "resolutionunit": "CENTIMETER",
                "metadata": {"axes": "TYX"}}
    with tifffile.TiffWriter(os.path.join(folder, TIFF_NAME), **writer) as tw:
        tw.write(frames(), shape=(n, size, size), dtype=np.float32, **tags)
    return staged


def _write_csv(raw: SummedRaw, folder: str, staged: list[str], final: str) -> int:
    """Stream the staged localizations into the DeepSTORM CSV; the rows written."""
    import dask
    import dask.dataframe as dd

    from smlmscale.io.tables import TableMeta, write_table

    meta = pd.DataFrame({"frame": pd.Series(dtype=np.int64),
                         **{c: pd.Series(dtype=np.float64) for c in ("x_nm", "y_nm",
                                                                    *raw.carried)}})
    parts = [dask.delayed(pd.read_parquet, pure=True)(p) for p in staged]
    table = dd.from_delayed(parts, meta=meta, verify_meta=False)
    size = raw.settings.patch_size_px
    try:
        with dask.config.set(scheduler="synchronous"):  # the staged files are local
            summary = write_table(table, os.path.join(folder, CSV_NAME), format="deepstorm",
                                  meta=TableMeta(pixel_size_nm=raw.pixel_size_nm,
                                                 image_shape=(size, size)))
    except InputError as exc:
        if "no localizations" not in exc.message:
            raise
        raise InputError("the summed patches hold no localization", path=final,
                         hint="raise --min-emitters") from None
    return int(summary["rows"])


__all__ = ["CSV_NAME", "SummedExport", "TIFF_NAME", "canonical_locs", "export_summed_tiff",
           "results_in_order", "write_summed_export"]
