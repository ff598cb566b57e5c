"""ROI lists: square tiles of a section stack, read from CSV, checked, and selected.

An ROI list has one row per tile with at least these integer columns:

- ``roi``: the tile's id (unique),
- ``section``: the section (axis 0 of a ``z,y,x`` stack; the frame of a movie),
- ``x``, ``y``: column and row of the tile's top-left pixel (px, 0-based),
- ``size``: the tile's edge (px); all tiles of one list have the same size.

The tile spans pixels ``[y, y + size) x [x, x + size)`` of its section, i.e.
``[x * p, (x + size) * p)`` nm along x for a pixel size ``p`` and the canonical
pixel-corner origin. Other columns (``cluster``, ``n_localizations`` from the
section simulator) are kept as they are. This is the list the seed's
"previously established STORM analysis pipeline" provides (ROI id, coordinates,
image number); the same helpers serve the ``counts`` generator, ``predict`` and
``cluster``.

Selections follow the seed: :func:`shuffle_rois` (``make_df_shuffled_tile_list``),
:func:`first_per_section` (``make_df_mixed_tile_list``) and :func:`drop_empty`
(``remove_empty_tiles_tile_list``). All keep the columns and reset the index.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from smlmscale.errors import InputError

#: Columns every ROI list must have.
ROI_REQUIRED = ("roi", "section", "x", "y", "size")


def read_rois(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate an ROI list (CSV).

    Parameters
    ----------
    path : str or os.PathLike
        CSV with a header holding at least :data:`ROI_REQUIRED`.

    Returns
    -------
    pandas.DataFrame
        The rows in file order, index reset; the required columns as int64.

    Raises
    ------
    InputError
        Naming the file: missing or unreadable file, missing columns, empty list,
        and any of :func:`validate_rois`'s errors.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError("no such ROI list" if not os.path.exists(path)
                         else "the ROI list is not a file", path=path)
    try:
        rois = pd.read_csv(path, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise InputError("the ROI list is empty", path=path,
                         hint="give a CSV with columns " + ", ".join(ROI_REQUIRED)) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise InputError(f"cannot read the ROI list as CSV ({error})".splitlines()[0],
                         path=path) from None
    rois.columns = [str(c).strip() for c in rois.columns]
    return validate_rois(rois, path=path)


def validate_rois(rois: pd.DataFrame, *, path: str | os.PathLike | None = None
                  ) -> pd.DataFrame:
    """Check an in-memory ROI list; return it with int64 required columns, index reset.

    Parameters
    ----------
    rois : pandas.DataFrame
    path : str or os.PathLike, optional
        Named in the error messages.

    Raises
    ------
    InputError
        Missing columns; no rows; a NaN, non-integer or negative value (the first
        offending row is named); ``size`` of 0; several tile sizes; duplicate ids.
    """
    missing = [c for c in ROI_REQUIRED if c not in rois.columns]
    if missing:
        raise InputError(f"the ROI list has no {', '.join(missing)} column"
                         f"{'s' if len(missing) > 1 else ''}", path=path,
                         hint="give a CSV with columns " + ", ".join(ROI_REQUIRED))
    if not len(rois):
        raise InputError("the ROI list holds no ROI", path=path,
                         hint="give at least one ROI")
    out = rois.reset_index(drop=True).copy()
    for name in ROI_REQUIRED:
        out[name] = _integer_column(out, name, path)
    if (out["size"] < 1).any():
        row = int(np.flatnonzero(out["size"].to_numpy() < 1)[0])
        raise InputError(f"ROI size must be at least 1 px (row {row + 1}: {out['size'][row]})",
                         path=path)
    sizes = np.unique(out["size"].to_numpy())
    if sizes.size > 1:
        listed = ", ".join(str(int(s)) for s in sizes[:5]) + (", ..." if sizes.size > 5 else "")
        raise InputError(f"the ROI list mixes tile sizes ({listed} px)", path=path,
                         hint="use one tile size per list")
    duplicated = out["roi"].duplicated()
    if duplicated.any():
        roi = int(out["roi"][duplicated].iloc[0])
        raise InputError(f"ROI id {roi} appears more than once", path=path,
                         hint="give every ROI its own id")
    return out


def _integer_column(rois: pd.DataFrame, name: str, path) -> pd.Series:
    """``rois[name]`` as int64; InputError naming the first bad row (1-based, header excluded)."""
    column = rois[name]
    values = pd.to_numeric(column, errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        what = "is missing" if pd.isna(column.iloc[row]) else f"is {column.iloc[row]!r}"
        raise InputError(f"ROI {name} {what} in row {row + 1}", path=path,
                         hint=f"give an integer {name} for every ROI")
    bad = (values != np.round(values)) | (values < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        kind = "negative" if values[row] < 0 else "not an integer"
        raise InputError(f"ROI {name} is {kind} in row {row + 1}: {column.iloc[row]}",
                         path=path, hint=f"{name} must be a non-negative integer")
    return pd.Series(values.astype(np.int64), index=rois.index, name=name)


def check_rois(rois: pd.DataFrame, *, n_sections: int, height: int, width: int,
               path: str | os.PathLike | None = None) -> None:
    """Check that every ROI tile lies inside a stack of ``n_sections`` ``height x width`` images.

    Parameters
    ----------
    rois : pandas.DataFrame
        A validated list (:func:`read_rois`).
    n_sections, height, width : int
        The stack's shape (sections, px, px).
    path : str or os.PathLike, optional
        The list's file, named in the message.

    Raises
    ------
    InputError
        With the first offending ROI id: a section the stack does not have, or a
        tile that reaches beyond the image.
    """
    section = rois["section"].to_numpy()
    absent = section >= n_sections
    if absent.any():
        k = int(np.flatnonzero(absent)[0])
        raise InputError(f"ROI {int(rois['roi'].iloc[k])} is in section {int(section[k])} but "
                         f"the stack has only {n_sections} sections (0-based)", path=path,
                         hint="check that the ROI list belongs to this stack")
    x, y, size = (rois[c].to_numpy() for c in ("x", "y", "size"))
    outside = (x + size > width) | (y + size > height)
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        raise InputError(f"ROI {int(rois['roi'].iloc[k])} (x {int(x[k])}, y {int(y[k])}, size "
                         f"{int(size[k])} px) reaches beyond the {height}x{width} px image",
                         path=path, hint="check that the ROI list belongs to this stack")


def shuffle_rois(rois: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The rows in a random order drawn with ``numpy.random.default_rng(seed)``.

    The same seed gives the same order.

    >>> rois = pd.DataFrame({"roi": range(5)})
    >>> shuffle_rois(rois, 1)["roi"].tolist() == shuffle_rois(rois, 1)["roi"].tolist()
    True
    """
    order = np.random.default_rng(seed).permutation(len(rois))
    return rois.iloc[order].reset_index(drop=True)


