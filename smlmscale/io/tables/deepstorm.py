"""DeepSTORM / ZeroCostDL4Mic Deep-STORM 2D localization CSV.

Two flavours share this format (name ``deepstorm``):

* training localizations, header ``,frame,x [nm],y [nm],Photon #,Sigma [nm]``:
  a leading unnamed 1-based row index (pandas ``to_csv`` of a frame whose index
  starts at 1, "same as ThunderSTORM" in the notebook), then 1-based frames
  (often written as floats, ``1.0``);
* prediction output, header ``frame,x [nm],y [nm],confidence [a.u]``, 1-based
  frames (the notebook writes ``b*batch_size + 1`` onwards).

Positions are in nm from the top-left corner of the image. ZeroCostDL4Mic's
simulator draws emitters uniformly in ``[0, FOV]`` nm and integrates pixel ``i``
over ``[i, i + 1) * pixel_size`` (``FromLoc2Image_Erf``), and its training data
otherwise come from ThunderSTORM, whose origin is the same corner; so ``x_nm``
is ``x [nm]`` unchanged. (The notebook rasterizes positions onto its
super-resolved grid with ``round(x / pixel_size_hr)`` in the copy we read, and
writes predictions as ``index * pixel_size_hr``: both are properties of its
rendering, not of the file's coordinate system.) ``Photon #`` maps to
``photons``, ``Sigma [nm]`` to ``sigma_nm``, ``confidence [a.u]`` to ``confidence``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from smlmscale.io.tables import _text
from smlmscale.io.tables._columns import Rule, length_scale, one_based_rule, split_unit
from smlmscale.io.tables._format import TableFormat
from smlmscale.io.tables._source import PlannedText, add_column, finish_rules, write_text
from smlmscale.io.tables.schema import TableMeta

_NATIVE = (("photons", "Photon #"), ("sigma_nm", "Sigma [nm]"), ("confidence", "confidence [a.u]"))


def _native_rule(name: str, base: str, unit: str | None, pixel_size_nm: float | None,
                 path: str) -> Rule | None:
    if base == "photon #":
        return Rule("photons", (name,))
    if base == "sigma":
        return Rule("sigma_nm", (name,), length_scale(unit, column=name, path=path,
                                                      pixel_size_nm=pixel_size_nm,
                                                      fmt="DeepSTORM"))
    return Rule("confidence", (name,)) if base == "confidence" else None


def plan(layout: _text.TextLayout, *, pixel_size_nm: float | None) -> list[Rule]:
    """Column rules for a DeepSTORM header."""
    candidates: list[tuple[str, Rule]] = []
    ignored: list[str] = []
    for position, name in enumerate(layout.names):
        base, unit = split_unit(name)
        if position == 0 and base in ("", "index", "unnamed: 0"):
            ignored.append(name)
            continue
        rule = one_based_rule(name, pixel_size_nm=pixel_size_nm, path=layout.path,
                              fmt="DeepSTORM") or _native_rule(name, base, unit, pixel_size_nm,
                                                               layout.path)
        if rule is not None:
            candidates.append((name, rule))
    return finish_rules(layout, candidates, "DeepSTORM", ignored=ignored)


def sniff(layout: _text.TextLayout) -> int:
    """70 for a header with DeepSTORM's unnamed index, ``Photon #`` or ``confidence [a.u]``."""
    lowered = [n.lower() for n in layout.names]
    if (lowered and lowered[0] in ("", "unnamed: 0")) or "photon #" in lowered or \
            any(n.startswith("confidence [a.u") for n in lowered):
        return 70
    return 0


#: Opens a DeepSTORM / ZeroCostDL4Mic CSV.
open_source = PlannedText(plan, "deepstorm", "DeepSTORM frames start at 1")


def _convert(df: pd.DataFrame, row_offset: int) -> pd.DataFrame:
    out: dict[str, Any] = {"frame": df["frame"].to_numpy() + 1, "x [nm]": df["x_nm"].to_numpy(),
                           "y [nm]": df["y_nm"].to_numpy()}
    for canonical, native in _NATIVE:
        if canonical in df.columns:
            out[native] = df[canonical].to_numpy()
    done = {"frame", "x_nm", "y_nm"} | {c for c, _ in _NATIVE}
    for name in df.columns:
        if name not in done:
            add_column(out, name, df[name].to_numpy())
    return pd.DataFrame(out)


def write(partitions, temps, meta: TableMeta) -> int:
    """Write canonical partitions as a ZeroCostDL4Mic Deep-STORM CSV (1-based index and frames)."""
    return write_text(partitions, temps[0], _convert, sep=",", index_label="")


FORMAT = TableFormat("deepstorm", "DeepSTORM / ZeroCostDL4Mic CSV (1-based frames, nm)",
                     read=open_source, write=write, sniff=sniff,
                     aliases=("zerocostdl4mic", "deep_storm"))
