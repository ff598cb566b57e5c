"""Patch-set orchestration: a movie store and a localization table -> a patch-set Zarr.

:func:`prepare_patches` makes every cheap check before a cluster starts (the kind and
its settings, the options that apply to it, the store's header, the table's header and
columns, the outputs) and returns a :class:`PatchesPlan`; :func:`run_patches` opens the
table (as a :class:`~smlmscale.patches.frames.FrameTable`: parts read inside tasks),
asks the generator's record (:mod:`smlmscale.patches.generators`) for its lazy tasks
(:class:`~smlmscale.patches.base.Generated`) and writes their results into the patch
set built in ``OUT.partial`` (:func:`~smlmscale.io.outputs.staged_output`):

- **planned** generators (deepstorm, summed, counts) know every task's patch count
  before running; the patch set is created at its final size and each task's pairs
  are written by the worker that made them into its own chunk-aligned region, so
  no patch passes through the driver and writers run in parallel;
- **streamed** generators (fusion: the SF criterion decides from the pixels) return
  their pairs a bounded window of tasks at a time and the driver appends them in
  order, chunk-aligned.

The seeded train/validation split is drawn once the patch count is known;
``OUT.partial`` (and the ``--export-tiff`` folder, staged beside it) is renamed into
place at the end. Nothing but plans, counts and (streamed) one window of pairs is ever
held by the driver. :func:`make_patches` does both steps in one call.
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from smlmscale import __version__
from smlmscale.errors import InputError
from smlmscale.io.ome_zarr import open_image_store
from smlmscale.io.outputs import check_output, staged_output, utc_now
from smlmscale.patches.base import Generated, Runner
from smlmscale.patches.frames import FrameTable
from smlmscale.patches.generators import KINDS, Generator, generator
from smlmscale.patches.patchset import create_patchset
from smlmscale.patches.writers import write_planned, write_streamed

#: Bytes of movie a task holds at most (a stored chunk is read in parts of this size).
MOVIE_BLOCK_BYTES = 8 * 2**20


@dataclass(frozen=True, kw_only=True)
class PatchesPlan:
    """Everything :func:`run_patches` needs, checked by :func:`prepare_patches`.

    Attributes
    ----------
    input, output, locs : str
        The movie store, the patch set to write and the table (absolute paths).
    rois : str, optional
        The ROI list (counts).
    export_tiff : str, optional
        The summed TIFF + CSV folder to write.
    kind : str
        The generator (a key of :data:`~smlmscale.patches.generators.GENERATORS`).
    settings : Settings
        The generator's settings.
    roi_list : pandas.DataFrame, optional
        The ROI list read and checked against the stack.
    shape : tuple of int
        The movie's ``(t, y, x)`` (or ``(z, y, x)``).
    pixel_size_nm : float
        The camera pixel (the store's, or the one given).
    columns, require : tuple of str
        Table columns read, and those that must exist.
    validation_fraction : float
    chunk_patches : int, optional
        Patches per Zarr chunk (``None`` or 0: about
        :data:`~smlmscale.patches.base.CHUNK_BYTES` of pairs).
    overwrite : bool
    command : str, optional
        Recorded as provenance.
    """

    input: str
    output: str
    locs: str
    rois: str | None = None
    export_tiff: str | None = None
    kind: str
    settings: Any
    roi_list: Any = field(default=None, compare=False, repr=False)
    shape: tuple[int, ...]
    pixel_size_nm: float
    columns: tuple[str, ...]
    require: tuple[str, ...]
    validation_fraction: float
    chunk_patches: int | None = None
    overwrite: bool = False
    command: str | None = None

    @property
    def generator(self) -> Generator:
        """The generator's record."""
        return generator(self.kind)


@dataclass(frozen=True)
class PatchesResult:
    """What :func:`run_patches` wrote.

    Attributes
    ----------
    path : str
    kind : str
    n_patches, n_train, n_validation : int
    input_shape, target_shape : tuple of int
        One patch, ``(H, W, C)``.
    frames : int
        Frames (or sections) of the movie.
    seconds : float
    stats : dict
        The generator's counts (candidates, runs, dropped tiles, ...).
    export : str, optional
        The folder of summed TIFF + CSV (``export_tiff``), if written.
    """

    path: str
    kind: str
    n_patches: int
    n_train: int
    n_validation: int
    input_shape: tuple[int, ...]
    target_shape: tuple[int, ...]
    frames: int
    seconds: float
    stats: dict
    export: str | None = None

    @property
    def patches_per_s(self) -> float:
        return self.n_patches / max(self.seconds, 1e-9)


#: The former name of :class:`PatchesResult`.
PatchResult = PatchesResult


def check_kind(kind: str) -> str:
    """``kind`` if known; InputError otherwise (:func:`.generators.generator`)."""
    return generator(kind).name


def default_settings(kind: str):
    """The default settings object of ``kind``."""
    return generator(kind).settings()


def movie_chunk(array) -> int:
    """Frames per Dask chunk of the movie: the stored chunk, or an even part of it that
    holds at most :data:`MOVIE_BLOCK_BYTES` (each part decompresses the stored chunk
    once more, but a task then holds only its part)."""
    stored = int(array.chunks[0])
    frame = int(np.prod(array.shape[1:])) * array.dtype.itemsize
    parts = max(1, -(-stored * frame // MOVIE_BLOCK_BYTES))
    return max(1, -(-stored // parts))


def _path(value: str | os.PathLike | None) -> str | None:
    return None if value is None else os.path.abspath(os.fspath(value))


def prepare_patches(input: str | os.PathLike, output: str | os.PathLike, *,
                    locs: str | os.PathLike, kind: str = "deepstorm", settings: Any = None,
                    rois: str | os.PathLike | None = None,
                    export_tiff: str | os.PathLike | None = None,
                    validation_fraction: float = 0.1, pixel_size_nm: float | None = None,
                    chunk_patches: int | None = None, overwrite: bool = False,
                    command: str | None = None) -> PatchesPlan:
    """Check a patch-set run cheaply (no cluster, no pixels or table rows read).

    Parameters
    ----------
    input : str or os.PathLike
        OME-Zarr movie ``(t, y, x)`` (a section stack ``(z, y, x)`` for counts).
    output : str or os.PathLike
        Patch set to create (see :mod:`smlmscale.patches.patchset`).
    locs : str or os.PathLike
        Localization table (any format :func:`~smlmscale.io.tables.read_table` reads);
        with a ``detectable`` column (simulator truth) only rows with 1 are used.
    kind : {"deepstorm", "fusion", "summed", "counts"}
    settings : Settings or mapping, optional
        The generator's settings (its class in
        :data:`~smlmscale.patches.generators.GENERATORS`), or a mapping of their fields;
        default: its defaults.
    rois : str or os.PathLike, optional
        ROI list (counts only, required there).
    export_tiff : str or os.PathLike, optional
        summed only: also write the summed patches as ``DIR/summed.tif`` with the
        DeepSTORM CSV ``DIR/summed.csv`` (the layout ZeroCostDL4Mic reads).
    validation_fraction : float
        Share of patches drawn (seeded by ``settings.seed``) into the validation split.
    pixel_size_nm : float, optional
        Overrides the store's pixel size (and the table's, for pixel formats).
    chunk_patches : int, optional
        Patches per Zarr chunk (default: about :data:`~smlmscale.patches.base.CHUNK_BYTES`
        of pairs per chunk).
    overwrite : bool
    command : str, optional
        Recorded as provenance.

    Returns
    -------
    PatchesPlan

    Raises
    ------
    InputError
        Unknown kind; bad settings, or a field of another kind; ``rois`` or
        ``export_tiff`` where they do not apply (or no ``rois`` for counts); a bad
        validation fraction or chunk; an output that exists without ``overwrite``; not
        a movie; no pixel size; patch larger than the frame; ROIs outside the stack;
        missing table columns.
    """
    record = generator(kind)
    settings = record.make_settings(settings)
    record.check_options(rois=rois, export_tiff=export_tiff)
    if not 0 <= validation_fraction < 1:
        raise InputError(f"--validation must be in [0, 1), got {validation_fraction}")
    if chunk_patches is not None and chunk_patches < 0:
        raise InputError(f"--chunk-patches must be at least 1 (0: automatic), got "
                         f"{chunk_patches}")
    check_output(output, overwrite=overwrite)
    if export_tiff is not None:
        check_output(export_tiff, overwrite=overwrite)
    store = open_image_store(input)
    record.check_store(store.axes, store.path)
    pixel = pixel_size_nm or store.pixel_size_nm
    if not pixel:
        raise InputError("the store has no pixel size", path=store.path, hint="pass --pixel-size")
    shape = tuple(int(n) for n in store.array.shape)
    if record.check is not None:
        record.check(settings, shape, store.path)
    roi_list = record.read_rois(rois, shape) if record.rois else None
    columns, require = record.table_columns(settings)
    FrameTable.check_columns(locs, pixel_size_nm=pixel, require=require)
    return PatchesPlan(
        input=_path(input), output=_path(output), locs=_path(locs), kind=record.name,
        settings=settings, validation_fraction=float(validation_fraction),
        pixel_size_nm=float(pixel), shape=shape, columns=tuple(columns),
        require=tuple(require), rois=_path(rois), roi_list=roi_list,
        export_tiff=_path(export_tiff), chunk_patches=chunk_patches, overwrite=overwrite,
        command=command)


def run_patches(plan: PatchesPlan, *, client=None,
                progress: Callable[[int, int, int], None] | None = None,
                in_flight: int = 8) -> PatchesResult:
    """Cut the training pairs of a :class:`PatchesPlan` into its patch set.

    Parameters
    ----------
    plan : PatchesPlan
        From :func:`prepare_patches`.
    client : distributed.Client, optional
        ``None`` runs on the current Dask scheduler.
    progress : callable, optional
        ``progress(tasks_done, tasks_total, patches_done)``.
    in_flight : int
        Tasks computed at once by the streamed writer (and without a client).

    Returns
    -------
    PatchesResult

    Raises
    ------
    InputError
        Table frames beyond the movie; no patch made; and each generator's own checks.
        Nothing is left behind: the outputs are built in ``OUT.partial`` and renamed
        when complete.
    """
    import dask.array as da

    started = time.perf_counter()
    record, settings = plan.generator, plan.settings
    store = open_image_store(plan.input)
    table = FrameTable.open(plan.locs, pixel_size_nm=plan.pixel_size_nm, columns=plan.columns,
                            require=plan.require)
    table.check_frames(plan.shape[0])
    movie = da.from_zarr(store.array, chunks=(movie_chunk(store.array), *plan.shape[1:]))
    runner = Runner(client)
    gen, source = record.build(movie, table, pixel_size_nm=plan.pixel_size_nm,
                               settings=settings, chunk=plan.chunk_patches, runner=runner,
                               rois=plan.roi_list, rois_path=plan.rois, store=store)
    if not gen.tasks or (record.planned and not sum(gen.sizes)):
        raise InputError(gen.empty_reason, path=plan.locs, hint=gen.empty_hint)
    with ExitStack() as stack:
        out = stack.enter_context(staged_output(plan.output, overwrite=plan.overwrite))
        exported = None if plan.export_tiff is None else stack.enter_context(
            staged_output(plan.export_tiff, overwrite=plan.overwrite))
        ps = create_patchset(out.path, n=sum(gen.sizes) if record.planned else 0,
                             input_shape=gen.input_shape, target_shape=gen.target_shape,
                             chunk=gen.chunk, attrs=_attrs(gen, plan))
        if record.planned:
            n = write_planned(gen, os.fspath(out.path), runner=runner, in_flight=in_flight,
                              progress=progress)
        else:
            n = write_streamed(gen, ps, runner=runner, in_flight=max(1, in_flight),
                               progress=progress)
        if n == 0:
            raise InputError(gen.empty_reason, path=plan.locs, hint=gen.empty_hint)
        seed = settings.seed
        n_val = _write_split(ps, n, plan.validation_fraction, seed)
        if exported is not None:
            record.export(source, exported, runner=runner)
        seconds = time.perf_counter() - started
        _finish_attrs(out.path, plan.validation_fraction, seed, n, n_val, seconds)
    return PatchesResult(
        path=os.fspath(out.final), kind=plan.kind, n_patches=n, n_train=n - n_val,
        n_validation=n_val, input_shape=tuple(gen.input_shape),
        target_shape=tuple(gen.target_shape), frames=int(plan.shape[0]), seconds=seconds,
        stats=dict(gen.attrs.get("stats", {})),
        export=None if exported is None else os.fspath(exported.final))


def make_patches(input: str | os.PathLike, output: str | os.PathLike, *,
                 locs: str | os.PathLike, kind: str = "deepstorm", settings=None,
                 rois: str | os.PathLike | None = None, validation_fraction: float = 0.1,
                 client=None, pixel_size_nm: float | None = None,
                 chunk_patches: int | None = None, in_flight: int = 8,
                 overwrite: bool = False, command: str | None = None,
                 progress: Callable[[int, int, int], None] | None = None,
                 export_tiff: str | os.PathLike | None = None) -> PatchesResult:
    """Cut training pairs from a movie and its localizations into a patch set:
    :func:`prepare_patches` then :func:`run_patches`, with their parameters."""
    plan = prepare_patches(input, output, locs=locs, kind=kind, settings=settings, rois=rois,
                           export_tiff=export_tiff, validation_fraction=validation_fraction,
                           pixel_size_nm=pixel_size_nm, chunk_patches=chunk_patches,
                           overwrite=overwrite, command=command)
    return run_patches(plan, client=client, progress=progress, in_flight=in_flight)


def _write_split(ps, n: int, fraction: float, seed: int) -> int:
    """Mark ``round(fraction * n)`` patches, drawn with ``seed``, as validation."""
    n_val = int(round(fraction * n))
    flags = np.zeros(n, bool)
    flags[np.random.default_rng(seed).permutation(n)[:n_val]] = True
    ps.validation.resize((n,))
    ps.validation[:] = flags
    return n_val


def _attrs(gen: Generated, plan: PatchesPlan) -> dict:
    source = {"store": plan.input, "table": plan.locs}
    if plan.rois is not None:
        source["rois"] = plan.rois
    return {"upsampling": 1, **gen.attrs, "pixel_size_nm": plan.pixel_size_nm,
            "source": source, "version": __version__, "command": plan.command,
            "created": utc_now()}


def _finish_attrs(path, fraction: float, seed: int, n: int, n_val: int,
                  seconds: float) -> None:
    import zarr

    group = zarr.open_group(os.fspath(path), mode="r+")
    group.attrs["smlmscale"] = {**group.attrs["smlmscale"], "split": {
        "validation_fraction": fraction, "seed": seed, "n_train": n - n_val,
        "n_validation": n_val}, "completed": utc_now(), "seconds": round(seconds, 3)}


__all__ = ["KINDS", "MOVIE_BLOCK_BYTES", "PatchResult", "PatchesPlan", "PatchesResult",
           "check_kind", "default_settings", "make_patches", "movie_chunk", "prepare_patches",
           "run_patches"]
