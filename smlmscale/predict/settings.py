"""Prediction settings, and the checks that a movie or a section stack fits the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from smlmscale.errors import InputError
from smlmscale.localize.maxima import CONFIDENCE
from smlmscale.predict.block import BlockSettings, unit_peak
from smlmscale.predict.precision import PRECISIONS
from smlmscale.settings import Settings, setting

# Relative difference of pixel sizes accepted between the movie and the model.
PIXEL_TOLERANCE = 0.02
#: ``--threshold`` of density models (deepstorm and its kin) when it is not given.
DEEPSTORM_THRESHOLD = 0.1
#: ``--radius`` when it is not given: density px of deepstorm models, voxels of deepstorm3d
#: ones (the seed's 4).
DEFAULT_RADIUS = {"deepstorm3d": 4}
DENSITY_RADIUS = 1
#: Table formats whose writer needs ``z_nm``: asking for one asks for z.
Z_FORMATS = ("deepstorm3d",)


@dataclass(frozen=True)
class PredictSettings(Settings):
    """How a movie is predicted and localized.

    Attributes
    ----------
    tile : int
        Tile core side, upsampled pixels (rounded up to the model's alignment).
    batch_size : int
        Tiles per model call.
    threshold : float or None
        Confidence threshold, >= 0 (see ``confidence``); None: the model kind's default
        (:data:`DEEPSTORM_THRESHOLD`, locnet's ``LOCNET_THRESHOLD``, the stack's
        ``min_count``).
    confidence : {"peak", "sum"}
        ``peak``: the density maximum relative to one emitter's target peak (about 1
        for a clear emitter); ``sum``: the 3 x 3 density sum (emitters).
        deepstorm3d models: the voxel's value relative to the scaling factor.
    radius : int or None
        Local-maximum suppression half-size, density pixels (deepstorm3d: voxels, also
        the centroid's cube); None: 1 (deepstorm3d 4).
    frames : tuple of int or None
        ``(first, stop)`` frames to predict; None for all.
    frames_per_block : int
        Frames per task.
    pixel_size_nm : float or None
        Overrides the movie's pixel size (when it contradicts the model's, knowingly).
    max_uncertainty_nm : float or None
        locnet models: keep rows whose predicted uncertainties are all at most this, nm.
    precision : {"auto", "float32", "bfloat16"}
        Arithmetic of the model (:mod:`smlmscale.predict.precision`): ``auto`` is
        bfloat16 for locnet models on a CPU with native bfloat16, float32 otherwise.
    """

    tile: int = setting(512, min=8, unit="upsampled px", help="Tile core side")
    batch_size: int = setting(8, min=1, help="Tiles per model call")
    threshold: float | None = setting(None, min=0, default_text=f"{DEEPSTORM_THRESHOLD:g}; "
                                      "locnet: the summed 3x3 probability, 0.3",
                                      help="Confidence threshold (about 1 for a clear "
                                           "emitter; deepstorm3d: a fraction of the "
                                           "scaling factor; with --rois the least count "
                                           "a pixel keeps)")
    confidence: str = setting("peak", help="peak (relative to one emitter's target peak) "
                                           "or sum (3x3)")
    radius: int | None = setting(None, min=1, unit="density px or voxels",
                                 default_text=f"{DENSITY_RADIUS}; deepstorm3d "
                                              f"{DEFAULT_RADIUS['deepstorm3d']}",
                                 help="Local-maximum suppression half-size")
    frames: tuple[int, int] | None = setting(None, help="Predict these frames only",
                                             default_text="all")
    frames_per_block: int = setting(32, min=1, help="Frames per task")
    pixel_size_nm: float | None = setting(None, min=0, min_open=True, unit="nm",
                                          help="Override the movie's pixel size",
                                          default_text="the movie's")
    max_uncertainty_nm: float | None = setting(
        None, min=0, min_open=True, unit="nm", flag="--max-uncertainty",
        help="locnet models: drop localizations with a larger predicted uncertainty",
        default_text="keep all")
    precision: str = setting("auto", choices=PRECISIONS,
                             help="Model arithmetic: auto (bfloat16 for locnet on a CPU "
                                  "with AVX512-BF16 or AMX, else float32), float32 or "
                                  "bfloat16")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.confidence not in CONFIDENCE:
            raise InputError(f"unknown confidence {self.confidence!r}", param="confidence",
                             hint=f"choose one of {', '.join(CONFIDENCE)}")
        if self.frames is not None:
            first, stop = self.frames
            if not 0 <= first < stop:
                raise InputError(f"--frames must be FIRST:STOP with 0 <= FIRST < STOP, got "
                                 f"{first}:{stop}", param="frames")

    def frame_range(self, n_frames: int, *, path: str) -> tuple[int, int]:
        """``(first, stop)`` within a movie of ``n_frames``."""
        if n_frames == 0:
            raise InputError("the movie has no frames", path=path)
        if self.frames is None:
            return 0, n_frames
        first, stop = self.frames
        if first >= n_frames:
            raise InputError(f"--frames {first}:{stop} starts beyond the movie's {n_frames} "
                             "frames", path=path, param="frames")
        return first, min(stop, n_frames)


@dataclass(frozen=True)
class StackSettings(Settings):
    """How a section stack is predicted.

    Attributes
    ----------
    section_thickness_nm : float or None
        Section thickness (z of section ``s`` is ``(s + 0.5) * t``); None: the stack's own
        (``section_thickness_nm`` in its attributes, written by ``smlmscale simulate``).
    min_count : float
        Pixels predicting fewer localizations are dropped (>= 0).
    batch_size : int
        Tiles per model call.
    rois_per_task : int
        ROI tiles per task.
    pixel_size_nm : float or None
        Overrides the stack's pixel size.
    """

    section_thickness_nm: float | None = setting(
        None, min=0, min_open=True, unit="nm", help="With --rois: section thickness",
        default_text="the stack's own")
    min_count: float = setting(0.1, min=0, flag="--threshold",
                               help="The least count a pixel keeps")
    batch_size: int = setting(8, min=1, help="Tiles per model call")
    rois_per_task: int = setting(64, min=1, help="ROI tiles per task")
    pixel_size_nm: float | None = setting(None, min=0, min_open=True, unit="nm",
                                          help="Override the stack's pixel size",
                                          default_text="the stack's")


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
    if meta.get("model") != "locnet" and int(meta.get("input_shape", [0, 0, 1])[-1]) != 1:
        raise InputError("this model takes several input channels; movies have one",
                         path=path)
    return pixel_size(store, meta, settings.pixel_size_nm, path=path)


def check_stack(store, meta: dict, rois: pd.DataFrame, settings: StackSettings, *,
                path: str, model: str | None = None) -> tuple[float, float]:
    """``(pixel_size_nm, section_thickness_nm)`` after checking stack, model and ROIs agree.

    Raises
    ------
    InputError
        Not a counts model; not a 3D stack; ROIs naming sections the stack lacks or
        reaching outside its sections; no pixel size or section thickness; a pixel size
        contradicting the model's.
    """
    if meta.get("model") != "counts":
        raise InputError(f"--rois takes a counts model, this one is {meta.get('model')!r}",
                         hint="train one with smlmscale train --model counts, or leave out "
                              "--rois to predict a movie")
    if store.array.ndim != 3:
        raise InputError(f"a section stack needs 3 axes (z, y, x), got {store.axes}", path=path)
    n, height, width = (int(s) for s in store.array.shape)
    outside = rois[(rois["section"] >= n)]
    if len(outside):
        row = outside.iloc[0]
        raise InputError(f"ROI {row['roi']} names section {row['section']} but the stack has "
                         f"{n} sections (0-{n - 1})", path=path,
                         hint="check that the ROI list belongs to this stack")
    beyond = rois[(rois["x"] + rois["size"] > width) | (rois["y"] + rois["size"] > height)]
    if len(beyond):
        row = beyond.iloc[0]
        raise InputError(f"ROI {row['roi']} ({row['size']} px at x {row['x']}, y {row['y']}) "
                         f"reaches outside the {width} x {height} px sections", path=path,
                         hint="check that the ROI list belongs to this stack")
    channels = int((meta.get("input_shape") or [0, 0, 1])[-1])
    if channels == 2 and not (meta.get("estimate") or {}).get("coefficients"):
        raise InputError("the model takes the count estimate as input but its "
                         "smlmscale.json has no estimate coefficients", path=model,
                         hint="retrain it with smlmscale train")
    thickness = settings.section_thickness_nm or store.attrs.get("section_thickness_nm")
    if not thickness:
        raise InputError("the stack does not record its section thickness", path=path,
                         hint="pass --section-thickness NM")
    return pixel_size(store, meta, settings.pixel_size_nm, path=path), float(thickness)


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


def gives_z(meta: dict) -> bool:
    """Whether a model predicts z: deepstorm3d, a 3D locnet, a model of ``--z-bins``."""
    if meta.get("model") == "deepstorm3d":
        return True
    if meta.get("model") == "locnet":
        from smlmscale.models.kinds import has_z_head

        return has_z_head("locnet", meta.get("target_shape") or [0])
    return int((meta.get("generator_params") or {}).get("z_bins") or 0) > 0


def radius_of(settings: PredictSettings, meta: dict) -> int:
    """``--radius``, or the model kind's default."""
    if settings.radius is not None:
        return int(settings.radius)
    return DEFAULT_RADIUS.get(meta.get("model"), DENSITY_RADIUS)


