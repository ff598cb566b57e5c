"""Vendor movies: Nikon ND2 (the ``nd2`` package) and Zeiss CZI (``pylibCZIrw``).

Both formats hold a movie among other axes (channels, stage positions or scenes, Z
planes). :func:`inspect_vendor` reads a file's metadata only and fixes one plane of it:
the channel and position chosen (``--channel N`` / ``--position N``, required when the
file holds several) and the axis the frames run along. The result is the same picklable
:class:`~smlmscale.io.tiff.TiffFileInfo` record as for TIFF, with ``kind`` ``"nd2"`` or
``"czi"``, no offset arrays and the fixed axes in ``plane``; :func:`read_vendor_frames`
opens the file in the calling process (a Dask task) and reads only the frames asked.

Frames run along time (``T``). A file without a time axis but with a Z stack is read as a
movie of its Z planes; ``plane`` then fixes ``("T", 0)``, which is how
:func:`read_vendor_frames` knows. A file with both a time series and a Z stack, or with
other axes of more than one index (ND2 custom loops; CZI rotations, illuminations,
phases, views, blocks), and RGB files are refused.

Plane axis letters: ``"C"`` channel, ``"P"`` ND2 position (XY stage loop), ``"S"`` CZI
scene (its scene id), ``"T"`` time. Pixel sizes come from the ND2 calibration (um) or
the CZI ``Scaling`` metadata (m), in nm; None when the file carries none.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import numpy as np

from smlmscale.errors import InputError
from smlmscale.io.tiff import TiffFileInfo

#: Suffix -> (kind, reading library's import name, its pip name).
_LIBRARIES = {".nd2": ("nd2", "nd2", "nd2"), ".czi": ("czi", "pylibCZIrw.czi", "pylibczirw")}
_ND2_FRAME_AXES = ("C", "Y", "X", "S")
_CZI_DTYPES = {"Gray8": "uint8", "Gray16": "uint16", "Gray32Float": "float32"}
_CZI_AXIS_NAMES = {"R": "rotations", "I": "illuminations", "H": "phases", "V": "views",
                   "B": "blocks"}


def inspect_vendor(path: str | os.PathLike, *, channel: int | None = None,
                   position: int | None = None) -> TiffFileInfo:
    """Describe one plane of an ND2 or CZI file from its metadata (no pixels are read).

    Parameters
    ----------
    path : str or os.PathLike
        A ``.nd2`` or ``.czi`` file (suffix case-insensitive).
    channel : int, optional
        0-based channel index; required when the file holds several channels.
    position : int, optional
        0-based stage position (ND2 XY positions) or scene (CZI, in the order of their
        ids); required when the file holds several.

    Returns
    -------
    TiffFileInfo
        ``kind`` ``"nd2"``/``"czi"``; ``n_frames`` time points (Z planes for a Z stack
        without time points), ``frame_shape`` ``(height, width)`` in pixels, ``dtype``
        native with ``byteorder`` ``"<"``, ``pixel_size_nm`` from the metadata or None,
        ``plane`` the fixed axes, e.g. ``(("C", 1), ("P", 0))``.

    Raises
    ------
    InputError
        The reading library is missing; the file is not readable as its format; a
        channel/position is needed or out of range; the file is RGB or has axes that
        ingest does not choose among.
    """
    path = os.path.abspath(os.fspath(path))
    kind = _LIBRARIES[Path(path).suffix.lower()][0]
    library = _library(path)
    if kind == "nd2":
        shape, dtype, pixel_nm, plane = _inspect_nd2(library, path, channel, position)
    else:
        shape, dtype, pixel_nm, plane = _inspect_czi(library, path, channel, position)
    stat = os.stat(path)
    return TiffFileInfo(
        path=path, n_frames=shape[0], frame_shape=(shape[1], shape[2]),
        dtype=np.dtype(dtype).newbyteorder("=").name, byteorder="<", data_offsets=None,
        ifd_offsets=None, size_bytes=int(stat.st_size), mtime=float(stat.st_mtime),
        pixel_size_nm=pixel_nm, kind=kind, plane=plane)


def read_vendor_frames(info: TiffFileInfo, start: int, stop: int,
                       y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Read frames ``start:stop`` of the plane ``info.plane``, rows ``y0:y1``, cols ``x0:x1``.

    The file is opened and closed inside the call (nothing is held between calls, so
    this runs in any Dask task); only the frames asked are read (ND2 frame by frame,
    CZI plane by plane of the window).

    Parameters
    ----------
    info : TiffFileInfo
        From :func:`inspect_vendor`.
    start, stop : int
        Frame range of the record, ``stop`` exclusive (the file's frames
        ``info.first_frame + start`` on).
    y0, y1, x0, x1 : int
        Pixel window within the frame (``y1``/``x1`` exclusive).

    Returns
    -------
    numpy.ndarray
        ``(stop - start, y1 - y0, x1 - x0)`` of ``info.dtype``, native, C-contiguous.
    """
    out = np.empty((stop - start, y1 - y0, x1 - x0), dtype=info.dtype)
    if out.size == 0:
        return out
    library = _library(info.path)
    read = _read_nd2 if info.kind == "nd2" else _read_czi
    read(library, info, info.first_frame + start, out, y0, x0)
    return out


