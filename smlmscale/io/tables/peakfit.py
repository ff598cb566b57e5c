"""GDSC SMLM PeakFit results, the tab-separated text ``.xls`` (read only).

What GDSC SMLM writes (``FilePeakResults.createResultsHeader`` and
``TextFilePeakResults.getFieldNames``, version 4):

* ``#`` header lines: ``#Localisation Results File``, ``#FileVersion Text.D0.E0.V4``,
  ``#Name ...``, ``#Source <xml>`` (with ``<width>``, ``<height>``, ``<frames>``),
  ``#Bounds x0 y0 w512 h512``, ``#Calibration {json}`` (protobuf JSON with
  ``"nmPerPixel"``; versions 1-3 wrote XML ``<nmPerPixel>107.0</nmPerPixel>``),
  ``#Configuration ...``, ``#PSF {json}``;
* the column header, also a ``#`` line: ``#Frame origX origY origValue Error
  Noise (photon) Mean (photon) Background (photon) Intensity (photon) X (px) Y (px)
  S (px) Precision (nm)`` (optional ``Id``, ``End Frame``, ``Z``, ``X SD``/``Y SD``,
  ``+/-`` deviation columns after each parameter; versions 1-2 had ``Signal``,
  ``SNR``, ``Amplitude``, ``Angle`` and unit-less ``X``, ``Y`` in pixels).
  Users often delete the first lines and the ``#`` before ``Frame`` (seed 001),
  sometimes re-saving with commas: both are read;
* computed precisions end in ``*`` (``addPrecision``): stripped.

Conventions: ``Frame`` is the 1-based ImageJ slice. X/Y are in the unit named
in the header (``px`` when none is named) with the origin at the image corner:
the fit works in window coordinates with pixel centres at integers and
``FitWorker`` adds ``fromFitRegionToGlobalX() = 0.5 + bounds.x + region.x``, so
the centre of pixel ``i`` is ``i + 0.5`` px and ``x_nm = X_px * nmPerPixel``.
``origX``/``origY`` are integer pixel indices (kept as ``orig_x``/``orig_y``);
a file with only those gives ``x_nm = (origX + 0.5) * pixel size``.
``Signal``/``Intensity`` -> ``photons``, ``Background`` -> ``background``,
``Precision`` -> ``uncertainty_nm``, ``S`` (or the mean of ``X SD`` and ``Y SD``,
which are also kept as ``sigma_x_nm``/``sigma_y_nm``) -> ``sigma_nm``. Intensities
are taken in the unit GDSC wrote (photons by default; assumption: no conversion
from counts). ``End Frame`` becomes 0-based ``end_frame``. The pixel size comes
from ``pixel_size_nm=`` or else the ``#Calibration`` line; it is required when
positions are in pixels.
"""

from __future__ import annotations

import re

from smlmscale.errors import InputError
from smlmscale.io.tables import _text
from smlmscale.io.tables._columns import Rule, extra_rules, length_scale, split_unit
from smlmscale.io.tables._format import TableFormat
from smlmscale.io.tables._source import Source, open_text_source
from smlmscale.io.tables.schema import TableMeta

_NM_PER_PIXEL = re.compile(r"nmPerPixel\W{0,4}?([0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)")
_BOUNDS = re.compile(r"^Bounds\s+x(-?\d+)\s+y(-?\d+)\s+w(\d+)\s+h(\d+)")
_TAG = "<{0}>\\s*(\\d+)\\s*</{0}>"


def header_info(comments: tuple[str, ...]) -> dict:
    """Pixel size, image shape and frame count from PeakFit ``#`` header lines.

    Examples
    --------
    >>> header_info(('Calibration {"distanceCalibration":{"nmPerPixel":107.0}}',
    ...              'Bounds x0 y0 w64 h32'))
    {'pixel_size_nm': 107.0, 'image_shape': (32, 64)}
    """
    info: dict = {}
    for line in comments:
        text = line.strip()
        if text.startswith("Calibration") and "pixel_size_nm" not in info:
            match = _NM_PER_PIXEL.search(text)
            if match and float(match.group(1)) > 0:
                info["pixel_size_nm"] = float(match.group(1))
        elif text.startswith("Bounds"):
            match = _BOUNDS.match(text)
            if match:
                x0, y0, w, h = (int(g) for g in match.groups())
                info["image_shape"] = (y0 + h, x0 + w)
        elif text.startswith("Source"):
            found = {k: re.search(_TAG.format(k), text) for k in ("width", "height", "frames")}
            if found["frames"]:
                info["n_frames"] = int(found["frames"].group(1))
            if found["width"] and found["height"] and "image_shape" not in info:
                info["image_shape"] = (int(found["height"].group(1)), int(found["width"].group(1)))
    return info


