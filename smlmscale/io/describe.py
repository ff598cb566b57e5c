"""Summaries of anything smlmscale reads or writes, for ``smlmscale info``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from smlmscale.errors import InputError
from smlmscale.io.ome_zarr import open_image_store


def describe_path(path: str | os.PathLike) -> dict[str, Any]:
    """Describe an image store, patch set, model or clusters folder, or a localization table.

    Model folders are recognized by their ``smlmscale.json``; :mod:`smlmscale.train` is
    imported only here, and it does not import TensorFlow to describe a model.

    Returns
    -------
    dict
        ``{"kind": "image store" | "patch set" | "model" | "clusters" |
        "localization table", ...}``
        with JSON-able values.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        from smlmscale.cluster.output import describe_clusters, is_cluster_dir
        from smlmscale.patches.patchset import describe_patchset, is_patchset
        from smlmscale.io.modeldir import describe_model, is_model_dir

        if is_cluster_dir(path):
            return describe_clusters(path)
        if is_patchset(path):
            return describe_patchset(path)
        return describe_model(path) if is_model_dir(path) else describe_store(path)
    if os.path.isfile(path):
        from smlmscale.io.tables import describe_table

        return {"kind": "localization table", **describe_table(path)}
    raise InputError("no such file or folder", path=path)


def _stored_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def describe_store(path: str | os.PathLike) -> dict[str, Any]:
    """Shape, dtype, chunks, shards, compression ratio, pixel size and provenance of a store."""
    store = open_image_store(path)
    array = store.array
    stored = _stored_bytes(Path(store.path) / array.path) if array.path else None
    nbytes = int(array.nbytes)
    codecs = [type(c).__name__ + (f"({c.cname.value if hasattr(c.cname, 'value') else c.cname})"
                                  if hasattr(c, "cname") else "")
              for c in (array.compressors or ())]
    return {
        "kind": "image store",
        "path": store.path,
        "ngff_version": store.ngff_version,
        "zarr_format": array.metadata.zarr_format,
        "axes": store.axes,
        "shape": list(array.shape),
        "dtype": str(array.dtype),
        "chunks": list(array.chunks),
        "shards": list(array.shards) if getattr(array, "shards", None) else None,
        "compressors": codecs or ["none"],
        "uncompressed_bytes": nbytes,
        "stored_bytes": stored,
        "compression_ratio": round(nbytes / stored, 2) if stored else None,
        "pixel_size_nm": store.pixel_size_nm,
        "provenance": store.attrs,
    }
