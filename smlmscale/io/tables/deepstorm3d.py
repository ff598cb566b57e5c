"""Deep-STORM3D ``localizations.csv``.

Header ``frame,x [nm],y [nm],z [nm],intensity [au]``, as written by
``Testing_Localization_Model.test_model`` of Deep-STORM3D (Nehme et al. 2020):

* frames are 1-based (``frm_rec = (im_ind + 1) * ones``);
* the network predicts positions in micrometres relative to the image centre;
  ``helper_utils.xyz_to_nm`` shifts them before saving (``x_nm = (x_um +
  cw * psize_rec_xy) * 1000`` with ``cw = 2 * W`` and the recovery pixel size
  ``psize_rec_xy``, a quarter of the camera pixel at Deep-STORM3D's upsampling of
  4), i.e. by half the field of view, "for handling later in ThunderSTORM". The
  file is therefore *not* image-centred: x/y are nm from the top-left corner of
  the image and are read unchanged (assumption: the default upsampling of 4,
  under which the shift is exactly W/2 camera pixels; with another upsampling
  the file itself is off-centre and no reader can know by how much);
* ``z [nm] = (z_um - zmin) * 1000``: axial positions are measured from the
  bottom of the trained axial range, not from the focal plane; kept as they are;
* ``intensity [au]`` holds the network's confidence (``conf_rec``), not a photon
  count, so it maps to ``confidence``.

Writing needs ``z_nm``; ``intensity [au]`` is written when ``confidence`` exists.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from smlmscale.errors import InputError
from smlmscale.io.tables import _text
from smlmscale.io.tables._columns import Rule, one_based_rule, split_unit
from smlmscale.io.tables._format import TableFormat
from smlmscale.io.tables._source import PlannedText, add_column, finish_rules, write_text
from smlmscale.io.tables.schema import TableMeta


def plan(layout: _text.TextLayout, *, pixel_size_nm: float | None) -> list[Rule]:
    """Column rules for a Deep-STORM3D header."""
    candidates: list[tuple[str, Rule]] = []
    for name in layout.names:
        base, unit = split_unit(name)
        rule = one_based_rule(name, pixel_size_nm=pixel_size_nm, path=layout.path,
                              fmt="Deep-STORM3D")
        if rule is None and base == "intensity" and unit in ("au", "a.u", "a.u."):
            rule = Rule("confidence", (name,))
        if rule is not None:
            candidates.append((name, rule))
    return finish_rules(layout, candidates, "Deep-STORM3D")


def sniff(layout: _text.TextLayout) -> int:
    """80 for a header with ``intensity [au]`` and ``z [nm]``."""
    lowered = [n.lower() for n in layout.names]
    return 80 if "intensity [au]" in lowered and "z [nm]" in lowered else 0


#: Opens a Deep-STORM3D localizations CSV.
open_source = PlannedText(plan, "deepstorm3d", "Deep-STORM3D frames start at 1")


def _convert(df: pd.DataFrame, row_offset: int) -> pd.DataFrame:
    if "z_nm" not in df.columns:
        raise InputError("a Deep-STORM3D table needs z positions (column z_nm)",
                         hint="write another format, e.g. --to thunderstorm")
    out: dict[str, Any] = {"frame": df["frame"].to_numpy() + 1, "x [nm]": df["x_nm"].to_numpy(),
                           "y [nm]": df["y_nm"].to_numpy(), "z [nm]": df["z_nm"].to_numpy()}
    if "confidence" in df.columns:
        out["intensity [au]"] = df["confidence"].to_numpy()
    for name in df.columns:
        if name not in ("frame", "x_nm", "y_nm", "z_nm", "confidence"):
            add_column(out, name, df[name].to_numpy())
    return pd.DataFrame(out)


def write(partitions, temps, meta: TableMeta) -> int:
    """Write canonical partitions as a Deep-STORM3D localizations CSV."""
    return write_text(partitions, temps[0], _convert, sep=",")


FORMAT = TableFormat("deepstorm3d", "Deep-STORM3D localizations.csv (1-based frames, nm)",
                     read=open_source, write=write, sniff=sniff, aliases=("deep_storm3d",))
