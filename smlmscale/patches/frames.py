"""A localization table as frame-ordered parts that tasks read themselves.

:class:`FrameTable` opens a table (any format :func:`~smlmscale.io.tables.open_table`
reads) without reading its rows: a file already sorted by frame is split into
blocks whose frame ranges come from reading the frame column only; any other
file is sorted by a Dask shuffle first. Each part is a lazy
:class:`dask.delayed.Delayed` pandas DataFrame; :meth:`FrameTable.rows` builds the
lazy selection of a frame range from the parts that overlap it, so a graph that
cuts patches frame block by frame block never moves the whole table through the
driver. Rows are filtered on read: simulator truth keeps ``detectable == 1``
rows only, and ``columns`` keeps the columns a generator needs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from smlmscale.errors import InputError

#: Table bytes per part: small enough that a part re-read by a few tasks costs little.
PART_BYTES = 16 * 2**20


def _select(parts: Sequence[pd.DataFrame], t0: int, t1: int, columns,
            empty: pd.DataFrame) -> pd.DataFrame:
    """Rows with ``t0 <= frame < t1`` of the concatenated ``parts``, sorted by frame."""
    frames = [p[(p["frame"] >= t0) & (p["frame"] < t1)] for p in parts]
    out = pd.concat(frames, ignore_index=True) if frames else empty
    if columns is not None:
        out = out[list(columns)]
    return out.reset_index(drop=True)


def _clean(part: pd.DataFrame, columns) -> pd.DataFrame:
    if "detectable" in part.columns:
        part = part[part["detectable"] == 1]
    part = part[list(columns)]
    return part.sort_values("frame", kind="stable").reset_index(drop=True)


@dataclass
class FrameTable:
    """Lazy frame-ordered parts of a localization table.

    Attributes
    ----------
    path : str
    parts : list of dask.delayed.Delayed
        Canonical DataFrames, each sorted by frame.
    first, last : ndarray of int
        Each part's first and last frame (parts do not overlap and are in order).
    columns : list of str
        The columns the parts hold (``frame`` first).
    pixel_size_nm : float or None
        The table's own pixel size (formats in pixels), if any.
    n_rows : int
        Rows before the ``detectable`` filter.
    empty : pandas.DataFrame
        Zero rows with the parts' columns and dtypes.
    """

    path: str
    parts: list
    first: np.ndarray
    last: np.ndarray
    columns: list
    pixel_size_nm: float | None
    n_rows: int
    empty: pd.DataFrame

    @classmethod
    def open(cls, path: str | os.PathLike, *, pixel_size_nm: float | None = None,
             columns: Sequence[str] | None = None, format: str | None = None,
             part_bytes: int = PART_BYTES, require: Sequence[str] = ()) -> "FrameTable":
        """Open ``path``; read only the frame column (and shuffle if not sorted).

        Parameters
        ----------
        path : str or os.PathLike
        pixel_size_nm : float, optional
            For tables in pixels (overrides the file's own).
        columns : sequence of str, optional
            Keep only these (``frame`` is always kept); all when ``None``.
        format : str, optional
        part_bytes : int
            Target bytes of file per part.
        require : sequence of str
            Columns that must exist (InputError naming the file otherwise).

        Raises
        ------
        InputError
            Unreadable file, no rows, a missing required column.
        """
        import dask

        from smlmscale.io.tables.registry import _frame_stats, lazy_table

        path = os.fspath(path)
        source = cls.check_columns(path, pixel_size_nm=pixel_size_nm, require=require,
                                   format=format, part_bytes=part_bytes)
        have = list(source.empty.columns)
        keep = None if columns is None else ["frame"] + [c for c in columns
                                                         if c in have and c != "frame"]
        stats = _frame_stats(source)
        used = [(b, s) for b, s in zip(source.blocks, stats) if s[0]]
        if not used:
            raise InputError("the table holds no localizations", path=path)
        ordered = all(s[3] for _, s in used) and all(
            a[1][2] < b[1][1] for a, b in zip(used[:-1], used[1:]))
        out_columns = keep or have
        out_columns = [c for c in out_columns if c != "detectable"]
        if ordered:
            parts = [dask.delayed(_read_clean, pure=True)(source.read, b, out_columns)
                     for b, _ in used]
            first = np.array([s[1] for _, s in used])
            last = np.array([s[2] for _, s in used])
        else:
            ddf = lazy_table(source)
            parts = [dask.delayed(_clean, pure=True)(p, out_columns) for p in ddf.to_delayed()]
            ranges = dask.compute(*[dask.delayed(_range)(p) for p in parts])
            nonempty = [i for i, r in enumerate(ranges) if r is not None]
            parts = [parts[i] for i in nonempty]
            first = np.array([ranges[i][0] for i in nonempty])
            last = np.array([ranges[i][1] for i in nonempty])
        return cls(path=path, parts=parts, first=first, last=last, columns=out_columns,
                   pixel_size_nm=source.meta.pixel_size_nm, n_rows=sum(s[0] for _, s in used),
                   empty=source.empty[out_columns])

    @staticmethod
    def check_columns(path: str | os.PathLike, *, pixel_size_nm: float | None = None,
                      require: Sequence[str] = (), format: str | None = None,
                      part_bytes: int = PART_BYTES):
        """Open the table's header only (no rows read) and check its ``require`` columns.

        Cheap: ``prepare_patches`` calls it before a cluster starts. Returns the opened
        :class:`~smlmscale.io.tables._source.Source`.

        Raises
        ------
        InputError
            Unreadable file, a missing required column (naming the file).
        """
        from smlmscale.io.tables.registry import open_table

        path = os.fspath(path)
        source = open_table(path, format=format, pixel_size_nm=pixel_size_nm,
                            blocksize=part_bytes)
        have = list(source.empty.columns)
        missing = [c for c in require if c not in have]
        if missing:
            raise InputError(f"the table has no {', '.join(missing)} column"
                             f"{'s' if len(missing) > 1 else ''}", path=path,
                             hint="give a table with " + ", ".join(require))
        return source

    @property
    def last_frame(self) -> int:
        """The largest frame index in the table (0-based)."""
        return int(self.last.max())

    def overlapping(self, t0: int, t1: int) -> list[int]:
        """Indices of the parts holding frames in ``[t0, t1)``."""
        return [int(i) for i in np.flatnonzero((self.first < t1) & (self.last >= t0))]

    def rows(self, t0: int, t1: int, columns: Sequence[str] | None = None):
        """Lazy DataFrame of the rows with ``t0 <= frame < t1``, sorted by frame.

        ``columns`` narrows further (default: all the parts hold).
        """
        import dask

        parts = [self.parts[i] for i in self.overlapping(t0, t1)]
        return dask.delayed(_select, pure=True)(parts, int(t0), int(t1),
                                                None if columns is None else list(columns),
                                                self.empty)

    def check_frames(self, n_frames: int) -> None:
        """InputError when the table has frames at or beyond ``n_frames`` (the movie's)."""
        if self.last_frame >= n_frames:
            raise InputError(f"the table has frame {self.last_frame} but the movie has only "
                             f"{n_frames} frames (0-based)", path=self.path,
                             hint="check that the table belongs to this movie")


def _read_clean(read, block, columns) -> pd.DataFrame:
    return _clean(read(block), columns)


def _range(part: pd.DataFrame):
    if not len(part):
        return None
    return int(part["frame"].iloc[0]), int(part["frame"].iloc[-1])


__all__ = ["FrameTable", "PART_BYTES"]
