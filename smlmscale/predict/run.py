"""Orchestration: predict a movie across the cluster into a localization table.

The movie is cut into blocks of frames, one task each (:mod:`smlmscale.predict.tasks`);
each task writes its own Parquet part into ``OUT.partial/``. When every block is done the
parts are streamed, in frame order, into the output table (format by extension), and the
partial folder is removed: the table appears only when complete. ``resume`` keeps the parts
an interrupted run wrote and predicts only the missing blocks. A worker that dies costs
only its running tasks, which the scheduler gives to another worker.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from smlmscale.errors import InputError
from smlmscale.io.outputs import move_into_place, partial_path, utc_now
from smlmscale.predict.parts import prepare_partial, run_tasks, table_from_parts
from smlmscale.predict.settings import PredictSettings, block_settings, check_geometry
from smlmscale.predict.tasks import BlockJob, part_path, run_block
from smlmscale.predict.tiles import make_grid


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
    """

    path: str
    rows: int
    frames: int
    blocks: int
    blocks_resumed: int
    seconds: float
    density: str | None
    notes: list

    @property
    def frames_per_second(self) -> float:
        """Frames per second of this call (resumed blocks included in ``frames``)."""
        return self.frames / self.seconds if self.seconds > 0 else float("nan")


def _blocks(first: int, last: int, size: int) -> list[tuple[int, int]]:
    return [(a, min(a + size, last)) for a in range(first, last, size)]


def predict_movie(input: str | os.PathLike, model: str | os.PathLike,
                  output: str | os.PathLike, *, client, settings: PredictSettings | None = None,
                  density_out: str | os.PathLike | None = None, resume: bool = False,
                  overwrite: bool = False, command: str | None = None,
                  progress: Callable[[int, int], None] | None = None) -> PredictResult:
    """Predict the localizations of a movie with a trained model, across a Dask cluster.

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

    Raises
    ------
    InputError
        Not a model folder or a movie; geometry or pixel size contradicting the model;
        empty movie or frame range; outputs that exist; a resumed run with other settings.
    """
    from smlmscale.io.ome_zarr import create_image_store, open_image_store
    from smlmscale.io.tables import TableMeta
    from smlmscale.io.tables.writer import prepare_output
    from smlmscale.io.modeldir import read_model_json

    started = time.perf_counter()
    settings = settings or PredictSettings()
    meta = read_model_json(model)
    store = open_image_store(input)
    pixel_nm = check_geometry(store, meta, settings, path=str(input))
    first, last = settings.frame_range(store.array.shape[0], path=str(input))
    table_meta = TableMeta(pixel_size_nm=pixel_nm, image_shape=tuple(store.array.shape[1:]),
                           n_frames=int(store.array.shape[0]), source=os.path.abspath(input))
    prepare_output(Path(output), meta=table_meta, format=None, overwrite=overwrite)
    partial = Path(partial_path(output))
    run = {"input": os.path.abspath(input), "model": os.path.abspath(model),
           "settings": asdict(settings), "frames": [first, last],
           "density": os.path.abspath(density_out) if density_out else None}
    resumed = prepare_partial(partial, run, resume=resume, overwrite=overwrite,
                              density_out=density_out)
    factor = int(meta.get("upsampling") or 1)
    from smlmscale.predict.model_cache import cached_predictor

    predictor = cached_predictor(model)
    grid = make_grid(store.array.shape[1:], factor=factor, align=predictor.align,
                     radius=predictor.radius, tile=settings.tile)
    density_path = None
    if density_out is not None:
        density_path = str(partial / "density.zarr")
        if not os.path.exists(density_path):
            height, width = (s * factor for s in store.array.shape[1:])
            create_image_store(density_path, shape=(last - first, height, width),
                               dtype="float32", chunks=(1, height, width),
                               pixel_size_nm=pixel_nm / factor,
                               attrs={"kind": "density", "model": os.path.abspath(model),
                                      "source": os.path.abspath(input), "command": command,
                                      "created": utc_now()})
    blocks = _blocks(first, last, settings.frames_per_block)
    todo = [(a, b) for a, b in blocks if not part_path(partial / "parts", a, b).exists()]
    jobs = [BlockJob(store=os.path.abspath(input), start=a, stop=b, model=os.path.abspath(model),
                     parts=str(partial / "parts"), density=density_path, first=first)
            for a, b in todo]
    run_tasks(client, run_block, jobs, grid, block_settings(settings, meta, pixel_nm / factor),
              total=len(blocks), name=lambda job: f"predict-frames-{job.start}-{job.stop}",
              progress=progress)
    files = [str(part_path(partial / "parts", a, b)) for a, b in blocks]
    notes = [] if (meta.get("normalization") or {}).get("mode") != "patch" else [
        "this model was trained on patches normalized one by one; frames are normalized "
        "whole (make patches with --normalize frame for a better match)"]
    rows = table_from_parts(files, output, meta=table_meta, overwrite=overwrite, partial=partial,
                            empty=InputError(
                                f"no localization reached the threshold {settings.threshold:g}",
                                path=str(input), hint="lower --threshold, or check the model "
                                                      "fits this movie"))
    if density_out is not None:
        move_into_place(density_path, density_out)
    shutil.rmtree(partial, ignore_errors=True)
    return PredictResult(path=str(output), rows=rows, frames=last - first, blocks=len(blocks),
                         blocks_resumed=resumed and len(blocks) - len(todo) or 0,
                         seconds=time.perf_counter() - started,
                         density=str(density_out) if density_out else None, notes=notes)


__all__ = ["PredictResult", "predict_movie"]
