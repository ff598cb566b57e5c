"""Which files make up a movie, and how their frames concatenate.

Inputs may be files, folders of single-frame (or multi-frame) TIFFs, or glob
patterns; all are expanded into one list in natural order of their paths, so
``frame2.tif`` precedes ``frame10.tif`` and MicroManager's ``Pos0.ome.tif``
precedes ``Pos0_1.ome.tif``. A single OME-TIFF whose header lists further files
of the same series (a split MicroManager dataset) brings those files in too.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np

from smlmscale.errors import InputError
from smlmscale.io.movie_files import FORMATS_TEXT, MOVIE_SUFFIXES
from smlmscale.io.tiff import TiffFileInfo, natural_key

_GLOB_CHARS = set("*?[")


def expand_inputs(inputs: Sequence[str | os.PathLike]) -> list[str]:
    """Expand files, folders and glob patterns into absolute movie paths, naturally sorted.

    A folder contributes its files of the suffixes ingest reads (``MOVIE_SUFFIXES``).

    Raises
    ------
    InputError
        Nothing given, a path that does not exist, a pattern that matches
        nothing, or a folder without TIFF files.
    """
    if not inputs:
        raise InputError("no input files given", hint="name movie files, folders or patterns")
    paths: list[str] = []
    for item in inputs:
        text = os.fspath(item)
        if os.path.isdir(text):
            found = [str(p) for p in Path(text).iterdir()
                     if p.is_file() and p.suffix.lower() in MOVIE_SUFFIXES
                     and not p.name.startswith(".")]
            if not found:
                raise InputError("folder holds no TIFF files (*.tif, *.tiff) nor other movie "
                                 "files", path=text, hint=f"ingest reads {FORMATS_TEXT}")
            paths.extend(found)
        elif os.path.isfile(text):
            paths.append(text)
        elif _GLOB_CHARS & set(text):
            found = [p for p in glob.glob(text) if os.path.isfile(p)]
            if not found:
                raise InputError("no files match this pattern", path=text)
            paths.extend(found)
        else:
            raise InputError("no such file or folder", path=text)
    unique = dict.fromkeys(os.path.abspath(p) for p in paths)
    return sorted(unique, key=natural_key)


def ome_companions(info: TiffFileInfo) -> list[str]:
    """Files of a split OME dataset named in ``info``'s header, that exist beside it."""
    folder = os.path.dirname(info.path)
    found = [os.path.join(folder, name) for name in info.ome_files]
    return [p for p in found if os.path.isfile(p)]


@dataclass(frozen=True)
class FrameSource:
    """The files of one movie, concatenated in order.

    Attributes
    ----------
    files : tuple of TiffFileInfo
    n_frames : int
        Total frames over all files.
    frame_shape : tuple of int
        ``(height, width)`` px.
    dtype : str
    pixel_size_nm : float or None
        From the first file's metadata, unless overridden.
    """

    files: tuple[TiffFileInfo, ...]
    n_frames: int
    frame_shape: tuple[int, int]
    dtype: str
    pixel_size_nm: float | None

    @property
    def nbytes(self) -> int:
        """Bytes of all pixels."""
        return self.n_frames * self.files[0].frame_bytes

    @cached_property
    def _starts(self) -> np.ndarray:
        """First global frame of each file, and the total at the end."""
        return np.concatenate([[0], np.cumsum([f.n_frames for f in self.files])])

    def pieces(self, t0: int, t1: int) -> list[tuple[TiffFileInfo, int]]:
        """Frames ``t0:t1`` as ``(file info sliced to the frames needed, offset in the range)``.

        The sliced infos carry only their own frames' offsets, so a task
        description stays small however long the file.
        """
        starts = self._starts
        out = []
        for index in np.flatnonzero((starts[:-1] < t1) & (starts[1:] > t0)):
            info = self.files[index]
            l0 = max(t0, starts[index]) - starts[index]
            l1 = min(t1, starts[index + 1]) - starts[index]
            out.append((_slice_info(info, int(l0), int(l1)), int(starts[index] + l0 - t0)))
        return out


def _slice_info(info: TiffFileInfo, l0: int, l1: int) -> TiffFileInfo:
    return replace(
        info, n_frames=l1 - l0, first_frame=info.first_frame + l0,
        data_offsets=None if info.data_offsets is None else info.data_offsets[l0:l1].copy(),
        ifd_offsets=None if info.ifd_offsets is None else info.ifd_offsets[l0:l1].copy())


def combine_sources(infos: Sequence[TiffFileInfo], *,
                    pixel_size_nm: float | None = None) -> FrameSource:
    """Check that the files fit together and describe them as one movie.

    Raises
    ------
    InputError
        Files whose frame shapes or dtypes differ from the first file's, or no frames.
    """
    first = infos[0]
    for info in infos[1:]:
        if info.frame_shape != first.frame_shape:
            raise InputError(
                f"frame shape {info.frame_shape[0]}x{info.frame_shape[1]} differs from "
                f"{first.frame_shape[0]}x{first.frame_shape[1]} in {first.path}", path=info.path,
                hint="ingest files of one acquisition together")
        if info.dtype != first.dtype:
            raise InputError(f"pixel type {info.dtype} differs from {first.dtype} in {first.path}",
                             path=info.path, hint="ingest files of one acquisition together")
    n_frames = sum(info.n_frames for info in infos)
    if n_frames == 0:
        raise InputError("the files hold no frames", path=first.path)
    if pixel_size_nm is not None and not (np.isfinite(pixel_size_nm) and pixel_size_nm > 0):
        raise InputError(f"pixel size must be a positive number of nm, got {pixel_size_nm}")
    return FrameSource(files=tuple(infos), n_frames=n_frames, frame_shape=first.frame_shape,
                       dtype=first.dtype,
                       pixel_size_nm=pixel_size_nm if pixel_size_nm else first.pixel_size_nm)
