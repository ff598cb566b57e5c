"""Which frames an evaluation scores: those the prediction covers.

``predict --frames A:B`` records ``[A, B)`` in the table metadata
(:data:`~smlmscale.io.tables.schema.PREDICTED_FRAMES`); scoring such a prediction
against the truth of the whole movie would count every truth localization outside
those frames as missed. :func:`restrict_to_frames` drops them from both tables (with
a note saying how many). A prediction without the record (a CSV, another tool) is
checked by :func:`uncovered_truth`, and the caller warns when much of the truth lies
in frames before its first or after its last localization.
"""

from __future__ import annotations

from typing import Any

from smlmscale.io.tables.schema import PREDICTED_FRAMES

#: Warn when more than this fraction of the truth lies outside the predicted frames.
UNCOVERED_FRACTION = 0.01


def predicted_frames(meta: Any) -> tuple[int, int] | None:
    """``(first, stop)`` from a table's metadata, or None when it has no record."""
    value = (getattr(meta, "extra", None) or {}).get(PREDICTED_FRAMES)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    return int(value[0]), int(value[1])


def _within(table: Any, frames: tuple[int, int]) -> Any:
    kept = table[(table["frame"] >= frames[0]) & (table["frame"] < frames[1])]
    return kept if hasattr(kept, "to_delayed") else kept.reset_index(drop=True)


def restrict_to_frames(pred: Any, truth: Any, frames: tuple[int, int]
                       ) -> tuple[Any, Any, list[str]]:
    """Both tables on frames ``[first, stop)``, and a note when truth rows were dropped.

    Dask tables stay lazy (the filter is part of their graph; no note for them).

    >>> import pandas as pd
    >>> truth = pd.DataFrame({"frame": [0, 5, 9], "x_nm": [0.0] * 3, "y_nm": [0.0] * 3})
    >>> _, kept, notes = restrict_to_frames(truth, truth, (0, 6))
    >>> kept["frame"].tolist(), notes[0][:22], notes[0][-51:]
    ([0, 5], 'scored frames 0-5 only', '1 truth localization(s) in other frames not counted')
    """
    pred, kept = _within(pred, frames), _within(truth, frames)
    notes = []
    if not hasattr(truth, "to_delayed"):
        dropped = len(truth) - len(kept)
        if dropped:
            notes.append(f"scored frames {frames[0]}-{frames[1] - 1} only, the frames the "
                         f"prediction covers (its metadata): {dropped} truth localization(s) "
                         f"in other frames not counted")
    return pred, kept, notes


def uncovered_truth(pred: Any, truth: Any) -> tuple[int, int, int] | None:
    """``(rows, first, last)``: truth rows outside the prediction's frame span, or None.

    None for dask tables (not computed for a check) and empty predictions.
    """
    if hasattr(pred, "to_delayed") or hasattr(truth, "to_delayed") or not len(pred):
        return None
    first, last = int(pred["frame"].min()), int(pred["frame"].max())
    outside = int(((truth["frame"] < first) | (truth["frame"] > last)).sum())
    return outside, first, last
