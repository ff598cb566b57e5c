"""Localization tables: the canonical schema and every format's reader/writer.

One canonical table (:mod:`~smlmscale.io.tables.schema`): a pandas or dask
DataFrame with ``frame`` (int64, 0-based), ``x_nm``/``y_nm`` (float64, nm from the
top-left corner of pixel (0, 0)) and optional ``z_nm``, ``photons``,
``background``, ``sigma_nm``, ``uncertainty_nm``, ``confidence``, ``section``,
``roi``, ``cluster``; Parquet on disk with a :class:`TableMeta` in its metadata.

Formats (:data:`FORMATS`): ``parquet``, ``thunderstorm``, ``picasso`` (HDF5 +
YAML), ``picasso_csv``, ``deepstorm`` (ZeroCostDL4Mic), ``deepstorm3d``,
``peakfit`` (GDSC SMLM, read only) and ``csv`` (plain canonical), each one
:class:`TableFormat` record (name, extensions, ``sniff``, ``read``, ``write``) at the
end of its module. Each module's docstring states the conventions it converts (frame
base, units, pixel origin) and where they were checked.

Examples
--------
>>> from smlmscale.io.tables import read_table, write_table    # doctest: +SKIP
>>> table, meta = read_table("results.xls", pixel_size_nm=107)  # doctest: +SKIP
>>> write_table(table, "locs.hdf5", meta=meta)                  # doctest: +SKIP
"""

from smlmscale.io.tables._format import TableFormat
from smlmscale.io.tables.convert import convert_table
from smlmscale.io.tables.describe import describe_table
from smlmscale.io.tables.registry import (FORMATS, FormatInfo, format_name, read_table,
                                          read_table_lazy, sniff_text)
from smlmscale.io.tables.schema import (CANONICAL_COLUMNS, CANONICAL_DTYPES, TableMeta,
                                        sanitize_name, validate_table)
from smlmscale.io.tables.writer import write_table

__all__ = [
    "CANONICAL_COLUMNS", "CANONICAL_DTYPES", "FORMATS", "FormatInfo", "TableFormat",
    "TableMeta", "convert_table", "describe_table", "format_name", "read_table", "read_table_lazy",
    "sanitize_name", "sniff_text", "validate_table", "write_table",
]
