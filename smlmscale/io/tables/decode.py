"""DECODE emitter HDF5 (``EmitterSet.save("*.h5")``; read).

Layout, from DECODE's ``decode/utils/emitter_io.py`` ``save_h5``: group ``/meta``
whose attributes are the emitter metadata (``xy_unit``: ``"px"`` or ``"nm"``,
``px_size``: ``(x, y)`` nm), group ``/decode`` (attribute ``version``), group ``/data``
with datasets ``xyz`` (N x 3), ``phot``, ``frame_ix``, ``id``, ``prob``, ``bg`` and
``xyz_sig``, ``xyz_cr``, ``phot_sig``, ``phot_cr``, ``bg_sig``, ``bg_cr``, each either
an array or ``h5py.Empty`` when DECODE had no values. locan 0.22 reads the same
layout (``locan_io/locdata/decode_io.py``).

Conventions (DECODE): frames ``frame_ix`` are 0-based; x/y are in ``xy_unit``, with
pixel centres at integer coordinates (``frame_extent`` and ``psf_extent`` of an
``N``-pixel frame are ``(-0.5, N - 0.5)`` in ``reference.yaml``) and nm values the
px values times ``px_size``; DECODE's ``x`` is the first image axis (the row: its
SMLM-challenge import swaps the challenge's x and y, ``emitter_trafo.py``
``xyz_axis = (1, 0, 2)``, and shifts them by half a pixel); ``z`` is nm. So
``x_nm = (y * s_y + s_y / 2)`` and ``y_nm = (x * s_x + s_x / 2)``, with ``s`` the
pixel size for ``px`` and 1 for ``nm`` values (the half pixel needs the pixel size
either way: ``px_size``, else ``--pixel-size``). ``phot`` is ``photons``, ``bg``
``background``, ``prob`` ``confidence``; ``xyz_sig`` gives
``uncertainty_x_nm``/``uncertainty_y_nm`` (their mean ``uncertainty_nm``) and
``uncertainty_z_nm``; ``id`` and the 1-D ``*_sig``/``*_cr`` are kept as extras
(``xyz_cr`` is not read).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import h5py
import numpy as np
import pandas as pd

from smlmscale.errors import InputError
from smlmscale.io.tables._format import TableFormat
from smlmscale.io.tables._source import Source
from smlmscale.io.tables.schema import TableMeta, empty_table, ordered_columns, validate_table

_EXTRAS = ("id", "phot_sig", "phot_cr", "bg_sig", "bg_cr")
_PX_HINT = "pass --pixel-size NM"


def is_decode(path: str | os.PathLike) -> bool:
    """Whether an HDF5 file has DECODE's ``/data/xyz`` and ``/data/frame_ix``."""
    try:
        with h5py.File(path, "r") as handle:
            data = handle.get("data")
            return isinstance(data, h5py.Group) and "xyz" in data and "frame_ix" in data
    except OSError:
        return False


def _present(data: h5py.Group, name: str) -> bool:
    return name in data and data[name].shape is not None and data[name].shape != ()


@dataclass(frozen=True)
class _Reader:
    path: str
    scale: tuple[float, float]
    half: tuple[float, float]
    columns: tuple[str, ...]

    def _rows(self, block: tuple[int, int]) -> dict[str, np.ndarray]:
        a, b = block
        with h5py.File(self.path, "r") as handle:
            data = handle["data"]
            xyz = data["xyz"][a:b].astype(np.float64)
            out = {"frame": data["frame_ix"][a:b],
                   "x_nm": xyz[:, 1] * self.scale[1] + self.half[1],
                   "y_nm": xyz[:, 0] * self.scale[0] + self.half[0]}
            if "z_nm" in self.columns:
                out["z_nm"] = xyz[:, 2]
            for name, target in (("phot", "photons"), ("bg", "background"),
                                 ("prob", "confidence")):
                if target in self.columns:
                    out[target] = data[name][a:b]
            if "uncertainty_nm" in self.columns:
                sig = data["xyz_sig"][a:b].astype(np.float64)
                out["uncertainty_x_nm"] = sig[:, 1] * self.scale[1]
                out["uncertainty_y_nm"] = sig[:, 0] * self.scale[0]
                out["uncertainty_nm"] = 0.5 * (out["uncertainty_x_nm"] + out["uncertainty_y_nm"])
                out["uncertainty_z_nm"] = sig[:, 2]
            for name in _EXTRAS:
                if name in self.columns:
                    out[name] = data[name][a:b]
        return out

    def __call__(self, block: tuple[int, int]) -> pd.DataFrame:
        return validate_table(pd.DataFrame(self._rows(block)), path=self.path,
                              where=f"rows {block[0]}-{block[1] - 1} of /data")


