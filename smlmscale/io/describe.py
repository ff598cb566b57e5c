"""Summaries of anything smlmscale reads or writes, for ``smlmscale info``.

Each kind of path is one :class:`PathKind` record, ``sniff(path) -> bool`` and
``describe(path) -> dict``, in :data:`PATH_KINDS`; :func:`describe_path` describes a
path by the first record that recognizes it. The functions live beside their formats
(:mod:`smlmscale.cluster.output`, :mod:`smlmscale.patches.patchset`,
:mod:`smlmscale.io.modeldir`, :mod:`smlmscale.io.ome_zarr`,
:mod:`smlmscale.io.tables.describe`) and are imported only when called: describing a
model does not import TensorFlow, and describing a table does not import Zarr.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any, Callable

from smlmscale.errors import InputError


@dataclass(frozen=True)
class _Lazy:
    """``"package.module:function"``, imported when first called."""

    target: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        module, name = self.target.split(":")
        return getattr(importlib.import_module(module), name)(*args, **kwargs)


@dataclass(frozen=True)
class PathKind:
    """A kind of path ``smlmscale info`` describes (one record).

    Attributes
    ----------
    kind : str
        The summary's ``"kind"``.
    sniff : callable
        ``sniff(path) -> bool``: whether ``path`` is of this kind (cheap, never raises).
    describe : callable
        ``describe(path) -> dict``: the JSON-able summary, ``"kind"`` first.
    """

    kind: str
    sniff: Callable[[str], bool]
    describe: Callable[[str], dict[str, Any]]


#: The kinds, in the order they are tried; folders that are nothing else are image stores.
PATH_KINDS: tuple[PathKind, ...] = (
    PathKind("clusters", _Lazy("smlmscale.cluster.output:is_cluster_dir"),
             _Lazy("smlmscale.cluster.output:describe_clusters")),
    PathKind("patch set", _Lazy("smlmscale.patches.patchset:is_patchset"),
             _Lazy("smlmscale.patches.patchset:describe_patchset")),
    PathKind("model", _Lazy("smlmscale.io.modeldir:is_model_dir"),
             _Lazy("smlmscale.io.modeldir:describe_model")),
    PathKind("PSF file", _Lazy("smlmscale.psf.store:is_psf_store"),
             _Lazy("smlmscale.psf.store:describe_psf")),
    PathKind("image store", os.path.isdir, _Lazy("smlmscale.io.ome_zarr:describe_store")),
    PathKind("localization table", os.path.isfile,
             _Lazy("smlmscale.io.tables.describe:describe_table_file")),
)


def describe_path(path: str | os.PathLike) -> dict[str, Any]:
    """Describe an image store, patch set, model or clusters folder, or a localization table.

    Returns
    -------
    dict
        ``{"kind": "image store" | "patch set" | "model" | "clusters" |
        "localization table", ...}``
        with JSON-able values.

    Raises
    ------
    InputError
        Nothing is at ``path``, or it is not what its kind's reader expects.
    """
    path = os.fspath(path)
    for kind in PATH_KINDS:
        if kind.sniff(path):
            return kind.describe(path)
    raise InputError("no such file or folder", path=path)


def describe_store(path: str | os.PathLike) -> dict[str, Any]:
    """:func:`smlmscale.io.ome_zarr.describe_store` (kept here for its callers)."""
    from smlmscale.io.ome_zarr import describe_store as describe

    return describe(path)


__all__ = ["PATH_KINDS", "PathKind", "describe_path", "describe_store"]
