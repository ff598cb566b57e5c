"""Picasso HDF5 localizations (``.hdf5``/``.h5``) with their YAML sidecar.

What Picasso reads and writes (``picasso/io.py`` ``save_locs``/``load_locs``,
``docs/files.rst``, ``docs/table01.csv``):

* an HDF5 file whose dataset ``/locs`` is a structured (compound) array, written
  with h5py from ``locs.to_records()``; frames ``uint32``, floats ``float32``;
* columns ``frame`` (0-based), ``x``, ``y`` (camera pixels), ``photons``, ``sx``,
  ``sy`` (PSF widths, px), ``bg`` (background photons per pixel), ``lpx``, ``lpy``
  (precision, px), optionally ``z`` (nm, unlike x/y), ``lpz`` (nm),
  ``ellipticity``, ``net_gradient``, ``group``, ``len``, ...; the minimum is
  ``frame, x, y, lpx, lpy``;
* pixel centres at integer coordinates: a fit's ``x`` is its offset from the
  centre of the spot's pixel plus that pixel's index (``gausslq.locs_from_fits``),
  so ``x_px = x_nm / pixel_size_nm - 0.5``;
* a YAML file with the same stem, a multi-document list of info dicts; Picasso
  requires ``Width``, ``Height``, ``Frames`` and ``Pixelsize`` (nm) and drops
  localizations outside ``Width`` x ``Height`` or with NaN values
  (``lib.ensure_sanity``). Since v0.11 it also embeds the info as JSON in
  ``/metadata``; that is read when the YAML is missing.

Mapping: ``sx``/``sy`` times the pixel size are ``sigma_x_nm``/``sigma_y_nm`` and
their mean ``sigma_nm``; ``lpx``/``lpy`` likewise ``uncertainty_x_nm``/
``uncertainty_y_nm`` and ``uncertainty_nm`` (the per-axis columns are kept, so an
astigmatic or anisotropic fit survives a round trip); ``bg`` is ``background``;
``lpz`` becomes ``uncertainty_z_nm``; other fields are kept under their own
(snake_case) names and Picasso's units. Writers take ``sx``/``sy`` from the
per-axis columns, else ``sigma_nm``, and ``lpx``/``lpy`` by
:func:`~smlmscale.io.tables.picasso_rules.lateral_precision_px`: Picasso drops rows
whose precision is NaN, so a table without uncertainties gets a finite estimate
(Mortensen 2010 from photons, sigma and background) and the YAML says so (key
``smlmscale``, ``lpx/lpy``). Canonical columns Picasso has no field for
(``confidence``, ``section``, ``roi``, ``cluster``) and extras are stored as extra
fields. Columns the table did not have are recorded in the YAML (``absent
columns``), so reading back gives the same columns. Rows Picasso itself would drop
(:func:`~smlmscale.io.tables.picasso_rules.picasso_drops`: within half a pixel of
the top or left edge, NaN fields, ...) are written, with a
:class:`~smlmscale.io.tables.notices.TableWarning`. The pixel size is needed both
ways. Round trips are exact to float32.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import yaml

from smlmscale import __version__
from smlmscale.errors import InputError
from smlmscale.io.tables._columns import Rule, apply_rules, extra_rules, output_columns
from smlmscale.io.tables._format import TableFormat
from smlmscale.io.tables._source import Source
from smlmscale.io.tables._text import check_not_binary
from smlmscale.io.tables.notices import warn
from smlmscale.io.tables.picasso_rules import (lateral_precision_px, picasso_drops,
                                               sigma_nm_per_axis)
from smlmscale.io.tables.schema import (CANONICAL_DTYPES, TableMeta, empty_table, validate_table)

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_PX_HINT = "pass --pixel-size NM"
_ALIGN_WINDOW = 1 << 16


def sidecar_path(path: str | os.PathLike) -> Path:
    """The YAML info file Picasso pairs with ``path`` (same stem, ``.yaml``)."""
    return Path(path).with_suffix(".yaml")


def sidecars(path: str | os.PathLike) -> tuple[Path]:
    """The files written beside ``path``: the YAML info."""
    return (sidecar_path(path),)


class _InfoLoader(yaml.SafeLoader):
    """Safe YAML loader that reads Python-specific tags (numpy scalars...) as None."""


_InfoLoader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)


def load_info(path: str | os.PathLike) -> list[dict]:
    """Picasso's info dicts: the YAML sidecar, else the embedded ``/metadata`` JSON, else ``[]``."""
    yaml_path = sidecar_path(path)
    if yaml_path.exists():
        try:
            with open(yaml_path, encoding="utf-8") as handle:
                docs = list(yaml.load_all(handle, Loader=_InfoLoader))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise InputError(f"unreadable YAML metadata: {exc}".splitlines()[0],
                             path=yaml_path) from None
        return [d for d in docs if isinstance(d, dict)]
    with h5py.File(path, "r") as handle:
        if "metadata" in handle:
            raw = handle["metadata"][()]
            try:
                docs = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
            except ValueError:
                return []
            return [d for d in (docs if isinstance(docs, list) else [docs]) if isinstance(d, dict)]
    return []


