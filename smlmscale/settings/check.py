"""The one check of settings fields: type from the annotation, limits and choices."""

from __future__ import annotations

import dataclasses
import math
import operator
import typing
from collections.abc import Mapping
from typing import Any

import numpy as np

from smlmscale.errors import InputError
from smlmscale.settings.fields import field_meta, flag_of, split_optional, type_hints


def _fail(obj: Any, name: str, message: str) -> None:
    raise InputError(message, param=name, flag=flag_of(obj, name))


def _number(obj: Any, name: str, value: Any, kind: type, meta: dict) -> Any:
    """``value`` checked as an ``int`` or finite ``float`` within the field's limits."""
    if kind is int:
        try:
            if isinstance(value, (bool, np.bool_)):
                raise TypeError
            value = int(operator.index(value))
        except TypeError:
            _fail(obj, name, f"{{flag}} must be an integer, got {value!r}")
    else:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float,
                                                                        np.integer, np.floating)):
            _fail(obj, name, f"{{flag}} must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            limits = _limits_text(kind, meta) if (meta.get("min") is not None or
                                                   meta.get("max") is not None) else None
            _fail(obj, name, f"{{flag}} must be {limits or 'a finite number'}, got {value!r}")
    low, high = meta.get("min"), meta.get("max")
    low_open, high_open = meta.get("min_open"), meta.get("max_open")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        limit = _limits_text(kind, meta)
        if getattr(obj, "settings_crossed_limit", False):
            limit = (f"{'greater than' if low_open else 'at least'} {low:g}" if too_low
                     else f"{'less than' if high_open else 'at most'} {high:g}")
        _fail(obj, name, _own_message(meta, value) or f"{{flag}} must be {limit}, got {value!r}")
    return value


def _limits_text(kind: type, meta: dict) -> str:
    low, high = meta.get("min"), meta.get("max")
    if low is not None and high is not None:
        left, right = "(" if meta.get("min_open") else "[", ")" if meta.get("max_open") else "]"
        return f"in {left}{low:g}, {high:g}{right}"
    if kind is int and low is not None:
        return f"at least {int(low) + (1 if meta.get('min_open') else 0)}"
    if low == 0 and meta.get("min_open"):
        return "a positive number"
    if low is not None:
        return f"a number {'>' if meta.get('min_open') else '>='} {low:g}"
    return f"a number {'<' if meta.get('max_open') else '<='} {high:g}"


def _value(obj: Any, name: str, value: Any, hint: Any, meta: dict) -> Any:
    """``value`` checked (and coerced) against the annotation ``hint``."""
    hint, optional = split_optional(hint)
    if value is None:
        if optional or hint is Any:
            return None
        _fail(obj, name, "{flag} must be given")
    if hint is Any:
        return value
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if isinstance(value, Mapping):
            return hint.from_mapping(value) if hasattr(hint, "from_mapping") else hint(**value)
        if not isinstance(value, hint):
            _fail(obj, name, f"{{flag}} must be a mapping of parameters, got {value!r}")
        return value
    if typing.get_origin(hint) is tuple:
        return _tuple(obj, name, value, hint, meta)
    if hint is bool:
        if not isinstance(value, (bool, np.bool_)):
            _fail(obj, name, f"{{flag}} must be true or false, got {value!r}")
        value = bool(value)
    elif hint in (int, float):
        value = _number(obj, name, value, hint, meta)
    elif hint is str:
        if not isinstance(value, str):
            _fail(obj, name, f"{{flag}} must be text, got {value!r}")
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        _fail(obj, name, _own_message(meta, value)
              or f"{{flag}} must be one of {', '.join(map(str, choices))}, got {value!r}")
    return value


def _own_message(meta: dict, value: Any) -> str | None:
    """The field's own ``message`` for a value outside its limits or choices, if any."""
    text = meta.get("message")
    return None if text is None else text.replace("{value}", repr(value))


def _tuple(obj: Any, name: str, value: Any, hint: Any, meta: dict) -> tuple:
    args = typing.get_args(hint)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        _fail(obj, name, f"{{flag}} must be a sequence, got {value!r}")
    items = tuple(value)
    if len(args) == 2 and args[1] is Ellipsis:
        kinds = (args[0],) * len(items)
    else:
        kinds = args
        if len(items) != len(kinds):
            _fail(obj, name, f"{{flag}} must have {len(kinds)} values, got {value!r}")
    item_meta = {**meta, "choices": None}
    items = tuple(_value(obj, name, item, kind, item_meta) for item, kind in zip(items, kinds))
    if meta.get("ordered") and any(b < a for a, b in zip(items, items[1:])):
        _fail(obj, name, f"{{flag}} must be LOW, HIGH with LOW <= HIGH, got {value!r}")
    return items


def check(settings: Any) -> None:
    """Check (and coerce in place) every field of a settings dataclass.

    Raises
    ------
    InputError
        Naming the first field that is wrong (``param``) by its flag.
    """
    hints = type_hints(type(settings))
    for field in dataclasses.fields(settings):
        if not field.init:
            continue
        value = getattr(settings, field.name)
        checked = _value(settings, field.name, value, hints.get(field.name, Any), field_meta(field))
        if checked is not value:
            object.__setattr__(settings, field.name, checked)


__all__ = ["check"]
