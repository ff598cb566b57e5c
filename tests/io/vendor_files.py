"""Test-file makers for ND2 and CZI movies.

- :func:`write_czi` writes a real CZI file with pylibCZIrw's writer.
- No library writes ND2, so :class:`FakeND2File` stands in for ``nd2.ND2File`` (the same
  surface the reader uses: context manager, ``sizes``, ``dtype``, ``is_rgb``,
  ``voxel_size()``, ``metadata.channels``, ``read_frame(seq_index)``), reading the array a
  test saved with :func:`write_fake_nd2` under a ``.nd2`` name. Its frame order is the
  nd2 package's: sequence index = C-order ravel of the loop axes in ``sizes`` order,
  ``read_frame`` returning ``(C, Y, X)``, squeezed.
"""

from __future__ import annotations

import json
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace

import numpy as np

VoxelSize = namedtuple("VoxelSize", "x y z")


def write_czi(path, data: np.ndarray, *, axis: str = "T", pixel_size_nm: float | None = None,
              channel_names: list[str] | None = None,
              origins: list[tuple[int, int]] | None = None) -> Path:
    """Write ``data`` ``(scene, frame, channel, y, x)`` as a CZI file with pylibCZIrw.

    ``axis`` is the CZI dimension the frames are written along (``"T"`` or ``"Z"``);
    scene ``s`` is placed with its top-left corner at ``origins[s]`` ``(x, y)`` (default
    scenes side by side with a gap); the X/Y scaling is written in m, as CZI stores it.
    """
    from pylibCZIrw import czi

    path = Path(path)
    n_scenes, n_frames, n_channels, height, width = data.shape
    origins = origins or [(s * (width + 9), 3 * s) for s in range(n_scenes)]
    with czi.create_czi(str(path), exist_ok=True) as writer:
        for s in range(n_scenes):
            for i in range(n_frames):
                for c in range(n_channels):
                    writer.write(np.ascontiguousarray(data[s, i, c])[..., None],
                                 plane={axis: i, "C": c}, scene=s, location=origins[s])
        scale_m = 0.0 if pixel_size_nm is None else pixel_size_nm * 1e-9
        writer.write_metadata(
            channel_names=dict(enumerate(channel_names)) if channel_names else None,
            scale_x=scale_m, scale_y=scale_m)
    return path


def write_fake_nd2(path, data: np.ndarray, axes: str, *, pixel_size_um: float | None = None,
                   channel_names: list[str] | None = None) -> Path:
    """Save ``data`` with its axis letters (e.g. ``"TPCYX"``) for :class:`FakeND2File`."""
    path = Path(path)
    meta = {"axes": axes, "pixel_size_um": pixel_size_um, "names": channel_names}
    with open(path, "wb") as fh:     # a file handle: np.savez keeps the .nd2 name
        np.savez(fh, data=data, meta=np.array(json.dumps(meta)))
    return path


class FakeND2File:
    """Stand-in for ``nd2.ND2File`` over a :func:`write_fake_nd2` file.

    ``opened`` lists every path opened; ``frames_read`` every sequence index read.
    """

    opened: list[str] = []
    frames_read: list[int] = []

    def __init__(self, path) -> None:
        FakeND2File.opened.append(str(path))
        with np.load(path) as npz:
            self._data = npz["data"]
            meta = json.loads(str(npz["meta"]))
        axes, shape = meta["axes"], self._data.shape
        self.sizes = {a: n for a, n in zip(axes, shape) if n != 1}   # nd2 drops 1s
        self._data = self._data.reshape(tuple(self.sizes.values()))
        self.dtype = self._data.dtype
        self.is_rgb = "S" in self.sizes
        self._pixel_um = meta["pixel_size_um"]
        names = meta["names"] or [f"ch{i}" for i in range(self.sizes.get("C", 1))]
        calibrated = (self._pixel_um is not None,) * 3
        self.metadata = SimpleNamespace(channels=[
            SimpleNamespace(channel=SimpleNamespace(name=n),
                            volume=SimpleNamespace(axesCalibrated=calibrated))
            for n in names])

    def __enter__(self) -> FakeND2File:
        return self

    def __exit__(self, *exc) -> None:
        self._data = None

    def voxel_size(self) -> VoxelSize:
        um = 1.0 if self._pixel_um is None else self._pixel_um   # nd2's placeholder
        return VoxelSize(um, um, 1.0)

    def read_frame(self, seq_index: int) -> np.ndarray:
        FakeND2File.frames_read.append(int(seq_index))
        loops = [n for a, n in self.sizes.items() if a not in ("C", "Y", "X", "S")]
        index = np.unravel_index(int(seq_index), loops) if loops else ()
        return self._data[tuple(index)].copy()
