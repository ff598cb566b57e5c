"""Movie simulation orchestration: settings -> OME-Zarr movie + Parquet truth (+ TIFF series).

:func:`prepare_simulate` makes every check (cheap, before a cluster starts) and returns
a :class:`SimulationPlan`; :func:`run_simulate` carries it out. Every output is staged
(:func:`~smlmscale.io.outputs.staged_output`): the store is built in ``OUT.partial``
(one task per chunk renders its frames and writes them); the truth table streams to
Parquet one partition per chunk (never whole in memory) into a temporary sibling; the
optional TIFF series is written from the finished store, one task per file, into
``<stem>_tiff.partial``. All are renamed into place once all are complete. The
simulation is deterministic, so what an interrupted one left in ``OUT.partial`` is
replaced; an interrupted run of another command is refused.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from smlmscale import __version__
from smlmscale.errors import InputError
from smlmscale.io.chunk_writer import ProgressCallback, write_chunks
from smlmscale.io.outputs import check_output, partial_path, staged_output, utc_now
from smlmscale.io.ome_zarr import create_image_store, update_smlmscale_attrs
from smlmscale.simulate.graph import movie_array, truth_frame
from smlmscale.simulate.settings import MovieSettings
from smlmscale.simulate.tiff_series import tiff_series_paths, write_tiff_series

#: The ``kind`` of the stores the simulators write; an interrupted one is replaced.
SIMULATION_KINDS = ("simulation", "sections")


@dataclass(frozen=True)
class SimulationResult:
    """What :func:`simulate_movie` wrote.

    Attributes
    ----------
    path : str
        The OME-Zarr store.
    truth_path : str
        The ground-truth Parquet table.
    tiff_paths : tuple of str
        The TIFF series files, in order (empty without ``tiff``).
    shape, chunks : tuple of int
        ``(frames, height, width)`` and the chunk shape.
    dtype : str
    pixel_size_nm : float
    n_emitters : int
        Rows of the truth table (emitter-frames).
    n_detectable : int
        Rows at or above the detection threshold.
    bytes_written : int
        Uncompressed bytes of the movie.
    seconds : float
        Wall time.
    """

    path: str
    truth_path: str
    tiff_paths: tuple[str, ...]
    shape: tuple[int, int, int]
    chunks: tuple[int, int, int]
    dtype: str
    pixel_size_nm: float
    n_emitters: int
    n_detectable: int
    bytes_written: int
    seconds: float

    @property
    def frames_per_s(self) -> float:
        """Frames simulated per second of wall time."""
        return self.shape[0] / max(self.seconds, 1e-9)

    @property
    def emitters_per_frame(self) -> float:
        """Mean truth rows per frame."""
        return self.n_emitters / self.shape[0]


def output_stem(output: str | os.PathLike) -> str:
    """``sim`` for ``sim.zarr`` or ``sim.ome.zarr``."""
    name = Path(os.fspath(output).rstrip(os.sep)).name
    for suffix in (".zarr", ".ome"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return name


def default_truth_path(output: str | os.PathLike) -> Path:
    """``<OUT stem>_truth.parquet`` beside the store."""
    out = Path(os.path.abspath(os.fspath(output)))
    return out.parent / f"{output_stem(out)}_truth.parquet"


def default_tiff_folder(output: str | os.PathLike) -> Path:
    """``<OUT stem>_tiff/`` beside the store."""
    out = Path(os.path.abspath(os.fspath(output)))
    return out.parent / f"{output_stem(out)}_tiff"


def check_simulation_store(output: str | os.PathLike, *, overwrite: bool) -> None:
    """Refuse an existing store (without ``overwrite``) or another command's interrupted run.

    What an interrupted simulation left in ``OUT.partial`` passes: it is replaced.
    """
    check_output(output, overwrite=overwrite, resume=True)
    partial = partial_path(output)
    if os.path.exists(partial) and not overwrite and not _is_simulation(partial):
        raise InputError("an interrupted run of another command is here", path=partial,
                         hint="pass --overwrite to replace it, or choose another -o")


@dataclass(frozen=True)
class SimulationPlan:
    """A checked movie simulation (:func:`prepare_simulate`), ready for :func:`run_simulate`.

    Attributes
    ----------
    output, truth_path : pathlib.Path
        The store and the ground-truth Parquet table, absolute.
    tiff_folder : pathlib.Path or None
        The TIFF series folder, or None.
    settings : MovieSettings
    tiff_frames_per_file : int or None
    overwrite : bool
    command : str or None
    compressor : str
    zarr_format : int
    """

    output: Path
    truth_path: Path
    tiff_folder: Path | None
    settings: MovieSettings
    tiff_frames_per_file: int | None = None
    overwrite: bool = False
    command: str | None = None
    compressor: str = "zstd"
    zarr_format: int = 3


def prepare_simulate(output: str | os.PathLike, *, settings: MovieSettings,
                     truth_path: str | os.PathLike | None = None, tiff: bool = False,
                     tiff_frames_per_file: int | None = None, overwrite: bool = False,
                     command: str | None = None, compressor: str = "zstd",
                     zarr_format: int = 3) -> SimulationPlan:
    """Check a movie simulation: its settings and every output; cheap, starts nothing.

    Parameters are those of :func:`simulate_movie`.

    Returns
    -------
    SimulationPlan

    Raises
    ------
    InputError
        An output exists without ``overwrite`` (or is a folder where a file is written),
        its folder does not exist, the truth table is not ``*.parquet``, another
        command's interrupted run is in ``OUT.partial``, or ``tiff_frames_per_file < 1``;
        a PSF file that is missing or does not cover the settings
        (:func:`~smlmscale.simulate.psf_file.check_psf_file`).
    """
    from smlmscale.simulate.psf_file import check_psf_file

    if not isinstance(settings, MovieSettings):
        raise InputError(f"settings must be MovieSettings, got {type(settings).__name__}")
    check_psf_file(settings)
    if tiff_frames_per_file is not None and tiff_frames_per_file < 1:
        raise InputError(f"{{flag}} must be at least 1, got {tiff_frames_per_file}",
                         param="tiff_frames_per_file", flag="--tiff-frames")
    final = Path(os.path.abspath(os.fspath(output)))
    check_simulation_store(final, overwrite=overwrite)
    truth = Path(os.path.abspath(truth_path)) if truth_path is not None \
        else default_truth_path(final)
    if truth.suffix.lower() != ".parquet":
        raise InputError("the truth table is written as Parquet", path=truth,
                         hint="name it *.parquet (convert it afterwards with smlmscale convert)")
    if truth.is_file() and not overwrite:
        raise InputError("truth table exists", path=truth,
                         hint="pass --overwrite to replace it, or give --truth PATH")
    check_output(truth, overwrite=overwrite, kind="file")
    folder = default_tiff_folder(final) if tiff else None
    if folder is not None and folder.exists() and not overwrite:
        raise InputError("TIFF output folder exists", path=folder,
                         hint="pass --overwrite to replace it")
    return SimulationPlan(output=final, truth_path=truth, tiff_folder=folder, settings=settings,
                          tiff_frames_per_file=tiff_frames_per_file, overwrite=overwrite,
                          command=command, compressor=compressor, zarr_format=zarr_format)


def run_simulate(plan: SimulationPlan, *, client=None,
                 progress: ProgressCallback | None = None) -> SimulationResult:
    """Simulate the movie of a :class:`SimulationPlan` and write its outputs.

    Parameters
    ----------
    plan : SimulationPlan
        From :func:`prepare_simulate`.
    client : distributed.Client, optional
        Where the chunks are simulated; ``None`` uses the current Dask scheduler.
        The movie and truth are the same either way.
    progress : callable, optional
        ``progress(chunks_done, chunks_total, bytes_done)`` as chunks are written
        (with a client; otherwise once at the end).

    Returns
    -------
    SimulationResult
    """
    started = time.perf_counter()
    settings, folder = plan.settings, plan.tiff_folder
    chunk = settings.chunk_frames_or_default
    shape = (settings.frames, *settings.size_px)
    with contextlib.ExitStack() as stack:
        store = stack.enter_context(staged_output(plan.output, overwrite=plan.overwrite,
                                                  discard_interrupted=True))
        truth = stack.enter_context(staged_output(plan.truth_path, overwrite=plan.overwrite,
                                                  kind="file"))
        tiff = None if folder is None else stack.enter_context(
            staged_output(folder, overwrite=plan.overwrite, discard_interrupted=True))
        create_image_store(store.path, shape=shape, dtype=settings.dtype,
                           chunks=(chunk, *shape[1:]), compressor=plan.compressor, axes="tyx",
                           pixel_size_nm=settings.pixel_size_nm, zarr_format=plan.zarr_format,
                           attrs=_provenance(plan))
        written = write_chunks(movie_array(settings, chunk_frames=chunk), str(store.path),
                               client=client, name="simulate-store", progress=progress)
        table = _write_truth(client, settings, chunk, truth.path)
        tiff_paths: tuple[str, ...] = ()
        if tiff is not None:
            names = _write_tiff(client, str(store.path), tiff.path, output_stem(plan.output),
                                settings, plan.tiff_frames_per_file)
            tiff_paths = tuple(str(folder / name) for name in names)
        seconds = time.perf_counter() - started
        update_smlmscale_attrs(store.path, completed=utc_now(), n_emitters=table["rows"],
                               n_detectable=table["detectable"], seconds=round(seconds, 3))
    return SimulationResult(
        path=str(plan.output), truth_path=str(plan.truth_path), tiff_paths=tiff_paths,
        shape=shape, chunks=(chunk, *shape[1:]), dtype=str(np.dtype(settings.dtype)),
        pixel_size_nm=settings.pixel_size_nm, n_emitters=table["rows"],
        n_detectable=table["detectable"], bytes_written=written, seconds=seconds)


def simulate_movie(output: str | os.PathLike, *, settings: MovieSettings, client=None,
                   truth_path: str | os.PathLike | None = None, tiff: bool = False,
                   tiff_frames_per_file: int | None = None, overwrite: bool = False,
                   command: str | None = None, compressor: str = "zstd", zarr_format: int = 3,
                   progress: ProgressCallback | None = None) -> SimulationResult:
    """Simulate a blinking-emitter SMLM movie; write it as OME-Zarr with its ground truth.

    :func:`prepare_simulate` then :func:`run_simulate`.

    Parameters
    ----------
    output : str or os.PathLike
        OME-Zarr store to create: ``(t, y, x)`` in ADU, chunks of
        ``settings.chunk_frames_or_default`` whole frames, lateral scale
        ``pixel_size_nm``; the group attribute ``"smlmscale"`` holds
        ``kind: "simulation"``, the settings and provenance.
    settings : MovieSettings
    client : distributed.Client, optional
        Where the chunks are simulated; ``None`` uses the current Dask scheduler.
    truth_path : str or os.PathLike, optional
        Parquet ground truth (default ``<OUT stem>_truth.parquet`` beside the store);
        columns as :func:`~smlmscale.simulate.frames.truth_rows`.
    tiff : bool
        Also write the movie as a MicroManager-style OME-TIFF series in
        ``<OUT stem>_tiff/`` (``<stem>_MMStack_Pos0.ome.tif``, ``..._1.ome.tif``...).
    tiff_frames_per_file : int, optional
        Frames per TIFF file (default: up to 2 GiB per file).
    overwrite : bool
        Replace existing outputs (only once the new ones are complete).
    command : str, optional
        The command line, recorded as provenance.
    compressor : {"zstd", "lz4", "none"}
    zarr_format : {3, 2}
    progress : callable, optional
        As :func:`run_simulate`.

    Returns
    -------
    SimulationResult

    Raises
    ------
    InputError
        As :func:`prepare_simulate`; no emitter was on in any frame.
    """
    plan = prepare_simulate(output, settings=settings, truth_path=truth_path, tiff=tiff,
                            tiff_frames_per_file=tiff_frames_per_file, overwrite=overwrite,
                            command=command, compressor=compressor, zarr_format=zarr_format)
    return run_simulate(plan, client=client, progress=progress)


def _write_truth(client, settings: MovieSettings, chunk: int, truth: Path) -> dict:
    import dask

    from smlmscale.io.tables import TableMeta, write_table

    meta = TableMeta(pixel_size_nm=settings.pixel_size_nm, image_shape=settings.size_px,
                     n_frames=settings.frames, source="smlmscale simulate ground truth",
                     extra={"seed": settings.seed, "detection_threshold_photons":
                            settings.photons.threshold})
    config = {"scheduler": client} if client is not None else {}
    try:
        with dask.config.set(config):
            summary = write_table(truth_frame(settings, chunk_frames=chunk), truth, meta=meta,
                                  format="parquet")
    except InputError as exc:
        if "holds no localizations" in exc.message:
            raise InputError("no emitter was on in any frame, so there is no ground truth",
                             hint="raise the density or the number of frames") from None
        raise
    summary["detectable"] = _count_detectable(truth)
    return summary


def _count_detectable(path: Path) -> int:
    """Rows flagged detectable, read one row group at a time."""
    import pyarrow.parquet as pq

    handle = pq.ParquetFile(path)
    return int(sum(np.asarray(handle.read_row_group(i, columns=["detectable"])
                              .column(0)).sum() for i in range(handle.num_row_groups)))


def _write_tiff(client, store: str, folder: Path, stem: str, settings: MovieSettings,
                frames_per_file: int | None) -> tuple[str, ...]:
    """Write the TIFF series into ``folder``; returns the file names in order."""
    import dask

    jobs = tiff_series_paths(folder, stem, settings.frames, settings.size_px, settings.dtype,
                             frames_per_file=frames_per_file)
    tasks = write_tiff_series(store, jobs, pixel_size_nm=settings.pixel_size_nm)
    if client is not None:
        client.gather(client.compute(tasks))
    else:
        dask.compute(*tasks)
    return tuple(Path(path).name for path, _, _ in jobs)


def _provenance(plan: SimulationPlan) -> dict:
    try:
        truth_name = os.path.relpath(plan.truth_path, plan.output.parent)
    except ValueError:  # another drive
        truth_name = str(plan.truth_path)
    return {"kind": "simulation", "version": __version__, "command": plan.command,
            "created": utc_now(), "seed": plan.settings.seed, "truth": truth_name,
            "settings": plan.settings.to_mapping()}


def _is_simulation(path: str) -> bool:
    try:
        from smlmscale.io.ome_zarr import open_image_store

        return open_image_store(path).attrs.get("kind") in SIMULATION_KINDS
    except Exception:  # noqa: BLE001 - anything unreadable is not ours
        return False


__all__ = ["SimulationPlan", "SimulationResult", "check_simulation_store", "default_tiff_folder",
           "default_truth_path", "output_stem", "prepare_simulate", "run_simulate",
           "simulate_movie"]
