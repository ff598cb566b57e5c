"""The ``clusters/`` folder that ``smlmscale cluster`` writes, and its summary for ``info``.

Files (built in ``clusters.partial`` by :func:`~smlmscale.io.outputs.staged_output` and
renamed when complete):

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

import os
from pathlib import Path
from typing import Any

import pandas as pd

from smlmscale.cluster.properties import property_summary
from smlmscale.errors import InputError
from smlmscale.io.outputs import read_output_record, write_json

KIND = "clusters"
RECORD = "cluster.json"
LOCALIZATIONS = "localizations.parquet"
PROPERTIES = "properties.parquet"
PROPERTIES_CSV = "properties.csv"
RANDOMIZED = "randomized_properties.parquet"
SUMMARY = "summary.csv"
HISTOGRAMS = "histograms.png"
SEQUENCES = "sequences.csv"


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
    write_json(partial / RECORD, {**record, "files": sorted(files)})


def read_record(path: str | os.PathLike) -> dict[str, Any]:
    """The ``cluster.json`` of a clusters folder.

    Raises
    ------
    InputError
        No such folder, no ``cluster.json``, unreadable JSON, or another kind.
    """
    return read_output_record(path, RECORD, kind=KIND, what="clusters folder",
                              writer="smlmscale cluster")


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
           "RECORD", "SEQUENCES", "SUMMARY", "describe_clusters", "is_cluster_dir",
           "read_record", "summary_table", "write_record", "write_small_files"]
