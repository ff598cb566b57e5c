"""An opened table file (:class:`Source`) and the shared text reader and writer.

A :class:`Source` knows the metadata and the output columns of a file and how to
read any of its blocks into a validated canonical partition, without reading
the others. ``read_table`` reads one block holding everything;
``read_table_lazy`` maps the block reader over many blocks with
:func:`dask.dataframe.from_map`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from smlmscale.errors import InputError
from smlmscale.io.tables import _text
from smlmscale.io.tables._columns import Rule, apply_rules, extra_rules, output_columns
from smlmscale.io.tables.schema import TableMeta, empty_table, validate_table


@dataclass
class Source:
    """An opened localization table.

    Attributes
    ----------
    path, format : str
        The file and its format name.
    meta : TableMeta
        Table metadata.
    empty : pandas.DataFrame
        Zero rows with the output columns and dtypes (the Dask ``meta``).
    blocks : list
        Opaque block descriptors, in file order.
    read : callable
        ``read(block) -> DataFrame``: one validated canonical partition (picklable).
    frames : callable
        ``frames(block) -> ndarray``: the block's 0-based frames only (cheap).
    """

    path: str
    format: str
    meta: TableMeta
    empty: pd.DataFrame
    blocks: list[Any]
    read: Callable[[Any], pd.DataFrame]
    frames: Callable[[Any], np.ndarray]


@dataclass(frozen=True)
class TextReader:
    """Reads one text block into a canonical partition."""

    layout: _text.TextLayout
    rules: tuple[Rule, ...]
    strip: str = ""
    frame_hint: str | None = None

    def __call__(self, block: _text.TextBlock) -> pd.DataFrame:
        raw = _text.read_block(self.layout, block, strip=self.strip)
        where = _text._where(block)
        try:
            return validate_table(apply_rules(raw, list(self.rules)), path=self.layout.path,
                                  where=where)
        except InputError as exc:
            if self.frame_hint and "negative frame" in exc.message:
                raise InputError(exc.message, path=exc.path, hint=self.frame_hint) from None
            raise


@dataclass(frozen=True)
class TextFrames:
    """Reads only the frame column of one text block (0-based frames)."""

    layout: _text.TextLayout
    rule: Rule
    strip: str = ""

    def __call__(self, block: _text.TextBlock) -> np.ndarray:
        raw = _text.read_block(self.layout, block, usecols=list(self.rule.sources),
                               strip=self.strip)
        frames = apply_rules(raw, [self.rule])[self.rule.target].to_numpy()
        frames = frames[np.isfinite(frames)]
        return frames.astype(np.int64)


def open_text_source(layout: _text.TextLayout, rules: list[Rule], *, fmt: str, meta: TableMeta,
                     blocksize: int | None, strip: str = "",
                     frame_hint: str | None = None) -> Source:
    """A :class:`Source` over a text layout and its column rules."""
    frame_rule = next(r for r in rules if r.target == "frame")
    frame_index = layout.names.index(frame_rule.sources[0])
    blocks = _text.plan_blocks(layout, frame_index=frame_index, blocksize=blocksize)
    return Source(path=layout.path, format=fmt, meta=meta, empty=empty_table(output_columns(rules)),
                  blocks=blocks, read=TextReader(layout, tuple(rules), strip, frame_hint),
                  frames=TextFrames(layout, frame_rule, strip))


@dataclass(frozen=True)
class PlannedText:
    """``read`` of a text format whose column rules come from its header alone.

    Attributes
    ----------
    plan : callable
        ``plan(layout, *, pixel_size_nm) -> list of Rule``.
    fmt : str
        The format's name.
    frame_hint : str
        What to say about a negative frame (the format's frame base).
    """

    plan: Callable[..., list[Rule]]
    fmt: str
    frame_hint: str

    def __call__(self, layout: _text.TextLayout, *, pixel_size_nm: float | None,
                 blocksize: int | None) -> Source:
        rules = self.plan(layout, pixel_size_nm=pixel_size_nm)
        meta = TableMeta(pixel_size_nm=pixel_size_nm, source=layout.path)
        return open_text_source(layout, rules, fmt=self.fmt, meta=meta, blocksize=blocksize,
                                frame_hint=self.frame_hint)


def require_columns(layout: _text.TextLayout, found: dict[str, str], needed: Iterable[str],
                    fmt: str) -> None:
    """Raise if canonical ``needed`` columns have no source column in ``found``."""
    missing = [n for n in needed if n not in found]
    if missing:
        raise InputError(f"no column for {', '.join(missing)} in this {fmt} file "
                         f"(columns: {', '.join(repr(n) for n in layout.names)})",
                         path=layout.path, hint="check --from, or the file's header")


def finish_rules(layout: _text.TextLayout, candidates: Iterable[tuple[str, Rule]], fmt: str, *,
                 ignored: Iterable[str] = ()) -> list[Rule]:
    """The rules of a header: the first rule for each canonical column, then the extras.

    Parameters
    ----------
    layout : TextLayout
    candidates : iterable of (str, Rule)
        ``(source column, rule)`` in header order; a later rule for a canonical
        column that already has one is dropped (its source column becomes an extra).
    fmt : str
        Format name for error messages.
    ignored : iterable of str
        Source columns nobody reads (row counters such as ``id``).

    Raises
    ------
    InputError
        No source column for ``frame``, ``x_nm`` or ``y_nm``.
    """
    rules: list[Rule] = []
    found: dict[str, str] = {}
    for name, rule in candidates:
        if rule.target not in found:
            found[rule.target] = name
            rules.append(rule)
    require_columns(layout, found, ("frame", "x_nm", "y_nm"), fmt)
    used = set(found.values()) | set(ignored)
    return rules + extra_rules(layout.names, used, {r.target for r in rules})


def add_column(out: dict[str, Any], name: str, values: Any) -> None:
    """Add ``values`` to ``out`` under ``name``, or ``name 2``... if a column has that name."""
    base, k = name, 2
    while name in out:
        name, k = f"{base}_{k}", k + 1
    out[name] = values


class TextTableWriter:
    """Streams partitions into a delimited text file (Arrow's CSV writer: shortest
    round-trip float text; NaN is written ``nan``).

    Parameters
    ----------
    handle : file
        Binary file open for writing.
    convert : callable
        ``convert(df, row_offset) -> DataFrame`` with the format's column names and units.
    sep : str
        Delimiter.
    quote_header : bool
        Quote the column names (ThunderSTORM does).
    index_label : str or None
        Name of a leading 1-based row index column (DeepSTORM's unnamed one), or ``None``.
    """

    def __init__(self, handle, convert: Callable[[pd.DataFrame, int], pd.DataFrame], *,
                 sep: str = ",", quote_header: bool = False, index_label: str | None = None):
        self.handle, self.convert, self.sep = handle, convert, sep
        self.quote_header, self.index_label = quote_header, index_label
        self.columns: list[str] | None = None
        self.rows = 0

    def write(self, df: pd.DataFrame) -> None:
        out = self.convert(df, self.rows)
        if self.columns is None:
            self.columns = list(out.columns)
            names = ([self.index_label] if self.index_label is not None else []) + self.columns
            if self.quote_header:
                names = [f'"{n}"' for n in names]
            self.handle.write((self.sep.join(names) + "\n").encode())
        elif list(out.columns) != self.columns:
            raise InputError(f"partitions have different columns: {list(out.columns)} after "
                             f"{self.columns}")
        arrays = {name: pa.array(out[name].to_numpy()) for name in out.columns}
        if self.index_label is not None:
            arrays = {"\x00index": pa.array(np.arange(self.rows + 1, self.rows + 1 + len(out))),
                      **arrays}
        pacsv.write_csv(pa.table(arrays), self.handle,
                        pacsv.WriteOptions(include_header=False, delimiter=self.sep,
                                           quoting_style="none"))
        self.rows += len(out)


def write_text(partitions: Iterable[pd.DataFrame], temp: os.PathLike, convert, **kwargs) -> int:
    """Write ``partitions`` through a :class:`TextTableWriter`; returns the row count."""
    with open(temp, "wb") as handle:
        writer = TextTableWriter(handle, convert, **kwargs)
        for df in partitions:
            writer.write(df)
    return writer.rows
