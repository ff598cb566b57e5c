"""Checks of user-given settings that raise :class:`~smlmscale.errors.InputError`."""

from __future__ import annotations

import operator

import numpy as np

from smlmscale.errors import InputError


def integer(name: str, value, minimum: int) -> int:
    """``value`` as an int if it is an integer (not a bool) of at least ``minimum``.

    >>> integer("degree", 3, 1)
    3
    """
    try:
        if isinstance(value, (bool, np.bool_)):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise InputError(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise InputError(f"{name} must be at least {minimum}, got {number}")
    return int(number)


__all__ = ["integer"]
