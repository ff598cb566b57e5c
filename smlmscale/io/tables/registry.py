"""The table formats in one list of records, and the read entry points.

Each format is a :class:`~smlmscale.io.tables._format.TableFormat` record defined at
the end of its module (name, extensions, ``sniff``, ``read``, ``write``); :data:`FORMATS`
lists them, and every lookup below goes through the records.

Extension -> format: ``.parquet`` Parquet; ``.hdf5``/``.h5`` Picasso, or DECODE when
the file holds DECODE's ``/data/xyz`` (read); ``.csv``,
``.tsv``, ``.txt`` and ``.xls`` (GDSC PeakFit and ThunderSTORM both write
tab-separated text under that name) are sniffed from their header on read: the text
format whose ``sniff`` scores the header highest. On write ``.csv`` is ThunderSTORM
unless ``format=`` says otherwise. ``format=`` always wins over the extension.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pandas as pd

from smlmscale.errors import InputError
from smlmscale.io.tables import (_text, decode, deepstorm, deepstorm3d, parquet, peakfit,
                                 picasso, plaincsv, smap, thunderstorm)
from smlmscale.io.tables._format import TEXT_EXTENSIONS, TableFormat
from smlmscale.io.tables._source import Source
from smlmscale.io.tables.frame_base import rebase_frames
from smlmscale.io.tables.schema import TableMeta

#: Every table format, one record each, in the order help and errors list them.
TABLE_FORMATS: tuple[TableFormat, ...] = (
    parquet.FORMAT, thunderstorm.FORMAT, picasso.FORMAT, thunderstorm.PICASSO_CSV,
    deepstorm.FORMAT, deepstorm3d.FORMAT, peakfit.FORMAT, smap.FORMAT, decode.FORMAT,
    plaincsv.FORMAT,
)
FORMATS: dict[str, TableFormat] = {f.name: f for f in TABLE_FORMATS}
#: The record type, under its former name.
FormatInfo = TableFormat
_ALIASES = {alias: f.name for f in TABLE_FORMATS for alias in f.aliases}
_BINARY_EXTENSIONS = {ext: f for f in TABLE_FORMATS if not f.text for ext in f.extensions}
_KNOWN = ", ".join([*_BINARY_EXTENSIONS, *TEXT_EXTENSIONS])
DEFAULT_BLOCKSIZE = "64MiB"


def format_name(name: str) -> str:
    """The canonical format name for ``name`` (case, ``-`` and aliases tolerated)."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key not in FORMATS:
        raise InputError(f"unknown table format {name!r}",
                         hint=f"use one of {', '.join(FORMATS)}")
    return key


def _extension(path: Path) -> str:
    return path.suffix.lower()


def sniff_text(path: str | os.PathLike, layout: _text.TextLayout | None = None) -> str:
    """The format of a delimited text table: the text format scoring its header highest.

    Raises
    ------
    InputError
        The header matches no known format.
    """
    layout = layout or _text.read_layout(path)
    scores = [(f.sniff(layout), f.name) for f in TABLE_FORMATS if f.text]
    best, name = max(scores, key=lambda s: s[0])
    if best > 0:
        return name
    names = layout.names
    raise InputError(f"unrecognized table header ({', '.join(repr(n) for n in names[:12])})",
                     path=path, hint=f"pass --from with one of {', '.join(FORMATS)}")


def _writable_hint() -> str:
    named = [f"{ext} ({f.name})" for f in TABLE_FORMATS if f.writable for ext in f.extensions]
    return f"write {', '.join(named)}"


def guess_format(path: str | os.PathLike, *, for_write: bool = False) -> str:
    """The format a path's extension implies (text tables are sniffed when reading)."""
    path = Path(path)
    ext = _extension(path)
    if ext in picasso.FORMAT.extensions and not for_write and decode.is_decode(path):
        return decode.FORMAT.name  # DECODE's .h5: /data/xyz, not Picasso's /locs
    if ext in _BINARY_EXTENSIONS:
        return _BINARY_EXTENSIONS[ext].name
    if ext in TEXT_EXTENSIONS:
        if not for_write:
            return sniff_text(path)
        named = [f for f in TABLE_FORMATS if ext in f.extensions]
        if named and not named[0].writable:
            raise InputError(f"{named[0].description} ({ext}) cannot be written", path=path,
                             hint=_writable_hint())
        return named[0].name if named else thunderstorm.FORMAT.name
    raise InputError(f"unknown table extension {ext or '(none)'!r}", path=path,
                     hint=f"use one of {_KNOWN}, or pass --from/--to")


def _parse_blocksize(blocksize: int | str | None) -> int | None:
    if blocksize is None or isinstance(blocksize, int):
        return blocksize
    return int(dask.utils.parse_bytes(blocksize))