def input_normalization(meta: dict) -> tuple[str, float, float]:
    """``(mode, scale, offset)`` of the model's inputs for
    :func:`~smlmscale.predict.block.normalize_frames` (``patch`` models get whole frames
    projected, as ``frame`` ones)."""
    normalization = meta.get("normalization") or {}
    mode = normalization.get("mode", "frame")
    if mode == "affine":
        return mode, float(normalization.get("scale_adu") or 1), float(
            normalization.get("offset_adu") or 0)
    scale = float(normalization.get("input_scale") or normalization.get("scale") or 1)
    return ("frame" if mode in ("frame", "patch") else mode), scale, 0.0


def block_settings(settings: PredictSettings, meta: dict, pixel_nm: float) -> BlockSettings:
    """The kernel settings of a run from the user's settings and the model's metadata."""
    from smlmscale.localize.zbins import bin_centres

    mode, scale, offset = input_normalization(meta)
    params = meta.get("generator_params") or {}
    bins = int(params.get("z_bins") or 0)
    centres = (tuple(float(c) for c in bin_centres(params["z_range_nm"], bins)) if bins
               else None)
    return BlockSettings(
        normalize=mode, input_scale=scale, input_offset=offset,
        target_scale=float(meta.get("target_scale") or 1.0),
        unit_peak=unit_peak(float(params.get("target_sigma_px", 0.0))),
        threshold=DEEPSTORM_THRESHOLD if settings.threshold is None else settings.threshold,
        confidence=settings.confidence, radius=radius_of(settings, meta),
        pixel_nm=pixel_nm, batch_size=settings.batch_size, z_centres_nm=centres)


__all__ = ["DEFAULT_RADIUS", "PIXEL_TOLERANCE", "PredictSettings", "StackSettings", "Z_FORMATS",
           "block_settings", "check_geometry", "check_stack", "gives_z", "input_normalization",
           "pixel_size", "radius_of"]
