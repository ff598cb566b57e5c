"""Ingest orchestration: movie files -> OME-Zarr, across a Dask cluster, resumable.

The files are TIFF (OME, ImageJ, BigTIFF), ND2, CZI, Picasso ``.raw`` or ``.dax``
(:mod:`smlmscale.io.movie_files`), each described once and read per task.


:func:`prepare_ingest` expands the inputs and checks the output (cheap, no
cluster); :func:`run_ingest` reads the files' headers on the cluster, then builds the
output through :func:`~smlmscale.io.outputs.staged_output`: in a sibling
``OUT.partial``, renamed to ``OUT`` only when every region is written, so ``OUT``
never exists half-written. The run's record (the inputs and the output layout) is
the staged output's record; an interrupted ingest leaves ``OUT.partial`` with it and
its progress log (:mod:`~smlmscale.ingest.manifest`); ``resume=True`` continues only
an ingest with the same record, verifies the logged regions and writes the rest.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
import functools
from typing import Sequence

from smlmscale import __version__
from smlmscale.errors import InputError
from smlmscale.ingest.layout import Layout, choose_layout
from smlmscale.ingest.manifest import Manifest
from smlmscale.ingest.settings import IngestSettings
from smlmscale.ingest.sources import FrameSource, combine_sources, expand_inputs, ome_companions
from smlmscale.ingest.tasks import inspect_files, region_checksum, write_region
from smlmscale.io.chunk_writer import ProgressCallback
from smlmscale.io.ome_zarr import create_image_store, update_smlmscale_attrs
from smlmscale.io.outputs import (check_output, partial_path, record_differences,
                                  staged_output, utc_now)
from smlmscale.runtime.completed import completed_results

INSPECT_BATCH = 64

#: The run's record inside ``OUT.partial`` (removed when the output is complete).
RECORD_NAME = ".smlmscale-ingest.json"
RESUME_HINT = "pass --resume to continue it or --overwrite to start again"


@dataclass(frozen=True)
class IngestPlan:
    """A checked ingest, ready to run (:func:`prepare_ingest`).

    Attributes
    ----------
    paths : tuple of str
        The movie files, expanded and in natural order.
    output : str
        The OME-Zarr directory to create (absolute).
    settings : IngestSettings
    command : str or None
        The command line, recorded as provenance.
    """

    paths: tuple[str, ...]
    output: str
    settings: IngestSettings
    command: str | None = None


@dataclass(frozen=True)
class IngestResult:
    """What an ingest wrote.

    Attributes
    ----------
    path : str
    shape, chunks : tuple of int
    shards : tuple of int or None
    dtype : str
    n_files : int
    pixel_size_nm : float or None
    regions_total, regions_written, regions_reused : int
        Write regions in all, written by this run, and verified from an earlier run.
    bytes_written : int
        Uncompressed bytes written by this run.
    seconds : float
        Wall time of this run.
    plane : tuple of (str, int)
        ND2/CZI: the plane ingested (``TiffFileInfo.plane``, e.g. ``(("C", 1), ("P", 0))``);
        empty for other formats.
    """

    path: str
    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    shards: tuple[int, ...] | None
    dtype: str
    n_files: int
    pixel_size_nm: float | None
    regions_total: int
    regions_written: int
    regions_reused: int
    bytes_written: int
    seconds: float
    plane: tuple[tuple[str, int], ...] = ()

    @property
    def mib_per_s(self) -> float:
        """Throughput of this run in MiB/s of uncompressed pixels."""
        return self.bytes_written / 2**20 / max(self.seconds, 1e-9)


def prepare_ingest(inputs: Sequence[str | os.PathLike], output: str | os.PathLike, *,
                   settings: IngestSettings = IngestSettings(),
                   command: str | None = None) -> IngestPlan:
    """Check an ingest before a cluster starts: expand the inputs, check the output.

    Parameters
    ----------
    inputs : sequence of str or os.PathLike
        Files, folders of movie files or glob patterns, concatenated in natural order.
    output : str or os.PathLike
        The OME-Zarr directory to create.
    settings : IngestSettings
    command : str, optional
        The command line, recorded as provenance.

    Returns
    -------
    IngestPlan

    Raises
    ------
    InputError
        The output exists (without ``overwrite``), or an interrupted one does (without
        ``resume`` or ``overwrite``); no inputs, a path that does not exist, a pattern
        that matches nothing, a folder without TIFF files.
    """
    check_output(output, overwrite=settings.overwrite, resume=settings.resume,
                 resume_hint=RESUME_HINT)
    paths = tuple(expand_inputs(inputs))
    return IngestPlan(paths=paths, output=os.path.abspath(os.fspath(output)), settings=settings,
                      command=command)


def run_ingest(plan: IngestPlan, *, client,
               progress: ProgressCallback | None = None) -> IngestResult:
    """Ingest the plan's movie files into one OME-Zarr movie ``(t, y, x)``.

    Parameters
    ----------
    plan : IngestPlan
        From :func:`prepare_ingest`.
    client : distributed.Client
        Where the work runs; every task opens its own files.
    progress : callable, optional
        Called as ``progress(regions_done, regions_total, bytes_done)``.

    Returns
    -------
    IngestResult

    Raises
    ------
    InputError
        Unreadable movie files, files that do not fit together, a layout that cannot be
        built; resuming an ingest that had other inputs or options.
    """
    started = time.perf_counter()
    settings = plan.settings
    infos = _inspect(client, plan.paths, settings)
    if len(infos) == 1 and infos[0].ome_files:
        extra = [p for p in ome_companions(infos[0]) if p != infos[0].path]
        infos = infos + _inspect(client, extra, settings)
    source = combine_sources(infos, pixel_size_nm=settings.pixel_size_nm)
    layout = choose_layout((source.n_frames, *source.frame_shape), source.dtype,
                           chunk_frames=settings.chunk_frames, tile_px=settings.tile_px,
                           shard_frames=settings.shard_frames)
    regions = layout.regions()
    record = _run_record(source, layout, settings)
    refuse = functools.partial(_refuse_other_ingest, path=partial_path(plan.output))
    def create(path) -> None:
        create_image_store(path, shape=layout.shape, dtype=source.dtype,
                           chunks=layout.chunks, shards=layout.shards,
                           compressor=settings.compressor, axes="tyx",
                           pixel_size_nm=source.pixel_size_nm,
                           zarr_format=settings.zarr_format,
                           attrs=_provenance(source, plan.command))

    with staged_output(plan.output, overwrite=settings.overwrite, resume=settings.resume,
                       record=record, record_name=RECORD_NAME, compare=refuse,
                       optional_resume=True, resume_hint=RESUME_HINT, create=create,
                       drop_record=True) as staged:
        partial = str(staged.path)
        if staged.resumed:
            manifest = _verified_manifest(client, partial, layout)
        else:
            manifest = Manifest.create(partial)
        reused = len(manifest.done)
        todo = [r for r in regions if r.index not in manifest.done]
        written_bytes = _write_regions(client, source, todo, partial, manifest,
                                       total=len(regions), progress=progress)
        seconds = time.perf_counter() - started
        update_smlmscale_attrs(partial, completed=utc_now(), ingest={
            "regions": len(regions), "checksum": "crc32 per region, verified on resume",
            "seconds_last_run": round(seconds, 3)})
        manifest.remove()
    return IngestResult(
        path=plan.output, shape=layout.shape, chunks=layout.chunks, shards=layout.shards,
        dtype=source.dtype, n_files=len(source.files), pixel_size_nm=source.pixel_size_nm,
        regions_total=len(regions), regions_written=len(todo), regions_reused=reused,
        bytes_written=written_bytes, seconds=seconds, plane=source.files[0].plane)


def ingest_tiffs(inputs: Sequence[str | os.PathLike], output: str | os.PathLike, *,
                 client, settings: IngestSettings = IngestSettings(),
                 command: str | None = None,
                 progress: ProgressCallback | None = None) -> IngestResult:
    """:func:`prepare_ingest` then :func:`run_ingest`: TIFF files -> one OME-Zarr movie.

    Parameters are those of the two; returns :class:`IngestResult`.
    """
    return run_ingest(prepare_ingest(inputs, output, settings=settings, command=command),
                      client=client, progress=progress)


def _inspect(client, paths: Sequence[str], settings: IngestSettings):
    if not paths:
        return []
    batches = [list(paths[i:i + INSPECT_BATCH]) for i in range(0, len(paths), INSPECT_BATCH)]
    futures = client.map(inspect_files, batches, channel=settings.channel,
                         position=settings.position, pure=False)
    try:
        return [info for batch in client.gather(futures) for info in batch]
    finally:
        client.cancel(futures)


def _sources_digest(source: FrameSource) -> str:
    """SHA-256 over every source file's path, size and mtime."""
    digest = hashlib.sha256()
    for info in source.files:
        digest.update(f"{info.path}|{info.size_bytes}|{info.mtime}\n".encode())
    return digest.hexdigest()


