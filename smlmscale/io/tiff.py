"""TIFF sources: inspect a file once, then read any frame range from any process.

Inspection (:func:`inspect_tiff`) opens a file with tifffile, takes its first
series as a stack of 2D frames and records, per frame, where its pixels are:

* ``data_offsets``: byte offset of each frame's pixels when the frame is stored
  uncompressed and contiguously (camera data almost always is). Reading is then
  a ``seek`` + ``readinto`` per frame, no TIFF parsing at all. ImageJ's >4 GiB
  "one IFD" stacks land here too, through the series' contiguous data offset.
* ``ifd_offsets``: byte offset of each frame's IFD otherwise (compressed or
  tiled pages). Reading seeks to the IFD and decodes that one page, so a task
  never walks the IFD chain from the start of a 10^5-page file.

:class:`TiffFileInfo` is a small picklable record: Dask tasks open their own
file handles from it (tifffile objects cannot be pickled).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from smlmscale.errors import InputError

#: Units of OME ``PhysicalSizeXUnit`` / ImageJ ``unit`` -> nanometres.
_UNIT_NM = {
    "nm": 1.0, "nanometer": 1.0, "nanometre": 1.0,
    "um": 1e3, "µm": 1e3, "\u03bcm": 1e3, "micron": 1e3, "microns": 1e3,
    "micrometer": 1e3, "micrometre": 1e3, "\\u00b5m": 1e3,
    "mm": 1e6, "millimeter": 1e6, "cm": 1e7, "m": 1e9, "meter": 1e9,
}


#: ``TiffFileInfo.kind`` of raw movies (frames back to back) -> their format's name.
RAW_KINDS = {"picasso-raw": "Picasso .raw movie", "dax": ".dax movie"}
#: ``TiffFileInfo.kind`` of files read through their vendor's library.
VENDOR_KINDS = ("nd2", "czi")


@dataclass(frozen=True)
class TiffFileInfo:
    """Where the frames of one TIFF file are, and what they hold.

    Attributes
    ----------
    path : str
        Absolute path of the file.
    n_frames : int
        Number of 2D frames in the file's first series.
    frame_shape : tuple of int
        ``(height, width)`` in pixels.
    dtype : str
        Pixel dtype in native byte order, e.g. ``"uint16"``.
    byteorder : str
        ``"<"`` or ``">"``, the byte order of the stored pixels.
    data_offsets : numpy.ndarray or None
        int64 byte offset of each frame's contiguous, uncompressed pixels.
    ifd_offsets : numpy.ndarray or None
        int64 byte offset of each frame's IFD, used when ``data_offsets`` is None.
    size_bytes, mtime : int, float
        File size and modification time at inspection (for provenance and resume).
    pixel_size_nm : float or None
        Lateral pixel size from OME or ImageJ metadata, in nm.
    kind : str
        tifffile's series kind (``"imagej"``, ``"ome"``, ``"shaped"``, ``"generic"``...).
    ome_files : tuple of str
        File names an OME-XML header says hold further planes of the same
        series (MicroManager-style split datasets), in order; empty otherwise.
    plane : tuple of (str, int)
        Vendor files (``kind`` ``"nd2"``/``"czi"``): the indices fixing the axes other
        than time and y, x (e.g. ``(("C", 1), ("P", 0))``); empty otherwise.
    first_frame : int
        The file's frame that is this record's frame 0 (0 unless the record was sliced
        to a task's frames); ND2/CZI reads go by it, TIFF and raw reads by the sliced
        offsets.

    Raw movies (Picasso ``.raw``, Zhuang-lab ``.dax``; :mod:`smlmscale.io.raw_movies`) are
    described by this record too, with ``data_offsets``; ND2 and CZI files
    (:mod:`smlmscale.io.vendor_movies`) with neither offset array, read by their library.
    """

    path: str
    n_frames: int
    frame_shape: tuple[int, int]
    dtype: str
    byteorder: str
    data_offsets: np.ndarray | None = field(repr=False)
    ifd_offsets: np.ndarray | None = field(repr=False)
    size_bytes: int
    mtime: float
    pixel_size_nm: float | None = None
    kind: str = "generic"
    ome_files: tuple[str, ...] = ()
    plane: tuple[tuple[str, int], ...] = ()
    first_frame: int = 0

    @property
    def frame_bytes(self) -> int:
        """Bytes of one frame's pixels."""
        return int(np.prod(self.frame_shape)) * np.dtype(self.dtype).itemsize


class _LogCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _tifffile_warnings() -> Iterator[list[str]]:
    """Collect tifffile's logged warnings (it logs, rather than raises, on corrupt files)."""
    logger = logging.getLogger("tifffile")
    handler = _LogCollector()
    old_propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = old_propagate


def inspect_tiff(path: str | os.PathLike) -> TiffFileInfo:
    """Inspect one TIFF file: frame count, shape, dtype and where each frame lies.

    Parameters
    ----------
    path : str or os.PathLike
        A TIFF, BigTIFF, OME-TIFF or ImageJ hyperstack.

    Returns
    -------
    TiffFileInfo

    Raises
    ------
    InputError
        Not a TIFF, truncated or corrupt, multi-sample (RGB) or multi-channel
        pixels, or an unsupported pixel type.
    """
    import tifffile

    path = os.path.abspath(os.fspath(path))
    stat = _stat(path)
    with _tifffile_warnings() as warnings:
        try:
            # OME and MicroManager series may span files; each file is read on its own
            # and the files are concatenated in the order the user gives (see ingest).
            with tifffile.TiffFile(path, is_ome=False, is_mmstack=False) as tif:
                info = _inspect_open(tif, path, stat)
        except InputError:
            raise
        except (tifffile.TiffFileError, ValueError, OSError, KeyError, IndexError) as exc:
            raise InputError(f"not a readable TIFF file ({exc})", path=path,
                             hint="check the file is a complete TIFF") from None
    bad = [m for m in warnings if re.search(r"invalid|corrupt|truncat", m, re.I)]
    if bad:
        raise InputError(f"truncated or corrupted TIFF ({bad[0]})", path=path,
                         hint="re-export or re-copy the file") from None
    return info


def _stat(path: str) -> os.stat_result:
    try:
        return os.stat(path)
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", path=path) from None


def _inspect_open(tif, path: str, stat: os.stat_result) -> TiffFileInfo:
    if not tif.series:
        raise InputError("TIFF holds no images", path=path)
    series = tif.series[0]
    axes, shape = series.axes, tuple(series.shape)
    if "S" in axes:
        raise InputError(f"multi-sample (RGB) pixels, axes {axes}", path=path,
                         hint="SMLM movies are single-channel; convert to greyscale first")
    if "C" in axes and shape[axes.index("C")] > 1:
        raise InputError(f"{shape[axes.index('C')]} channels (axes {axes})", path=path,
                         hint="split the channels into separate files and ingest each")
    dtype = np.dtype(series.dtype)
    if dtype.kind not in "uif" or dtype.itemsize > 8:
        raise InputError(f"unsupported pixel type {dtype}", path=path,
                         hint="use uint8, uint16, int16, uint32 or float32 pixels")
    frame_shape = (int(shape[-2]), int(shape[-1]))
    n_frames = int(np.prod(shape[:-2], dtype=np.int64)) if len(shape) > 2 else 1
    frame_bytes = frame_shape[0] * frame_shape[1] * dtype.itemsize

    data_offsets = ifd_offsets = None
    if series.dataoffset is not None:
        data_offsets = series.dataoffset + frame_bytes * np.arange(n_frames, dtype=np.int64)
    else:
        pages = list(series.pages)
        if len(pages) != n_frames or any(p is None for p in pages):
            raise InputError(f"series declares {n_frames} frames but holds {len(pages)} pages",
                             path=path, hint="the file may be truncated")
        if all(p.is_contiguous for p in pages):
            data_offsets = np.array([p.dataoffsets[0] for p in pages], dtype=np.int64)
        else:
            ifd_offsets = np.array([p.offset for p in pages], dtype=np.int64)
            ends = [max(o + n for o, n in zip(p.dataoffsets, p.databytecounts)) for p in pages]
            if max(ends) > stat.st_size:
                raise InputError("truncated TIFF: pixel data run past the end of the file",
                                 path=path, hint="re-export or re-copy the file")
    if data_offsets is not None and n_frames and data_offsets.max() + frame_bytes > stat.st_size:
        raise InputError("truncated TIFF: pixel data run past the end of the file",
                         path=path, hint="re-export or re-copy the file")
    return TiffFileInfo(
        path=path, n_frames=n_frames, frame_shape=frame_shape, dtype=dtype.newbyteorder("=").name,
        byteorder=tif.byteorder, data_offsets=data_offsets, ifd_offsets=ifd_offsets,
        size_bytes=stat.st_size, mtime=stat.st_mtime, pixel_size_nm=_pixel_size_nm(tif),
        kind=series.kind, ome_files=_ome_files(tif.pages.first.description, path),
    )


def _pixel_size_nm(tif) -> float | None:
    """Pixel size from OME-XML (``PhysicalSizeX``) or ImageJ (``unit`` + XResolution)."""
    description = tif.pages.first.description or ""
    if description.lstrip().startswith("<?xml") or "<OME" in description[:2000]:
        with contextlib.suppress(ET.ParseError, ValueError, TypeError):
            pixels = next(el for el in ET.fromstring(description).iter()
                          if el.tag.endswith("Pixels"))
            size = pixels.get("PhysicalSizeX")
            if size is not None:
                unit = pixels.get("PhysicalSizeXUnit", "µm")
                return float(size) * _UNIT_NM[unit.strip().lower()]
    ij = tif.imagej_metadata
    if ij:
        unit = str(ij.get("unit", "")).strip().lower()
        tag = tif.pages.first.tags.get("XResolution")
        if unit in _UNIT_NM and tag is not None:
            num, den = tag.value
            if num > 0 and (num, den) != (1, 1):
                return den / num * _UNIT_NM[unit]
    return None


def _ome_files(description: str | None, path: str) -> tuple[str, ...]:
    """File names an OME-XML header lists for the planes of its first image."""
    if not description or "<OME" not in description[:4000]:
        return ()
    with contextlib.suppress(ET.ParseError):
        names: list[str] = []
        for el in ET.fromstring(description).iter():
            if el.tag.endswith("UUID") and el.get("FileName"):
                name = el.get("FileName")
                if name not in names:
                    names.append(name)
        return tuple(names) if len(names) > 1 else ()
    return ()


def read_frames(info: TiffFileInfo, start: int, stop: int,
                yx: tuple[slice, slice] | None = None) -> np.ndarray:
    """Read frames ``start:stop`` of a file, optionally a ``(y, x)`` window of them.

    Parameters
    ----------
    info : TiffFileInfo
        From :func:`inspect_tiff`.
    start, stop : int
        Frame range within the file (0-based, ``stop`` exclusive).
    yx : tuple of slice, optional
        Row and column slices (steps of 1); the full frame by default.

    Returns
    -------
    numpy.ndarray
        ``(stop - start, rows, cols)`` in ``info.dtype``, native byte order.
    """
    ys, xs = yx or (slice(None), slice(None))
    y0, y1, _ = ys.indices(info.frame_shape[0])
    x0, x1, _ = xs.indices(info.frame_shape[1])
    if info.kind in VENDOR_KINDS:
        from smlmscale.io.vendor_movies import read_vendor_frames

        return read_vendor_frames(info, start, stop, y0, y1, x0, x1)
    if info.data_offsets is not None:
        return _read_raw(info, start, stop, y0, y1, x0, x1)
    return _read_pages(info, start, stop, y0, y1, x0, x1)


def _read_raw(info: TiffFileInfo, start: int, stop: int,
              y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    height, width = info.frame_shape
    stored = np.dtype(info.dtype).newbyteorder(info.byteorder)
    buf = np.empty((stop - start, y1 - y0, width), dtype=stored)
    row_bytes = width * stored.itemsize
    with open(info.path, "rb", buffering=0) as fh:
        for k, offset in enumerate(info.data_offsets[start:stop]):
            view = memoryview(buf[k]).cast("B")
            fh.seek(int(offset) + y0 * row_bytes)
            got = fh.readinto(view)
            if got != view.nbytes:
                what = "TIFF" if info.kind not in RAW_KINDS else RAW_KINDS[info.kind]
                raise InputError(f"truncated {what}: frame {start + k} is incomplete",
                                 path=info.path, hint="re-export or re-copy the file")
    out = buf[:, :, x0:x1] if (x0, x1) != (0, width) else buf
    if not stored.isnative:
        out = out.astype(stored.newbyteorder("="))
    return np.ascontiguousarray(out)


def _read_pages(info: TiffFileInfo, start: int, stop: int,
                y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    import tifffile

    out = np.empty((stop - start, y1 - y0, x1 - x0), dtype=info.dtype)
    with tifffile.TiffFile(info.path, is_ome=False, is_mmstack=False) as tif:
        for k, index in enumerate(range(start, stop)):
            tif.filehandle.seek(int(info.ifd_offsets[index]))
            page = tifffile.TiffPage(tif, index=index)
            out[k] = page.asarray()[y0:y1, x0:x1]
    return out


def natural_key(name: str | os.PathLike) -> list:
    """Sort key that orders ``frame2.tif`` before ``frame10.tif``.

    Examples
    --------
    >>> sorted(["f10.tif", "f2.tif", "f1.tif"], key=natural_key)
    ['f1.tif', 'f2.tif', 'f10.tif']
    """
    text = Path(name).as_posix()
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]
