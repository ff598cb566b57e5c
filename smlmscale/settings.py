"""Stage settings: frozen dataclasses whose fields carry their limits, unit and help.

Every stage's settings are a frozen dataclass built from :class:`Settings`; each field is
declared with :func:`setting`, which records in ``field(metadata=...)`` what the one
shared :func:`check` enforces and what the command line shows::

    @dataclass(frozen=True)
    class TrainSettings(Settings):
        epochs: int = setting(50, min=1, help="Last epoch to train to")
        lr: float = setting(1e-3, min=0, min_open=True, help="Initial learning rate of Adam")

- :func:`check` (run by ``__post_init__``) checks every field against its annotation
  (``int``, ``float``, ``bool``, ``str``, tuples, ``X | None``, nested settings) and its
  ``min``/``max``/``choices``, coercing ``int`` to ``float`` and lists to tuples;
- :meth:`Settings.from_mapping` builds settings from a (nested) mapping such as a YAML
  file or a stored record, naming every unknown key, and :meth:`Settings.to_mapping`
  writes them back as plain values; :meth:`Settings.diff` lists what differs;
- :func:`option_help` writes an option's help with its default, from the field, so help
  and code cannot drift.

Errors are :class:`~smlmscale.errors.InputError` with ``param`` set to the field's name
and ``{flag}`` in the message; the flag defaults to :func:`flag_of`, and the CLI maps the
parameter to the option it was given by.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import operator
import os
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from smlmscale.errors import InputError

_UNIT_SUFFIXES = ("_nm", "_px")
_MISSING = dataclasses.MISSING


def setting(default: Any = _MISSING, *, default_factory: Any = _MISSING, help: str = "",
            unit: str | None = None, min: float | None = None, max: float | None = None,
            min_open: bool = False, max_open: bool = False,
            choices: tuple | None = None, ordered: bool = False, flag: str | None = None,
            default_text: str | None = None, message: str | None = None) -> Any:
    """A settings field with its checks and help in ``metadata``.

    Parameters
    ----------
    default, default_factory
        As :func:`dataclasses.field`.
    help : str
        One line for ``--help`` and the docs, without the default.
    unit : str, optional
        The unit (``"nm"``, ``"px"``, ``"photons"``), shown in the help.
    min, max : float, optional
        Limits of the value (of each element for tuples).
    min_open, max_open : bool
        Whether the limits themselves are excluded.
    choices : tuple, optional
        The allowed values.
    ordered : bool
        Tuples only: elements must not decrease (``LOW:HIGH`` ranges).
    flag : str, optional
        The command-line flag, when not :func:`flag_of`'s default.
    default_text : str, optional
        How the help shows the default (``"the store's"``) instead of its value.
    message : str, optional
        The error when the value is outside the limits or not one of the choices, instead
        of the generated one; ``{flag}`` and ``{value}`` (its repr) are filled in.
    """
    metadata = {"help": help, "unit": unit, "min": min, "max": max, "min_open": min_open,
                "max_open": max_open, "choices": choices, "ordered": ordered, "flag": flag,
                "default_text": default_text, "message": message}
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata={"smlmscale": metadata})


def _meta(field: dataclasses.Field) -> dict:
    return field.metadata.get("smlmscale", {})


def flag_of(cls_or_obj: Any, name: str) -> str:
    """The flag naming field ``name``: its ``flag``, the class's YAML key prefix and the
    name, or ``--`` and the name with dashes and without a ``_nm``/``_px`` suffix.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class S(Settings):
    ...     target_sigma_px: float = setting(1.0, min=0, min_open=True)
    >>> flag_of(S, "target_sigma_px")
    '--target-sigma'
    """
    field = _fields(cls_or_obj).get(name)
    flag = _meta(field).get("flag") if field is not None else None
    if flag:
        return flag
    prefix = getattr(cls_or_obj, "settings_prefix", "")
    if prefix is not None and prefix != "":
        return f"{prefix}{name}"
    if getattr(cls_or_obj, "settings_keys", False):
        return name
    stem = name
    for suffix in _UNIT_SUFFIXES:
        if stem.endswith(suffix) and stem != suffix:
            stem = stem[: -len(suffix)]
    return "--" + stem.replace("_", "-")


def _fields(cls_or_obj: Any) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls_or_obj)}


def _hints(cls: type) -> dict[str, Any]:
    cache = cls.__dict__.get("_smlmscale_hints")
    if cache is None:
        cache = typing.get_type_hints(cls)
        setattr(cls, "_smlmscale_hints", cache)
    return cache


def _split_optional(hint: Any) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``; anything else -> ``(hint, False)``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        return (args[0] if len(args) == 1 else typing.Union[tuple(args)]), optional
    return hint, False


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
    hint, optional = _split_optional(hint)
    if value is None:
        if optional or hint is Any:
            return None
        _fail(obj, name, "{flag} must be given")
    if hint is Any:
        return value
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if isinstance(value, Mapping):
            return hint.from_mapping(value) if issubclass(hint, Settings) else hint(**value)
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
    hints = _hints(type(settings))
    for field in dataclasses.fields(settings):
        if not field.init:
            continue
        value = getattr(settings, field.name)
        checked = _value(settings, field.name, value, hints.get(field.name, Any), _meta(field))
        if checked is not value:
            object.__setattr__(settings, field.name, checked)


class Settings:
    """Base of the stage settings (frozen dataclasses of :func:`setting` fields).

    Subclasses that add checks of their own define ``__post_init__`` and call
    ``super().__post_init__()`` first.
    """

    #: Errors name a field ``prefix + name`` (a YAML key such as ``"psf."``) when set.
    settings_prefix: ClassVar[str] = ""
    #: Errors name a field by its bare name (its YAML key) when set and there is no prefix.
    settings_keys: ClassVar[bool] = False
    #: Limit errors name the limit crossed ("at least 1", "greater than 0", "at most 256")
    #: instead of the allowed interval, when set.
    settings_crossed_limit: ClassVar[bool] = False

    def __post_init__(self) -> None:
        check(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, *,
                     source: str | os.PathLike | None = None) -> Any:
        """Settings from a mapping (missing keys keep their defaults).

        Parameters
        ----------
        data : mapping, optional
            Field names to values; nested settings as mappings of their own fields.
        source : path-like, optional
            The file the mapping was read from, named in errors.

        Raises
        ------
        InputError
            Unknown keys (every one named, with the nearest known one), or a value the
            settings reject.
        """
        data = dict(data or {})
        unknown = unknown_keys(cls, data)
        if unknown:
            names = list(_fields(cls))
            near = difflib.get_close_matches(unknown[0].split(".")[-1], names, n=1)
            hint = f"did you mean {near[0]!r}?" if near else f"known: {', '.join(names)}"
            raise InputError(f"unknown parameter(s) {', '.join(unknown)}", path=source,
                             hint=hint, param=unknown[0])
        try:
            return cls(**data)
        except InputError as exc:
            if source is None or exc.path is not None:
                raise
            raise InputError(exc.message, path=source, hint=exc.hint, param=exc.param,
                             flag=exc.flag) from None
        except TypeError as exc:  # a required field left out
            raise InputError(f"incomplete settings ({exc})", path=source) from None

    def to_mapping(self) -> dict[str, Any]:
        """The settings as plain JSON/YAML values (tuples as lists, nested as mappings)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def diff(self, other: Any) -> list[str]:
        """Names of the fields that differ from ``other`` (dotted for nested settings)."""
        mine, theirs = _flatten(self.to_mapping()), _flatten(_as_mapping(other))
        return sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))

    def replace(self, **changes: Any) -> Any:
        """A copy with ``changes`` applied (and checked)."""
        return dataclasses.replace(self, **changes)


