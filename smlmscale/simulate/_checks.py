"""The base of the simulator's settings and the one check the shared :func:`check` lacks."""

from __future__ import annotations

from typing import Any, ClassVar

from smlmscale.errors import InputError
from smlmscale.settings import Settings, flag_of


class SimulationSettings(Settings):
    """Settings read from a ``--params`` YAML file: errors name the YAML key
    (``psf.sigma_nm_range``) and the limit crossed (``at least 1``)."""

    settings_keys: ClassVar[bool] = True
    settings_crossed_limit: ClassVar[bool] = True


def check_range(settings: Any, name: str, *, strict: bool = False) -> None:
    """Refuse an empty ``(min, max)`` range: ``min > max`` (``min >= max`` if ``strict``).

    A ``None`` range (an optional field left out) passes.
    """
    value = getattr(settings, name)
    if value is None:
        return
    low, high = value
    if low > high or (strict and low == high):
        relation = "less than" if strict else "at most"
        raise InputError(f"{{flag}} is empty: min must be {relation} max, got {list(value)}",
                         param=name, flag=flag_of(settings, name))
