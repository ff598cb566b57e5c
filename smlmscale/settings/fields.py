"""Settings fields: :func:`setting` and what the checks and the help read from a field."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

_UNIT_SUFFIXES = ("_nm", "_px")
MISSING = dataclasses.MISSING


def setting(default: Any = MISSING, *, default_factory: Any = MISSING, help: str = "",
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


def field_meta(field: dataclasses.Field) -> dict:
    """What :func:`setting` recorded for a field (empty for a plain dataclass field)."""
    return field.metadata.get("smlmscale", {})


def flag_of(cls_or_obj: Any, name: str) -> str:
    """The flag naming field ``name``: its ``flag``, the class's YAML key prefix and the
    name, or ``--`` and the name with dashes and without a ``_nm``/``_px`` suffix.

    >>> from dataclasses import dataclass
    >>> from smlmscale.settings import Settings, setting
    >>> @dataclass(frozen=True)
    ... class S(Settings):
    ...     target_sigma_px: float = setting(1.0, min=0, min_open=True)
    >>> flag_of(S, "target_sigma_px")
    '--target-sigma'
    """
    field = fields_of(cls_or_obj).get(name)
    flag = field_meta(field).get("flag") if field is not None else None
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


def fields_of(cls_or_obj: Any) -> dict[str, dataclasses.Field]:
    """The dataclass fields of a settings class or object, by name."""
    return {f.name: f for f in dataclasses.fields(cls_or_obj)}


def type_hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of a settings class (cached on the class)."""
    cache = cls.__dict__.get("_smlmscale_hints")
    if cache is None:
        cache = typing.get_type_hints(cls)
        setattr(cls, "_smlmscale_hints", cache)
    return cache


def split_optional(hint: Any) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``; anything else -> ``(hint, False)``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        return (args[0] if len(args) == 1 else typing.Union[tuple(args)]), optional
    return hint, False


def default_of(cls: type, name: str) -> Any:
    """The default of field ``name`` (a factory's product for mutable defaults)."""
    field = fields_of(cls)[name]
    if field.default is not MISSING:
        return field.default
    if field.default_factory is not MISSING:
        return field.default_factory()
    return None


def field_names(cls: type) -> tuple[str, ...]:
    """The names of the settings' fields, in order."""
    return tuple(fields_of(cls))


__all__ = ["MISSING", "default_of", "field_meta", "field_names", "fields_of", "flag_of",
           "setting", "split_optional", "type_hints"]