def unknown_keys(cls: type, data: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Keys of ``data`` that are not fields of ``cls``, as dotted paths (``psf.sigma``)."""
    fields, hints, unknown = _fields(cls), _hints(cls), []
    for key, value in data.items():
        if key not in fields:
            unknown.append(f"{prefix}{key}")
            continue
        kind, _ = _split_optional(hints.get(key, Any))
        if isinstance(kind, type) and dataclasses.is_dataclass(kind) \
                and isinstance(value, Mapping):
            unknown += unknown_keys(kind, value, f"{prefix}{key}.")
    return unknown


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _as_mapping(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return _plain(dict(value))
    return _plain(value)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def default_of(cls: type, name: str) -> Any:
    """The default of field ``name`` (a factory's product for mutable defaults)."""
    field = _fields(cls)[name]
    if field.default is not _MISSING:
        return field.default
    if field.default_factory is not _MISSING:
        return field.default_factory()
    return None


def _default_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return ":".join(_default_text(v) for v in value)
    return str(value)


def shown_default(cls: type, name: str) -> str:
    """How help shows the default of field ``name``: its ``default_text``, or its value
    (``"none"``, ``"yes"``/``"no"``, ``LOW:HIGH`` for pairs)."""
    shown = _meta(_fields(cls)[name]).get("default_text")
    if shown is None:
        value = default_of(cls, name)
        shown = "none" if value is None else _default_text(value)
    return shown


def option_help(cls: type, name: str, text: str | None = None, *,
                default_text: str | None = None) -> str:
    """An option's help from the field: its help, unit and ``[default]``.

    ``text`` replaces the help and unit; ``default_text`` what is shown as the default
    (default: :func:`shown_default`).

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class S(Settings):
    ...     tile_px: int = setting(256, min=8, unit="px", help="Tile side")
    >>> option_help(S, "tile_px")
    'Tile side, px [256].'
    """
    meta = _meta(_fields(cls)[name])
    words = text if text is not None else meta.get("help", "")
    if meta.get("unit") and text is None:
        words = f"{words}, {meta['unit']}"
    shown = default_text if default_text is not None else shown_default(cls, name)
    return f"{words} [{shown}]."


def field_names(cls: type) -> tuple[str, ...]:
    """The names of the settings' fields, in order."""
    return tuple(_fields(cls))


__all__ = ["Settings", "check", "default_of", "field_names", "flag_of", "option_help",
           "setting", "shown_default", "unknown_keys"]