def _info_value(info: list[dict], key: str) -> Any:
    for doc in info:
        if key in doc and doc[key] is not None:
            return doc[key]
    return None


def _open_locs(path: str) -> tuple[np.dtype, int]:
    with open(path, "rb") as handle:
        head = handle.read(8192)
    if not head.startswith(_HDF5_MAGIC):
        check_not_binary(path, head, expected="a Picasso HDF5 file")
        raise InputError("not an HDF5 file", path=path, hint="check the file and its extension")
    try:
        with h5py.File(path, "r") as handle:
            if "locs" not in handle or not isinstance(handle["locs"], h5py.Dataset):
                hint = ("a DECODE emitter file? pass --from decode" if "data" in handle
                        else "is this a Picasso localization file?")
                raise InputError(f"no 'locs' dataset (found: {', '.join(handle) or 'nothing'})",
                                 path=path, hint=hint)
            dataset = handle["locs"]
            return dataset.dtype, int(dataset.shape[0]) if dataset.shape else 0
    except OSError as exc:
        raise InputError(f"broken or unreadable HDF5 file ({exc})", path=path) from None


@dataclass(frozen=True)
class _Reader:
    path: str
    rules: tuple[Rule, ...]

    def __call__(self, block: tuple[int, int]) -> pd.DataFrame:
        with h5py.File(self.path, "r") as handle:
            records = handle["locs"][block[0]:block[1]]
        raw = pd.DataFrame({name: records[name] for name in records.dtype.names})
        return validate_table(apply_rules(raw, list(self.rules)), path=self.path,
                              where=f"rows {block[0]}-{block[1] - 1} of /locs")


@dataclass(frozen=True)
class _Frames:
    path: str

    def __call__(self, block: tuple[int, int]) -> np.ndarray:
        with h5py.File(self.path, "r") as handle:
            return handle["locs"].fields("frame")[block[0]:block[1]].astype(np.int64)


def _plan(names: tuple[str, ...], pixel_size_nm: float, absent: set[str]) -> list[Rule]:
    half = 0.5 * pixel_size_nm
    rules = [Rule("frame", ("frame",)), Rule("x_nm", ("x",), pixel_size_nm, half),
             Rule("y_nm", ("y",), pixel_size_nm, half)]
    pairs = {"z_nm": ("z",), "photons": ("photons",), "background": ("bg",),
             "sigma_nm": ("sx", "sy") if "sy" in names else ("sx",),
             "uncertainty_nm": ("lpx", "lpy") if "lpy" in names else ("lpx",),
             "uncertainty_z_nm": ("lpz",)}
    if "sy" in names:
        pairs.update(sigma_x_nm=("sx",), sigma_y_nm=("sy",))
    if "lpy" in names:
        pairs.update(uncertainty_x_nm=("lpx",), uncertainty_y_nm=("lpy",))
    scaled = {"sigma_nm", "uncertainty_nm", "sigma_x_nm", "sigma_y_nm", "uncertainty_x_nm",
              "uncertainty_y_nm"}
    for target, sources in pairs.items():
        if sources[0] in names:
            rules.append(Rule(target, sources, pixel_size_nm if target in scaled else 1.0))
    used = {s for r in rules for s in r.sources}
    rules += extra_rules([n for n in names if n not in absent], used, {r.target for r in rules})
    return [r for r in rules if r.target not in absent]


