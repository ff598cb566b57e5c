"""Frames and ground truth of a range of movie frames: the kernel behind the graph.

:func:`truth_rows` and :func:`render_frames` are pure functions of
``(settings, t0, t1)``: they draw the emitters that are on in ``[t0, t1)`` with
:func:`~smlmscale.simulate.blinking.active_emitters`, so the truth table and
the movie agree by construction, and frame ``f`` of any range is the same
array, bit for bit, whatever the range (see :mod:`smlmscale.simulate` for the
random streams).

The per-movie model (sites, background and read-noise maps, PSF window sizes, the
PSF file's model) is derived from the seed alone and cached in each process
(:func:`movie_model`); per-frame maps and baselines (opt-in) come from per-frame
streams (:func:`frame_field`, :func:`frame_baseline`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from smlmscale.simulate.blinking import Active, active_emitters
from smlmscale.simulate.camera import expose_frame, field_maps
from smlmscale.simulate.psf import (SpotCanvas, astigmatic_sigmas, half_window_px,
                                    max_defocus_factor)
from smlmscale.simulate.psf_file import FileSpots, blur_range_nm, open_psf
from smlmscale.simulate.settings import MovieSettings
from smlmscale.simulate.spectral import spectrum_spots
from smlmscale.simulate.structures import (STREAM_FIELD, STREAM_FRAME_BASELINE,
                                           STREAM_FRAME_FIELD, STREAM_NOISE, Sites, make_sites,
                                           stream)


@dataclass(frozen=True)
class MovieModel:
    """What a movie derives once from its seed.

    Attributes
    ----------
    sites : Sites
    background : numpy.ndarray
        ``(height, width)`` expected background photons per pixel and frame (of every
        frame, unless ``background.nonuniform_per_frame``: see :func:`frame_field`).
    read_noise_e : numpy.ndarray or float
        Read-noise standard deviation, e-, per pixel or uniform.
    half_x, half_y : int
        PSF window half widths, px (from the largest sigma of the movie).
    spectrum_half_x : int
        Spectral spot window half width along x, px.
    psf : PsfModel or None
        The PSF file's model (``psf.model: file``), opened in this process.
    """

    sites: Sites
    background: np.ndarray
    read_noise_e: np.ndarray | float
    half_x: int
    half_y: int
    spectrum_half_x: int
    psf: Any = None


@functools.lru_cache(maxsize=4)
def movie_model(settings: MovieSettings) -> MovieModel:
    """The movie's sites and field maps (cached per process; do not modify the arrays)."""
    background, read_noise = field_maps(stream(settings.seed, STREAM_FIELD), settings.size_px,
                                        settings.background, settings.camera)
    for array in (background, read_noise):
        if isinstance(array, np.ndarray):
            array.setflags(write=False)
    psf = settings.psf
    model = open_psf(psf.file) if psf.from_file else None
    widening = 1.0
    if psf.model == "astigmatic":
        widening = max_defocus_factor(psf.z_range_nm, focal_offset_nm=psf.focal_offset_nm,
                                      depth_of_focus_nm=psf.depth_of_focus_nm, a=psf.astig_a,
                                      b=psf.astig_b) * 1.001
    max_sigma_px = psf.sigma_nm_range[1] * widening / settings.pixel_size_nm
    half = half_window_px(max_sigma_px)
    spectrum_half = half_window_px(math.hypot(settings.spectral.width_px, max_sigma_px))
    sites = make_sites(settings, sigma_nm_range=None if model is None else blur_range_nm(model))
    return MovieModel(sites=sites, background=background, read_noise_e=read_noise,
                      half_x=half, half_y=half, spectrum_half_x=spectrum_half, psf=model)


def frame_field(settings: MovieSettings, model: MovieModel, frame: int
                ) -> tuple[np.ndarray, np.ndarray | float]:
    """The background photons and read-noise maps of one frame: the movie's, or with
    ``background.nonuniform_per_frame`` a draw of their own from
    ``(seed, STREAM_FRAME_FIELD, frame)`` (:func:`~smlmscale.simulate.camera.field_maps`)."""
    if not settings.background.nonuniform_per_frame:
        return model.background, model.read_noise_e
    return field_maps(stream(settings.seed, STREAM_FRAME_FIELD, frame), settings.size_px,
                      settings.background, settings.camera)


def frame_baseline(settings: MovieSettings, frame: int) -> float | None:
    """The baseline of one frame, ADU, uniform in ``camera.baseline_range_adu`` from
    ``(seed, STREAM_FRAME_BASELINE, frame)``; None (``camera.baseline_adu``) without one."""
    span = settings.camera.baseline_range_adu
    if span is None:
        return None
    return float(stream(settings.seed, STREAM_FRAME_BASELINE, frame).uniform(*span))


