"""The canonical table on disk: one Parquet file (``.parquet``).

Columns and dtypes as in :mod:`smlmscale.io.tables.schema`; the
:class:`~smlmscale.io.tables.schema.TableMeta` is stored as JSON in the Arrow
schema's key-value metadata under the key ``smlmscale``. Writers stream one row
group per partition (partitions hold whole frames, so row groups do too); lazy
readers read groups of row groups of about ``blocksize`` bytes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from smlmscale.errors import InputError
from smlmscale.io.tables._format import TableFormat
from smlmscale.io.tables._source import Source
from smlmscale.io.tables._text import check_not_binary
from smlmscale.io.tables.schema import (CANONICAL_DTYPES, METADATA_KEY, REQUIRED_COLUMNS,
                                        TableMeta, empty_table, is_snake_name, ordered_columns,
                                        validate_table)


def _open(path: str) -> pq.ParquetFile:
    with open(path, "rb") as handle:
        head = handle.read(8192)
    if not head.startswith(b"PAR1"):
        check_not_binary(path, head, expected="a Parquet file")
        raise InputError("not a Parquet file", path=path, hint="check the file and its extension")
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"broken Parquet file ({exc})", path=path) from None


def read_meta(path: str | os.PathLike) -> TableMeta:
    """The :class:`TableMeta` stored in a Parquet file (empty if none)."""
    raw = (_open(os.fspath(path)).schema_arrow.metadata or {}).get(METADATA_KEY.encode())
    if not raw:
        return TableMeta(source=os.fspath(path))
    try:
        return TableMeta.from_json(raw)
    except (ValueError, TypeError) as exc:
        raise InputError(f"unreadable smlmscale metadata ({exc})", path=path) from None


@dataclass(frozen=True)
class _Reader:
    path: str

    def __call__(self, groups: tuple[int, ...]) -> pd.DataFrame:
        table = pq.ParquetFile(self.path).read_row_groups(list(groups))
        return validate_table(table.to_pandas(), path=self.path,
                              where=f"row groups {groups[0]}-{groups[-1]}")


@dataclass(frozen=True)
class _Frames:
    path: str

    def __call__(self, groups: tuple[int, ...]) -> np.ndarray:
        table = pq.ParquetFile(self.path).read_row_groups(list(groups), columns=["frame"])
        return table.column("frame").to_numpy().astype(np.int64)


def open_source(path: str | os.PathLike, *, pixel_size_nm: float | None,
                blocksize: int | None) -> Source:
    """Open a canonical Parquet table."""
    path = os.fspath(path)
    handle = _open(path)
    schema = handle.schema_arrow
    names = list(schema.names)
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise InputError(f"missing required column(s) {', '.join(missing)}", path=path)
    unknown = [n for n in names if n not in CANONICAL_DTYPES and not is_snake_name(n)]
    if unknown:
        raise InputError(f"column(s) {', '.join(map(repr, unknown))} cannot be mapped to the "
                         "canonical table", path=path, hint="canonical tables use snake_case names")
    numeric = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean)
    bad = [f.name for f in schema if not any(test(f.type) for test in numeric)]
    if bad:
        raise InputError(f"column(s) {', '.join(map(repr, bad))} are not numeric", path=path)
    meta = read_meta(path).replace(pixel_size_nm=pixel_size_nm, source=path)
    if handle.metadata.num_rows == 0:
        raise InputError("the table holds no localizations", path=path)
    blocks: list[tuple[int, ...]] = []
    current: list[int] = []
    size = 0
    for index in range(handle.num_row_groups):
        group = handle.metadata.row_group(index)
        if group.num_rows == 0:
            continue
        if current and blocksize is not None and size + group.total_byte_size > blocksize:
            blocks.append(tuple(current))
            current, size = [], 0
        current.append(index)
        size += group.total_byte_size
    if current:
        blocks.append(tuple(current))
    dtypes = {f.name: (np.dtype(np.int64) if pa.types.is_boolean(f.type)
                       else np.dtype(f.type.to_pandas_dtype())) for f in schema}
    return Source(path=path, format="parquet", meta=meta,
                  empty=empty_table(ordered_columns(names), dtypes), blocks=blocks,
                  read=_Reader(path), frames=_Frames(path))


def write(partitions, temps, meta: TableMeta) -> int:
    """Stream canonical partitions into one Parquet file, one row group per partition."""
    temp = temps[0]
    writer: pq.ParquetWriter | None = None
    rows = 0
    try:
        for df in partitions:
            if not len(df):
                continue
            table = pa.Table.from_pandas(df, preserve_index=False)
            if writer is None:
                metadata = dict(table.schema.metadata or {})
                metadata[METADATA_KEY.encode()] = meta.to_json().encode()
                schema = table.schema.with_metadata(metadata)
                writer = pq.ParquetWriter(temp, schema, compression="zstd")
            elif table.schema.names != writer.schema.names:
                raise InputError(f"partitions have different columns: {table.schema.names} after "
                                 f"{writer.schema.names}")
            writer.write_table(table.cast(writer.schema))
            rows += len(df)
    finally:
        if writer is not None:
            writer.close()
    return rows


FORMAT = TableFormat("parquet", "canonical table, Parquet", read=open_source, write=write,
                     extensions=(".parquet",), aliases=("pq",))
