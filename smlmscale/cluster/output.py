"""The ``clusters/`` folder that ``smlmscale cluster`` writes, and its summary for ``info``.

Files (built in ``clusters.partial`` and renamed when complete):

=============================  ==============================================================
``localizations.parquet``      the input rows in input order with ``cluster`` (int64, -1
                               noise, ids unique over the data set) and, in sequences mode,
                               ``sequence`` (int64; -1 outside every ROI tile, -2 duplicate
                               of an overlapping tile). An input ``cluster`` or ``sequence``
                               column is kept as ``input_cluster`` / ``input_sequence``.
``properties.parquet``/``.csv``  one row per cluster (``cluster_properties``; sequences mode:
                               with its ``sequence``)
``randomized_properties.parquet``  with ``--randomize N``: the properties of N randomized
                               copies of every cluster (column ``repeat``)
``summary.csv``                ``set`` (real / randomized), ``property`` and the statistics
                               of ``property_summary``
``histograms.png``             property histograms, real against randomized
``sequences.csv``              sequences mode: ``sequence_summary`` with ``n_localizations``
                               and ``n_clusters`` per sequence
``cluster.json``               kind ``"clusters"``, mode, settings, counts, provenance
=============================  ==============================================================
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from smlmscale.cluster.properties import property_summary
from smlmscale.errors import InputError
from smlmscale.io.outputs import partial_path

KIND = "clusters"
RECORD = "cluster.json"
LOCALIZATIONS = "localizations.parquet"
PROPERTIES = "properties.parquet"
PROPERTIES_CSV = "properties.csv"
RANDOMIZED = "randomized_properties.parquet"
SUMMARY = "summary.csv"
HISTOGRAMS = "histograms.png"
SEQUENCES = "sequences.csv"


def check_output_folder(output: str | os.PathLike, *, overwrite: bool) -> None:
    """Refuse an output folder that exists (without ``overwrite``) or cannot be made.

    Cheap and local: nothing is created or removed.

    Raises
    ------
    InputError
        ``output`` exists and ``overwrite`` is false; it is a file; ``OUT.partial`` of an
        interrupted run exists without ``overwrite``; the parent folder does not exist.
    """
    final, partial = os.path.abspath(os.fspath(output)), partial_path(output)
    if os.path.isfile(final):
        raise InputError("the output is a file; smlmscale cluster writes a folder", path=final,
                         hint="choose another -o, e.g. clusters/")
    if os.path.exists(final) and not overwrite:
        raise InputError("output exists", path=final,
                         hint="pass --overwrite to replace it, or choose another -o")
    if os.path.exists(partial) and not overwrite:
        raise InputError("an interrupted run left this", path=partial,
                         hint="pass --overwrite to start again")
    if not os.path.isdir(os.path.dirname(final)):
        raise InputError("the output's folder does not exist", path=os.path.dirname(final),
                         hint="create it first")


def start_partial(output: str | os.PathLike, *, overwrite: bool) -> Path:
    """Create an empty ``OUT.partial`` (after :func:`check_output_folder`)."""
    check_output_folder(output, overwrite=overwrite)
    partial = Path(partial_path(output))
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir()
    return partial


def summary_table(properties: pd.DataFrame, randomized: pd.DataFrame | None) -> pd.DataFrame:
    """``summary.csv``: ``set``, ``property`` and the :func:`property_summary` columns."""
    frames = []
    for name, table in (("real", properties), ("randomized", randomized)):
        if table is None:
            continue
        summary = property_summary(table.drop(columns=["sequence"], errors="ignore"))
        summary = summary.reset_index()
        summary.insert(0, "set", name)
        frames.append(summary)
    return pd.concat(frames, ignore_index=True)


def write_small_files(partial: Path, *, properties: pd.DataFrame,
                      randomized: pd.DataFrame | None, sequences: pd.DataFrame | None
                      ) -> None:
    """Everything but the localizations and ``cluster.json`` into ``partial``."""
    from smlmscale.cluster.plots import plot_property_histograms

    properties.to_parquet(partial / PROPERTIES, index=False)
    properties.to_csv(partial / PROPERTIES_CSV, index=False)
    if randomized is not None:
        randomized.to_parquet(partial / RANDOMIZED, index=False)
    summary_table(properties, randomized).to_csv(partial / SUMMARY, index=False)
    if sequences is not None:
        sequences.to_csv(partial / SEQUENCES, index=False)
    real = properties.drop(columns=["sequence"], errors="ignore")
    plot_property_histograms(real, randomized, partial / HISTOGRAMS)


def write_record(partial: Path, record: dict[str, Any]) -> None:
    """``cluster.json``, listing the files of ``partial``."""
    files = sorted(p.name for p in partial.iterdir() if p.is_file()) + [RECORD]
    text = json.dumps({**record, "files": sorted(files)}, indent=2, default=_json)
    (partial / RECORD).write_text(text + "\n", encoding="utf-8")


def _json(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def read_record(path: str | os.PathLike) -> dict[str, Any]:
    """The ``cluster.json`` of a clusters folder.

    Raises
    ------
    InputError
        No such folder, no ``cluster.json``, unreadable JSON, or another kind.
    """
    folder = Path(os.fspath(path))
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"not a clusters folder: it has no {RECORD}", path=str(folder),
                         hint="give a folder written by smlmscale cluster") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable {RECORD} ({exc})", path=str(folder)) from None
    if not isinstance(record, dict) or record.get("kind") != KIND:
        raise InputError(f"{RECORD} is not of kind {KIND!r}", path=str(folder))
    return record


def is_cluster_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder with a ``cluster.json`` of kind ``"clusters"`` (cheap)."""
    if not (Path(os.fspath(path)) / RECORD).is_file():
        return False
    try:
        read_record(path)
    except InputError:
        return False
    return True


def describe_clusters(path: str | os.PathLike) -> dict[str, Any]:
    """A summary of a clusters folder for ``smlmscale info``: mode, settings, counts, files."""
    record = read_record(path)
    folder = Path(os.fspath(path))
    settings, counts = record.get("settings") or {}, record.get("counts") or {}
    rows = counts.get("localizations") or 0
    return {
        "kind": KIND,
        "path": str(folder.resolve()),
        "mode": record.get("mode"),
        "eps_nm": settings.get("eps_nm"),
        "eps_z_nm": settings.get("eps_z_nm"),
        "min_samples": settings.get("min_samples"),
        "randomize": settings.get("randomize"),
        "section_thickness_nm": record.get("section_thickness_nm"),
        "localizations": rows,
        "clusters": counts.get("clusters"),
        "clustered": counts.get("clustered"),
        "clustered_fraction": round(counts.get("clustered", 0) / rows, 4) if rows else None,
        "noise": counts.get("noise"),
        "sequences": counts.get("sequences"),
        "tasks": counts.get("tasks"),
        "blocks": counts.get("blocks"),
        "seconds": record.get("seconds"),
        "input": record.get("input"),
        "rois": record.get("rois"),
        "files": [f"{name} ({(folder / name).stat().st_size} B)"
                  for name in record.get("files", []) if (folder / name).is_file()],
        "provenance": {k: record.get(k) for k in ("command", "version", "created")},
    }


__all__ = ["HISTOGRAMS", "KIND", "LOCALIZATIONS", "PROPERTIES", "PROPERTIES_CSV", "RANDOMIZED",
           "RECORD", "SEQUENCES", "SUMMARY", "check_output_folder", "describe_clusters",
           "is_cluster_dir", "read_record", "start_partial", "summary_table",
           "write_record", "write_small_files"]
