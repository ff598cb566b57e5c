"""Help text from settings fields, so the command line cannot drift from the code."""

from __future__ import annotations

from typing import Any

from smlmscale.settings.fields import default_of, field_meta, fields_of


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
    shown = field_meta(fields_of(cls)[name]).get("default_text")
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
    >>> from smlmscale.settings import Settings, setting
    >>> @dataclass(frozen=True)
    ... class S(Settings):
    ...     tile_px: int = setting(256, min=8, unit="px", help="Tile side")
    >>> option_help(S, "tile_px")
    'Tile side, px [256].'
    """
    meta = field_meta(fields_of(cls)[name])
    words = text if text is not None else meta.get("help", "")
    if meta.get("unit") and text is None:
        words = f"{words}, {meta['unit']}"
    shown = default_text if default_text is not None else shown_default(cls, name)
    return f"{words} [{shown}]."


__all__ = ["option_help", "shown_default"]
