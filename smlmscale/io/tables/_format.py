"""One record per table format: how to recognize, open and write it.

Like xarray's backend entrypoints, every format module ends with its record(s), a
:class:`TableFormat`, and :mod:`~smlmscale.io.tables.registry` keeps them in one list;
lookups by name, extension or header go through the records only.

Contracts of a record's callables:

``sniff(layout) -> int``
    Text formats only: how specifically the header of a delimited text table
    (:class:`~smlmscale.io.tables._text.TextLayout`, read once for all formats) is this
    format's; 0 means "not mine", and the highest score wins. Scores in use: 100
    PeakFit's own header lines, 90 the complete canonical header, 80 Deep-STORM3D, 70
    DeepSTORM, 61 Picasso's CSV export, 60 ThunderSTORM, 10 a partial canonical header.
``read(source, *, pixel_size_nm, blocksize) -> Source``
    Opens the file lazily (no rows read): ``source`` is the path for binary formats and
    the text layout for text formats; :meth:`TableFormat.open` takes a path for both.
``write(partitions, temps, meta) -> int``
    Writes canonical partitions to ``temps`` (the table, then each of its sidecars, as
    :meth:`TableFormat.outputs` lists them, at temporary names) and returns the rows
    written. None for a read-only format.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from smlmscale.io.tables import _text

#: Extensions of delimited text tables, whose format is sniffed from the header on read.
TEXT_EXTENSIONS = (".csv", ".tsv", ".txt", ".xls")


@dataclass(frozen=True)
class TableFormat:
    """A localization-table format (one registry record).

    Attributes
    ----------
    name : str
        The format's name (``--from``/``--to``).
    description : str
        What it is, with its conventions (frame base, units).
    read : callable
        Opens a file lazily; see the module notes.
    write : callable or None
        Writes a file; None when the format is read only.
    extensions : tuple of str
        The extensions that name this format: on read for binary formats (text
        extensions are sniffed), and on write (``.csv`` is ThunderSTORM's).
    sniff : callable or None
        Text formats: the header score; None for binary formats.
    aliases : tuple of str
        Other names accepted for ``name``.
    sidecars : callable or None
        ``sidecars(path) -> tuple of Path``: files written beside the table (Picasso's
        YAML), which count as outputs too.
    write_needs_pixel_size : bool
        Writing needs ``TableMeta.pixel_size_nm`` (positions in pixels).
    """

    name: str
    description: str
    read: Callable
    write: Callable | None = None
    extensions: tuple[str, ...] = ()
    sniff: Callable[[_text.TextLayout], int] | None = None
    aliases: tuple[str, ...] = ()
    sidecars: Callable[[Path], tuple[Path, ...]] | None = None
    write_needs_pixel_size: bool = False

    @property
    def writable(self) -> bool:
        """Whether the format can be written."""
        return self.write is not None

    @property
    def text(self) -> bool:
        """Whether the format is delimited text (sniffed from its header)."""
        return self.sniff is not None

    def open(self, path: str | os.PathLike, *, pixel_size_nm: float | None = None,
             blocksize: int | None = None, layout: _text.TextLayout | None = None):
        """Open ``path`` as this format (a :class:`~smlmscale.io.tables._source.Source`).

        ``layout`` is the text header already read, if any.
        """
        if self.text:
            source = layout or _text.read_layout(path)
        else:
            source = path
        return self.read(source, pixel_size_nm=pixel_size_nm, blocksize=blocksize)

    def outputs(self, path: str | os.PathLike) -> list[Path]:
        """Every file that writing ``path`` makes: the table, then its sidecars."""
        path = Path(path)
        return [path, *(self.sidecars(path) if self.sidecars else ())]


__all__ = ["TEXT_EXTENSIONS", "TableFormat"]
