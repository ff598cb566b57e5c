"""ThunderSTORM CSV, and the ThunderSTORM-style CSV that Picasso exports.

ThunderSTORM (format name ``thunderstorm``)
    Header ``"id","frame","x [nm]","y [nm]","sigma [nm]","intensity [photon]",
    "offset [photon]","bkgstd [photon]","uncertainty_xy [nm]"`` (older versions:
    ``"uncertainty [nm]"``; 3D: ``"z [nm]"``, ``"sigma1 [nm]"``, ``"sigma2 [nm]"``,
    ``"uncertainty_z [nm]"``; optional ``"chi2"``, ``"detections"``). Frames are
    1-based (ImageJ slices). Positions are in nm with the origin at the top-left
    corner of the image, the canonical convention: ThunderSTORM's fitters add
    ``+ 0.5`` to the integer pixel index of the fitting window
    (``MultipleLocationsImageFitting.java``: ``psf.setX(psf.getX() + xInt + 0.5)``),
    so the centre of pixel ``i`` is ``i + 0.5`` px, and its FAQ says the x/y columns
    match ImageJ's image coordinates. So ``x_nm`` is ``x [nm]`` unchanged.
    ``offset`` (the fitted per-pixel background, photons) maps to ``background``;
    ``id`` is a 1-based row counter, dropped on read and renumbered on write.
    Columns in px (``"x [px]"``) are converted with the pixel size.

Picasso CSV export (format name ``picasso_csv``)
    Picasso's ``io.export_thunderstorm`` writes the same header, but ``id`` counts
    from 0, ``frame`` is Picasso's 0-based frame, and ``x [nm] = x_px * pixelsize``
    where Picasso's ``x_px`` has pixel centres at integer values (``gausslq.py``:
    ``x = theta[:, 0] + identifications["x"]``, the fit offset from the centre of
    the spot's pixel). So ``x_nm = x [nm] + pixel_size_nm / 2``: reading needs
    the pixel size. ``sigma1/sigma2 [nm]`` are its ``sx``/``sy``; ``bkgstd`` is 0.
    A ThunderSTORM-style file whose first ``id`` is 0 is taken to be this export
    (assumption: ThunderSTORM numbers rows from 1).

Pixel size: a ThunderSTORM CSV does not hold one, but ThunderSTORM's export can
save a protocol beside it (``<name>-protocol.txt``) whose camera settings hold
``"pixelSize": <nm>``; when the caller gives no pixel size, it is taken from there.
"""

from __future__ import annotations

import functools
import os
import re
from typing import Any

import numpy as np
import pandas as pd

from smlmscale.errors import InputError
from smlmscale.io.tables import _text
from smlmscale.io.tables._columns import Rule, length_scale, split_unit
from smlmscale.io.tables._format import TableFormat
from smlmscale.io.tables._source import (Source, add_column, finish_rules, open_text_source,
                                         write_text)
from smlmscale.io.tables.schema import TableMeta

#: Extra columns ThunderSTORM names natively: snake_case name -> ThunderSTORM name.
NATIVE_EXTRAS = {
    "bkgstd_photon": "bkgstd [photon]", "uncertainty_z_nm": "uncertainty_z [nm]",
    "sigma1_nm": "sigma1 [nm]", "sigma2_nm": "sigma2 [nm]", "chi2": "chi2",
    "detections": "detections",
}
_LENGTH_TARGETS = {"x": "x_nm", "y": "y_nm", "z": "z_nm", "sigma": "sigma_nm",
                   "uncertainty_xy": "uncertainty_nm", "uncertainty": "uncertainty_nm"}
_PHOTON_TARGETS = {"intensity": "photons", "offset": "background"}
_PICASSO_HINT = ("a Picasso CSV export measures x/y from the centre of pixel (0, 0); "
                 "pass --pixel-size NM, or --from thunderstorm if ThunderSTORM wrote it")


def plan(layout: _text.TextLayout, *, pixel_size_nm: float | None,
         picasso: bool = False) -> list[Rule]:
    """Column rules for a ThunderSTORM (or Picasso-export) header."""
    fmt = "Picasso CSV" if picasso else "ThunderSTORM"
    if picasso and pixel_size_nm is None:
        raise InputError("the pixel size is needed to read a Picasso CSV export",
                         path=layout.path, hint=_PICASSO_HINT)
    half_px = 0.5 * pixel_size_nm if picasso else 0.0
    candidates: list[tuple[str, Rule]] = []
    ignored: list[str] = []
    for name in layout.names:
        base, unit = split_unit(name)
        rule = None
        if base == "id" and unit is None:
            ignored.append(name)
            continue
        if base == "frame":
            rule = Rule("frame", (name,), 1.0, 0.0 if picasso else -1.0)
        elif base in _LENGTH_TARGETS:
            scale = length_scale(unit, column=name, pixel_size_nm=pixel_size_nm,
                                 path=layout.path, fmt=fmt)
            offset = half_px if base in ("x", "y") else 0.0
            rule = Rule(_LENGTH_TARGETS[base], (name,), scale, offset)
        elif base in _PHOTON_TARGETS and unit in (None, "photon", "photons"):
            rule = Rule(_PHOTON_TARGETS[base], (name,))
        if rule is not None:
            candidates.append((name, rule))
    return finish_rules(layout, candidates, fmt, ignored=ignored)


