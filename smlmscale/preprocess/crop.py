"""``crop``: keep a range of frames and/or a rectangle of each frame (plain slicing).

``crop:y=0:256,x=64:320`` keeps rows 0..255 and columns 64..319; ``t=100:`` drops
the first 100 frames (``z=`` is the same first axis, for section stacks). Ranges
are ``start:stop`` with Python's slice rules: 0-based, ``stop`` excluded, either
end may be omitted, negative numbers count from the end. Values are not
changed (no conversion to floating point).
"""

from __future__ import annotations

from dataclasses import dataclass

from smlmscale.errors import InputError
from smlmscale.preprocess.base import Backend, Step, StepParams
from smlmscale.settings import setting

Range = tuple[int | None, int | None]  # (start or None, stop or None)


def as_range(name: str, value) -> Range | None:
    """``"0:256"``, ``(0, 256)`` or ``[0, 256]`` as ``(0, 256)``; None stays None.

    Raises
    ------
    InputError
        Not two integers (or empty ends) separated by ``:``.

    Examples
    --------
    >>> as_range("y", "10:"), as_range("x", [0, -4])
    ((10, None), (0, -4))
    """
    if value is None:
        return None
    if isinstance(value, str):
        parts: list = value.split(":")
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        parts = [value]
    if len(parts) != 2:
        raise InputError(f"crop: {name} must be a range start:stop (e.g. {name}=0:256), "
                         f"got {value!r}")
    return tuple(_end(name, value, part) for part in parts)


def _end(name: str, value, part) -> int | None:
    """One end of a range: an int, or None for an omitted end."""
    if isinstance(part, str):
        part = part.strip() or None
    if part is None:
        return None
    if not isinstance(part, bool):
        try:
            number = int(part)
        except (TypeError, ValueError):
            number = None
        if number is not None and number == float(part):
            return number
    raise InputError(f"crop: {name} must be a range of whole pixels or frames start:stop, "
                     f"got {value!r}")


@dataclass(frozen=True)
class CropParams(StepParams):
    """Parameters of ``crop`` (no positional shorthand).

    Attributes
    ----------
    t, z : (int or None, int or None), optional
        Range of frames (first axis; ``z`` for section stacks, same axis).
        Default: all.
    y, x : (int or None, int or None), optional
        Range of rows / columns, px. Default: all.
    """

    settings_prefix = "crop: "

    t: Range | None = setting(None, unit="frames", help="Range of frames start:stop",
                              default_text="all")
    z: Range | None = setting(None, unit="sections", help="Range of sections (same axis as t)",
                              default_text="all")
    y: Range | None = setting(None, unit="px", help="Range of rows start:stop",
                              default_text="all")
    x: Range | None = setting(None, unit="px", help="Range of columns start:stop",
                              default_text="all")

    def __post_init__(self) -> None:
        for name in ("t", "z", "y", "x"):  # "0:256", [0, 256]: read before the checks
            object.__setattr__(self, name, as_range(name, getattr(self, name)))
        super().__post_init__()

    def validate(self) -> None:
        if self.t is not None and self.z is not None:
            raise InputError("crop: t and z name the same (first) axis", hint="give one")
        if all(getattr(self, name) is None for name in ("t", "z", "y", "x")):
            raise InputError("crop: nothing to crop", hint="give t=, y= and/or x= ranges, "
                                                          "e.g. crop:y=0:256,x=0:256")

    def slices(self, shape: tuple[int, int, int]) -> tuple[slice, slice, slice]:
        """The slices for an array of ``shape``.

        Raises
        ------
        InputError
            A range selects nothing.
        """
        out = []
        first = self.t if self.t is not None else self.z
        for name, value, size in zip(("t" if self.z is None else "z", "y", "x"),
                                     (first, self.y, self.x), shape):
            if value is None:
                out.append(slice(None))
                continue
            start, stop, _ = slice(*value).indices(size)
            if stop <= start:
                raise InputError(f"crop: {name}={_text(value)} selects nothing from "
                                 f"{size} {'frames' if name in 'tz' else 'px'}")
            out.append(slice(start, stop))
        return tuple(out)


def _text(value: Range) -> str:
    return ":".join("" if end is None else str(end) for end in value)


def build(movie, params: CropParams, backend: Backend):
    """Lazy ``crop`` of a ``(t, y, x)`` dask array (chunks become irregular at the cut)."""
    return movie[params.slices(movie.shape)]


STEP = Step(name="crop", params=CropParams, build=build, positional=None,
            summary="keep frames t=start:stop and/or rows y=, columns x= (start:stop, 0-based)")