@dataclass(frozen=True)
class _Frames:
    path: str

    def __call__(self, block: tuple[int, int]) -> np.ndarray:
        with h5py.File(self.path, "r") as handle:
            return handle["data"]["frame_ix"][block[0]:block[1]].astype(np.int64)


def _meta_pixel_size(meta: dict, pixel_size_nm: float | None, path: str) -> tuple[float, float]:
    if pixel_size_nm is not None:
        return float(pixel_size_nm), float(pixel_size_nm)
    size = meta.get("px_size")
    if size is None:
        raise InputError("the pixel size is unknown: no px_size in /meta", path=path,
                         hint=_PX_HINT)
    size = np.atleast_1d(np.asarray(size, dtype=np.float64))
    return float(size[0]), float(size[-1])


def open_source(path: str | os.PathLike, *, pixel_size_nm: float | None,
                blocksize: int | None) -> Source:
    """Open a DECODE emitter HDF5 file."""
    path = os.fspath(path)
    if not is_decode(path):
        raise InputError("not a DECODE emitter file (no /data/xyz and /data/frame_ix)",
                         path=path, hint="check --from")
    with h5py.File(path, "r") as handle:
        data, meta = handle["data"], dict(handle["meta"].attrs) if "meta" in handle else {}
        n_rows = int(data["xyz"].shape[0]) if _present(data, "xyz") else 0
        present = {name for name in data if _present(data, name)}
    if n_rows == 0:
        raise InputError("/data/xyz holds no emitters", path=path)
    unit = meta.get("xy_unit", "px")
    unit = unit.decode() if isinstance(unit, bytes) else str(unit)
    if unit not in ("px", "nm"):
        raise InputError(f"unknown xy_unit {unit!r} in /meta", path=path,
                         hint="DECODE writes px or nm")
    px = _meta_pixel_size(meta, pixel_size_nm, path)
    scale = px if unit == "px" else (1.0, 1.0)
    columns = ["frame", "x_nm", "y_nm", "z_nm"]
    columns += [t for n, t in (("phot", "photons"), ("bg", "background"),
                               ("prob", "confidence")) if n in present]
    if "xyz_sig" in present:
        columns += ["uncertainty_nm", "uncertainty_x_nm", "uncertainty_y_nm", "uncertainty_z_nm"]
    columns += [n for n in _EXTRAS if n in present]
    rows = n_rows if blocksize is None else max(1, blocksize // 64)
    blocks = [(a, min(n_rows, a + rows)) for a in range(0, n_rows, rows)]
    table_meta = TableMeta(pixel_size_nm=px[1], source=path,
                           extra={"decode xy_unit": unit})
    reader = _Reader(path, scale, (0.5 * px[0], 0.5 * px[1]), tuple(columns))
    empty = empty_table(ordered_columns(columns), {"id": np.int64})
    return Source(path=path, format="decode", meta=table_meta, empty=empty,
                  blocks=blocks, read=reader, frames=_Frames(path))


FORMAT = TableFormat("decode", "DECODE emitter HDF5 (0-based frames, px or nm, "
                               "centre-origin, x/y swapped; read)",
                     read=open_source, aliases=("decode_h5",))