def sniff(layout: _text.TextLayout) -> int:
    """60 for a header with two of ``frame``, ``x`` and ``y`` (any unit; the reader names
    a missing one)."""
    return 60 if len({"frame", "x", "y"} & {split_unit(n)[0] for n in layout.names}) >= 2 \
        else 0


def sniff_picasso(layout: _text.TextLayout) -> int:
    """61 for a ThunderSTORM-style header whose first ``id`` is 0 (Picasso's export)."""
    if not sniff(layout) or "id" not in (n.lower() for n in layout.names):
        return 0
    return 61 if _first_id(layout) == 0 else 0


def _first_id(layout: _text.TextLayout) -> float | None:
    block = _text.TextBlock(layout.data_start, min(layout.size, layout.data_start + 65536), None)
    with open(layout.path, "rb") as handle:
        handle.seek(block.start)
        for line in handle.read(block.end - block.start).splitlines():
            text = line.decode("utf-8", "replace").strip()
            if text and not text.startswith("#"):
                fields = _text.split_fields(text, layout.sep)
                index = [n.lower() for n in layout.names].index("id")
                try:
                    return float(fields[index])
                except (IndexError, ValueError):
                    return None
    return None


def protocol_pixel_size_nm(path: str | os.PathLike) -> float | None:
    """Camera pixel size (nm) from ThunderSTORM's ``<name>-protocol.txt`` beside ``path``.

    Returns None when there is no protocol file or it names no ``pixelSize``.
    """
    stem, _ = os.path.splitext(os.fspath(path))
    try:
        with open(f"{stem}-protocol.txt", encoding="utf-8", errors="replace") as fh:
            text = fh.read(1_000_000)
    except OSError:
        return None
    match = re.search(r'"pixelSize"\s*:\s*([0-9.eE+-]+)', text)
    try:
        value = float(match.group(1)) if match else None
    except ValueError:
        return None
    return value if value is not None and np.isfinite(value) and value > 0 else None


def open_source(layout: _text.TextLayout, *, pixel_size_nm: float | None,
                blocksize: int | None, picasso: bool = False) -> Source:
    """Open a ThunderSTORM (or Picasso-export) CSV."""
    if pixel_size_nm is None and not picasso:
        pixel_size_nm = protocol_pixel_size_nm(layout.path)
    rules = plan(layout, pixel_size_nm=pixel_size_nm, picasso=picasso)
    meta = TableMeta(pixel_size_nm=pixel_size_nm, source=layout.path)
    hint = None if picasso else (
        "ThunderSTORM frames start at 1; if this file's frames count from 0 (locan writes "
        "such files), pass --frame-base 0 (--from picasso_csv is for Picasso's export only: "
        "it also moves x/y by half a pixel)")
    return open_text_source(layout, rules, fmt="picasso_csv" if picasso else "thunderstorm",
                            meta=meta, blocksize=blocksize, frame_hint=hint)


def _converter(picasso: bool, pixel_size_nm: float | None):
    half_px = 0.5 * pixel_size_nm if picasso else 0.0

    def convert(df: pd.DataFrame, row_offset: int) -> pd.DataFrame:
        start = row_offset if picasso else row_offset + 1
        out: dict[str, Any] = {"id": np.arange(start, start + len(df), dtype=np.int64),
                               "frame": df["frame"].to_numpy() + (0 if picasso else 1),
                               "x [nm]": df["x_nm"].to_numpy() - half_px,
                               "y [nm]": df["y_nm"].to_numpy() - half_px}
        for canonical, native in (("z_nm", "z [nm]"), ("sigma_nm", "sigma [nm]"),
                                  ("photons", "intensity [photon]"),
                                  ("background", "offset [photon]"),
                                  ("uncertainty_nm", "uncertainty_xy [nm]")):
            if canonical in df.columns:
                out[native] = df[canonical].to_numpy()
        done = {"frame", "x_nm", "y_nm", "z_nm", "sigma_nm", "photons", "background",
                "uncertainty_nm"}
        for name in df.columns:
            if name not in done:
                add_column(out, NATIVE_EXTRAS.get(name, name), df[name].to_numpy())
        return pd.DataFrame(out)

    return convert


def write(partitions, temps, meta: TableMeta, *, picasso: bool = False) -> int:
    """Write canonical partitions as ThunderSTORM CSV (or Picasso's export with ``picasso``)."""
    if picasso and meta.pixel_size_nm is None:
        raise InputError("the pixel size is needed to write a Picasso CSV export",
                         hint="pass --pixel-size NM")
    convert = _converter(picasso, meta.pixel_size_nm)
    return write_text(partitions, temps[0], convert, sep=",", quote_header=not picasso)


FORMAT = TableFormat("thunderstorm", "ThunderSTORM CSV (1-based frames, nm)",
                     read=open_source, write=write, extensions=(".csv",), sniff=sniff,
                     aliases=("ts",))
PICASSO_CSV = TableFormat("picasso_csv",
                          "Picasso's ThunderSTORM-style CSV export (0-based frames)",
                          read=functools.partial(open_source, picasso=True),
                          write=functools.partial(write, picasso=True), sniff=sniff_picasso,
                          write_needs_pixel_size=True)
