"""Prediction settings, their checks, and the movie-versus-model geometry check."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from smlmscale.errors import InputError
from smlmscale.localize.maxima import CONFIDENCE
from smlmscale.predict.block import BlockSettings, unit_peak
from smlmscale.validate import integer

# Relative difference of pixel sizes accepted between the movie and the model.
PIXEL_TOLERANCE = 0.02


@dataclass(frozen=True)
class PredictSettings:
    """How a movie is predicted and localized.

    Attributes
    ----------
    tile : int
        Tile core side, upsampled pixels (rounded up to the model's alignment).
    batch_size : int
        Tiles per model call.
    threshold : float
        Confidence threshold, >= 0 (see ``confidence``).
    confidence : {"peak", "sum"}
        ``peak``: the density maximum relative to one emitter's target peak (about 1
        for a clear emitter); ``sum``: the 3 x 3 density sum (emitters).
    radius : int
        Local-maximum suppression half-size, density pixels.
    frames : tuple of int or None
        ``(first, stop)`` frames to predict; None for all.
    frames_per_block : int
        Frames per task.
    pixel_size_nm : float or None
        Overrides the movie's pixel size (when it contradicts the model's, knowingly).
    """

    tile: int = 512
    batch_size: int = 8
    threshold: float = 0.1
    confidence: str = "peak"
    radius: int = 1
    frames: tuple[int, int] | None = None
    frames_per_block: int = 32
    pixel_size_nm: float | None = None

    def __post_init__(self) -> None:
        for name, least in (("tile", 8), ("batch_size", 1), ("radius", 1),
                            ("frames_per_block", 1)):
            integer("--" + name.replace("_", "-"), getattr(self, name), least)
        if not (isinstance(self.threshold, (int, float)) and math.isfinite(self.threshold)
                and self.threshold >= 0):
            raise InputError(f"--threshold must be a number >= 0, got {self.threshold!r}",
                             hint="confidences are about 1 for a clear emitter; try 0.1-0.5")
        if self.confidence not in CONFIDENCE:
            raise InputError(f"unknown confidence {self.confidence!r}",
                             hint=f"choose one of {', '.join(CONFIDENCE)}")
        if self.pixel_size_nm is not None and not self.pixel_size_nm > 0:
            raise InputError(f"--pixel-size must be positive, got {self.pixel_size_nm}")
        if self.frames is not None:
            first, stop = self.frames
            if not 0 <= first < stop:
                raise InputError(f"--frames must be FIRST:STOP with 0 <= FIRST < STOP, got "
                                 f"{first}:{stop}")

    def frame_range(self, n_frames: int, *, path: str) -> tuple[int, int]:
        """``(first, stop)`` within a movie of ``n_frames``."""
        if n_frames == 0:
            raise InputError("the movie has no frames", path=path)
        if self.frames is None:
            return 0, n_frames
        first, stop = self.frames
        if first >= n_frames:
            raise InputError(f"--frames {first}:{stop} starts beyond the movie's {n_frames} "
                             "frames", path=path)
        return first, min(stop, n_frames)


def check_geometry(store: Any, meta: dict, settings: PredictSettings, *, path: str) -> float:
    """The pixel size to use, after checking the movie fits the model.

    Raises
    ------
    InputError
        Not a ``t, y, x`` movie; a model for another kind of data; no pixel size; a
        pixel size that differs from the model's by more than 2 % (unless overridden).
    """
    if meta.get("model") == "counts":
        raise InputError("counts models predict section stacks, not movies", path=path,
                         hint="give the stack's ROI list with --rois, or use a deepstorm or "
                              "autoencoder model for movies")
    if store.axes != "tyx" or store.array.ndim != 3:
        raise InputError(f"predict needs a movie with axes t, y, x, got {store.axes}",
                         path=path, hint="section stacks are predicted by counts models "
                                         "with --rois")
    if int(meta.get("input_shape", [0, 0, 1])[-1]) != 1:
        raise InputError("this model takes several input channels; movies have one",
                         path=path)
    return pixel_size(store, meta, settings.pixel_size_nm, path=path)


def pixel_size(store: Any, meta: dict, override: float | None, *, path: str) -> float:
    """The pixel size (nm) to predict with: ``override``, else the store's, else the model's.

    Raises
    ------
    InputError
        No pixel size anywhere; the store's differs from the model's by more than 2 %
        without ``override``.
    """
    model_nm = meta.get("pixel_size_nm")
    pixel_nm = override or store.pixel_size_nm or model_nm
    if pixel_nm is None:
        raise InputError("neither the image nor the model knows the pixel size", path=path,
                         hint="pass --pixel-size NM")
    if (override is None and model_nm and store.pixel_size_nm
            and abs(store.pixel_size_nm - model_nm) > PIXEL_TOLERANCE * model_nm):
        raise InputError(f"the image's pixels are {store.pixel_size_nm:g} nm but the model "
                         f"was trained on {model_nm:g} nm pixels", path=path,
                         hint="use a model trained at this pixel size, or pass --pixel-size "
                              "to predict anyway")
    return float(pixel_nm)


def block_settings(settings: PredictSettings, meta: dict, pixel_nm: float) -> BlockSettings:
    """The kernel settings of a run from the user's settings and the model's metadata."""
    normalization = meta.get("normalization") or {}
    mode = normalization.get("mode", "frame")
    params = meta.get("generator_params") or {}
    return BlockSettings(
        normalize="frame" if mode in ("frame", "patch") else mode,
        input_scale=float(normalization.get("input_scale") or normalization.get("scale") or 1),
        target_scale=float(meta.get("target_scale") or 1.0),
        unit_peak=unit_peak(float(params.get("target_sigma_px", 0.0))),
        threshold=settings.threshold, confidence=settings.confidence, radius=settings.radius,
        pixel_nm=pixel_nm, batch_size=settings.batch_size)


__all__ = ["PredictSettings", "block_settings", "check_geometry", "pixel_size"]
