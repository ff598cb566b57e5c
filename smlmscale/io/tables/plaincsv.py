"""Plain CSV of the canonical table (format name ``csv``).

The canonical columns under their own names (``frame`` 0-based, ``x_nm``,
``y_nm`` in nm from the top-left corner of pixel (0, 0), ...), comma-separated,
one header line. Extra columns must already have snake_case names (as the other
readers make them); a column such as ``"x [nm]"`` cannot be mapped and is
refused, with its name, so that a file of another format is not half-read.
"""

from __future__ import annotations

from smlmscale.errors import InputError
from smlmscale.io.tables import _text
from smlmscale.io.tables._columns import Rule
from smlmscale.io.tables._format import TableFormat
from smlmscale.io.tables._source import PlannedText, write_text
from smlmscale.io.tables.schema import CANONICAL_DTYPES, TableMeta, is_snake_name

_REQUIRED = {"frame", "x_nm", "y_nm"}


def plan(layout: _text.TextLayout, *, pixel_size_nm: float | None = None) -> list[Rule]:
    """Column rules for a plain canonical CSV header (identity, names checked; positions
    are in nm, so ``pixel_size_nm`` is not needed)."""
    unknown = [n for n in layout.names if n not in CANONICAL_DTYPES and not is_snake_name(n)]
    if unknown:
        raise InputError(f"column(s) {', '.join(repr(n) for n in unknown)} cannot be mapped to "
                         "the canonical table", path=layout.path,
                         hint="a plain CSV uses canonical names (frame, x_nm, y_nm, ...); "
                              "pass --from with the file's real format")
    missing = [n for n in ("frame", "x_nm", "y_nm") if n not in layout.names]
    if missing:
        raise InputError(f"missing required column(s) {', '.join(missing)}", path=layout.path)
    return [Rule(name, (name,)) for name in layout.names]


def sniff(layout: _text.TextLayout) -> int:
    """90 for a header with ``frame``, ``x_nm`` and ``y_nm``; 10 with two of them (the
    reader names the one missing) when no other format claims the header."""
    found = len(_REQUIRED & set(layout.names))
    return 90 if found == 3 else 10 if found == 2 else 0


#: Opens a plain canonical CSV.
open_source = PlannedText(plan, "csv", "plain CSV frames are 0-based")


def _identity(df, offset):
    return df


def write(partitions, temps, meta: TableMeta) -> int:
    """Write canonical partitions as a plain CSV."""
    return write_text(partitions, temps[0], _identity, sep=",")


FORMAT = TableFormat("csv", "plain CSV of the canonical columns (0-based frames, nm)",
                     read=open_source, write=write, sniff=sniff, aliases=("plain", "plaincsv"))
