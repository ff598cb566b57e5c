"""The canonical localization table: columns, dtypes, metadata and validation.

Every reader in :mod:`smlmscale.io.tables` returns, and every writer accepts, one
form of table: a pandas (or dask) DataFrame with the columns below.

========================  =======  ==============================================
column                    dtype    meaning
========================  =======  ==============================================
``frame``                 int64    0-based frame index (required)
``x_nm``, ``y_nm``        float64  position in nm, origin at the top-left *corner*
                                   of pixel (0, 0): the centre of pixel ``i`` is
                                   at ``(i + 0.5) * pixel_size_nm`` (required)
``z_nm``                  float64  axial position in nm
``photons``               float64  emitted photons
``background``            float64  background, photons per pixel
``sigma_nm``              float64  PSF standard deviation in nm
``uncertainty_nm``        float64  lateral localization precision in nm
``confidence``            float64  detection confidence (network output)
``section``, ``roi``      int64    serial-section index; ROI id
``cluster``               int64    DBSCAN label, -1 for noise
========================  =======  ==============================================

Numeric columns that a source format has and the canonical table has not are
kept as *extra* columns after the canonical ones, under a snake_case name made
by :func:`sanitize_name` (``"bkgstd [photon]"`` becomes ``bkgstd_photon``,
``"origX"`` becomes ``orig_x``). Writers store the canonical columns a format
has no name for, and the extra columns, under their canonical/snake_case name,
and readers map those names back, so every table survives a round trip.

Rows are ordered by frame (stable: the file order within a frame); the index
carries no meaning.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Mapping

import numpy as np
import pandas as pd

from smlmscale.errors import InputError

REQUIRED_COLUMNS: tuple[str, ...] = ("frame", "x_nm", "y_nm")
FLOAT_COLUMNS: tuple[str, ...] = (
    "x_nm", "y_nm", "z_nm", "photons", "background", "sigma_nm", "uncertainty_nm", "confidence",
)
INT_COLUMNS: tuple[str, ...] = ("frame", "section", "roi", "cluster")
#: Canonical columns in their canonical order.
CANONICAL_COLUMNS: tuple[str, ...] = (
    "frame", "x_nm", "y_nm", "z_nm", "photons", "background", "sigma_nm", "uncertainty_nm",
    "confidence", "section", "roi", "cluster",
)
#: Canonical dtype of every canonical column.
CANONICAL_DTYPES: dict[str, np.dtype] = {
    name: np.dtype(np.int64) if name in INT_COLUMNS else np.dtype(np.float64)
    for name in CANONICAL_COLUMNS
}
#: Coordinates that must be finite.
COORDINATE_COLUMNS: tuple[str, ...] = ("x_nm", "y_nm", "z_nm")
#: The Parquet key-value metadata key that holds :class:`TableMeta` as JSON.
METADATA_KEY = "smlmscale"
#: ``TableMeta.extra`` key: ``[first, stop)`` frames a prediction covers (``predict
#: --frames``); ``evaluate`` scores the truth on those frames only.
PREDICTED_FRAMES = "predicted_frames"

_SNAKE = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class TableMeta:
    """Metadata of a localization table.

    Parameters
    ----------
    pixel_size_nm : float, optional
        Camera pixel size in nm (after magnification).
    image_shape : tuple of int, optional
        ``(height, width)`` of the camera frames in pixels.
    n_frames : int, optional
        Number of frames of the movie the table was localized from.
    source : str, optional
        Where the table came from (file name, format).
    extra : dict, optional
        Anything else worth keeping; must be JSON-serializable.

    Examples
    --------
    >>> meta = TableMeta(pixel_size_nm=107.0, image_shape=(256, 256))
    >>> TableMeta.from_json(meta.to_json()) == meta
    True
    """

    pixel_size_nm: float | None = None
    image_shape: tuple[int, int] | None = None
    n_frames: int | None = None
    source: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.pixel_size_nm is not None:
            value = float(self.pixel_size_nm)
            if not math.isfinite(value) or value <= 0:
                raise InputError(f"pixel size must be a positive number of nm, got {value}",
                                 hint="pass --pixel-size NM")
            object.__setattr__(self, "pixel_size_nm", value)
        if self.image_shape is not None:
            shape = tuple(int(v) for v in self.image_shape)
            if len(shape) != 2 or min(shape) <= 0:
                raise InputError(f"image shape must be (height, width) > 0, got {self.image_shape}")
            object.__setattr__(self, "image_shape", shape)
        if self.n_frames is not None:
            object.__setattr__(self, "n_frames", int(self.n_frames))
        object.__setattr__(self, "extra", dict(self.extra))

    def replace(self, **changes: Any) -> "TableMeta":
        """A copy with some fields changed (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = asdict(self)
        out["image_shape"] = None if self.image_shape is None else list(self.image_shape)
        out["extra"] = dict(self.extra)
        return out

    def to_json(self) -> str:
        """JSON text, as stored in Parquet key-value metadata."""
        return json.dumps(self.to_dict(), sort_keys=True, default=_json_default)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TableMeta":
        """Build from :meth:`to_dict` output; unknown keys go to ``extra``."""
        known = {"pixel_size_nm", "image_shape", "n_frames", "source", "extra"}
        extra = dict(data.get("extra") or {})
        extra.update({k: v for k, v in data.items() if k not in known})
        return cls(pixel_size_nm=data.get("pixel_size_nm"), image_shape=data.get("image_shape"),
                   n_frames=data.get("n_frames"), source=data.get("source"), extra=extra)

    @classmethod
    def from_json(cls, text: str | bytes) -> "TableMeta":
        """Parse :meth:`to_json` output."""
        return cls.from_dict(json.loads(text))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    return str(value)


def sanitize_name(name: str) -> str:
    """A snake_case column name for a source column name.

    Units in brackets become a suffix, camelCase is split, anything that is not a
    letter or digit becomes ``_``.

    Examples
    --------
    >>> sanitize_name("bkgstd [photon]")
    'bkgstd_photon'
    >>> sanitize_name("origX")
    'orig_x'
    >>> sanitize_name("Noise (photon)")
    'noise_photon'
    """
    text = str(name).replace("µ", "u").replace("μ", "u").replace("+/-", " sd ")
    text = text.replace("#", " n ")
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    text = re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_").lower()
    if not text:
        return "column"
    if text[0].isdigit():
        text = "c_" + text
    return text


def is_snake_name(name: str) -> bool:
    """Whether ``name`` is already a snake_case identifier (as :func:`sanitize_name` makes)."""
    return bool(_SNAKE.match(str(name)))


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``... if it is taken; adds the result to ``taken``."""
    candidate, k = name, 2
    while candidate in taken:
        candidate, k = f"{name}_{k}", k + 1
    taken.add(candidate)
    return candidate


def ordered_columns(columns: list[str] | pd.Index) -> list[str]:
    """Canonical columns first, in canonical order, then the others as given."""
    present = [c for c in CANONICAL_COLUMNS if c in columns]
    return present + [c for c in columns if c not in CANONICAL_DTYPES]


def empty_table(columns: list[str] | None = None,
                extra_dtypes: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """An empty table with the given columns and canonical dtypes (the dask ``meta``)."""
    columns = list(columns or REQUIRED_COLUMNS)
    extra_dtypes = dict(extra_dtypes or {})
    data = {c: np.empty(0, dtype=CANONICAL_DTYPES.get(c, extra_dtypes.get(c, np.float64)))
            for c in columns}
    return pd.DataFrame(data, columns=columns)


def validate_table(df: pd.DataFrame, *, path: str | os.PathLike | None = None,
                   where: str = "") -> pd.DataFrame:
    """Check a table against the canonical schema and return it with canonical dtypes.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    path : str or path-like, optional
        The file the table comes from or goes to, named in errors.
    where : str, optional
        Where in the file the rows are (e.g. ``"rows starting at line 12"``), added to
        error messages.

    Returns
    -------
    pandas.DataFrame
        The columns in canonical order (canonical columns, then extras) and dtypes:
        int64 frames, float64 coordinates, a fresh RangeIndex.

    Raises
    ------
    InputError
        Missing required columns; non-numeric columns; non-integer or negative
        frames; NaN or infinite coordinates (with how many and in which column).
    """
    suffix = f" ({where})" if where else ""
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"missing required column(s) {', '.join(missing)}{suffix}", path=path)
    if df.columns.duplicated().any():
        dupes = sorted(set(df.columns[df.columns.duplicated()]))
        raise InputError(f"duplicate column(s) {', '.join(map(str, dupes))}", path=path)
    out: dict[str, np.ndarray] = {}
    for name in ordered_columns(list(df.columns)):
        column = df[name]
        if not pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_complex_dtype(
                column.dtype):
            raise InputError(f"column {name!r} is not numeric (dtype {column.dtype}){suffix}",
                             path=path, hint="only numeric columns can be kept")
        values = column.to_numpy()
        if name in INT_COLUMNS:
            values = _as_int(name, values, path, suffix)
        elif name in CANONICAL_DTYPES:
            values = values.astype(np.float64, copy=False)
        elif values.dtype == np.bool_:
            values = values.astype(np.int64)
        out[name] = values
    frames = out["frame"]
    if frames.size and frames.min() < 0:
        bad = int((frames < 0).sum())
        raise InputError(f"{bad} row(s) have a negative frame (first: {int(frames.min())})"
                         f"{suffix}", path=path, hint="frames are 0-based in the canonical table")
    for name in COORDINATE_COLUMNS:
        if name in out:
            finite = np.isfinite(out[name])
            if not finite.all():
                bad = int((~finite).sum())
                first = int(np.flatnonzero(~finite)[0]) + 1
                raise InputError(f"{bad} row(s) have a NaN or infinite {name} (first at data row "
                                 f"{first}){suffix}", path=path,
                                 hint="remove or fix those rows; they are not dropped silently")
    return pd.DataFrame(out, columns=list(out))


def _as_int(name: str, values: np.ndarray, path: Any, suffix: str) -> np.ndarray:
    if values.dtype.kind in "iub":
        return values.astype(np.int64, copy=False)
    as_float = values.astype(np.float64, copy=False)
    finite = np.isfinite(as_float)
    if not finite.all():
        raise InputError(f"{int((~finite).sum())} row(s) have a missing or infinite {name}"
                         f"{suffix}", path=path)
    rounded = np.round(as_float)
    if not np.array_equal(rounded, as_float):
        first = as_float[np.flatnonzero(rounded != as_float)[0]]
        raise InputError(f"column {name} must hold whole numbers, found {first}{suffix}",
                         path=path)
    return rounded.astype(np.int64)
