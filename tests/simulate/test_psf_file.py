"""Movies rendered by a PSF file: equal to a direct render of their truth, chunking-free,
lazy, z inside the file's range, refusals."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from smlmscale.errors import InputError
from smlmscale.psf import load_psf
from smlmscale.simulate import (BackgroundSettings, CameraSettings, EmitterSettings,
                                MovieSettings, PsfSettings, StructureSettings, movie_array,
                                prepare_simulate, truth_frame, truth_rows)
from smlmscale.simulate.psf_file import check_psf_file, model_spots, psf_file_defaults
from tests.helpers import raise_if_dask_computes
from tests.simulate.helpers import TINY_PIXEL_NM, TINY_Z_NM, tiny_bead_file, tiny_psf_file

pytestmark = pytest.mark.timeout(60)

MODES = {"independent": EmitterSettings(per_frame_range=(1, 6)),
         "blinking": EmitterSettings(density_per_um2=1.0)}


@pytest.fixture(scope="module")
def psf_path(tmp_path_factory):
    return tiny_psf_file(tmp_path_factory.mktemp("psf") / "tetrapod.psf.zarr")


@pytest.fixture(scope="module")
def bead_path(tmp_path_factory):
    return tiny_bead_file(tmp_path_factory.mktemp("psf") / "bead.psf.zarr")


def _settings(psf_path, mode="independent", **changes) -> MovieSettings:
    values = dict(frames=13, size_px=(20, 24), seed=3, pixel_size_nm=TINY_PIXEL_NM,
                  emitters=MODES[mode], structure=StructureSettings(n_sites=500),
                  psf=PsfSettings(model="file", file=psf_path, z_range_nm=TINY_Z_NM))
    values.update(changes)
    return MovieSettings(**values)


@pytest.mark.parametrize("mode, kind", [("independent", "pupil"), ("blinking", "pupil"),
                                        ("independent", "bead")])
def test_the_movie_is_a_render_of_its_truth(psf_path, bead_path, mode, kind):
    """Noise-free camera: every frame is the background plus the PSF model's render of
    that frame's truth rows, on chunks that cut through the movie."""
    psf_path = psf_path if kind == "pupil" else bead_path
    settings = _settings(psf_path, mode, dtype="float32",
                         background=BackgroundSettings(photons_per_px=5.0),
                         camera=CameraSettings(qe=1.0, baseline_adu=0.0, read_noise_e=0.0,
                                               shot_noise=False))
    movie = movie_array(settings, chunk_frames=5).compute(scheduler="sync")
    truth = truth_frame(settings, chunk_frames=4).compute(scheduler="sync")
    model, px = load_psf(psf_path), settings.pixel_size_nm
    assert len(truth) > settings.frames
    for frame in range(settings.frames):
        rows = truth[truth["frame"] == frame]
        expected = 5.0 + model.render(rows["x_nm"] / px, rows["y_nm"] / px, rows["z_nm"],
                                      rows["photons"], shape=settings.size_px,
                                      blur_sigma_px=rows["blur_sigma_nm"] / px)
        np.testing.assert_allclose(movie[frame], expected, rtol=2e-5, atol=1e-3)


def test_the_same_seed_gives_the_same_movie_whatever_the_chunking(psf_path):
    settings = _settings(psf_path, "blinking")
    a = movie_array(settings, chunk_frames=4).compute(scheduler="sync")
    b = movie_array(settings, chunk_frames=13).compute(scheduler="threads")
    np.testing.assert_array_equal(a, b)
    ta = truth_frame(settings, chunk_frames=4).compute(scheduler="sync").reset_index(drop=True)
    pd.testing.assert_frame_equal(ta, truth_rows(settings, 0, settings.frames),
                                  check_exact=True)
    other = movie_array(dataclasses.replace(settings, seed=4), chunk_frames=13).compute()
    assert not np.array_equal(a, other)


def test_building_the_graph_renders_nothing(psf_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a spot was rendered while building the graph")

    monkeypatch.setattr("smlmscale.simulate.psf_file.model_spots", refuse)
    settings = _settings(psf_path, frames=40)
    with raise_if_dask_computes():
        movie = movie_array(settings, chunk_frames=7)
        truth = truth_frame(settings, chunk_frames=7)
        total = movie.sum()
    assert movie.shape == (40, 20, 24) and total is not None
    assert list(truth.columns) == ["frame", "x_nm", "y_nm", "z_nm", "photons", "background",
                                   "blur_sigma_nm", "emitter", "detectable"]


def test_truth_z_and_blur_lie_in_the_files_ranges(psf_path):
    """z is uniform over the file's range by default (the mapping fills it in) or over a
    --z-range inside it; the blur comes from the file's blur range."""
    data = psf_file_defaults({"frames": 200, "size_px": 16, "psf": {"file": psf_path},
                              "emitters": {"per_frame_range": [1, 10]}})
    settings = MovieSettings.from_mapping(data)
    assert settings.psf.model == "file" and settings.psf.z_range_nm == TINY_Z_NM
    assert settings.pixel_size_nm == TINY_PIXEL_NM
    truth = truth_rows(settings, 0, settings.frames)
    z = truth["z_nm"]
    assert z.between(*TINY_Z_NM).all() and z.min() < 200 and z.max() > 1800
    blur = truth["blur_sigma_nm"] / TINY_PIXEL_NM
    assert blur.between(0.99, 1.01).all() and blur.std() > 0
    inside = dataclasses.replace(settings, psf=dataclasses.replace(settings.psf,
                                                                   z_range_nm=(500, 900)))
    assert truth_rows(inside, 0, 50)["z_nm"].between(500, 900).all()


def test_single_precision_spots_are_within_1e_6_of_the_peak(psf_path):
    model = load_psf(psf_path)
    rng = np.random.default_rng(1)
    dx, dy = rng.uniform(-0.5, 0.5, 40), rng.uniform(-0.5, 0.5, 40)
    z, blur = rng.uniform(*TINY_Z_NM, 40), rng.uniform(0.99, 1.01, 40)
    single = model_spots(model, dx, dy, z, blur)
    double = model.spots(dx, dy, z, blur_sigma_px=blur)
    assert single.dtype == np.float32 and single.shape == double.shape
    error = np.abs(single - double).max(axis=(1, 2)) / double.max(axis=(1, 2))
    assert error.max() < 1e-6


def test_refusals_name_the_file(psf_path, tmp_path):
    with pytest.raises(InputError, match="outside the PSF file's 0..2000 nm") as exc:
        prepare_simulate(tmp_path / "o.zarr", settings=_settings(
            psf_path, psf=PsfSettings(model="file", file=psf_path, z_range_nm=(0, 2500))))
    assert psf_path in str(exc.value) and "--z-range" in str(exc.value)
    with pytest.raises(InputError, match="pixel size 100 nm differs from the PSF file's 110"):
        check_psf_file(_settings(psf_path, pixel_size_nm=100.0))
    with pytest.raises(InputError, match="no such PSF file"):
        psf_file_defaults({"psf": {"file": str(tmp_path / "missing.zarr")}})
    with pytest.raises(InputError, match="go together"):
        PsfSettings(model="file")
    with pytest.raises(InputError, match="spectral channel needs"):
        _settings(psf_path, spectral=dataclasses.replace(MovieSettings().spectral,
                                                         enabled=True, offset_px=2,
                                                         box_width_px=2))
    assert not (tmp_path / "o.zarr").exists()
