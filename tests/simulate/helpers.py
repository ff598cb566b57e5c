"""Helpers for the simulator tests: small settings (laziness checks in tests.helpers)."""

from __future__ import annotations

from smlmscale.simulate import EmitterSettings, MovieSettings, StructureSettings


def small_settings(**changes) -> MovieSettings:
    """A 40-frame 24x24 px movie with a dozen emitters per frame."""
    values = dict(frames=40, size_px=24, seed=7,
                  emitters=EmitterSettings(density_per_um2=2.0),
                  structure=StructureSettings(n_sites=2000))
    values.update(changes)
    return MovieSettings(**values)