def _run_record(source: FrameSource, layout: Layout, settings: IngestSettings) -> dict:
    return {"sources": _sources_digest(source), "shape": list(layout.shape),
            "chunks": list(layout.chunks), "shards": list(layout.shards or []),
            "dtype": source.dtype, "compressor": settings.compressor,
            "zarr_format": settings.zarr_format, "pixel_size_nm": source.pixel_size_nm,
            "plane": [list(p) for p in source.files[0].plane]}


def _refuse_other_ingest(stored: dict, record: dict, *, path: str) -> None:
    """Refuse to resume an ingest whose inputs or output layout were other."""
    changed = record_differences(stored, record)
    if changed:
        raise InputError(f"the interrupted ingest used different {', '.join(changed)}",
                         path=path, hint="rerun with the same inputs and options, or pass "
                                         "--overwrite to start again")


def _verified_manifest(client, partial: str, layout: Layout) -> Manifest:
    """The interrupted run's progress log, less the regions whose pixels no longer match."""
    manifest = Manifest.load(partial)
    regions = {r.index: r for r in layout.regions()}
    futures = client.map(region_checksum, [regions[i] for i in manifest.done],
                         store_path=partial, pure=False)
    bad = [index for index, crc in client.gather(futures) if manifest.done[index] != crc]
    if bad:
        manifest.forget(bad)
    return manifest