def _row_blocks(path: str, n_rows: int, rows_per_block: int | None) -> list[tuple[int, int]]:
    if rows_per_block is None or n_rows <= rows_per_block:
        return [(0, n_rows)]
    bounds = [0]
    with h5py.File(path, "r") as handle:
        frames = handle["locs"].fields("frame")
        cut = rows_per_block
        while cut < n_rows:
            window = frames[cut - 1:min(n_rows, cut + _ALIGN_WINDOW)]
            change = np.flatnonzero(window[1:] != window[0])
            if change.size:
                cut = cut + int(change[0])
            if cut >= n_rows:
                break
            bounds.append(cut)
            cut += rows_per_block
    bounds.append(n_rows)
    return list(zip(bounds[:-1], bounds[1:]))


def open_source(path: str | os.PathLike, *, pixel_size_nm: float | None,
                blocksize: int | None) -> Source:
    """Open a Picasso HDF5 localization file (and its YAML sidecar)."""
    path = os.fspath(path)
    dtype, n_rows = _open_locs(path)
    names = dtype.names or ()
    missing = [n for n in ("frame", "x", "y") if n not in names]
    if missing:
        raise InputError(f"/locs has no field(s) {', '.join(missing)} (fields: "
                         f"{', '.join(names) or 'none'})", path=path)
    if n_rows == 0:
        raise InputError("/locs holds no localizations", path=path)
    info = load_info(path)
    stored = _info_value(info, "smlmscale") or {}
    stored_meta = TableMeta.from_dict({k: v for k, v in stored.items() if k != "absent columns"})
    pixel_size = pixel_size_nm or _info_value(info, "Pixelsize") or stored_meta.pixel_size_nm
    if pixel_size is None:
        raise InputError("the pixel size is unknown: no Pixelsize in the YAML metadata",
                         path=path, hint=_PX_HINT)
    width, height = _info_value(info, "Width"), _info_value(info, "Height")
    shape = (int(height), int(width)) if width and height else stored_meta.image_shape
    frames = _info_value(info, "Frames")
    meta = stored_meta.replace(pixel_size_nm=float(pixel_size), image_shape=shape,
                               n_frames=None if frames is None else int(frames), source=path)
    rules = _plan(names, float(pixel_size), set(stored.get("absent columns") or ()))
    dtypes = {r.target: dtype[r.sources[0]] for r in rules if r.target not in CANONICAL_DTYPES}
    dtypes = {k: (np.dtype(np.int64) if v == np.bool_ else v) for k, v in dtypes.items()}
    rows_per_block = None if blocksize is None else max(1, blocksize // dtype.itemsize)
    return Source(path=path, format="picasso", meta=meta,
                  empty=empty_table(output_columns(rules), dtypes),
                  blocks=_row_blocks(path, n_rows, rows_per_block),
                  read=_Reader(path, tuple(rules)), frames=_Frames(path))


_PER_AXIS = ("sigma_x_nm", "sigma_y_nm", "uncertainty_x_nm", "uncertainty_y_nm")
_MAPPED = {"frame", "x_nm", "y_nm", "z_nm", "photons", "sigma_nm", "background",
           "uncertainty_nm", "uncertainty_z_nm", *_PER_AXIS}


def _absent(df: pd.DataFrame) -> list[str]:
    """Columns a read-back would have that ``df`` has not (Picasso always has lpx/lpy)."""
    absent = [c for c in ("uncertainty_nm", "uncertainty_x_nm", "uncertainty_y_nm")
              if c not in df.columns]
    if sigma_nm_per_axis(df) is not None:
        absent += [c for c in ("sigma_nm", "sigma_x_nm", "sigma_y_nm") if c not in df.columns]
    return absent


def _records(df: pd.DataFrame, pixel_size_nm: float) -> tuple[np.ndarray, list[str], str]:
    """A Picasso structured array for one canonical partition, the absent columns, and
    how ``lpx``/``lpy`` were obtained."""
    frames = df["frame"].to_numpy()
    if frames.size and frames.max() > np.iinfo(np.uint32).max:
        raise InputError("frame numbers above 2**32 - 1 do not fit Picasso's uint32 frames")
    fields: dict[str, np.ndarray] = {
        "frame": frames.astype(np.uint32),
        "x": (df["x_nm"].to_numpy() / pixel_size_nm - 0.5).astype(np.float32),
        "y": (df["y_nm"].to_numpy() / pixel_size_nm - 0.5).astype(np.float32)}
    if "z_nm" in df.columns:
        fields["z"] = df["z_nm"].to_numpy(np.float32)
    if "photons" in df.columns:
        fields["photons"] = df["photons"].to_numpy(np.float32)
    sigma = sigma_nm_per_axis(df)
    if sigma is not None:
        fields["sx"], fields["sy"] = ((v / pixel_size_nm).astype(np.float32) for v in sigma)
    if "background" in df.columns:
        fields["bg"] = df["background"].to_numpy(np.float32)
    fields["lpx"], fields["lpy"], how = lateral_precision_px(df, pixel_size_nm)
    if "uncertainty_z_nm" in df.columns:
        fields["lpz"] = df["uncertainty_z_nm"].to_numpy(np.float32)
    for name in df.columns:
        if name in _MAPPED:
            continue
        values = df[name].to_numpy()
        key, k = name, 2
        while key in fields:
            key, k = f"{name}_{k}", k + 1
        fields[key] = values.astype(np.float32) if values.dtype.kind == "f" else values
    out = np.empty(len(df), dtype=[(k, v.dtype) for k, v in fields.items()])
    for key, values in fields.items():
        out[key] = values
    return out, _absent(df), how


def write(partitions, temps: tuple[Path, Path], meta: TableMeta) -> int:
    """Write canonical partitions as Picasso ``/locs`` plus the YAML info (both to temps)."""
    pixel_size = meta.pixel_size_nm
    if pixel_size is None:
        raise InputError("the pixel size is needed to write Picasso HDF5 (x/y in pixels)",
                         hint=_PX_HINT)
    rows, max_x, max_y, max_frame, absent, how = 0, 0.0, 0.0, -1, [], None
    shape = meta.image_shape
    dropped = 0
    with h5py.File(temps[0], "w") as handle:
        dataset = None
        for df in partitions:
            if not len(df):
                continue
            records, absent, how = _records(df, pixel_size)
            if dataset is None:
                dataset = handle.create_dataset("locs", data=records, maxshape=(None,),
                                                chunks=(min(max(len(records), 1), 1 << 16),))
            elif records.dtype != dataset.dtype:
                raise InputError(f"partitions have different columns: {records.dtype.names} "
                                 f"after {dataset.dtype.names}")
            else:
                dataset.resize((rows + len(records),))
                dataset[rows:] = records
            rows += len(records)
            if shape is not None:
                dropped += picasso_drops(records, width=shape[1], height=shape[0])
            else:  # the size is the data's extent: only the edges and values can drop rows
                dropped += picasso_drops(records, width=np.inf, height=np.inf)
            max_x = max(max_x, float(df["x_nm"].max()))
            max_y = max(max_y, float(df["y_nm"].max()))
            max_frame = max(max_frame, int(df["frame"].max()))
    if meta.image_shape is not None:
        height, width = meta.image_shape
    else:
        height = max(1, math.ceil(max_y / pixel_size))
        width = max(1, math.ceil(max_x / pixel_size))
    stored = meta.to_dict()
    stored["absent columns"] = absent
    stored["lpx/lpy"] = how
    if dropped:
        warn(f"{dropped} of {rows} localizations will be dropped by Picasso when it loads "
             f"the file (lib.ensure_sanity: within half a pixel of the top or left edge, "
             f"outside Width x Height, NaN or negative values)")
    info = {"Generated by": f"smlmscale {__version__}",
            "Frames": int(meta.n_frames if meta.n_frames is not None else max_frame + 1),
            "Height": int(height), "Width": int(width), "Pixelsize": float(pixel_size),
            "smlmscale": json.loads(json.dumps(stored, default=str))}
    with open(temps[1], "w", encoding="utf-8") as handle:
        yaml.safe_dump_all([info], handle, default_flow_style=False, sort_keys=False)
    return rows


FORMAT = TableFormat("picasso", "Picasso HDF5 /locs + YAML (0-based frames, px, centre-origin)",
                     read=open_source, write=write, extensions=(".hdf5", ".h5"),
                     aliases=("hdf5",), sidecars=sidecars, write_needs_pixel_size=True)
