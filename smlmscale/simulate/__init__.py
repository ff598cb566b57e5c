"""Synthetic SMLM data with ground truth: movies (blinking emitters, PSF, camera), section stacks.

Movies (:func:`simulate_movie`, settings :class:`MovieSettings`)
-----------------------------------------------------------------
1. **Sites** (:mod:`~smlmscale.simulate.structures`): fluorophore positions,
   uniform, on microtubule-like worm-like chains, or in Gaussian clusters; each
   with its own in-focus PSF width (Deep-STORM3D's per-emitter blur range) and,
   for spectral movies, its spectral peak.
2. **Active emitters** (:mod:`~smlmscale.simulate.blinking`): on-runs of
   consecutive frames at a mean density per um^2, or Deep-STORM3D's independent
   frames with a uniform emitter count in a range; gamma or uniform photons per
   emitter and frame.
3. **Image** (:mod:`~smlmscale.simulate.psf`, :mod:`~smlmscale.simulate.psf_file`,
   :mod:`~smlmscale.simulate.spectral`): pixel-integrated Gaussians (astigmatic
   widths from a defocus curve for 3D) or the spots of a PSF file's model
   (``psf.model: file``: a pupil model with a phase mask, or a measured bead),
   plus each emitter's dispersed spectrum in a spectral channel; on a uniform
   plus super-Gaussian background (once per movie, or per frame).
4. **Camera** (:mod:`~smlmscale.simulate.camera`): Poisson shot noise after QE,
   EMCCD gain with excess noise, Gaussian read noise (uniform or non-uniform),
   conversion to ADU, baseline, rounding and clipping to the dtype.

Normalization (Deep-STORM3D's ``project_01`` / global factors) is not part of
the camera: movies are raw ADU, and normalization is a preprocessing step
(``preprocess normalize``) or what a patch generator applies
(:mod:`smlmscale.kernels.normalize`).

**Detection threshold.** Emitters below ``photons.threshold`` are rendered
(they are physically there) and kept in the truth with ``detectable = 0``;
the rest have ``detectable = 1``. Dropping them from the truth would count a
localizer that finds them as making false positives; not rendering them would
distort the photon distribution. An evaluation chooses: all rows, or only
detectable ones (ignoring matches to the others).

**Determinism.** Every random draw comes from a generator keyed by the seed
and a fixed unit that does not depend on Dask chunks:
``SeedSequence(seed, spawn_key=(stream, index))`` with the streams of
:mod:`~smlmscale.simulate.structures`: sites (once), the background/read-noise
maps (once), blinking on-runs per block of 256 frames, emitter counts per frame
(independent-frames mode), camera noise per frame, and (opt-in) the background map
and the baseline per frame. A chunk of frames derives
everything it needs from these, so the same seed gives the same movie and truth,
bit for bit, for any chunking, scheduler or number of workers.

Every stage of a run has two steps: ``prepare_simulate`` checks the settings and
every output (cheap, before a cluster starts) and ``run_simulate`` writes them;
``simulate_movie`` does both. Section stacks (:mod:`smlmscale.simulate.sections`):
``prepare_sections``, ``run_sections``, ``simulate_sections``, settings
:class:`SectionSettings`. Parameter files: :mod:`smlmscale.simulate.params`.
"""

import importlib

#: What the package offers, by the module that defines it. Imported when first used, so
#: that ``import smlmscale.simulate.settings`` (the command line's help) stays light.
_EXPORTS = {
    "render_frames": "frames", "truth_rows": "frames", "movie_array": "graph",
    "truth_frame": "graph", "dump_params": "params", "load_params": "params",
    "load_settings": "params", "merge_params": "params", "SimulationPlan": "run",
    "SimulationResult": "run", "prepare_simulate": "run", "run_simulate": "run",
    "simulate_movie": "run", "BackgroundSettings": "settings", "CameraSettings": "settings",
    "EmitterSettings": "settings", "MovieSettings": "settings", "PhotonSettings": "settings",
    "PsfSettings": "settings", "SectionSettings": "settings", "SpectralSettings": "settings",
    "StructureSettings": "settings",
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = sorted(_EXPORTS)
