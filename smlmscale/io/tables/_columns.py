"""Column mapping between a format's columns and the canonical table.

A reader turns its header into a list of :class:`Rule` objects, one per output
column: ``out = mean(sources) * scale + offset``. That covers frame bases
(offset -1), units (scale = pixel size, 1000 for micrometres), pixel-origin
conventions (offset = half a pixel in nm) and averaged pairs (Picasso's ``sx``
and ``sy``). Rules are plain data, so a block reader holding them pickles to a
Dask worker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

from smlmscale.errors import InputError
from smlmscale.io.tables.schema import CANONICAL_DTYPES, ordered_columns, sanitize_name, unique_name

_UNIT = re.compile(r"^(?P<base>.*?)\s*[\[(]\s*(?P<unit>[^\])]*?)\s*[\])]\s*$")
_NM_PER = {"nm": 1.0, "um": 1000.0, "µm": 1000.0, "μm": 1000.0, "micron": 1000.0, "m": 1e9}


@dataclass(frozen=True)
class Rule:
    """``target = mean(sources) * scale + offset``."""

    target: str
    sources: tuple[str, ...]
    scale: float = 1.0
    offset: float = 0.0


def split_unit(name: str) -> tuple[str, str | None]:
    """``"x [nm]"`` -> ``("x", "nm")``; ``"X (px)"`` -> ``("x", "px")``; base lower-cased.

    Examples
    --------
    >>> split_unit("Precision (nm)")
    ('precision', 'nm')
    >>> split_unit("frame")
    ('frame', None)
    """
    match = _UNIT.match(name.strip())
    if match and match.group("base"):
        return " ".join(match.group("base").lower().split()), match.group("unit").strip().lower()
    return " ".join(name.lower().split()), None


def length_scale(unit: str | None, *, column: str, pixel_size_nm: float | None,
                 path: str, default: str = "nm", fmt: str = "") -> float:
    """nm per unit of a length column: 1 for nm, 1000 for um, the pixel size for px."""
    unit = (unit or default).lower()
    if unit in _NM_PER:
        return _NM_PER[unit]
    if unit in ("px", "pixel", "pixels", "pix"):
        if pixel_size_nm is None:
            raise InputError(f"column {column!r} is in pixels and the pixel size is unknown",
                             path=path, hint="pass --pixel-size NM")
        return float(pixel_size_nm)
    raise InputError(f"unknown length unit {unit!r} in column {column!r}", path=path,
                     hint=f"expected nm, um or px{' for ' + fmt if fmt else ''}")


def one_based_rule(name: str, *, pixel_size_nm: float | None, path: str,
                   fmt: str) -> Rule | None:
    """The rule of a 1-based ``frame`` column or an ``x``/``y``/``z`` position in the unit
    its name gives (DeepSTORM, Deep-STORM3D); None for any other column.

    >>> one_based_rule("x [um]", pixel_size_nm=None, path="t.csv", fmt="DeepSTORM").scale
    1000.0
    """
    base, unit = split_unit(name)
    if base == "frame":
        return Rule("frame", (name,), 1.0, -1.0)
    if base in ("x", "y", "z"):
        scale = length_scale(unit, column=name, pixel_size_nm=pixel_size_nm, path=path,
                             fmt=fmt)
        return Rule(f"{base}_nm", (name,), scale)
    return None


def extra_rules(names: Iterable[str], used: set[str], taken: set[str]) -> list[Rule]:
    """Rules that keep the unused columns ``names`` as extras under snake_case names.

    A column whose name is already canonical maps to that canonical column.
    """
    rules = []
    for name in names:
        if name in used:
            continue
        target = name if name in CANONICAL_DTYPES and name not in taken else sanitize_name(name)
        rules.append(Rule(unique_name(target, taken), (name,)))
    return rules


def output_columns(rules: list[Rule]) -> list[str]:
    """Output columns of ``rules`` in canonical order."""
    return ordered_columns([r.target for r in rules])


def apply_rules(raw: pd.DataFrame, rules: list[Rule]) -> pd.DataFrame:
    """Apply ``rules`` to the raw columns of one block (validate the result after)."""
    out: dict[str, np.ndarray] = {}
    for rule in rules:
        if len(rule.sources) == 1 and rule.scale == 1.0 and rule.offset == 0.0:
            values = raw[rule.sources[0]].to_numpy()  # keeps integer extras integer
        elif len(rule.sources) == 1:
            values = raw[rule.sources[0]].to_numpy(dtype=np.float64)
        else:
            values = np.mean([raw[s].to_numpy(dtype=np.float64) for s in rule.sources], axis=0)
        if rule.scale != 1.0:
            values = values * rule.scale
        if rule.offset != 0.0:
            values = values + rule.offset
        out[rule.target] = values
    columns = output_columns(rules)
    return pd.DataFrame({c: out[c] for c in columns}, columns=columns)