def _library(path: str):
    _, module, package = _LIBRARIES[Path(path).suffix.lower()]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"reading {Path(path).suffix.lower()} files needs the {package} "
                         "package", path=path, hint="pip install 'smlmscale[vendor]'") from None


def _unreadable(path: str, what: str, exc: Exception) -> InputError:
    detail = " ".join(str(exc).split())[:160] or type(exc).__name__
    return InputError(f"not a readable {what} file ({detail})", path=path,
                      hint="check that the file is complete (copy it again) and opens in "
                           "the vendor's software or Fiji")


def _choose(count: int, chosen: int | None, *, what: str, flag: str, path: str,
            names: list[str] | None = None) -> int:
    """The 0-based index of a channel/position: given, or the only one."""
    listed = f" ({', '.join(names)})" if names and len(names) == count and all(names) else ""
    if chosen is None:
        if count == 1:
            return 0
        raise InputError(f"the file holds {count} {what}s{listed}", path=path,
                         hint=f"choose one with {flag} N (0 to {count - 1})")
    if not 0 <= chosen < count:
        held = f"{count} {what}" + ("" if count == 1 else "s")
        raise InputError(f"{flag} {chosen} is out of range: the file holds {held}{listed}",
                         path=path, hint=f"give {flag} 0" + (f" to {count - 1}" if count > 1
                                                              else " or leave it out"))
    return int(chosen)


def _frame_axis(sizes: dict[str, int], path: str) -> tuple[str, dict[str, int]]:
    """The axis frames run along (``T``, else ``Z``) and the extra fixed axes."""
    n_t, n_z = sizes.get("T", 1), sizes.get("Z", 1)
    if n_t > 1 and n_z > 1:
        raise InputError(f"the file holds {n_t} time points of {n_z} Z planes each; ingest "
                         "reads a time series of single planes", path=path,
                         hint="export one Z plane (or a projection) of it first")
    if n_t == 1 and n_z > 1:
        return "Z", {"T": 0}
    return "T", {}


def _refuse_axes(extra: dict[str, int], path: str, names: dict[str, str]) -> None:
    extra = {k: v for k, v in extra.items() if v > 1}
    if extra:
        held = ", ".join(f"{v} {names.get(k, k + ' indices')}" for k, v in extra.items())
        raise InputError(f"the file holds {held}, an axis ingest does not choose among",
                         path=path, hint="export the movie of one of them first")


def _refuse_rgb(path: str) -> None:
    raise InputError("RGB image (several samples per pixel); ingest reads single-channel "
                     "movies", path=path, hint="export one grey channel first")


# --- ND2 ------------------------------------------------------------------------------

def _inspect_nd2(nd2, path: str, channel: int | None, position: int | None):
    try:
        with nd2.ND2File(path) as f:
            sizes, dtype, rgb = dict(f.sizes), np.dtype(f.dtype), bool(f.is_rgb)
            pixel_nm, names = _nd2_pixel_nm(f), _nd2_channel_names(f)
    except Exception as exc:  # the library raises OSError, ValueError... on bad files
        raise _unreadable(path, "ND2", exc) from None
    if rgb or "S" in sizes:
        _refuse_rgb(path)
    _refuse_axes({k: v for k, v in sizes.items() if k not in ("T", "P", "Z", "C", "Y", "X")},
                 path, {"U": "indices of a custom loop"})
    c = _choose(sizes.get("C", 1), channel, what="channel", flag="--channel", path=path,
                names=names)
    p = _choose(sizes.get("P", 1), position, what="position", flag="--position", path=path)
    axis, fixed = _frame_axis(sizes, path)
    plane = (("C", c), ("P", p)) + tuple(fixed.items())
    return (sizes.get(axis, 1), sizes["Y"], sizes["X"]), dtype, pixel_nm, plane


def _nd2_channels(f) -> list:
    try:
        return list(f.metadata.channels or [])
    except Exception:  # metadata unreadable: the pixels may still be
        return []


def _nd2_pixel_nm(f) -> float | None:
    """``voxel_size().x`` in nm, None when the file is uncalibrated."""
    channels = _nd2_channels(f)
    if not channels:
        return None          # nd2 then reports a placeholder of 1 um
    calibrated = getattr(getattr(channels[0], "volume", None), "axesCalibrated", None)
    if calibrated is not None and not calibrated[0]:
        return None
    x_um = float(f.voxel_size().x)
    return x_um * 1000.0 if x_um > 0 else None


def _nd2_channel_names(f) -> list[str]:
    return [str(getattr(getattr(c, "channel", None), "name", "") or "")
            for c in _nd2_channels(f)]


