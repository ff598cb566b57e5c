"""The base of every stage's settings: :class:`Settings`, its mappings and diffs."""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from smlmscale.errors import InputError
from smlmscale.settings.check import check
from smlmscale.settings.fields import fields_of, split_optional, type_hints


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
            names = list(fields_of(cls))
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
    fields, hints, unknown = fields_of(cls), type_hints(cls), []
    for key, value in data.items():
        if key not in fields:
            unknown.append(f"{prefix}{key}")
            continue
        kind, _ = split_optional(hints.get(key, Any))
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


__all__ = ["Settings", "unknown_keys"]
