"""``smlmscale convert IN -o OUT``: localization table formats."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import say
from smlmscale.io.tables import FORMATS, convert_table

_NAMES = ", ".join(FORMATS)


@app.command("convert")
def convert(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(
        metavar="IN", help="Localization table to read (.csv, .tsv, .txt, .xls, .hdf5, .parquet).",
        show_default=False)],
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Table to write; the format follows the extension "
                               "(.csv is ThunderSTORM, .hdf5 Picasso + .yaml).",
        show_default=False)],
    from_format: Annotated[Optional[str], typer.Option(
        "--from", metavar="FORMAT", help=f"Input format ({_NAMES}); default: from the "
                                         "extension and the header.")] = None,
    to_format: Annotated[Optional[str], typer.Option(
        "--to", "--format", metavar="FORMAT", help=f"Output format ({_NAMES}); default: "
                                                   "from the extension.")] = None,
    pixel_size: Annotated[Optional[float], typer.Option(
        "--pixel-size", metavar="NM", help="Camera pixel size in nm, for formats in pixels "
                                           "(Picasso, PeakFit) when the input lacks it.")] = None,
    frame_base: Annotated[Optional[int], typer.Option(
        "--frame-base", metavar="0|1", help="The input's frames count from 0 or 1, whatever "
                                            "its format says (text tables; e.g. 0 for a "
                                            "ThunderSTORM CSV written by locan).")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing output.")] = False,
) -> None:
    """Convert a localization table between formats (streamed, bounded memory).

    Examples: smlmscale convert results.xls --from peakfit -o locs.parquet --pixel-size 107;
    smlmscale convert locs.csv -o locs.hdf5 --pixel-size 107
    """
    summary = convert_table(source, output, from_format=from_format, to_format=to_format,
                            pixel_size_nm=pixel_size, overwrite=overwrite,
                            frame_base=frame_base)
    say(ctx, f"wrote {summary['rows']} localizations ({summary['frames']} frames) to {output} "
             f"in {summary['seconds']:.1f} s")
