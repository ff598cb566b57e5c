"""Frame numbering a file declares against the one its format implies (``--frame-base``).

A text format has a frame base: ThunderSTORM, DeepSTORM and SMAP count frames from
1, Picasso's export and the canonical table from 0. Some writers break the rule:
locan saves its (0-based) frames under ThunderSTORM's header unchanged, so such a
file has frame 0 and reading it as ThunderSTORM fails on a negative frame. With an
explicit base :func:`rebase_frames` re-plans the ``frame`` column as
``frame - frame_base``; positions are untouched (unlike ``--from picasso_csv``,
which also moves x/y by half a pixel).
"""

from __future__ import annotations

from dataclasses import replace

from smlmscale.errors import InputError
from smlmscale.io.tables._columns import Rule
from smlmscale.io.tables._source import Source, TextFrames, TextReader

FRAME_BASES = (0, 1)


def _rebased(rule: Rule, frame_base: int) -> Rule:
    return replace(rule, scale=1.0, offset=-float(frame_base)) if rule.target == "frame" \
        else rule


def rebase_frames(source: Source, frame_base: int | None) -> Source:
    """``source`` with its frames read as counting from ``frame_base`` (None: unchanged).

    Raises
    ------
    InputError
        A base other than 0 or 1, or a format whose frames are not plain text columns
        (Parquet, HDF5: their frame base is part of the format).
    """
    if frame_base is None:
        return source
    if frame_base not in FRAME_BASES:
        raise InputError(f"the frame base must be 0 or 1, not {frame_base}", param="frame_base")
    if not isinstance(source.read, TextReader) or not isinstance(source.frames, TextFrames):
        raise InputError(f"--frame-base applies to text tables; a {source.format} file "
                         "numbers its frames by its format", path=source.path,
                         hint="leave out --frame-base")
    rules = tuple(_rebased(r, frame_base) for r in source.read.rules)
    return replace(source, read=replace(source.read, rules=rules),
                   frames=replace(source.frames, rule=_rebased(source.frames.rule, frame_base)))
