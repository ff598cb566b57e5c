"""Convert a localization table from one format to another, partition by partition."""

from __future__ import annotations

import os
import time
from typing import Any

from smlmscale.io.tables.registry import DEFAULT_BLOCKSIZE, lazy_table, open_table
from smlmscale.io.tables.writer import prepare_output, write_table


def convert_table(src: str | os.PathLike, dst: str | os.PathLike, *,
                  from_format: str | None = None, to_format: str | None = None,
                  pixel_size_nm: float | None = None, overwrite: bool = False,
                  blocksize: int | str = DEFAULT_BLOCKSIZE,
                  frame_base: int | None = None) -> dict[str, Any]:
    """Convert the table ``src`` into ``dst`` with bounded memory.

    The source is read lazily (:func:`~smlmscale.io.tables.read_table_lazy`): each
    partition of about ``blocksize`` bytes is read, converted to the canonical table,
    validated and appended to the output, a few partitions at a time. The output is
    written to a temporary sibling and renamed on success.

    Parameters
    ----------
    src, dst : str or path-like
        Input and output files.
    from_format, to_format : str, optional
        Formats (:data:`~smlmscale.io.tables.FORMATS`); default from the extensions,
        text inputs sniffed, ``.csv`` outputs ThunderSTORM.
    pixel_size_nm : float, optional
        Camera pixel size in nm; needed for pixel-based formats (Picasso, PeakFit in
        px, Picasso CSV) when the input does not carry it, and stored in the output.
    overwrite : bool, optional
        Replace an existing output.
    blocksize : int or str, optional
        Bytes per partition.
    frame_base : {0, 1}, optional
        The input's frames count from this, whatever its format says (text tables;
        e.g. 0 for a ThunderSTORM CSV that locan wrote).

    Returns
    -------
    dict
        ``rows``, ``frames`` (distinct frames with localizations), ``first_frame``,
        ``last_frame``, ``partitions``, ``seconds``, ``from_format``, ``to_format``,
        ``path``.

    Examples
    --------
    >>> convert_table("results.xls", "locs.parquet", from_format="peakfit",
    ...               pixel_size_nm=107)  # doctest: +SKIP
    {'rows': 183204, 'frames': 9998, ...}
    """
    start = time.perf_counter()
    source = open_table(src, format=from_format, pixel_size_nm=pixel_size_nm,
                        blocksize=blocksize, frame_base=frame_base)
    meta = source.meta.replace(pixel_size_nm=pixel_size_nm, source=os.fspath(src))
    prepare_output(dst, meta=meta, format=to_format, overwrite=overwrite)  # fail before reading
    table = lazy_table(source)
    summary = write_table(table, dst, meta=meta, format=to_format, overwrite=overwrite)
    summary.update(seconds=time.perf_counter() - start, partitions=table.npartitions,
                   from_format=source.format, to_format=summary.pop("format"))
    return summary
