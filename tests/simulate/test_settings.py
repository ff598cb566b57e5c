"""Movie settings: validation with named parameters, YAML parameter files, overrides."""

from __future__ import annotations

import dataclasses

import pytest

from smlmscale.errors import InputError
from smlmscale.simulate import (EmitterSettings, MovieSettings, PsfSettings, dump_params,
                                load_params, load_settings, merge_params)
from smlmscale.simulate.instrument import CameraSettings, SpectralSettings

pytestmark = pytest.mark.timeout(30)


def test_defaults_are_valid_and_documented_values():
    s = MovieSettings()
    assert s.size_px == (256, 256) and s.pixel_size_nm == 100.0
    assert (s.photons.gamma_shape, s.photons.gamma_scale) == (4.0, 500.0)
    assert s.psf.sigma_nm_range == (120.0, 150.0) and s.background.photons_per_px == 20.0
    assert (s.camera.baseline_adu, s.camera.read_noise_e, s.camera.qe, s.camera.em_gain) == \
        (100.0, 1.5, 0.9, 1.0)
    assert s.mean_active == pytest.approx(1.0 * 25.6 * 25.6)
    assert s.n_sites == 65536 and s.chunk_frames_or_default == 128
    hash(s)  # workers cache per-movie data keyed by the settings


@pytest.mark.parametrize("build, fragment", [
    (lambda: MovieSettings(frames=-5), "frames must be at least 1, got -5"),
    (lambda: MovieSettings(frames=2.5), "frames must be an integer"),
    (lambda: MovieSettings(size_px=0), "size_px must be at least 1"),
    (lambda: MovieSettings(size_px=[1, 2, 3]), "size_px must be an integer or [height, width]"),
    (lambda: MovieSettings(pixel_size_nm="big"), "pixel_size_nm must be a number"),
    (lambda: MovieSettings(seed=-1), "seed must be at least 0"),
    (lambda: MovieSettings(dtype="int7"), "dtype must be one of"),
    (lambda: EmitterSettings(density_per_um2=-1), "emitters.density_per_um2 must be greater"),
    (lambda: EmitterSettings(per_frame_range=(5, 2)), "emitters.per_frame_range is empty"),
    (lambda: EmitterSettings(on_frames_mean=40), "needs a longer on_frames_max"),
    (lambda: EmitterSettings(on_frames_max=300), "at most 256"),
    (lambda: PsfSettings(z_range_nm=(600, -600)), "psf.z_range_nm is empty"),
    (lambda: PsfSettings(z_range_nm=(0, 0)), "psf.z_range_nm is empty"),
    (lambda: PsfSettings(model="vortex"), "psf.model must be one of gaussian, astigmatic"),
    (lambda: CameraSettings(qe=1.5), "camera.qe must be at most 1"),
    (lambda: CameraSettings(em_gain=0.5), "camera.em_gain must be at least 1"),
    (lambda: MovieSettings(size_px=64, spectral=SpectralSettings(enabled=True)),
     "spectral channel leaves no room"),
    (lambda: MovieSettings(emitters=EmitterSettings(per_frame_range=(1, 50)),
                           structure=dataclasses.replace(MovieSettings().structure, n_sites=10)),
     "only 10 sites"),
])
def test_bad_values_raise_input_error_naming_the_parameter(build, fragment):
    with pytest.raises(InputError) as info:
        build()
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_yaml_round_trip(tmp_path):
    settings = MovieSettings(
        frames=321, size_px=(48, 64), seed=9, dtype="float32",
        emitters=EmitterSettings(per_frame_range=(1, 35)),
        psf=PsfSettings(model="astigmatic", z_range_nm=(-400, 500), sigma_nm_range=(99, 101)),
        camera=CameraSettings(em_gain=150, e_per_adu=12, read_noise_max_e=12),
        spectral=SpectralSettings(enabled=True, offset_px=10, box_width_px=20))
    path = tmp_path / "sim.yaml"
    dump_params(settings, path)
    assert load_settings(path) == settings
    assert MovieSettings.from_mapping(settings.to_mapping()) == settings
    assert "psf:" in path.read_text() and "model: astigmatic" in path.read_text()


def test_partial_file_keeps_defaults_and_cli_overrides_win(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("frames: 500\nseed: 3\npsf:\n  model: astigmatic\n  z_range_nm: [-300, 300]\n"
                    "photons: {gamma_shape: 3, gamma_scale: 3000, threshold: 6000}\n")
    settings = load_settings(path, {"seed": 11, "psf": {"z_range_nm": [-600, 600]}})
    assert settings.frames == 500 and settings.seed == 11
    assert settings.psf.model == "astigmatic" and settings.psf.z_range_nm == (-600.0, 600.0)
    assert settings.photons.threshold == 6000.0 and settings.camera == CameraSettings()
    assert merge_params({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}) == {"a": {"b": 1, "c": 3}}


def test_unknown_keys_are_all_named(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("frames: 10\nframez: 3\npsf: {model: gaussian, sigma: 100}\n")
    with pytest.raises(InputError) as info:
        load_settings(path)
    message = str(info.value)
    assert "framez" in message and "psf.sigma" in message and str(path) in message


@pytest.mark.parametrize("text, fragment", [
    ("frames: [1, 2\n", "malformed YAML at line"),
    ("- 1\n- 2\n", "must hold a mapping"),
    ("psf: astigmatic\n", "psf must be a mapping"),
    ("frames: -3\n", "frames must be at least 1"),
])
def test_bad_parameter_files(tmp_path, text, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_settings(path)
    assert fragment in str(info.value) and str(path) in str(info.value)


def test_missing_and_empty_parameter_files(tmp_path):
    with pytest.raises(InputError, match="no such parameter file"):
        load_params(tmp_path / "nope.yaml")
    (tmp_path / "empty.yaml").write_text("")
    assert load_settings(tmp_path / "empty.yaml") == MovieSettings()


def test_mapping_round_trip_and_an_empty_part_keeps_its_defaults():
    settings = MovieSettings(frames=12, size_px=(10, 20), psf=PsfSettings(model="astigmatic"))
    data = settings.to_mapping()
    assert data["size_px"] == [10, 20] and data["psf"]["z_range_nm"] == [-600.0, 600.0]
    assert MovieSettings.from_mapping(data) == settings
    assert MovieSettings.from_mapping({"psf": None, "frames": 12}).psf == PsfSettings()
    assert settings.diff(MovieSettings(frames=12, size_px=(10, 20))) == ["psf.model"]
    with pytest.raises(InputError, match="p.yaml: camera.qe must be at most 1, got 2.0"):
        MovieSettings.from_mapping({"camera": {"qe": 2}}, source="p.yaml")
    with pytest.raises(InputError, match="pixel_size_nm must be greater than 0"):
        MovieSettings(pixel_size_nm=0)