def plan(layout: _text.TextLayout, *, pixel_size_nm: float | None) -> list[Rule]:
    """Column rules for a PeakFit header."""
    def nm(name: str, unit: str | None, default: str = "px") -> float:
        return length_scale(unit, column=name, pixel_size_nm=pixel_size_nm, path=layout.path,
                            default=default, fmt="PeakFit")

    by_base = {split_unit(n)[0]: n for n in reversed(layout.names)}
    rules: list[Rule] = []
    used: set[str] = set()

    def add(rule: Rule) -> None:
        if rule.target not in {r.target for r in rules}:
            rules.append(rule)
            used.update(rule.sources)

    for name in layout.names:
        base, unit = split_unit(name)
        if base == "frame":
            add(Rule("frame", (name,), 1.0, -1.0))
        elif base == "end frame":
            add(Rule("end_frame", (name,), 1.0, -1.0))
        elif base in ("x", "y", "z"):
            add(Rule(f"{base}_nm", (name,), nm(name, unit)))
        elif base in ("signal", "intensity"):
            add(Rule("photons", (name,)))
        elif base == "background":
            add(Rule("background", (name,)))
        elif base == "precision":
            add(Rule("uncertainty_nm", (name,), nm(name, unit, default="nm")))
        elif base == "s":
            add(Rule("sigma_nm", (name,), nm(name, unit)))
    if "x sd" in by_base and "y sd" in by_base:
        sx, sy = by_base["x sd"], by_base["y sd"]
        scale = nm(sx, split_unit(sx)[1])
        add(Rule("sigma_nm", (sx, sy), scale))
        add(Rule("sigma_x_nm", (sx,), scale))
        add(Rule("sigma_y_nm", (sy,), nm(sy, split_unit(sy)[1])))
    for axis in ("x", "y"):
        orig = by_base.get(f"orig{axis}")
        if f"{axis}_nm" not in {r.target for r in rules} and orig is not None:
            scale = nm(orig, "px")
            rules.append(Rule(f"{axis}_nm", (orig,), scale, 0.5 * scale))
    targets = {r.target for r in rules}
    missing = [t for t in ("frame", "x_nm", "y_nm") if t not in targets]
    if missing:
        raise InputError(f"no column for {', '.join(missing)} in this PeakFit file (columns: "
                         f"{', '.join(repr(n) for n in layout.names)})", path=layout.path,
                         hint="expected a header like #Frame origX origY ... X (px) Y (px)")
    rules += extra_rules(layout.names, used, targets)
    return rules


def sniff(layout: _text.TextLayout) -> int:
    """100 for GDSC's ``#Localisation Results`` line or its ``origX``/``origY``/``origValue``."""
    bases = {split_unit(n)[0] for n in layout.names}
    if any("localisation results" in c.lower() for c in layout.comments) or \
            {"origx", "origy"} & bases or "origvalue" in bases:
        return 100
    return 0


def open_source(layout: _text.TextLayout, *, pixel_size_nm: float | None,
                blocksize: int | None) -> Source:
    """Open a GDSC SMLM PeakFit results file."""
    info = header_info(layout.comments)
    pixel_size = pixel_size_nm if pixel_size_nm is not None else info.get("pixel_size_nm")
    rules = plan(layout, pixel_size_nm=pixel_size)
    meta = TableMeta(pixel_size_nm=pixel_size, image_shape=info.get("image_shape"),
                     n_frames=info.get("n_frames"), source=layout.path)
    return open_text_source(layout, rules, fmt="peakfit", meta=meta, blocksize=blocksize,
                            strip="*", frame_hint="PeakFit frames start at 1")


FORMAT = TableFormat("peakfit", "GDSC SMLM PeakFit results, tab-separated text",
                     read=open_source, extensions=(".xls",), sniff=sniff, aliases=("gdsc",))
