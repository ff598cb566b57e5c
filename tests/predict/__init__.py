"""Tests of smlmscale.predict; :func:`tiny_model` trains a model folder in seconds."""

from __future__ import annotations

from tests.train import simulated_patchset


def tiny_model(folder, *, epochs=2):
    """A deepstorm model folder (8 px patches x4, 100 nm pixels) trained briefly on a
    simulated movie: enough for positive densities at emitters, not for accuracy."""
    from smlmscale.train.run import train_model

    ps = simulated_patchset(folder, frames=40, target_sigma_px=2.0, name="tiny_ps.zarr")
    train_model(ps, folder / "tiny_model", given={"epochs": epochs, "batch_size": 16})
    return folder / "tiny_model"


def tiny_counts_model(folder, *, epochs=2):
    """A section stack (``sim.zarr``, 4 sections of 96 px, its truth and ROI list) and a
    counts model folder trained briefly on it; returns ``(simulated, model folder)``."""
    from smlmscale.patches.run import make_patches
    from smlmscale.simulate.sections import SectionSettings, simulate_sections
    from smlmscale.train.run import train_model

    sim = simulate_sections(folder / "sim.zarr", settings=SectionSettings(
        n_sections=4, size_px=96, n_clusters=8, seed=5))
    make_patches(sim["path"], folder / "counts_ps.zarr", locs=sim["truth_path"], kind="counts",
                 rois=sim["rois_path"], validation_fraction=0.2)
    train_model(folder / "counts_ps.zarr", folder / "counts_model",
                given={"model": "counts", "epochs": epochs, "batch_size": 4})
    return sim, folder / "counts_model"