def _background_at(settings: MovieSettings, model: MovieModel, frame: np.ndarray,
                   x_nm: np.ndarray, y_nm: np.ndarray) -> np.ndarray:
    """Expected background photons at each emitter's pixel in its frame."""
    px = settings.pixel_size_nm
    height, width = settings.size_px
    row = np.clip(np.floor(y_nm / px).astype(np.int64), 0, height - 1)
    col = np.clip(np.floor(x_nm / px).astype(np.int64), 0, width - 1)
    if not settings.background.nonuniform_per_frame:
        return model.background[row, col]
    out = np.empty(len(frame))
    starts = np.flatnonzero(np.r_[True, frame[1:] != frame[:-1]]) if len(frame) else []
    for lo, hi in zip(starts, [*starts[1:], len(frame)]):
        out[lo:hi] = frame_field(settings, model, int(frame[lo]))[0][row[lo:hi], col[lo:hi]]
    return out


def _columns(settings: MovieSettings, model: MovieModel, active: Active, *,
             background: bool = True) -> dict[str, np.ndarray]:
    """Per-emitter values of the active rows (positions, widths, background...)."""
    sites, site = model.sites, active.site
    px = settings.pixel_size_nm
    psf = settings.psf
    astigmatic = psf.model == "astigmatic"
    cols: dict[str, np.ndarray] = {"frame": active.frame, "x_nm": sites.x_nm[site],
                                   "y_nm": sites.y_nm[site]}
    sigma0 = sites.sigma_nm[site]
    sigma_x = sigma_y = sigma0
    if psf.is_3d:
        cols["z_nm"] = sites.z_nm[site]
    if astigmatic:
        sigma_x, sigma_y = astigmatic_sigmas(cols["z_nm"], sigma0,
                                             focal_offset_nm=psf.focal_offset_nm,
                                             depth_of_focus_nm=psf.depth_of_focus_nm,
                                             a=psf.astig_a, b=psf.astig_b)
    cols["photons"] = active.photons
    if background:
        cols["background"] = _background_at(settings, model, active.frame, cols["x_nm"],
                                            cols["y_nm"])
    if psf.from_file:
        cols["blur_sigma_nm"] = sigma0
    else:
        cols["sigma_nm"] = np.sqrt(sigma_x * sigma_y) if astigmatic else sigma0
    cols["emitter"] = site
    cols["detectable"] = (active.photons >= settings.photons.threshold).astype(np.int64)
    if astigmatic:
        cols["sigma_x_nm"], cols["sigma_y_nm"] = sigma_x, sigma_y
    if settings.spectral.enabled:
        centre, _, _ = spectrum_spots(cols["x_nm"] / px, sigma_x / px,
                                      sites.spectral_peak_px[site], active.photons,
                                      settings.spectral)
        cols["spectrum_x_nm"] = centre * px
    return cols


def truth_rows(settings: MovieSettings, t0: int, t1: int) -> pd.DataFrame:
    """The ground truth of frames ``[t0, t1)``: one row per emitter that is on in a frame.

    Returns
    -------
    pandas.DataFrame
        Canonical columns ``frame`` (0-based), ``x_nm``, ``y_nm`` (pixel-corner
        origin), ``z_nm`` (astigmatic and PSF-file movies), ``photons`` (reaching
        the camera, before QE), ``background`` (expected photons/px at the emitter's
        pixel in its frame), ``sigma_nm`` (PSF standard deviation; astigmatic:
        geometric mean of the x and y widths at the emitter's z) or, with a PSF file,
        ``blur_sigma_nm`` (the Gaussian blur of its spot); extra columns ``emitter`` (site id),
        ``detectable`` (1 if photons >= the detection threshold),
        ``sigma_x_nm``/``sigma_y_nm`` (astigmatic), ``spectrum_x_nm`` (spectral:
        x of the spectrum's peak). Ordered by frame, then emitter.
    """
    return pd.DataFrame(_columns(settings, movie_model(settings),
                                 active_emitters(settings, t0, t1)))


def truth_columns(settings: MovieSettings) -> dict[str, np.dtype]:
    """Columns and dtypes of :func:`truth_rows`, in order."""
    psf = settings.psf
    names = ["frame", "x_nm", "y_nm"] + (["z_nm"] if psf.is_3d else []) + [
        "photons", "background", "blur_sigma_nm" if psf.from_file else "sigma_nm", "emitter",
        "detectable"]
    if psf.model == "astigmatic":
        names += ["sigma_x_nm", "sigma_y_nm"]
    if settings.spectral.enabled:
        names.append("spectrum_x_nm")
    ints = ("frame", "emitter", "detectable")
    return {n: np.dtype(np.int64 if n in ints else np.float64) for n in names}


def truth_meta(settings: MovieSettings) -> pd.DataFrame:
    """An empty frame with the columns and dtypes of :func:`truth_rows` (dask ``meta``)."""
    return pd.DataFrame({n: np.empty(0, dtype=d) for n, d in truth_columns(settings).items()})


def expected_photons(settings: MovieSettings, t0: int, t1: int, *, background: bool = True
                     ) -> np.ndarray:
    """Noise-free expected photons per pixel of frames ``[t0, t1)``: ``(t, height, width)``."""
    model = movie_model(settings)
    spots = _spot_columns(settings, model, active_emitters(settings, t0, t1))
    painter = _Painter(settings, model)
    out = np.empty((t1 - t0, *settings.size_px))
    for i, rows in _frame_slices(spots["frame"], t0, t1):
        field = frame_field(settings, model, t0 + i)[0] if background else None
        painter.paint(out[i], spots, rows, background=field)
    return out


