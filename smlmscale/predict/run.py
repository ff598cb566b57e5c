"""Orchestration: predict a movie across the cluster into a localization table.

The movie is cut into blocks of frames, one task each (:mod:`smlmscale.predict.tasks`);
each task writes its own Parquet part into the work folder ``OUT.partial/``. When every
block is done the parts are streamed, in frame order, into the output table (format by
extension), and the work folder is removed: the table appears only when complete. The
density store (``density_out``) is built in its own ``DENSITY.partial`` and renamed with
it. ``resume`` keeps the parts an interrupted run wrote and predicts only the missing
blocks. A worker that dies costs only its running tasks, which the scheduler gives to
another worker.

:func:`run_predict` carries out a :class:`~smlmscale.predict.plan.PredictPlan` (movies
here, section stacks in :mod:`smlmscale.predict.run_sections`); :func:`predict_movie`
prepares and runs in one call.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from smlmscale.errors import InputError
from smlmscale.predict.deepstorm3d_block import run_voxel_block, voxel_settings
from smlmscale.predict.locnet_block import locnet_settings, removed_rows, run_locnet_block
from smlmscale.predict.parts import run_tasks, staged_parts, table_from_parts
from smlmscale.predict.plan import PredictPlan, prepare_predict
from smlmscale.predict.settings import PredictSettings, block_settings
from smlmscale.predict.tasks import BlockJob, part_path, run_block
from smlmscale.predict.tiles import make_grid

#: Model kind -> (task, kernel-settings builder, extra halo) of a movie block; any other
#: kind (deepstorm, autoencoder, unet) uses the density path of
#: :mod:`smlmscale.predict.block`. The extra halo, ``extra(kernel settings)`` output px,
#: is what the kernel reads beyond a core: locnet's candidates read a 3 x 3 neighbourhood
#: (halo >= receptive radius + 1), deepstorm3d's maxima and centroids a cube of
#: ``radius`` voxels.
BLOCK_FUNCTIONS: dict[str, tuple[Callable, Callable, Callable[[object], int]]] = {
    "locnet": (run_locnet_block, locnet_settings, lambda kernel: 1),
    "deepstorm3d": (run_voxel_block, voxel_settings, lambda kernel: kernel.radius)}
DEFAULT_BLOCK = (run_block, block_settings, lambda kernel: 0)

#: The record inside ``DENSITY.partial`` naming the table it belongs to.
DENSITY_RECORD = "predict-density.json"


@dataclass
class PredictResult:
    """What a prediction run did.

    Attributes
    ----------
    path : str
        The localization table.
    rows : int
        Localizations written.
    frames : int
        Frames predicted (this run and resumed parts together).
    blocks, blocks_resumed : int
        Blocks in all, and blocks an earlier run had done.
    seconds : float
        Wall time of this call.
    density : str or None
        The density store, when written.
    notes : list of str
    histogram : str or None
        The PNG of predicted uncertainties (locnet models).
    removed : int
        Localizations the ``--max-uncertainty`` cut removed.
    precision : str
        The model's arithmetic, ``--precision`` as resolved in this process (the workers
        resolve it on their own CPUs).
    """

    path: str
    rows: int
    frames: int
    blocks: int
    blocks_resumed: int
    seconds: float
    density: str | None
    notes: list
    histogram: str | None = None
    removed: int = 0
    precision: str = "float32"

    @property
    def frames_per_second(self) -> float:
        """Frames per second of this call (resumed blocks included in ``frames``)."""
        return self.frames / self.seconds if self.seconds > 0 else float("nan")


def grid_of(predictor, image_shape: tuple[int, int], *, factor: int, extra: int,
            tile: int):
    """The tiling of a model's frames: halo = receptive radius + ``extra`` and alignment,
    in output pixels (a model that upsamples inside reads camera-pixel windows)."""
    up = predictor.upsamples
    return make_grid(image_shape, factor=factor, align=predictor.align * up,
                     radius=predictor.radius * up + extra, tile=tile, internal=up)


def _blocks(first: int, last: int, size: int) -> list[tuple[int, int]]:
    return [(a, min(a + size, last)) for a in range(first, last, size)]


def run_predict(plan: PredictPlan, *, client,
                progress: Callable[[int, int], None] | None = None):
    """Carry out a prediction plan on the cluster.

    Parameters
    ----------
    plan : PredictPlan
        From :func:`~smlmscale.predict.plan.prepare_predict`.
    client : distributed.Client
    progress : callable, optional
        ``progress(tasks_done, tasks_total)``.

    Returns
    -------
    PredictResult or StackResult
        A :class:`PredictResult` for movies, a
        :class:`~smlmscale.predict.run_sections.StackResult` for section stacks.

    Raises
    ------
    InputError
        A resumed run with other settings; no localization reaching the threshold.
    """
    if plan.kind == "sections":
        from smlmscale.predict.run_sections import run_stack

        return run_stack(plan, client=client, progress=progress)
    return _run_movie(plan, client=client, progress=progress)


def _staged_density(plan: PredictPlan, *, resume: bool, factor: int):
    from smlmscale.io.outputs import staged_output

    return staged_output(plan.density_out, overwrite=plan.overwrite, resume=resume,
                         optional_resume=True, record=_density_record(plan),
                         record_name=DENSITY_RECORD, keep_on_error=True, drop_record=True,
                         create=lambda path: _create_density(path, plan, factor))


def _density_record(plan: PredictPlan) -> dict:
    return {"table": os.path.abspath(plan.output)}


def _create_density(path, plan: PredictPlan, factor: int) -> None:
    from smlmscale.io.ome_zarr import create_image_store, upsampled_translation_nm
    from smlmscale.io.outputs import utc_now

    first, last = plan.frames
    height, width = (s * factor for s in plan.image_shape)
    # pixel centres of the upsampled grid where the movie's lie (NGFF: centre coordinates);
    # index 0 of t is the run's first frame
    shift = upsampled_translation_nm(plan.pixel_size_nm, factor)
    create_image_store(path, shape=(last - first, height, width), dtype="float32",
                       chunks=(1, height, width), pixel_size_nm=plan.pixel_size_nm / factor,
                       translation=(float(first), shift, shift),
                       attrs={"kind": "density", "model": plan.model, "source": plan.input,
                              "command": plan.command, "created": utc_now()})


def _run_movie(plan: PredictPlan, *, client,
               progress: Callable[[int, int], None] | None) -> PredictResult:
    from smlmscale.predict.model_cache import cached_predictor

    started = time.perf_counter()
    settings, meta = plan.settings, plan.meta
    first, last = plan.frames
    factor = int(meta.get("upsampling") or 1)
    predictor = cached_predictor(plan.model, settings.precision)
    task, kernel_settings, extra = BLOCK_FUNCTIONS.get(meta.get("model"), DEFAULT_BLOCK)
    kernel = kernel_settings(settings, meta, plan.pixel_size_nm / factor)
    grid = grid_of(predictor, plan.image_shape, factor=factor, extra=extra(kernel),
                   tile=settings.tile)
    blocks = _blocks(first, last, settings.frames_per_block)
    with contextlib.ExitStack() as stack:
        staged = stack.enter_context(staged_parts(plan))
        parts = staged.path / "parts"
        density = None
        if plan.density_out is not None:
            density = stack.enter_context(_staged_density(plan, resume=staged.resumed,
                                                          factor=factor))
        # without the density of the resumed blocks, every block is predicted again
        keep = staged.resumed and (density is None or density.resumed)
        todo = [(a, b) for a, b in blocks if not (keep and part_path(parts, a, b).exists())]
        jobs = [BlockJob(store=plan.input, start=a, stop=b, model=plan.model, parts=str(parts),
                         density=None if density is None else str(density.path), first=first,
                         precision=settings.precision)
                for a, b in todo]
        run_tasks(client, task, jobs, grid, kernel,
                  total=len(blocks), name=lambda job: f"predict-frames-{job.start}-{job.stop}",
                  progress=progress)
        files = [str(part_path(parts, a, b)) for a, b in blocks]
        rows = table_from_parts(
            files, plan.output, meta=plan.table_meta, overwrite=plan.overwrite,
            format=plan.format,
            discard=[s for s in (staged, density) if s is not None],
            empty=InputError(f"no localization reached the threshold {kernel.threshold:g}",
                             path=plan.input, hint="lower --threshold, or check the model "
                                                   "fits this movie"))
        removed = removed_rows(parts)
        if plan.histogram is not None:
            _write_histogram(client, files, plan)
    notes = [] if (meta.get("normalization") or {}).get("mode") != "patch" else [
        "this model was trained on patches normalized one by one; frames are normalized "
        "whole (make patches with --normalize frame for a better match)"]
    return PredictResult(path=plan.output, rows=rows, frames=last - first, blocks=len(blocks),
                         blocks_resumed=len(blocks) - len(todo),
                         seconds=time.perf_counter() - started,
                         density=plan.density_out and str(plan.density_out), notes=notes,
                         histogram=plan.histogram, removed=removed,
                         precision=predictor.precision)


def _write_histogram(client, files: list[str], plan: PredictPlan) -> None:
    """Bin the uncertainties of every part on the cluster, sum, and draw the PNG."""
    import dask.dataframe as dd

    from smlmscale.evaluate.uncertainty_plot import plot_uncertainty_histogram
    from smlmscale.localize.uncertainty import histogram_edges, histogram_graph

    cut = plan.settings.max_uncertainty_nm
    table = dd.read_parquet(files, split_row_groups=False)
    counts = client.compute(histogram_graph(table, edges_nm=histogram_edges(cut))).result()
    # written through staged outputs by plot_uncertainty_histogram itself
    plot_uncertainty_histogram(counts, plan.histogram, max_uncertainty_nm=cut,
                               overwrite=plan.overwrite)


def predict_movie(input: str | os.PathLike, model: str | os.PathLike,
                  output: str | os.PathLike, *, client, settings: PredictSettings | None = None,
                  density_out: str | os.PathLike | None = None, resume: bool = False,
                  overwrite: bool = False, command: str | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  format: str | None = None) -> PredictResult:
    """Predict the localizations of a movie with a trained model, across a Dask cluster.

    :func:`~smlmscale.predict.plan.prepare_predict` then :func:`run_predict`.

    Parameters
    ----------
    input : str or os.PathLike
        OME-Zarr movie ``(t, y, x)`` (``smlmscale ingest`` or ``preprocess``).
    model : str or os.PathLike
        Model folder from ``smlmscale train``.
    output : str or os.PathLike
        Localization table; the format comes from the extension.
    client : distributed.Client
    settings : PredictSettings, optional
    density_out : str or os.PathLike, optional
        Also write the network density (float32, upsampled grid) as OME-Zarr.
    resume : bool, optional
        Keep the blocks an interrupted run wrote into ``OUT.partial``.
    overwrite : bool, optional
        Replace existing outputs once the new ones are complete.
    command : str, optional
        Provenance.
    progress : callable, optional
        ``progress(blocks_done, blocks_total)``.
    format : str, optional
        The table format (default: from the extension).

    Raises
    ------
    InputError
        Not a model folder or a movie; geometry or pixel size contradicting the model;
        empty movie or frame range; outputs that exist; a resumed run with other settings;
        a format that needs z with a 2D model.
    """
    plan = prepare_predict(input, model=model, output=output, settings=settings,
                           density_out=density_out, resume=resume, overwrite=overwrite,
                           command=command, format=format)
    return run_predict(plan, client=client, progress=progress)


__all__ = ["PredictResult", "grid_of", "predict_movie", "run_predict"]
