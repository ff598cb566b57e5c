"""SMAP localization CSV (read).

SMAP (Ries lab, MATLAB) keeps localizations in ``_sml.mat`` files whose fields are
named ``frame``, ``xnm``, ``ynm``, ``znm``, ``phot``, ``bg``, ``xnmerr``, ``ynmerr``,
``znmerr``, ``locprecnm``, ``locprecznm``, ``PSFxnm``, ``PSFynm``, ``channel``, ...;
its CSV export, and locan's ``save_SMAP_csv`` (locan 0.22,
``locan/locan_io/locdata/smap_io.py``: the columns of ``locan.constants.SMAP_KEYS``,
``to_csv(float_format="%.10g", index=False)``), write those names as a plain header.

Mapping: ``frame`` is 1-based (MATLAB; DECODE's ``load_smap`` subtracts 1), so
``frame - 1``; ``--frame-base 0`` reads a file whose frames count from 0 (a locan
export of 0-based data keeps its frames). ``xnm``/``ynm``/``znm`` are nm and taken
as measured from the image corner (assumption: not checked against SMAP's fitter);
``phot`` is ``photons``, ``bg`` ``background``; ``xnmerr``/``ynmerr`` are
``uncertainty_x_nm``/``uncertainty_y_nm`` and their mean ``uncertainty_nm`` (else
``locprecnm``); ``PSFxnm``/``PSFynm`` are ``sigma_x_nm``/``sigma_y_nm`` and their mean
``sigma_nm``; ``znmerr`` (else ``locprecznm``) is ``uncertainty_z_nm``; the rest are
kept as extras.
"""

from __future__ import annotations

from smlmscale.io.tables import _text
from smlmscale.io.tables._columns import Rule
from smlmscale.io.tables._format import TableFormat
from smlmscale.io.tables._source import PlannedText, finish_rules

_SINGLE = {"frame": ("frame", -1.0), "xnm": ("x_nm", 0.0), "ynm": ("y_nm", 0.0),
           "znm": ("z_nm", 0.0), "phot": ("photons", 0.0), "bg": ("background", 0.0),
           "locprecnm": ("uncertainty_nm", 0.0), "znmerr": ("uncertainty_z_nm", 0.0),
           "locprecznm": ("uncertainty_z_nm", 0.0)}
_PAIRS = {("xnmerr", "ynmerr"): ("uncertainty_nm", "uncertainty_x_nm", "uncertainty_y_nm"),
          ("PSFxnm", "PSFynm"): ("sigma_nm", "sigma_x_nm", "sigma_y_nm")}


def plan(layout: _text.TextLayout, *, pixel_size_nm: float | None) -> list[Rule]:
    """Column rules for an SMAP header (names are case-sensitive, as SMAP writes them)."""
    names = set(layout.names)
    candidates: list[tuple[str, Rule]] = []
    for (x, y), (mean, x_target, y_target) in _PAIRS.items():
        if x in names and y in names:
            candidates += [(x, Rule(mean, (x, y))), (x, Rule(x_target, (x,))),
                           (y, Rule(y_target, (y,)))]
    for name in layout.names:
        if name in _SINGLE:
            target, offset = _SINGLE[name]
            candidates.append((name, Rule(target, (name,), 1.0, offset)))
    return finish_rules(layout, candidates, "SMAP")


def sniff(layout: _text.TextLayout) -> int:
    """75 for a header with SMAP's ``xnm`` and ``ynm`` and a ``frame``."""
    return 75 if {"xnm", "ynm", "frame"} <= set(layout.names) else 0


#: Opens an SMAP CSV.
open_source = PlannedText(plan, "smap", "SMAP frames start at 1; if this file's frames "
                                        "count from 0 (a locan export), pass --frame-base 0")

FORMAT = TableFormat("smap", "SMAP localization CSV (1-based frames, nm; read)",
                     read=open_source, sniff=sniff)
