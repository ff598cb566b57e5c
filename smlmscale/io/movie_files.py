"""Which reader describes a movie file: TIFF, Picasso ``.raw``, ``.dax``, ND2 or CZI.

:func:`inspect_movie` picks the reader by the file's suffix and returns the same
picklable :class:`~smlmscale.io.tiff.TiffFileInfo` record for every format, from which
:func:`~smlmscale.io.tiff.read_frames` reads any frame range in any process (each Dask task
opens the file itself). Files of an unknown suffix are tried as TIFF, whose error names
the formats ingest reads.
"""

from __future__ import annotations

import os
from pathlib import Path

from smlmscale.errors import InputError
from smlmscale.io.raw_movies import RAW_SUFFIXES, inspect_raw_movie
from smlmscale.io.tiff import TiffFileInfo, inspect_tiff

TIFF_SUFFIXES = (".tif", ".tiff", ".btf", ".tf8")
VENDOR_SUFFIXES = (".nd2", ".czi")
#: Every suffix a folder given to ingest is searched for.
MOVIE_SUFFIXES = TIFF_SUFFIXES + tuple(RAW_SUFFIXES) + VENDOR_SUFFIXES
FORMATS_TEXT = ("TIFF/OME-TIFF/BigTIFF, ND2, CZI, Picasso .raw (+ .yaml) and Zhuang-lab "
                ".dax (+ .inf)")


def inspect_movie(path: str | os.PathLike, *, channel: int | None = None,
                  position: int | None = None) -> TiffFileInfo:
    """Describe one movie file, by its suffix.

    Parameters
    ----------
    path : str or os.PathLike
    channel, position : int, optional
        ND2/CZI: the channel and the position (scene) taken from a file holding several;
        refused for formats that hold one.

    Returns
    -------
    TiffFileInfo

    Raises
    ------
    InputError
        The file cannot be read as its format, or a channel/position was asked of a
        format without them.
    """
    suffix = Path(path).suffix.lower()
    if suffix in VENDOR_SUFFIXES:
        from smlmscale.io.vendor_movies import inspect_vendor

        return inspect_vendor(os.path.abspath(os.fspath(path)), channel=channel,
                              position=position)
    if channel is not None or position is not None:
        raise InputError("--channel and --position apply to ND2 and CZI files only",
                         path=os.fspath(path), hint="drop them for this file")
    if suffix in RAW_SUFFIXES:
        return inspect_raw_movie(path)
    try:
        return inspect_tiff(path)
    except InputError as exc:
        if suffix in TIFF_SUFFIXES:
            raise
        raise InputError(exc.message, path=exc.path,
                         hint=f"ingest reads {FORMATS_TEXT}") from None


__all__ = ["FORMATS_TEXT", "MOVIE_SUFFIXES", "TIFF_SUFFIXES", "inspect_movie"]
