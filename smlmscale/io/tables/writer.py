"""Writing canonical tables: output checks, streaming through a staging area, atomic rename.

The format's record (:mod:`~smlmscale.io.tables._format`) writes the table and its
sidecars to temporary siblings (:func:`~smlmscale.io.outputs.staged_output`, one per
file, nested), which are renamed onto the outputs only when all are complete.

A pandas table is written directly. A dask table is computed once, as a whole
graph, with every partition saved to a hidden staging folder next to the output
as it is computed; the partitions are then read back one at a time, in order,
and appended to the output. So the table is never whole in memory, and a graph
whose partitions share work (a shuffle) is computed once, not once per
partition.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

import dask
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from smlmscale.errors import InputError
from smlmscale.io.outputs import check_output, staged_output
from smlmscale.io.tables.registry import FORMATS, format_name, guess_format
from smlmscale.io.tables.schema import TableMeta, validate_table

_EXISTS_HINT = "pass --overwrite to replace it"


def _stage(df: pd.DataFrame, folder: str, index: int) -> int:
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False),
                   os.path.join(folder, f"{index:09d}.parquet"), compression="lz4")
    return len(df)


@contextlib.contextmanager
def staged_partitions(data: Any, *, folder: str | os.PathLike | None = None
                      ) -> Iterator[Iterable[pd.DataFrame]]:
    """The partitions of a pandas or dask DataFrame, in order, each read when needed.

    Parameters
    ----------
    data : pandas.DataFrame or dask.dataframe.DataFrame
        The table.
    folder : path-like, optional
        Where the hidden staging folder goes (default: the system temporary folder).

    Yields
    ------
    iterable of pandas.DataFrame
        One item for a pandas table; for a dask table, its partitions read back from
        the staging folder one at a time. The folder is removed on exit.
    """
    if isinstance(data, pd.DataFrame):
        yield [data]
        return
    if not hasattr(data, "to_delayed"):
        raise InputError(f"expected a pandas or dask DataFrame, got {type(data).__name__}")
    with tempfile.TemporaryDirectory(prefix=".smlmscale-stage-", dir=folder) as stage:
        parts = data.to_delayed()
        dask.compute(*[dask.delayed(_stage)(part, stage, i) for i, part in enumerate(parts)])
        yield (pq.read_table(os.path.join(stage, f"{i:09d}.parquet")).to_pandas()
               for i in range(len(parts)))


class _Tracker:
    """Validates partitions on their way to a writer and counts rows and frames."""

    def __init__(self, parts: Iterable[pd.DataFrame], path: Path, *, sort: bool):
        self.parts, self.path, self.sort = parts, path, sort
        self.rows = 0
        self.frames: set[int] = set()

    def __iter__(self) -> Iterator[pd.DataFrame]:
        for part in self.parts:
            df = validate_table(part, path=self.path)
            if not len(df):
                continue
            frames = df["frame"].to_numpy()
            if self.sort and not np.all(frames[1:] >= frames[:-1]):
                df = df.sort_values("frame", kind="stable", ignore_index=True)
            self.frames.update(np.unique(frames).tolist())
            self.rows += len(df)
            yield df

    def summary(self) -> dict[str, Any]:
        return {"rows": self.rows, "frames": len(self.frames),
                "first_frame": min(self.frames) if self.frames else None,
                "last_frame": max(self.frames) if self.frames else None}


def prepare_output(path: str | os.PathLike, *, meta: TableMeta, format: str | None,
                   overwrite: bool) -> tuple[str, list[Path]]:
    """Check that ``path`` can be written as ``format``; returns the format and all outputs.

    Raises
    ------
    InputError
        Unknown or read-only format, a pixel size the format needs and ``meta``
        lacks, or an output (Picasso: also the ``.yaml``) that exists without
        ``overwrite``.
    """
    path = Path(path)
    fmt = format_name(format) if format else guess_format(path, for_write=True)
    record = FORMATS[fmt]
    if not record.writable:
        raise InputError(f"the {fmt} format can be read but not written", path=path)
    if record.write_needs_pixel_size and meta.pixel_size_nm is None:
        raise InputError(f"the pixel size is needed to write {fmt}", path=path,
                         hint="pass --pixel-size NM")
    outputs = record.outputs(path)
    for output in outputs:
        check_output(output, overwrite=overwrite, kind="file", exists_hint=_EXISTS_HINT)
    return fmt, outputs


def write_table(data: Any, path: str | os.PathLike, *, meta: TableMeta | None = None,
                format: str | None = None, overwrite: bool = False) -> dict[str, Any]:
    """Write a canonical table, atomically.

    Parameters
    ----------
    data : pandas.DataFrame or dask.dataframe.DataFrame
        A canonical table (:func:`~smlmscale.io.tables.validate_table` is applied to
        every partition). A pandas table is written ordered by frame (stable); dask
        partitions are written in partition order.
    path : str or path-like
        Output file; the format comes from ``format`` or the extension (``.csv`` is
        ThunderSTORM, ``.hdf5``/``.h5`` Picasso, ``.parquet`` canonical).
    meta : TableMeta, optional
        Stored where the format can (Parquet metadata, Picasso YAML); Picasso and
        ``picasso_csv`` need its ``pixel_size_nm``.
    format : str, optional
        One of the writable :data:`~smlmscale.io.tables.FORMATS`.
    overwrite : bool, optional
        Replace an existing output (and Picasso's YAML sidecar).

    Returns
    -------
    dict
        ``rows``, ``frames`` (distinct frames), ``first_frame``, ``last_frame``,
        ``format``, ``path``.

    Raises
    ------
    InputError
        The output exists (without ``overwrite``), the table is not canonical or is
        empty, or the format needs a pixel size that ``meta`` lacks. Nothing is left
        behind: outputs go to temporary siblings renamed on success.
    """
    path = Path(path)
    meta = meta or TableMeta()
    fmt, outputs = prepare_output(path, meta=meta, format=format, overwrite=overwrite)
    try:
        with staged_partitions(data, folder=path.parent) as parts:
            tracker = _Tracker(parts, path, sort=isinstance(data, pd.DataFrame))
            _write(fmt, tracker, outputs, meta, overwrite=overwrite)
    except InputError as exc:
        if exc.path is None:
            raise InputError(exc.message, path=path, hint=exc.hint) from None
        raise
    except PermissionError as exc:
        raise InputError(f"cannot write here: {exc.strerror}", path=path) from None
    return {**tracker.summary(), "format": fmt, "path": str(path)}


def _write(fmt: str, tracker: _Tracker, outputs: list[Path], meta: TableMeta, *,
           overwrite: bool) -> None:
    with contextlib.ExitStack() as stack:
        staged = [stack.enter_context(staged_output(output, overwrite=overwrite, kind="file",
                                                    exists_hint=_EXISTS_HINT))
                  for output in outputs]
        FORMATS[fmt].write(tracker, tuple(s.path for s in staged), meta)
        if tracker.rows == 0:
            raise InputError("the table holds no localizations; nothing written",
                             path=outputs[0])
