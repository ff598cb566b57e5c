"""Summed training pairs (ImageSumming): settings and kernels (NumPy in, NumPy out).

Deep-STORM learns dense emitters best from dense data. When only sparse movies
(DNA-PAINT, low-density STORM) and their localizations exist, ImageSumming makes
dense training pairs from them: it cuts patches where emitters are, adds
``bin_size`` of them picked at random, and keeps the union of their
localizations:

1. **Candidates**: exactly the deepstorm plan (:mod:`smlmscale.patches.plan`):
   ``per_frame`` seeded corners per frame, kept with at least ``min_emitters``
   emitters inside. One plan task per range of whole movie chunks, on the
   cluster; only the kept corners ``(frame, row0, col0, n)`` come to the driver
   (32 bytes per kept patch); the emitters inside them (``members``) stay
   persisted on the workers.
2. **Bins**: the kept candidates, in their global order (frame, then draw), are
   permuted with ``numpy.random.default_rng(seed).permutation``; consecutive
   groups of ``bin_size`` form the summed patches; the incomplete last group is
   dropped, and at most ``n_summed`` bins are made. Each source patch is used
   once.
3. **Sum**: a summed patch is the float64 sum of its ``bin_size`` raw source
   patches (camera ADU) minus ``(bin_size - 1) * camera_offset`` (ADU): every
   frame carries the camera offset once, the sum must carry it once
   (:func:`sum_patches`); stored float32. Its localizations are the union of
   its sources' members, each relative to its own source's corner, so all lie
   in the summed patch's frame of reference.
4. **Pair**: the input is the summed patch projected to ``[0, 1]``
   (:func:`~smlmscale.kernels.normalize.normalize_patch`) and upsampled
   ``upsampling`` times by pixel repetition, ``(P*u, P*u, 1)``; the target has a
   spike of weight 1 (or the emitter's photons) at each union emitter's upsampled
   pixel ``floor(x_px * u) - col0 * u`` (``x_px = x_nm / pixel_size_nm``,
   ``col0`` its source's corner), blurred by a Gaussian of ``target_sigma_px``
   upsampled pixels (:func:`~smlmscale.kernels.gaussian.spike_target`), exactly
   as deepstorm does for one frame.

The graph (stages A and B) is built by :mod:`smlmscale.patches.summed_graph`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from smlmscale.kernels.gaussian import spike_target
from smlmscale.kernels.normalize import normalize_patch
from smlmscale.patches.deepstorm import (MIN_EMITTERS, CandidateSettings, DeepstormSettings,
                                         upsample_nearest)
from smlmscale.settings import setting

#: Table columns carried with the members when the table has them.
CARRIED = ("photons", "sigma_nm")
NORMALIZATION = {
    "mode": "patch",
    "sum": "raw sum of bin_size source patches (ADU) minus (bin_size - 1) x camera_offset",
    "inputs": "per summed patch, (p - min) / (max - min) to [0, 1]; constant patches 0",
    "upsampling": "nearest (pixel repetition)",
    "targets": "spikes (weight) at floor of upsampled position, Gaussian-blurred "
               "(mode constant: tails beyond the patch edge are lost)"}


@dataclass(frozen=True)
class SummedSettings(CandidateSettings):
    """Parameters of the ``summed`` generator (units in the names; px = camera pixels).

    Attributes
    ----------
    patch_size_px, upsampling, per_frame, target_sigma_px, weight
        As :class:`~smlmscale.patches.deepstorm.CandidateSettings`.
    min_emitters : int
        A candidate is kept with at least this many emitters inside (2 by default).
    bin_size : int
        Source patches added into one summed patch.
    camera_offset : float
        Camera offset (mean dark value), ADU; subtracted ``bin_size - 1`` times.
    n_summed : int or None
        At most this many summed patches; ``None``: as many as the kept
        candidates allow (``kept // bin_size``).
    seed : int
        Seeds the candidate positions (with the frame index) and the bins.
    """

    min_emitters: int = setting(2, **MIN_EMITTERS)
    bin_size: int = setting(10, min=1, help="Patches summed into one")
    camera_offset: float = setting(100.0, unit="ADU",
                                   help="Camera offset (subtracted bin-size - 1 times)")
    n_summed: int | None = setting(None, min=1, default_text="all",
                                   help="At most this many summed patches")

    @property
    def pair_settings(self) -> DeepstormSettings:
        """The deepstorm settings of the same patches (candidates, inputs, targets)."""
        return DeepstormSettings(
            patch_size_px=self.patch_size_px, upsampling=self.upsampling,
            per_frame=self.per_frame, min_emitters=self.min_emitters,
            target_sigma_px=self.target_sigma_px, weight=self.weight, seed=self.seed)


@dataclass
class SummedRaw:
    """Lazy raw summed patches and their localizations: the stage that
    :func:`~smlmscale.patches.summed_graph.summed_raw` builds and the pairs and the
    TIFF export share.

    Attributes
    ----------
    tasks : list of dask.delayed.Delayed
        One per output chunk, in order, returning ``(raw, locs)``: ``raw`` ``(k, P, P)``
        float32 offset-corrected sums (ADU); ``locs`` a DataFrame with ``patch``
        (global summed index), ``x_px``, ``y_px`` (absolute camera px in the source
        frame), ``row0``, ``col0`` (the source's corner, px) and the ``carried``
        columns, ordered by patch, source, emitter.
    sizes : list of int
        Summed patches per task; all but the last equal ``chunk``.
    chunk : int
    settings : SummedSettings
    pixel_size_nm : float
    stats : dict
        ``candidates_kept``, ``bins``, ``sources_used``, ``sources_unused``.
    carried : tuple of str
        Table columns carried with the members (of :data:`CARRIED`).
    """

    tasks: list
    sizes: list
    chunk: int
    settings: SummedSettings
    pixel_size_nm: float
    stats: dict
    carried: tuple


def sum_patches(patches: np.ndarray, offset: float) -> np.ndarray:
    """Sum ``(k, P, P)`` raw patches (ADU) in float64, minus ``(k - 1) * offset`` (ADU); float32.

    >>> sum_patches(np.full((3, 1, 2), 110.0), 100.0).tolist()
    [[130.0, 130.0]]
    """
    patches = np.asarray(patches)
    total = np.sum(patches, axis=0, dtype=np.float64)
    return (total - (patches.shape[0] - 1) * float(offset)).astype(np.float32)


def cut_sources(block: np.ndarray, frames: np.ndarray, rows0: np.ndarray, cols0: np.ndarray,
                size: int) -> np.ndarray:
    """Stage A: ``block[f, r0:r0+size, c0:c0+size]`` per source: ``(k, size, size)`` float32."""
    out = np.empty((len(frames), size, size), np.float32)
    for i, (f, r0, c0) in enumerate(zip(frames, rows0, cols0)):
        out[i] = block[f, r0:r0 + size, c0:c0 + size]
    return out


def take_members(members: pd.DataFrame, local: np.ndarray, slots: np.ndarray) -> pd.DataFrame:
    """The members (sorted by ``patch``) of plan-local patches ``local``, tagged with ``slot``."""
    patch = members["patch"].to_numpy()
    lo = np.searchsorted(patch, local, "left")
    counts = np.searchsorted(patch, local, "right") - lo
    starts = np.cumsum(counts) - counts
    rows = np.repeat(lo, counts) + np.arange(counts.sum()) - np.repeat(starts, counts)
    out = members.iloc[rows].drop(columns="patch").reset_index(drop=True)
    out["slot"] = np.repeat(np.asarray(slots, np.int64), counts)
    return out


def assemble(pieces: list, piece_slots: list, member_pieces: list, rows0: np.ndarray,
             cols0: np.ndarray, *, first: int, bin_size: int, offset: float
             ) -> tuple[np.ndarray, pd.DataFrame]:
    """Stage B: one output chunk's raw sums and united localizations (see :class:`SummedRaw`).

    ``pieces`` are source patches ``(m, P, P)`` whose slots in the chunk's source list
    are ``piece_slots`` (slot ``s`` belongs to summed patch ``first + s // bin_size``);
    ``member_pieces`` are :func:`take_members` results; ``rows0``, ``cols0`` the
    corner (px) of each slot's source; ``offset`` the camera offset, ADU.
    """
    n = len(rows0)
    stack = np.empty((n, *pieces[0].shape[1:]), np.float32)
    for piece, slots in zip(pieces, piece_slots):
        stack[slots] = piece
    raw = np.stack([sum_patches(stack[a:a + bin_size], offset) for a in range(0, n, bin_size)])
    locs = pd.concat(member_pieces, ignore_index=True)
    locs = locs.sort_values("slot", kind="stable", ignore_index=True)
    slot = locs.pop("slot").to_numpy()
    locs.insert(0, "patch", first + slot // bin_size)
    locs.insert(3, "row0", np.asarray(rows0, np.int64)[slot])
    locs.insert(4, "col0", np.asarray(cols0, np.int64)[slot])
    return raw, locs


def summed_pairs(raw: np.ndarray, locs: pd.DataFrame, *, first: int,
                 settings: SummedSettings) -> tuple[np.ndarray, np.ndarray]:
    """Training pairs ``(k, P*u, P*u, 1)`` float32 of raw sums (module docstring, step 4).

    ``raw`` ``(k, P, P)`` (ADU) holds summed patches ``first .. first + k - 1``;
    ``locs`` their localizations (:class:`SummedRaw`), sorted by ``patch``.
    """
    up, side = settings.upsampling, settings.input_shape[0]
    inputs = np.stack([upsample_nearest(normalize_patch(p), up) for p in raw])[..., None]
    x_up = (np.floor(locs["x_px"].to_numpy(np.float64) * up)
            - locs["col0"].to_numpy(np.float64) * up)
    y_up = (np.floor(locs["y_px"].to_numpy(np.float64) * up)
            - locs["row0"].to_numpy(np.float64) * up)
    weights = (locs["photons"].to_numpy(np.float64) if settings.weight == "photons"
               else np.ones(len(locs)))
    bounds = np.searchsorted(locs["patch"].to_numpy(), first + np.arange(len(raw) + 1))
    targets = np.stack([spike_target(x_up[a:b], y_up[a:b], weights[a:b], side=side,
                                     sigma_px=settings.target_sigma_px)
                        for a, b in zip(bounds[:-1], bounds[1:])])[..., None]
    return inputs.astype(np.float32), targets.astype(np.float32)


__all__ = ["CARRIED", "NORMALIZATION", "SummedRaw", "SummedSettings", "assemble", "cut_sources",
           "sum_patches", "summed_pairs", "take_members"]
