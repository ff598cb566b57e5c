"""Raw movies: frames stored back to back, described by a sidecar text file.

- **Picasso ``.raw``** (Picasso's ``io.save_raw``): the frames as one C-order array; the
  sidecar ``<stem>.yaml`` (its first YAML document) gives ``Frames``, ``Height``, ``Width``,
  ``Data Type`` (a NumPy dtype name, e.g. ``uint16``) and ``Byte Order`` (``<`` or ``>``;
  ``<`` when absent), and optionally ``Pixelsize`` (nm).
- **Zhuang-lab ``.dax``** (storm-analysis' ``DaxReader``): 16-bit unsigned frames; the
  sidecar ``<stem>.inf`` holds ``key = value`` lines, of which ``frame dimensions = W x H``
  (storm-analysis reads the first number as the width), ``number of frames = N`` and
  ``data type = 16 bit integers (binary, big endian)`` (or ``little endian``; big when
  absent) are read. A ``.inf`` carries no pixel size: give ``--pixel-size``.

Both are described as a :class:`~smlmscale.io.tiff.TiffFileInfo` with one data offset per
frame, so :func:`~smlmscale.io.tiff.read_frames` reads any frame range with a seek and a
``readinto`` per frame, in any process. The file size must equal what the sidecar
describes: a shorter file is truncated, a longer one is described by the wrong sidecar.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from smlmscale.errors import InputError
from smlmscale.io.tiff import TiffFileInfo

#: Movie suffix -> (kind, sidecar suffix).
RAW_SUFFIXES = {".raw": ("picasso-raw", ".yaml"), ".dax": ("dax", ".inf")}

_DAX_SIZE = re.compile(r"^\s*frame dimensions\s*=\s*(\d+)\s*x\s*(\d+)", re.I | re.M)
_DAX_FRAMES = re.compile(r"^\s*number of frames\s*=\s*(\d+)", re.I | re.M)
_DAX_ENDIAN = re.compile(r"\b(big|little) endian", re.I)


def inspect_raw_movie(path: str | os.PathLike) -> TiffFileInfo:
    """Describe a Picasso ``.raw`` or a ``.dax`` movie from its sidecar file.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.raw`` or ``.dax`` file; its sidecar (``.yaml`` / ``.inf``, same stem)
        must sit beside it.

    Returns
    -------
    TiffFileInfo
        ``kind`` ``"picasso-raw"`` or ``"dax"``, one data offset per frame.

    Raises
    ------
    InputError
        No sidecar, a sidecar without the keys needed or with impossible values, or a
        file whose size disagrees with the sidecar.
    """
    path = os.path.abspath(os.fspath(path))
    kind, sidecar_suffix = RAW_SUFFIXES[Path(path).suffix.lower()]
    sidecar = str(Path(path).with_suffix(sidecar_suffix))
    if not os.path.isfile(sidecar):
        what = "Picasso .raw movie" if kind == "picasso-raw" else ".dax movie"
        raise InputError(f"{what} without its {sidecar_suffix} file ({Path(sidecar).name})",
                         path=path, hint=f"put the {sidecar_suffix} written with the movie "
                                         "beside it")
    text = Path(sidecar).read_text(errors="replace")
    if kind == "picasso-raw":
        shape, dtype, byteorder, pixel_nm = _picasso_yaml(text, sidecar)
    else:
        shape, dtype, byteorder, pixel_nm = _dax_inf(text, sidecar)
    stat = os.stat(path)
    frame_bytes = shape[1] * shape[2] * dtype.itemsize
    expected = shape[0] * frame_bytes
    if stat.st_size != expected:
        frames = stat.st_size / frame_bytes
        raise InputError(
            f"the file holds {stat.st_size} bytes ({frames:g} frames of {shape[1]}x{shape[2]} "
            f"{dtype.name}), {Path(sidecar).name} describes {shape[0]} frames "
            f"({expected} bytes)", path=path,
            hint="a shorter file is truncated (re-copy it); otherwise correct the "
                 f"{sidecar_suffix} file")
    return TiffFileInfo(
        path=path, n_frames=shape[0], frame_shape=(shape[1], shape[2]), dtype=dtype.name,
        byteorder=byteorder, data_offsets=np.arange(shape[0], dtype=np.int64) * frame_bytes,
        ifd_offsets=None, size_bytes=int(stat.st_size), mtime=float(stat.st_mtime),
        pixel_size_nm=pixel_nm, kind=kind)


def _picasso_yaml(text: str, sidecar: str):
    import yaml

    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise InputError(f"not a readable YAML file ({str(exc).splitlines()[0]})",
                         path=sidecar, hint="check the Picasso movie's .yaml") from None
    info = documents[0] if documents and isinstance(documents[0], dict) else {}
    missing = [k for k in ("Frames", "Height", "Width", "Data Type") if k not in info]
    if missing:
        raise InputError(f"the movie's YAML lacks {', '.join(missing)}", path=sidecar,
                         hint="Picasso .raw movies need Frames, Height, Width and Data Type")
    shape = tuple(_positive_int(info[k], k, sidecar) for k in ("Frames", "Height", "Width"))
    try:
        dtype = np.dtype(str(info["Data Type"]))
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "uif":
        raise InputError(f"unknown Data Type {info['Data Type']!r}", path=sidecar,
                         hint="give a NumPy pixel type such as uint16")
    order = str(info.get("Byte Order", "<"))
    if order not in ("<", ">", "="):
        raise InputError(f"unknown Byte Order {order!r}", path=sidecar, hint="use < or >")
    pixel = info.get("Pixelsize")
    pixel_nm = float(pixel) if isinstance(pixel, (int, float)) and pixel > 0 else None
    return shape, dtype.newbyteorder("="), "<" if order == "=" else order, pixel_nm


def _dax_inf(text: str, sidecar: str):
    size, frames = _DAX_SIZE.search(text), _DAX_FRAMES.search(text)
    if size is None or frames is None:
        missing = [name for name, m in (("frame dimensions", size),
                                        ("number of frames", frames)) if m is None]
        raise InputError("the .inf file lacks the " + " and ".join(f"'{m}'" for m in missing)
                         + " line" + "s" * (len(missing) > 1), path=sidecar,
                         hint="a .dax movie's .inf needs 'frame dimensions = W x H' and "
                              "'number of frames = N'")
    width = _positive_int(size.group(1), "frame width", sidecar)
    height = _positive_int(size.group(2), "frame height", sidecar)
    n = _positive_int(frames.group(1), "number of frames", sidecar)
    endian = _DAX_ENDIAN.search(text)
    byteorder = "<" if endian and endian.group(1).lower() == "little" else ">"
    return (n, height, width), np.dtype(np.uint16), byteorder, None


def _positive_int(value, name: str, sidecar: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number <= 0 or (isinstance(value, float) and value != number):
        raise InputError(f"{name} must be a positive whole number, got {value!r}", path=sidecar)
    return number


__all__ = ["RAW_SUFFIXES", "inspect_raw_movie"]
