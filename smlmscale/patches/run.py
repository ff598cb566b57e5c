"""Patch-set orchestration: a movie store and a localization table -> a patch-set Zarr.

:func:`make_patches` opens the movie and the table (as a
:class:`~smlmscale.patches.frames.FrameTable`: parts read inside tasks), checks them,
asks the generator of ``kind`` for its lazy tasks
(:class:`~smlmscale.patches.base.Generated`) and writes their results into the
patch set built in ``OUT.partial``:

- **planned** generators (deepstorm, summed, counts) know every task's patch count
  before running; the patch set is created at its final size and each task's pairs
  are written by the worker that made them into its own chunk-aligned region, so
  no patch passes through the driver and writers run in parallel;
- **streamed** generators (fusion: the SF criterion decides from the pixels) return
  their pairs a bounded window of tasks at a time and the driver appends them in
  order, chunk-aligned.

The seeded train/validation split is drawn once the patch count is known;
``OUT.partial`` is renamed to ``OUT`` at the end. Nothing but plans, counts and
(streamed) one window of pairs is ever held by the driver.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from smlmscale import __version__
from smlmscale.errors import InputError
from smlmscale.io.ome_zarr import open_image_store
from smlmscale.io.outputs import check_output, move_into_place, partial_path, utc_now
from smlmscale.patches.base import Generated, Runner
from smlmscale.patches.patchset import create_patchset
from smlmscale.patches.writers import write_planned, write_streamed

KINDS = ("deepstorm", "fusion", "summed", "counts")


@dataclass(frozen=True)
class PatchResult:
    """What :func:`make_patches` wrote.

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


def check_kind(kind: str) -> str:
    """``kind`` if known; InputError otherwise."""
    if kind not in KINDS:
        raise InputError(f"unknown patch kind {kind!r}", hint="use " + ", ".join(KINDS))
    return kind


def default_settings(kind: str):
    """The default settings object of ``kind``."""
    check_kind(kind)
    if kind == "deepstorm":
        from smlmscale.patches.deepstorm import DeepstormSettings as Settings
    elif kind == "fusion":
        from smlmscale.patches.fusion_graph import FusionSettings as Settings
    elif kind == "summed":
        from smlmscale.patches.summed import SummedSettings as Settings
    else:
        from smlmscale.patches.counts import CountsSettings as Settings
    return Settings()


#: Table columns each generator needs (beyond ``frame``); settings may add more.
_REQUIRED = {"deepstorm": ("x_nm", "y_nm"), "summed": ("x_nm", "y_nm"),
             "fusion": ("x_nm", "y_nm", "photons"), "counts": ("x_nm", "y_nm")}


def _table_columns(kind: str, settings) -> tuple[list[str], list[str]]:
    """``(columns to read, columns that must exist)`` for ``kind``."""
    need = list(_REQUIRED[kind]) + list(getattr(settings, "member_columns", ()))
    optional = []
    if kind == "summed":  # carried into the exported CSV when the table has them
        from smlmscale.patches.summed import CARRIED

        optional = [c for c in CARRIED if c not in need]
    return need + optional, need


def _build(kind: str, movie, table, *, pixel: float, settings, chunk, runner, rois
           ) -> tuple[Generated, object]:
    """The generator's work, and (summed) the raw sums it is built on, for the export."""
    if kind == "summed":
        from smlmscale.patches.summed import build_summed, summed_raw

        raw = summed_raw(movie, table, pixel_size_nm=pixel, settings=settings, chunk=chunk,
                         runner=runner)
        return build_summed(movie, table, pixel_size_nm=pixel, settings=settings, chunk=chunk,
                            runner=runner, raw=raw), raw
    if kind == "deepstorm":
        from smlmscale.patches.deepstorm_graph import build_deepstorm as build
    elif kind == "fusion":
        from smlmscale.patches.fusion_graph import build_fusion as build
    else:
        from smlmscale.patches.counts_graph import build_counts
        from smlmscale.io.rois import read_rois

        return build_counts(movie, table, rois=read_rois(rois), pixel_size_nm=pixel,
                            settings=settings, chunk=chunk, runner=runner,
                            rois_path=os.fspath(rois)), None
    return build(movie, table, pixel_size_nm=pixel, settings=settings, chunk=chunk,
                 runner=runner), None