def open_table(path: str | os.PathLike, *, format: str | None = None,
               pixel_size_nm: float | None = None,
               blocksize: int | str | None = None, frame_base: int | None = None) -> Source:
    """Open a table file as a :class:`~smlmscale.io.tables._source.Source` (no rows read).

    ``blocksize=None`` gives a single block holding the whole table. ``frame_base`` (0 or
    1) overrides the frame numbering the format implies
    (:func:`~smlmscale.io.tables.frame_base.rebase_frames`; text tables only).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("no such file", path=path)
    if path.is_dir():
        raise InputError("is a folder, not a table file", path=path)
    if pixel_size_nm is not None:
        TableMeta(pixel_size_nm=pixel_size_nm)  # validates
    size = _parse_blocksize(blocksize)
    layout = None
    if format:
        fmt = format_name(format)
    elif _extension(path) in TEXT_EXTENSIONS:
        layout = _text.read_layout(path)
        fmt = sniff_text(path, layout)
    else:
        fmt = guess_format(path)
    source = FORMATS[fmt].open(path, pixel_size_nm=pixel_size_nm, blocksize=size, layout=layout)
    return rebase_frames(source, frame_base)


def _frame_stats(source: Source) -> list[tuple[int, int, int, bool]]:
    """``(rows, min, max, monotonic)`` of every block, reading only the frame column."""
    def stats(block: Any) -> tuple[int, int, int, bool]:
        frames = source.frames(block)
        if not frames.size:
            return 0, 0, 0, True
        return (int(frames.size), int(frames.min()), int(frames.max()),
                bool(np.all(frames[1:] >= frames[:-1])))
    if len(source.blocks) == 1:
        return [stats(source.blocks[0])]
    return list(dask.compute(*[dask.delayed(stats)(b) for b in source.blocks],
                             scheduler="threads"))


def read_table(path: str | os.PathLike, *, format: str | None = None,
               pixel_size_nm: float | None = None,
               frame_base: int | None = None) -> tuple[pd.DataFrame, TableMeta]:
    """Read a localization table into memory, in canonical form.

    Parameters
    ----------
    path : str or path-like
        The file; its format comes from ``format`` or the extension (text is sniffed).
    format : str, optional
        One of :data:`FORMATS` (``"thunderstorm"``, ``"picasso"``, ``"peakfit"``, ...).
    pixel_size_nm : float, optional
        Camera pixel size in nm, for formats in pixels; overrides the file's own.
    frame_base : {0, 1}, optional
        The file's frames count from this, whatever its format says (text tables).

    Returns
    -------
    table : pandas.DataFrame
        Canonical columns (``frame`` 0-based, ``x_nm``/``y_nm`` from the image corner, ...),
        validated, ordered by frame (stable).
    meta : TableMeta
        Pixel size, image shape, frame count and source where the file has them.
    """
    source = open_table(path, format=format, pixel_size_nm=pixel_size_nm, blocksize=None,
                        frame_base=frame_base)
    table = source.read(source.blocks[0])
    if len(source.blocks) > 1:
        table = pd.concat([table] + [source.read(b) for b in source.blocks[1:]],
                          ignore_index=True)
    frames = table["frame"].to_numpy()
    if frames.size > 1 and not np.all(frames[1:] >= frames[:-1]):
        table = table.sort_values("frame", kind="stable", ignore_index=True)
    return table, source.meta


def read_table_lazy(path: str | os.PathLike, *, format: str | None = None,
                    pixel_size_nm: float | None = None,
                    blocksize: int | str = DEFAULT_BLOCKSIZE, frame_base: int | None = None):
    """Read a localization table as a dask DataFrame, block by block.

    Parameters
    ----------
    path, format, pixel_size_nm, frame_base
        As for :func:`read_table`.
    blocksize : int or str, optional
        Target bytes per partition (``"64MiB"``).

    Returns
    -------
    table : dask.dataframe.DataFrame
        Canonical partitions. Partitions are sorted by frame, hold contiguous,
        non-overlapping frame ranges in order, and a frame never spans two
        partitions. A file already sorted by frame is mapped block by block; otherwise
        the partitions are sorted with a Dask shuffle. Rows are converted and validated
        inside each partition, so errors in the rows surface at compute time.
    meta : TableMeta

    Notes
    -----
    Opening reads the frame column once (cheap) to check the order; the full rows
    are read only when partitions are computed. No step holds the whole table.
    """
    source = open_table(path, format=format, pixel_size_nm=pixel_size_nm,
                        blocksize=blocksize, frame_base=frame_base)
    return lazy_table(source), source.meta


def lazy_table(source: Source):
    """The dask DataFrame of an opened :class:`Source` (see :func:`read_table_lazy`)."""
    import dask.dataframe as dd

    path = source.path
    stats = _frame_stats(source)
    keep = [i for i, s in enumerate(stats) if s[0]]
    blocks = [source.blocks[i] for i in keep]
    stats = [stats[i] for i in keep]
    if not blocks:
        raise InputError("the table holds no localizations", path=path)
    ordered = all(s[3] for s in stats) and all(
        a[2] < b[1] for a, b in zip(stats[:-1], stats[1:]))
    label = f"read-{source.format}"
    if ordered:
        return dd.from_map(source.read, blocks, meta=source.empty, enforce_metadata=False,
                           label=label)
    # Not sorted, or a frame spans blocks: tag rows with their file order, shuffle by
    # frame, and sort each partition by (frame, file order), which keeps the sort stable.
    empty = source.empty.assign(**{_SEQ: np.empty(0, np.int64)})
    ddf = dd.from_map(_Tagged(source.read), blocks, range(len(blocks)), meta=empty,
                      enforce_metadata=False, label=label)
    ddf = ddf.sort_values("frame", npartitions=len(blocks))
    return ddf.map_partitions(_untag, meta=source.empty)


_SEQ = "__smlmscale_row__"


@dataclass(frozen=True)
class _Tagged:
    """Reads a block and adds its rows' file order (block index * 2**32 + row)."""

    read: Any

    def __call__(self, block: Any, index: int) -> pd.DataFrame:
        df = self.read(block)
        return df.assign(**{_SEQ: (index << 32) + np.arange(len(df), dtype=np.int64)})


def _untag(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["frame", _SEQ], kind="stable", ignore_index=True).drop(columns=_SEQ)
