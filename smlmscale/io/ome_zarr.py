"""OME-Zarr image stores: NGFF 0.5 on Zarr v3 (default) or NGFF 0.4 on Zarr v2.

A store is a Zarr group whose full-resolution array is ``"0"``, with axes
``t,y,x`` (raw movies) or ``z,y,x`` (section stacks) and a ``scale``
coordinate transformation carrying the pixel size in nanometres. smlmscale's
own metadata (provenance, pixel size as given) lives in the group attributes
under ``"smlmscale"``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from smlmscale.errors import InputError

COMPRESSORS = ("zstd", "lz4", "none")
ARRAY_PATH = "0"
_AXIS_TYPES = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}


def compressor_codecs(name: str, *, zarr_format: int, itemsize: int) -> Any:
    """Codec(s) for ``--compressor``: Blosc with bit shuffle, zstd (level 1) or lz4 (level 5).

    Bit shuffling groups the bit planes of the camera counts, whose high bits
    barely change, which is what makes noisy SMLM movies compress. Measured on
    a Poisson-noise uint16 movie (benchmarks/RESULTS.md): Blosc-zstd level 1
    with bit shuffle compresses 3.1x at about 1.1 GiB/s per core, better and
    eight times faster than zstd level 3 with byte shuffle (3.0x, 150 MiB/s);
    lz4 gives 1.6x at about 1.9 GiB/s.

    Parameters
    ----------
    name : {"zstd", "lz4", "none"}
    zarr_format : {2, 3}
    itemsize : int
        Bytes per pixel, for the shuffle.
    """
    if name not in COMPRESSORS:
        raise InputError(f"unknown compressor {name!r}",
                         hint=f"use one of {', '.join(COMPRESSORS)}")
    if name == "none":
        return None
    level = 1 if name == "zstd" else 5
    if zarr_format == 2:
        from numcodecs import Blosc

        return Blosc(cname=name, clevel=level, shuffle=Blosc.BITSHUFFLE)
    from zarr.codecs import BloscCodec, BloscShuffle

    return BloscCodec(cname=name, clevel=level, shuffle=BloscShuffle.bitshuffle, typesize=itemsize)


def ngff_multiscales(*, axes: str, pixel_size_nm: float | None, name: str,
                     version: str, translation: tuple[float, ...] | None = None) -> list[dict]:
    """The ``multiscales`` list for one full-resolution array ``"0"``.

    Spatial axes carry ``unit: nanometer`` and the pixel size as their scale
    when it is known; otherwise scale 1 and no unit (pixel units). Every dataset
    has a ``translation`` after its ``scale`` (NGFF: the coordinate of the centre of
    element 0, in the axes' units): zeros unless ``translation`` (in ``axes``
    order; nm for y/x, frames for t) says otherwise, e.g. the half-pixel shift of an
    upsampled grid (:func:`upsampled_translation_nm`).
    """
    axes_meta = []
    for axis in axes:
        entry: dict[str, Any] = {"name": axis, "type": _AXIS_TYPES[axis]}
        if _AXIS_TYPES[axis] == "space" and pixel_size_nm is not None and axis in "yx":
            entry["unit"] = "nanometer"
        axes_meta.append(entry)
    scale = [float(pixel_size_nm) if (a in "yx" and pixel_size_nm) else 1.0 for a in axes]
    shift = [0.0] * len(axes) if translation is None else [float(v) for v in translation]
    if len(shift) != len(axes):
        raise ValueError(f"translation {translation} does not match axes {axes!r}")
    transforms = [{"type": "scale", "scale": scale}, {"type": "translation", "translation": shift}]
    multiscale: dict[str, Any] = {
        "name": name,
        "axes": axes_meta,
        "datasets": [{"path": ARRAY_PATH, "coordinateTransformations": transforms}],
    }
    if version == "0.4":
        multiscale = {"version": "0.4", **multiscale}
    return [multiscale]


def upsampled_translation_nm(pixel_size_nm: float, factor: int) -> float:
    """Where the centre of pixel 0 of a grid upsampled ``factor`` times lies, in nm.

    NGFF coordinates refer to pixel centres, so the movie's pixel ``i`` is at
    ``i * pixel_size_nm``. Pixel ``j`` of the upsampled grid covers
    ``[j, j + 1) * pixel_size_nm / factor`` from the movie's corner, so its centre is
    at ``(j + 0.5) * pixel_size_nm / factor - pixel_size_nm / 2``.

    >>> upsampled_translation_nm(100.0, 4)
    -37.5
    """
    return 0.5 * pixel_size_nm * (1.0 / factor - 1.0)


def store_name(path: str | os.PathLike) -> str:
    """The name a store is known by: its folder name without a ``.partial`` build suffix."""
    name = Path(os.fspath(path).rstrip("/" + os.sep)).name
    return name[:-len(".partial")] if name.endswith(".partial") else name


def create_image_store(path: str | os.PathLike, *, shape: tuple[int, ...], dtype: Any,
                       chunks: tuple[int, ...], shards: tuple[int, ...] | None = None,
                       compressor: str = "zstd", axes: str = "tyx",
                       pixel_size_nm: float | None = None, zarr_format: int = 3,
                       attrs: dict | None = None, translation: tuple[float, ...] | None = None,
                       name: str | None = None):
    """Create an empty OME-Zarr image store and return its array ``"0"``.

    Parameters
    ----------
    path : str or os.PathLike
        Directory to create (must not exist).
    shape, chunks : tuple of int
        Array and chunk shape, in ``axes`` order.
    shards : tuple of int, optional
        Shard shape (Zarr v3 only); every write region must align with it.
    compressor : {"zstd", "lz4", "none"}
    axes : str
        ``"tyx"`` for movies, ``"zyx"`` for section stacks.
    pixel_size_nm : float, optional
        Lateral pixel size in nm.
    zarr_format : {3, 2}
        3 writes NGFF 0.5, 2 writes NGFF 0.4.
    attrs : dict, optional
        Stored under the group attribute ``"smlmscale"``.
    translation : tuple of float, optional
        NGFF translation in ``axes`` order (nm for y/x, frames for t); zeros by default.
    name : str, optional
        The multiscale name; default: the folder name without ``.partial``.

    Returns
    -------
    zarr.Array
    """
    import zarr

    if zarr_format not in (2, 3):
        raise InputError(f"unknown Zarr format {zarr_format}", hint="use 2 or 3")
    if shards is not None and zarr_format == 2:
        raise InputError("sharding needs Zarr format 3", hint="drop --shards or --zarr-format 2")
    dtype = np.dtype(dtype)
    name = name or store_name(path)
    own = {"smlmscale": dict(attrs or {}, pixel_size_nm=pixel_size_nm, axes=axes)}
    if zarr_format == 3:
        group_attrs = {"ome": {"version": "0.5", "multiscales": ngff_multiscales(
            axes=axes, pixel_size_nm=pixel_size_nm, name=name, version="0.5",
            translation=translation)}, **own}
        group = zarr.open_group(os.fspath(path), mode="w-", zarr_format=3, attributes=group_attrs)
        codec = compressor_codecs(compressor, zarr_format=3, itemsize=dtype.itemsize)
        return group.create_array(
            ARRAY_PATH, shape=shape, dtype=dtype, chunks=chunks, shards=shards,
            compressors=codec, fill_value=0, dimension_names=list(axes),
            chunk_key_encoding={"name": "default", "separator": "/"})
    group_attrs = {"multiscales": ngff_multiscales(
        axes=axes, pixel_size_nm=pixel_size_nm, name=name, version="0.4",
        translation=translation), **own}
    group = zarr.open_group(os.fspath(path), mode="w-", zarr_format=2, attributes=group_attrs)
    codec = compressor_codecs(compressor, zarr_format=2, itemsize=dtype.itemsize)
    return group.create_array(
        ARRAY_PATH, shape=shape, dtype=dtype, chunks=chunks, compressors=codec, fill_value=0,
        chunk_key_encoding={"name": "v2", "separator": "/"})


@dataclass(frozen=True)
class ImageStore:
    """An opened OME-Zarr image store.

    Attributes
    ----------
    path : str
    array : zarr.Array
        The full-resolution array ``"0"``.
    axes : str
        e.g. ``"tyx"``.
    pixel_size_nm : float or None
    ngff_version : str
        ``"0.5"`` or ``"0.4"``.
    attrs : dict
        The ``"smlmscale"`` group attributes (provenance); empty for foreign stores.
    """

    path: str
    array: Any
    axes: str
    pixel_size_nm: float | None
    ngff_version: str
    attrs: dict


def open_zarr_group(path: str | os.PathLike, *, mode: str = "r", what: str = "Zarr store"):
    """Open an existing Zarr group (v2 or v3), or raise a one-line :class:`InputError`.

    Parameters
    ----------
    path : str or os.PathLike
    mode : str
        Zarr's open mode (``"r"``, ``"r+"``).
    what : str
        What the caller expects there, for the message (``"no such patch set"``).
    """
    import zarr

    if not os.path.isdir(path):
        raise InputError(f"no such {what}", path=path)
    try:
        return zarr.open_group(os.fspath(path), mode=mode)
    except (FileNotFoundError, ValueError, TypeError, KeyError) as exc:
        raise InputError(f"not a Zarr group ({exc})", path=path) from None


def open_image_store(path: str | os.PathLike, *, mode: str = "r") -> ImageStore:
    """Open an OME-Zarr image store written by smlmscale or any NGFF 0.4/0.5 writer.

    Raises
    ------
    InputError
        The path is not a Zarr group or holds no NGFF image.
    """
    path = os.fspath(path)
    group = open_zarr_group(path, mode=mode)
    attrs = group.attrs.asdict()
    if "ome" in attrs:
        version = str(attrs["ome"].get("version", "0.5"))
        multiscales = attrs["ome"].get("multiscales")
    else:
        multiscales = attrs.get("multiscales")
        version = str((multiscales or [{}])[0].get("version", "0.4"))
    if not multiscales:
        raise InputError("Zarr group holds no OME-Zarr image (no multiscales metadata)", path=path)
    ms = multiscales[0]
    axes = "".join(a["name"] if isinstance(a, dict) else a for a in ms["axes"])
    dataset = ms["datasets"][0]
    try:
        array = group[dataset["path"]]
    except KeyError:
        raise InputError(f"OME-Zarr dataset {dataset['path']!r} is missing", path=path) from None
    own = attrs.get("smlmscale", {})
    return ImageStore(path=path, array=array, axes=axes,
                      pixel_size_nm=own.get("pixel_size_nm", _scale_pixel_size(ms, dataset)),
                      ngff_version=version, attrs=own)


def _scale_pixel_size(multiscale: dict, dataset: dict) -> float | None:
    axes = multiscale["axes"]
    for transform in dataset.get("coordinateTransformations", []):
        if transform.get("type") == "scale":
            for axis, value in zip(axes, transform["scale"]):
                if isinstance(axis, dict) and axis.get("name") == "x":
                    factor = {"nanometer": 1.0, "micrometer": 1e3}.get(axis.get("unit", ""))
                    return float(value) * factor if factor else None
    return None


def update_smlmscale_attrs(path: str | os.PathLike, **values: Any) -> None:
    """Merge ``values`` into the group attribute ``"smlmscale"``."""
    import zarr

    group = zarr.open_group(os.fspath(path), mode="r+")
    own = dict(group.attrs.get("smlmscale", {}))
    own.update(values)
    group.attrs["smlmscale"] = own


def _stored_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def describe_store(path: str | os.PathLike) -> dict[str, Any]:
    """Shape, dtype, chunks, shards, compression ratio, pixel size and provenance of a store.

    Raises
    ------
    InputError
        The path is not an OME-Zarr image store.
    """
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