#: Bytes of movie a task holds at most (a stored chunk is read in parts of this size).
MOVIE_BLOCK_BYTES = 8 * 2**20


def movie_chunk(array) -> int:
    """Frames per Dask chunk of the movie: the stored chunk, or an even part of it that
    holds at most :data:`MOVIE_BLOCK_BYTES` (each part decompresses the stored chunk
    once more, but a task then holds only its part)."""
    stored = int(array.chunks[0])
    frame = int(np.prod(array.shape[1:])) * array.dtype.itemsize
    parts = max(1, -(-stored * frame // MOVIE_BLOCK_BYTES))
    return max(1, -(-stored // parts))


def _check_geometry(kind: str, settings, shape, path: str) -> None:
    size = getattr(settings, "patch_size_px", None)
    if size is not None and size > min(shape[1:]):
        raise InputError(f"patch size {size} px is larger than the {shape[1]}x{shape[2]} "
                         "frame", path=path, hint="lower --patch-size")


def make_patches(input: str | os.PathLike, output: str | os.PathLike, *,
                 locs: str | os.PathLike, kind: str = "deepstorm", settings=None,
                 rois: str | os.PathLike | None = None, validation_fraction: float = 0.1,
                 client=None, pixel_size_nm: float | None = None,
                 chunk_patches: int | None = None, in_flight: int = 8,
                 overwrite: bool = False, command: str | None = None,
                 progress: Callable[[int, int, int], None] | None = None,
                 export_tiff: str | os.PathLike | None = None) -> PatchResult:
    """Cut training pairs from a movie and its localizations into a patch set.

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
    settings : DeepstormSettings, FusionSettings, SummedSettings or CountsSettings, optional
        The generator's parameters (default: its defaults).
    rois : str or os.PathLike, optional
        ROI list (counts only).
    validation_fraction : float
        Share of patches drawn (seeded by ``settings.seed``) into the validation split.
    client : distributed.Client, optional
        ``None`` runs on the current Dask scheduler.
    pixel_size_nm : float, optional
        Overrides the store's pixel size (and the table's, for pixel formats).
    chunk_patches : int, optional
        Patches per Zarr chunk (default: about 16 MiB of pairs per chunk).
    in_flight : int
        Tasks computed at once by the streamed writer (and without a client).
    overwrite : bool
    command : str, optional
        Recorded as provenance.
    progress : callable, optional
        ``progress(tasks_done, tasks_total, patches_done)``.
    export_tiff : str or os.PathLike, optional
        summed only: also write the summed patches as ``DIR/summed.tif`` with the
        DeepSTORM CSV ``DIR/summed.csv`` (the layout ZeroCostDL4Mic reads).

    Raises
    ------
    InputError
        Unknown kind; not a movie; no pixel size; patch larger than the frame; table
        frames beyond the movie; missing table columns; no patch made; output exists
        without ``overwrite``; and each generator's own checks.
    """
    import dask.array as da

    from smlmscale.patches.frames import FrameTable

    started = time.perf_counter()
    check_kind(kind)
    if kind == "counts" and rois is None:
        raise InputError("--kind counts needs an ROI list", hint="pass --rois rois.csv")
    if kind != "counts" and rois is not None:
        raise InputError(f"--rois is used by --kind counts only, not {kind}")
    if export_tiff is not None and kind != "summed":
        raise InputError(f"--export-tiff does not apply to --kind {kind}")
    settings = settings if settings is not None else default_settings(kind)
    if not 0 <= validation_fraction < 1:
        raise InputError(f"--validation must be in [0, 1), got {validation_fraction}")
    check_output(output, overwrite=overwrite)
    if export_tiff is not None:
        check_output(export_tiff, overwrite=overwrite)
    store = open_image_store(input)
    first_ok = store.axes[:1] == "t" or (kind == "counts" and store.axes[:1] == "z")
    if len(store.axes) != 3 or store.axes[1:] != "yx" or not first_ok:
        want = "a movie (t,y,x) or a section stack (z,y,x)" if kind == "counts" else \
            "a movie (t,y,x)"
        raise InputError(f"--kind {kind} needs {want}, found axes {','.join(store.axes)}",
                         path=store.path)
    pixel = pixel_size_nm or store.pixel_size_nm
    if not pixel:
        raise InputError("the store has no pixel size", path=store.path, hint="pass --pixel-size")
    shape = store.array.shape
    _check_geometry(kind, settings, shape, store.path)
    columns, require = _table_columns(kind, settings)
    table = FrameTable.open(locs, pixel_size_nm=pixel, columns=columns, require=require)
    table.check_frames(shape[0])
    movie = da.from_zarr(store.array, chunks=(movie_chunk(store.array), *shape[1:]))
    runner = Runner(client)
    gen, raw = _build(kind, movie, table, pixel=pixel, settings=settings, chunk=chunk_patches,
                      runner=runner, rois=rois)
    if not gen.tasks or (gen.sizes is not None and not sum(gen.sizes)):
        raise InputError(gen.empty_reason, path=os.fspath(locs), hint=gen.empty_hint)

    final, partial = os.path.abspath(os.fspath(output)), partial_path(output)
    if os.path.exists(partial):
        shutil.rmtree(partial)
    n0 = sum(gen.sizes) if gen.sizes is not None else 0
    ps = create_patchset(partial, n=n0, input_shape=gen.input_shape,
                         target_shape=gen.target_shape, chunk=gen.chunk,
                         attrs=_attrs(gen, store, locs, pixel, command, rois))
    try:
        if gen.sizes is not None:
            n = write_planned(gen, partial, runner=runner, in_flight=in_flight,
                              progress=progress)
        else:
            n = write_streamed(gen, ps, runner=runner, in_flight=max(1, in_flight),
                               progress=progress)
        if n == 0:
            raise InputError(gen.empty_reason, path=os.fspath(locs), hint=gen.empty_hint)
        n_val = _write_split(ps, n, validation_fraction, getattr(settings, "seed", 0))
        export = None
        if export_tiff is not None:
            from smlmscale.patches.summed_export import export_summed_tiff

            export = export_summed_tiff(raw, export_tiff, runner=runner,
                                        overwrite=overwrite).path
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    seconds = time.perf_counter() - started
    _finish_attrs(partial, validation_fraction, getattr(settings, "seed", 0), n, n_val, seconds)
    move_into_place(partial, final)
    return PatchResult(path=final, kind=kind, n_patches=n, n_train=n - n_val, n_validation=n_val,
                       input_shape=tuple(gen.input_shape), target_shape=tuple(gen.target_shape),
                       frames=int(shape[0]), seconds=seconds,
                       stats=dict(gen.attrs.get("stats", {})), export=export)


def _write_split(ps, n: int, fraction: float, seed: int) -> int:
    """Mark ``round(fraction * n)`` patches, drawn with ``seed``, as validation."""
    n_val = int(round(fraction * n))
    flags = np.zeros(n, bool)
    flags[np.random.default_rng(seed).permutation(n)[:n_val]] = True
    ps.validation.resize((n,))
    ps.validation[:] = flags
    return n_val


def _attrs(gen: Generated, store, locs, pixel: float, command, rois) -> dict:
    source = {"store": os.path.abspath(store.path), "table": os.path.abspath(locs)}
    if rois is not None:
        source["rois"] = os.path.abspath(rois)
    return {"upsampling": 1, **gen.attrs, "pixel_size_nm": pixel, "source": source,
            "version": __version__, "command": command, "created": utc_now()}


def _finish_attrs(path: str, fraction: float, seed: int, n: int, n_val: int,
                  seconds: float) -> None:
    import zarr

    group = zarr.open_group(path, mode="r+")
    group.attrs["smlmscale"] = {**group.attrs["smlmscale"], "split": {
        "validation_fraction": fraction, "seed": seed, "n_train": n - n_val,
        "n_validation": n_val}, "completed": utc_now(), "seconds": round(seconds, 3)}


__all__ = ["KINDS", "PatchResult", "check_kind", "default_settings", "make_patches"]
