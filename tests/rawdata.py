"""Picasso .raw (+ .yaml) and Zhuang-lab .dax (+ .inf) movies built byte by byte.

The layouts follow the formats' readers: Picasso's ``io.save_raw``/``load_raw`` (the
array's bytes, a YAML document of Byte Order, Data Type, Frames, Height, Width and
optionally Pixelsize) and storm-analysis' ``DaxReader`` (big-endian uint16 frames; an
``.inf`` of ``key = value`` lines, ``frame dimensions = W x H``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_picasso_raw(path: Path, movie: np.ndarray, *, byteorder: str = "<",
                      pixel_size_nm: float | None = None, **overrides) -> Path:
    """``movie`` ``(t, h, w)`` as ``path`` (.raw) and its ``.yaml``; ``overrides`` replace
    YAML keys (None drops one)."""
    stored = movie.astype(movie.dtype.newbyteorder(byteorder))
    path.write_bytes(stored.tobytes())
    info = {"Byte Order": byteorder, "Data Type": movie.dtype.name, "Frames": movie.shape[0],
            "Height": movie.shape[1], "Width": movie.shape[2], "Camera": "Simulated"}
    if pixel_size_nm is not None:
        info["Pixelsize"] = pixel_size_nm
    info.update(overrides)
    lines = [f"{key}: {value if not isinstance(value, str) else repr(value)}"
             for key, value in info.items() if value is not None]
    path.with_suffix(".yaml").write_text("\n".join(lines) + "\n")
    return path


def write_dax(path: Path, movie: np.ndarray, *, endian: str = "big",
              frames: int | None = None) -> Path:
    """``movie`` ``(t, h, w)`` (uint16) as ``path`` (.dax) and its ``.inf``."""
    order = ">" if endian == "big" else "<"
    path.write_bytes(movie.astype(np.dtype(np.uint16).newbyteorder(order)).tobytes())
    t, h, w = movie.shape
    path.with_suffix(".inf").write_text(
        "binning = 1 x 1\n"
        f"data type = 16 bit integers (binary, {endian} endian)\n"
        f"frame dimensions = {w} x {h}\n"
        f"number of frames = {t if frames is None else frames}\n"
        f"Lock Target = 0.0\nx_start = 1\nx_end = {w}\ny_start = 1\ny_end = {h}\n")
    return path
