"""All preprocessing steps by name: each step module's one ``STEP`` record."""

from __future__ import annotations

import importlib
from functools import cache

from smlmscale.preprocess.base import Step

#: Step modules, in the order ``--help`` lists them; each defines ``STEP``.
STEP_MODULES = ("offset", "background", "saturate", "blur", "tophat", "normalize", "sum",
                "crop")


@cache
def _records() -> tuple[Step, ...]:
    return tuple(importlib.import_module(f"smlmscale.preprocess.{module}").STEP
                 for module in STEP_MODULES)


def steps() -> dict[str, Step]:
    """Every step by name."""
    return {step.name: step for step in _records()}