def _write_regions(client, source: FrameSource, todo, partial: str, manifest: Manifest, *,
                   total: int, progress: ProgressCallback | None) -> int:
    if not todo:
        return 0
    token = hashlib.sha1(partial.encode()).hexdigest()[:8]
    futures = client.map(write_region, [source.pieces(r.t0, r.t1) for r in todo], todo,
                         dtype=source.dtype, store_path=partial,
                         key=[f"ingest-region-{token}-{r.index}" for r in todo])
    done, written = total - len(todo), 0
    with completed_results(client, futures) as results:
        for index, crc, nbytes in results:
            manifest.record(index, crc)
            done, written = done + 1, written + nbytes
            if progress is not None:
                progress(done, total, written)
    return written


def _provenance(source: FrameSource, command: str | None) -> dict:
    files = [{"path": f.path, "size_bytes": f.size_bytes,
              "mtime": datetime.fromtimestamp(f.mtime, timezone.utc).isoformat()}
             for f in source.files]
    if len(files) > 100:  # a folder of 10^5 single frames: summarize, don't list
        sources = {"count": len(files), "first": files[0], "last": files[-1],
                   "total_bytes": sum(f["size_bytes"] for f in files),
                   "sha256_of_paths_sizes_mtimes": _sources_digest(source)}
    else:
        sources = files
    return {"kind": "movie", "version": __version__, "command": command, "created": utc_now(),
            "sources": sources, "source_dtype": source.dtype,
            "source_format": source.files[0].kind,
            **({"source_plane": dict(source.files[0].plane)} if source.files[0].plane else {})}


__all__ = ["IngestPlan", "IngestResult", "IngestSettings", "check_output", "ingest_tiffs",
           "partial_path", "prepare_ingest", "run_ingest"]