def _read_nd2(nd2, info: TiffFileInfo, start: int, out: np.ndarray, y0: int, x0: int):
    fixed = dict(info.plane)
    axis = "Z" if "T" in fixed else "T"
    y1, x1 = y0 + out.shape[1], x0 + out.shape[2]
    with nd2.ND2File(info.path) as f:
        sizes = dict(f.sizes)
        _check_unchanged(info, (sizes.get(axis, 1), sizes["Y"], sizes["X"]))
        loops = [k for k in sizes if k not in _ND2_FRAME_AXES]
        shape = [sizes[k] for k in loops]
        for i in range(out.shape[0]):
            coords = [start + i if k == axis else fixed.get(k, 0) for k in loops]
            seq = int(np.ravel_multi_index(coords, shape)) if loops else 0
            frame = np.asarray(f.read_frame(seq))      # (C, Y, X), or (Y, X) for one C
            if "C" in sizes:
                frame = frame[fixed.get("C", 0)]
            out[i] = frame[y0:y1, x0:x1]


def _check_unchanged(info: TiffFileInfo, shape: tuple[int, int, int]) -> None:
    if shape[0] < info.first_frame + info.n_frames or tuple(shape[1:]) != tuple(info.frame_shape):
        raise InputError(f"the file changed since it was inspected (now {shape[0]} frames "
                         f"of {shape[1]}x{shape[2]})", path=info.path,
                         hint="run the command again")


# --- CZI ------------------------------------------------------------------------------

def _inspect_czi(czi, path: str, channel: int | None, position: int | None):
    try:
        with czi.open_czi(path) as r:
            box = r.total_bounding_box_no_pyramid
            scenes = dict(r.scenes_bounding_rectangle_no_pyramid)
            whole = r.total_bounding_rectangle_no_pyramid
            pixel_types = dict(r.pixel_types)
            metadata = r.metadata
    except Exception as exc:  # libCZI raises RuntimeError on bad files
        raise _unreadable(path, "CZI", exc) from None
    sizes = {k: hi - lo for k, (lo, hi) in box.items() if k not in ("X", "Y")}
    _refuse_axes({k: v for k, v in sizes.items() if k not in ("T", "Z", "C")}, path,
                 _CZI_AXIS_NAMES)
    names = _czi_channel_names(metadata)
    c = _choose(sizes.get("C", 1), channel, what="channel", flag="--channel", path=path,
                names=names)
    ids = sorted(scenes)
    s = _choose(max(len(ids), 1), position, what="scene", flag="--position", path=path)
    rect = scenes[ids[s]] if ids else whole
    pixel_type = pixel_types.get(c, "Invalid")
    if "Bgr" in pixel_type:
        _refuse_rgb(path)
    if pixel_type not in _CZI_DTYPES:
        raise InputError(f"pixel type {pixel_type} of channel {c} is not read", path=path,
                         hint="export the movie as 8/16-bit or float grey planes first")
    axis, fixed = _frame_axis(sizes, path)
    plane = (("C", c),) + ((("S", int(ids[s])),) if ids else ()) + tuple(fixed.items())
    shape = (sizes.get(axis, 1), int(rect.h), int(rect.w))
    return shape, _CZI_DTYPES[pixel_type], _czi_pixel_nm(metadata), plane


def _listed(node) -> list:
    return node if isinstance(node, list) else [] if node is None else [node]


def _czi_pixel_nm(metadata: dict) -> float | None:
    """The ``Scaling`` distance of X (in m, as CZI stores it) in nm, None when absent."""
    try:
        items = metadata["ImageDocument"]["Metadata"]["Scaling"]["Items"]["Distance"]
        x_m = next(float(d["Value"]) for d in _listed(items) if d.get("@Id") == "X")
    except (KeyError, TypeError, ValueError, StopIteration):
        return None
    return x_m * 1e9 if x_m > 0 else None


def _czi_channel_names(metadata: dict) -> list[str]:
    try:
        image = metadata["ImageDocument"]["Metadata"]["Information"]["Image"]
        channels = _listed(image["Dimensions"]["Channels"]["Channel"])
    except (KeyError, TypeError):
        return []
    return [str(ch.get("@Name", "")) for ch in channels if isinstance(ch, dict)]


def _read_czi(czi, info: TiffFileInfo, start: int, out: np.ndarray, y0: int, x0: int):
    fixed = dict(info.plane)
    axis = "Z" if "T" in fixed else "T"
    scene = fixed.get("S")
    with czi.open_czi(info.path) as r:
        box = r.total_bounding_box_no_pyramid
        rect = (r.total_bounding_rectangle_no_pyramid if scene is None
                else r.scenes_bounding_rectangle_no_pyramid[scene])
        n = box.get(axis, (0, 1))
        _check_unchanged(info, (n[1] - n[0], int(rect.h), int(rect.w)))
        roi = (rect.x + x0, rect.y + y0, out.shape[2], out.shape[1])
        plane = {k: v for k, v in fixed.items() if k != "S"}
        for i in range(out.shape[0]):
            plane[axis] = start + i
            pixels = r.read(roi=roi, plane=plane, scene=scene)   # (h, w, 1)
            out[i] = pixels[..., 0]


__all__ = ["inspect_vendor", "read_vendor_frames"]