def render_frames(settings: MovieSettings, t0: int, t1: int) -> np.ndarray:
    """Camera frames ``[t0, t1)`` in ADU: ``(t1 - t0, height, width)`` of ``settings.dtype``.

    Each frame's noise comes from ``(seed, STREAM_NOISE, frame)``.
    """
    model = movie_model(settings)
    return _render(settings, model, active_emitters(settings, t0, t1), t0, t1)


def frames_with_truth(settings: MovieSettings, t0: int, t1: int, truth_t0: int,
                      truth_t1: int) -> tuple[np.ndarray, pd.DataFrame]:
    """``render_frames(settings, t0, t1)`` and ``truth_rows(settings, truth_t0, truth_t1)``
    (``t0 <= truth_t0 < truth_t1 <= t1``) from one draw of the active emitters: the same
    arrays and table as the two calls, at the cost of one (``train --simulate``)."""
    model = movie_model(settings)
    active = active_emitters(settings, t0, t1)
    frames = _render(settings, model, active, t0, t1)
    keep = (active.frame >= truth_t0) & (active.frame < truth_t1)
    centre = Active(frame=active.frame[keep], site=active.site[keep],
                    photons=active.photons[keep])
    return frames, pd.DataFrame(_columns(settings, model, centre))


def _render(settings: MovieSettings, model: MovieModel, active: Active, t0: int, t1: int
            ) -> np.ndarray:
    spots = _spot_columns(settings, model, active)
    painter = _Painter(settings, model)
    out = np.empty((t1 - t0, *settings.size_px), dtype=settings.dtype)
    image = np.empty(settings.size_px)
    for i, rows in _frame_slices(spots["frame"], t0, t1):
        frame = t0 + i
        field, read_noise = frame_field(settings, model, frame)
        painter.paint(image, spots, rows, background=field)
        rng = stream(settings.seed, STREAM_NOISE, frame)
        expose_frame(out[i], rng, image, settings.camera, read_noise,
                     baseline_adu=frame_baseline(settings, frame))
    return out


class _Painter:
    """Expected photon images of single frames, with reusable buffers (one per chunk)."""

    def __init__(self, settings: MovieSettings, model: MovieModel) -> None:
        self.settings, self.model = settings, model
        self.file = None if model.psf is None else FileSpots(model.psf)
        self.spots = None if self.file is not None else \
            SpotCanvas(settings.size_px, model.half_x, model.half_y)
        self.spectra = SpotCanvas(settings.size_px, model.spectrum_half_x, model.half_y) \
            if settings.spectral.enabled else None

    def paint(self, image: np.ndarray, spot: dict[str, np.ndarray], rows: slice, *,
              background: np.ndarray | None) -> np.ndarray:
        """One frame's emitters (``rows`` of ``spot``) on ``background`` (None: 0)."""
        if background is not None:
            np.copyto(image, background)
        else:
            image.fill(0.0)
        if self.file is not None:
            self.file.add(image, spot["x"][rows], spot["y"][rows], spot["z"][rows],
                          spot["blur"][rows], spot["photons"][rows])
        else:
            self.spots.add(image, spot["x"][rows], spot["y"][rows], spot["sx"][rows],
                           spot["sy"][rows], spot["photons"][rows])
        if self.spectra is not None:
            self.spectra.add(image, spot["spec_x"][rows], spot["y"][rows],
                             spot["spec_sx"][rows], spot["sy"][rows], spot["spec_photons"][rows])
        return image


def _spot_columns(settings: MovieSettings, model: MovieModel, active: Active
                  ) -> dict[str, np.ndarray]:
    cols = _columns(settings, model, active, background=False)
    px = settings.pixel_size_nm
    spot = {"frame": cols["frame"], "x": cols["x_nm"] / px, "y": cols["y_nm"] / px,
            "photons": cols["photons"]}
    if settings.psf.from_file:
        spot["z"], spot["blur"] = cols["z_nm"], cols["blur_sigma_nm"] / px
        return spot
    if settings.psf.is_3d:
        spot["sx"], spot["sy"] = cols["sigma_x_nm"] / px, cols["sigma_y_nm"] / px
    else:
        spot["sx"] = spot["sy"] = cols["sigma_nm"] / px
    if settings.spectral.enabled:
        spot["spec_x"], spot["spec_sx"], spot["spec_photons"] = spectrum_spots(
            spot["x"], spot["sx"], model.sites.spectral_peak_px[active.site], spot["photons"],
            settings.spectral)
    return spot


def _frame_slices(frames: np.ndarray, t0: int, t1: int):
    bounds = np.searchsorted(frames, np.arange(t0, t1 + 1))
    for i in range(t1 - t0):
        yield i, slice(bounds[i], bounds[i + 1])