def first_per_section(rois: pd.DataFrame, n: int) -> pd.DataFrame:
    """The first ``n`` ROIs of each section, in list order (the seed's mixed tile list).

    >>> rois = pd.DataFrame({"roi": range(6), "section": [0, 1, 0, 0, 1, 2]})
    >>> first_per_section(rois, 2)["roi"].tolist()
    [0, 1, 2, 4, 5]
    """
    if int(n) < 1:
        raise InputError(f"ROIs per section must be at least 1, got {n}")
    return rois.groupby("section", sort=False).head(int(n)).reset_index(drop=True)


def drop_empty(rois: pd.DataFrame, empty_mask) -> pd.DataFrame:
    """The rows whose ``empty_mask`` entry is False (tiles holding some intensity).

    >>> rois = pd.DataFrame({"roi": [4, 5, 6]})
    >>> drop_empty(rois, [False, True, False])["roi"].tolist()
    [4, 6]
    """
    mask = np.asarray(empty_mask, dtype=bool)
    if mask.shape != (len(rois),):
        raise ValueError(f"empty_mask has shape {mask.shape}, expected ({len(rois)},)")
    return rois[~mask].reset_index(drop=True)


__all__ = ["ROI_REQUIRED", "check_rois", "drop_empty", "first_per_section", "read_rois",
           "shuffle_rois", "validate_rois"]
