"""Preprocessing orchestration: an OME-Zarr movie or section stack -> a filtered OME-Zarr.

:func:`pipeline_graph` chains the steps' graph builders into one lazy graph
(moved to the device once, back to the host once). :func:`prepare_preprocess`
makes every check before a cluster starts: it parses the steps, opens the input
store's header, chooses the device, checks the output and builds that graph over
the input's own chunks (lazily). :func:`run_preprocess` runs it on the Dask
cluster, one output chunk per write task, and builds the output through
:func:`~smlmscale.io.outputs.staged_output`: in ``OUT.partial``, renamed to ``OUT``
only once every chunk is written (nothing to resume: a failed run leaves nothing).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from smlmscale import __version__
from smlmscale.errors import InputError
from smlmscale.io.chunk_writer import ProgressCallback, write_chunks
from smlmscale.io.ome_zarr import create_image_store, open_image_store, update_smlmscale_attrs
from smlmscale.io.outputs import check_output, staged_output, utc_now
from smlmscale.preprocess.base import Backend, Step, resolve_backend
from smlmscale.preprocess.parse import format_steps, parse_steps, steps_to_dicts

StepList = Sequence[tuple[Step, Any]]


@dataclass(frozen=True)
class PreprocessPlan:
    """A checked preprocessing run, ready to run (:func:`prepare_preprocess`).

    Attributes
    ----------
    store : ImageStore
        The input store (its header; pixels are read by the graph).
    output : str
        The OME-Zarr store to create (absolute).
    steps : list of (Step, params)
    backend : Backend
    dtype : numpy.dtype
        Of the output.
    graph : dask.array.Array
        The lazy result, in output chunks.
    chunks : tuple of int
        The output store's chunk shape.
    overwrite : bool
    compressor : str
    command : str or None
    """

    store: Any
    output: str
    steps: list
    backend: Backend
    dtype: np.dtype
    graph: Any
    chunks: tuple[int, ...]
    overwrite: bool = False
    compressor: str = "zstd"
    command: str | None = None


@dataclass(frozen=True)
class PreprocessResult:
    """What :func:`run_preprocess` wrote.

    Attributes
    ----------
    path, input_path : str
    steps : str
        The steps as inline text (non-default parameters).
    axes : {"tyx", "zyx"}
        Movie or section stack.
    input_shape, shape, chunks : tuple of int
        ``(t or z, y, x)`` of the input, and of the output and its chunks.
    dtype : str
        Of the output.
    device : {"cpu", "gpu"}
        Where the steps ran.
    bytes_written : int
        Uncompressed bytes of the output.
    seconds : float
        Wall time.
    """

    path: str
    input_path: str
    steps: str
    axes: str
    input_shape: tuple[int, ...]
    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dtype: str
    device: str
    bytes_written: int
    seconds: float

    @property
    def mib_per_s(self) -> float:
        """Output MiB (uncompressed) per second of wall time."""
        return self.bytes_written / 2**20 / max(self.seconds, 1e-9)

    @property
    def frames_per_s(self) -> float:
        """Input frames processed per second of wall time."""
        return self.input_shape[0] / max(self.seconds, 1e-9)


def pipeline_graph(movie, steps: StepList, backend: Backend = Backend()):
    """The lazy result of ``steps`` applied in order to a ``(t, y, x)`` dask array.

    Moves the chunks to the device once (:meth:`Backend.to_device`), applies each
    step's graph builder, and moves them back to host memory once. Never computes.

    Parameters
    ----------
    movie : dask.array.Array
        ``(t, y, x)`` (or ``(z, y, x)``), NumPy chunks.
    steps : sequence of (Step, params)
        As :func:`~smlmscale.preprocess.parse.parse_steps` returns them.
    backend : Backend

    Returns
    -------
    dask.array.Array
        NumPy chunks; floating point unless every step keeps the input dtype.
    """
    result = backend.to_device(movie)
    for step, params in steps:
        result = step.build(result, params, backend)
    return backend.to_host(result)


def output_dtype(dtype: Any) -> np.dtype:
    """The ``--dtype`` as a NumPy dtype: a float or integer type.

    Raises
    ------
    InputError
        Not a numeric NumPy type.
    """
    try:
        value = np.dtype(dtype)
    except TypeError:
        value = None
    if value is None or value.kind not in "fiu" or value.itemsize > 8:
        raise InputError(f"unknown output dtype {dtype!r}",
                         hint="use float32 (default), float64, uint16, uint8, int16 or int32")
    return value


def cast(movie, dtype: np.dtype):
    """``movie`` as ``dtype``; to integers by rounding to nearest and clipping to the range."""
    if movie.dtype == dtype:
        return movie
    if dtype.kind in "iu" and movie.dtype.kind == "f":
        info = np.iinfo(dtype)
        movie = movie.round().clip(info.min, info.max)
    return movie.astype(dtype)


def output_chunks(in_shape: tuple[int, ...], in_chunks: tuple[int, ...], out) -> tuple[int, ...]:
    """Chunk shape of the output: the input's, except along axes whose length changed.

    Along an axis that ``sum`` or ``crop`` changed, the largest chunk the graph
    produces there (``sum``'s bins per chunk; ``crop``'s input chunk, or the
    whole cropped length when it is shorter).
    """
    return tuple(min(c, n) if n == m else max(max(oc, default=1), 1)
                 for c, n, m, oc in zip(in_chunks, out.shape, in_shape, out.chunks))


def prepare_preprocess(input: str | os.PathLike, output: str | os.PathLike, *,
                       steps: str | StepList, device: str | Backend = "cpu",
                       dtype: Any = "float32", overwrite: bool = False,
                       command: str | None = None, compressor: str = "zstd") -> PreprocessPlan:
    """Check a preprocessing run before a cluster starts, and build its lazy graph.

    Parameters
    ----------
    input : str or os.PathLike
        OME-Zarr image store, movie (``t,y,x``) or section stack (``z,y,x``); read
        with its own chunks.
    output : str or os.PathLike
        OME-Zarr store to create (see :func:`run_preprocess`).
    steps : str or sequence of (Step, params)
        ``--steps`` text (inline or ``@file``) or parsed steps.
    device : {"cpu", "gpu", "auto"} or Backend
        NumPy/SciPy, or CuPy on a GPU (checked on this machine).
    dtype : str or numpy.dtype
        Output type, default float32; integers are rounded and clipped.
    overwrite : bool
        Replace an existing output (only once the new one is complete).
    command : str, optional
        The command line, recorded as provenance.
    compressor : {"zstd", "lz4", "none"}

    Returns
    -------
    PreprocessPlan

    Raises
    ------
    InputError
        Bad steps, dtype or device; the output exists without ``overwrite``; the
        input is not a 3-D OME-Zarr image; a step that does not fit the input
        (``sum`` of more frames than it has).
    """
    import dask.array as da

    parsed = parse_steps(steps) if isinstance(steps, str) else list(steps)
    if not parsed:
        raise InputError("no preprocessing steps given")
    dtype = output_dtype(dtype)
    check_output(output, overwrite=overwrite)
    store = open_image_store(input)
    if store.axes not in ("tyx", "zyx"):
        raise InputError(f"preprocess needs a 3-D image (t,y,x or z,y,x), found axes "
                         f"{','.join(store.axes)}", path=store.path)
    backend = device if isinstance(device, Backend) else resolve_backend(device)
    movie = da.from_zarr(store.array)
    result = cast(pipeline_graph(movie, parsed, backend), dtype)
    chunks = output_chunks(movie.shape, store.array.chunks, result)
    return PreprocessPlan(store=store, output=os.path.abspath(os.fspath(output)), steps=parsed,
                          backend=backend, dtype=dtype, graph=result.rechunk(chunks),
                          chunks=chunks, overwrite=overwrite, compressor=compressor,
                          command=command)


def run_preprocess(plan: PreprocessPlan, *, client=None,
                   progress: ProgressCallback | None = None) -> PreprocessResult:
    """Run a plan: write its graph, chunk by chunk on the cluster, into a new OME-Zarr.

    Parameters
    ----------
    plan : PreprocessPlan
        From :func:`prepare_preprocess`.
    client : distributed.Client, optional
        Where the work runs; ``None`` uses the current Dask scheduler.
    progress : callable, optional
        ``progress(chunks_done, chunks_total, bytes_done)`` as chunks are written.

    Returns
    -------
    PreprocessResult
        The output has the input's axes, pixel size and Zarr format, the input's chunk
        shape (along an axis that ``sum``/``crop`` resized, the graph's own chunking)
        and ``plan.compressor``; the group attribute ``"smlmscale"`` holds the input's
        provenance plus ``preprocess`` (the steps, as a valid steps file:
        ``[{"step": name, **params}]``, after any steps the input already had),
        ``device``, ``input``, ``version``, ``command``.
    """
    started = time.perf_counter()
    store, result = plan.store, plan.graph
    with staged_output(plan.output, overwrite=plan.overwrite) as staged:
        create_image_store(staged.path, shape=result.shape, dtype=plan.dtype, chunks=plan.chunks,
                           compressor=plan.compressor, axes=store.axes,
                           pixel_size_nm=store.pixel_size_nm,
                           zarr_format=store.array.metadata.zarr_format,
                           attrs=_provenance(store, plan.steps, plan.backend, plan.dtype,
                                             plan.command))
        written = write_chunks(result, str(staged.path), client=client,
                               name="preprocess-store", progress=progress)
        seconds = time.perf_counter() - started
        update_smlmscale_attrs(staged.path, completed=utc_now(), seconds=round(seconds, 3))
    return PreprocessResult(
        path=plan.output, input_path=os.path.abspath(store.path), steps=format_steps(plan.steps),
        axes=store.axes, input_shape=tuple(store.array.shape), shape=tuple(result.shape),
        chunks=plan.chunks, dtype=str(plan.dtype), device=plan.backend.device,
        bytes_written=written, seconds=seconds)


def preprocess_store(input: str | os.PathLike, output: str | os.PathLike, *,
                     steps: str | StepList, client=None, device: str | Backend = "cpu",
                     dtype: Any = "float32", overwrite: bool = False,
                     command: str | None = None, compressor: str = "zstd",
                     progress: ProgressCallback | None = None) -> PreprocessResult:
    """:func:`prepare_preprocess` then :func:`run_preprocess`: an OME-Zarr movie
    (``t,y,x``) or section stack (``z,y,x``) into a new, filtered one.

    Parameters are those of the two; returns :class:`PreprocessResult`.
    """
    plan = prepare_preprocess(input, output, steps=steps, device=device, dtype=dtype,
                              overwrite=overwrite, command=command, compressor=compressor)
    return run_preprocess(plan, client=client, progress=progress)


def _provenance(store, steps: StepList, backend: Backend, dtype: np.dtype,
                command: str | None) -> dict:
    """The input's provenance, with the steps appended and this run's facts on top."""
    own = {k: v for k, v in store.attrs.items()
           if k not in ("pixel_size_nm", "axes", "completed", "seconds")}
    earlier = own.get("preprocess", [])
    history = [*own.get("history", []),
               {key: own[key] for key in ("kind", "version", "command", "created") if key in own}]
    return {**own, "kind": own.get("kind", "movie" if store.axes[0] == "t" else "stack"),
            "preprocess": [*earlier, *steps_to_dicts(list(steps))], "device": backend.device,
            "dtype": str(dtype), "input": os.path.abspath(store.path), "history": history,
            "version": __version__, "command": command, "created": utc_now()}


__all__ = ["PreprocessPlan", "PreprocessResult", "cast", "output_chunks", "output_dtype",
           "pipeline_graph", "prepare_preprocess", "preprocess_store", "run_preprocess"]
