"""`smlmscale simulate` through the typer app: movies, parameter files, sections, bad input."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from smlmscale.cli import app
from tests.cli.helpers import assert_fails_with_one_line
from smlmscale.io.ome_zarr import open_image_store
from smlmscale.io.tables import read_table
from smlmscale.simulate import MovieSettings, dump_params

pytestmark = pytest.mark.timeout(60)
runner = CliRunner()


def _run(scheduler, *args):
    return runner.invoke(app, ["--scheduler", scheduler, "simulate", *map(str, args)])


def test_simulate_movie_with_filaments(tmp_path, scheduler):
    out = tmp_path / "sim.zarr"
    result = _run(scheduler, "-o", out, "--frames", 30, "--size", 32, "--density", 1.5,
                  "--structure", "filaments", "--seed", 1, "--chunk-frames", 8)
    assert result.exit_code == 0, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"wrote {out}: 30 frames of 32x32 uint16 (gaussian PSF, filaments)")
    store = open_image_store(out)
    assert store.array.shape == (30, 32, 32) and store.array.chunks == (8, 32, 32)
    assert store.attrs["settings"]["structure"]["kind"] == "filaments"
    assert "smlmscale" in store.attrs["command"]
    truth, _ = read_table(tmp_path / "sim_truth.parquet")
    assert truth["frame"].max() <= 29 and len(truth) > 30


def test_simulate_astigmatic_with_truth_path_and_tiff(tmp_path, scheduler):
    out, truth_path = tmp_path / "sim3d.zarr", tmp_path / "gt.parquet"
    result = _run(scheduler, "-o", out, "--psf", "astigmatic", "--z-range", -600, 600,
                  "--frames", 12, "--size", 24, "--truth", truth_path, "--tiff",
                  "--tiff-frames", 5, "--pixel-size", 110, "--dtype", "float32")
    assert result.exit_code == 0, result.stderr
    assert "3 TIFF file(s)" in result.stderr
    truth, meta = read_table(truth_path)
    assert truth["z_nm"].between(-600, 600).all() and meta.pixel_size_nm == 110.0
    assert open_image_store(out).array.dtype == np.float32
    assert len(list((tmp_path / "sim3d_tiff").glob("*.ome.tif"))) == 3


def test_params_file_with_overrides(tmp_path, scheduler):
    params = tmp_path / "sim.yaml"
    dump_params(MovieSettings(frames=9, size_px=20, seed=5), params)
    out = tmp_path / "p.zarr"
    result = _run(scheduler, "-o", out, "--params", params, "--seed", 0,
                  "--emitters-per-frame", 2, 4, "--photons-uniform", 500, 900,
                  "--em-gain", 50, "--read-noise", 10)
    assert result.exit_code == 0, result.stderr
    settings = open_image_store(out).attrs["settings"]
    assert settings["frames"] == 9 and settings["seed"] == 0
    assert settings["emitters"]["per_frame_range"] == [2, 4]
    assert settings["photons"]["distribution"] == "uniform"
    assert settings["camera"]["em_gain"] == 50.0 and settings["camera"]["read_noise_e"] == 10.0
    counts = read_table(tmp_path / "p_truth.parquet")[0].groupby("frame").size()
    assert counts.between(2, 4).all()


def test_sections_dispatch(tmp_path, scheduler):
    pytest.importorskip("smlmscale.simulate.sections")
    out = tmp_path / "sections.zarr"
    result = _run(scheduler, "-o", out, "--kind", "sections", "--sections", 3,
                  "--section-thickness", 70, "--clusters", 5, "--size", 64, "--seed", 2)
    assert result.exit_code == 0, result.stderr
    store = open_image_store(out)
    assert store.axes == "zyx" and store.array.shape == (3, 64, 64)
    assert "3 sections" in result.stderr


def _bad_files(tmp_path):
    (tmp_path / "bad.yaml").write_text("frames: [1, 2\n")
    (tmp_path / "unknown.yaml").write_text("frames: 5\nblur: 3\npsf: {sigma: 1}\n")
    (tmp_path / "exists.zarr").mkdir()
    (tmp_path / "exists.zarr" / "zarr.json").write_text("{}")


@pytest.mark.parametrize("options, fragments", [
    (["--frames", "-5"], ["frames must be at least 1, got -5"]),
    (["--size", "0"], ["size_px must be at least 1"]),
    (["--density", "-1"], ["emitters.density_per_um2 must be greater than 0"]),
    (["--psf", "astigmatic", "--z-range", "600", "-600"], ["psf.z_range_nm is empty"]),
    (["--z-range", "-600", "600"], ["--z-range needs --psf astigmatic"]),
    (["--structure", "lattice"], ["structure.kind must be one of uniform, filaments, clusters"]),
    (["--density", "1", "--emitters-per-frame", "1", "5"], ["--density or --emitters-per-frame"]),
    (["--params", "{tmp}/bad.yaml"], ["bad.yaml", "malformed YAML at line"]),
    (["--params", "{tmp}/unknown.yaml"], ["unknown.yaml", "blur", "psf.sigma"]),
    (["--params", "{tmp}/missing.yaml"], ["missing.yaml", "no such parameter file"]),
    (["--kind", "stack"], ["unknown --kind 'stack'"]),
    (["--kind", "sections", "--psf", "astigmatic"], ["--psf applies to movies only"]),
    (["--sections", "4"], ["--sections applies to --kind sections only"]),
    (["--dtype", "int7"], ["dtype must be one of"]),
])
def test_bad_input_exits_2_with_one_line(tmp_path, scheduler, options, fragments):
    _bad_files(tmp_path)
    options = [o.replace("{tmp}", str(tmp_path)) for o in options]
    result = _run(scheduler, "-o", tmp_path / "out.zarr", *options)
    assert_fails_with_one_line(result, *fragments)
    assert not (tmp_path / "out.zarr").exists()


def test_existing_output_exits_2(tmp_path, scheduler):
    _bad_files(tmp_path)
    result = _run(scheduler, "-o", tmp_path / "exists.zarr", "--frames", 3)
    assert_fails_with_one_line(result, "exists.zarr", "output exists", "--overwrite")


def test_help_defaults_come_from_the_settings():
    import typer

    from smlmscale.simulate.instrument import CameraSettings
    from smlmscale.simulate.settings import SectionSettings

    command = typer.main.get_command(app).get_command(None, "simulate")
    helps = {option.opts[0]: option.help for option in command.params}
    assert helps["--frames"] == f"Frames [{MovieSettings().frames}]."
    assert helps["--size"].endswith(f"[movie 256; sections {SectionSettings().size_px}].")
    assert helps["--read-noise"] == f"Read noise sigma, e- [{CameraSettings().read_noise_e:g}]."
    assert helps["--z-range"].endswith("nm [-600:600].")
    text = runner.invoke(app, ["simulate", "--help"]).output
    assert "MIN MAX" in text and "--no-spectral" in text


@pytest.fixture(scope="module")
def psf_file(tmp_path_factory):
    from tests.simulate.helpers import tiny_psf_file

    return tiny_psf_file(tmp_path_factory.mktemp("psf") / "tetrapod.psf.zarr")


def test_the_issues_psf_command_line(tmp_path, scheduler, psf_file):
    """Independent frames (the seed's num_particles_range) from a PSF file: its pixel
    size and z range are taken when not given."""
    out = tmp_path / "sim3d.zarr"
    result = _run(scheduler, "-o", out, "--psf", psf_file, "--emitters-per-frame", 1, 35,
                  "--photons-gamma", 3, 3000, "--photon-threshold", 6000, "--frames", 16,
                  "--size", 24, "--chunk-frames", 6)
    assert result.exit_code == 0, result.stderr
    assert "(PSF file tetrapod.psf.zarr, uniform)" in result.stderr.strip().splitlines()[-1]
    settings = open_image_store(out).attrs["settings"]
    assert settings["psf"]["model"] == "file" and settings["psf"]["file"] == psf_file
    assert settings["pixel_size_nm"] == 110.0 and settings["psf"]["z_range_nm"] == [0, 2000]
    truth, meta = read_table(tmp_path / "sim3d_truth.parquet")
    assert meta.pixel_size_nm == 110.0 and truth["z_nm"].between(0, 2000).all()
    assert truth.groupby("frame").size().between(1, 35).all()
    assert set(truth["detectable"]) == {0, 1}


def test_a_blinking_psf_movie_with_the_seeds_background(tmp_path, scheduler, psf_file):
    out = tmp_path / "blink.zarr"
    result = _run(scheduler, "-o", out, "--psf", psf_file, "--density", 1, "--frames", 10,
                  "--size", 24, "--z-range", 500, 1500, "--nonuniform-background", 80,
                  "--background-per-frame", "--baseline-range", 20, 40,
                  "--read-noise", 8, "--read-noise-max", 12)
    assert result.exit_code == 0, result.stderr
    settings = open_image_store(out).attrs["settings"]
    assert settings["background"]["nonuniform_per_frame"] is True
    assert settings["camera"]["baseline_range_adu"] == [20.0, 40.0]
    truth, _ = read_table(tmp_path / "blink_truth.parquet")
    assert truth["z_nm"].between(500, 1500).all() and truth["background"].std() > 0


@pytest.mark.parametrize("options, fragments", [
    (["--psf", "{tmp}/missing.zarr"], ["missing.zarr", "no such PSF file"]),
    (["--psf", "{tmp}/plain.zarr"], ["plain.zarr", "not a PSF file"]),
    (["--psf", "{psf}", "--z-range", "0", "3000"],
     ["tetrapod.psf.zarr", "z range 0..3000 nm is outside the PSF file's 0..2000 nm",
      "--z-range"]),
    (["--psf", "{psf}", "--pixel-size", "100"],
     ["tetrapod.psf.zarr", "pixel size 100 nm differs from the PSF file's 110 nm",
      "--pixel-size"]),
    (["--psf", "{psf}", "--spectral"], ["spectral channel needs a Gaussian"]),
    (["--baseline-range", "40", "20"], ["camera.baseline_range_adu is empty"]),
])
def test_bad_psf_input_exits_2_with_one_line(tmp_path, scheduler, psf_file, options,
                                             fragments):
    import zarr

    zarr.open_group(tmp_path / "plain.zarr", mode="w", zarr_format=3)
    options = [o.replace("{tmp}", str(tmp_path)).replace("{psf}", psf_file) for o in options]
    result = _run(scheduler, "-o", tmp_path / "out.zarr", "--frames", 4, "--size", 16,
                  *options)
    assert_fails_with_one_line(result, *fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.zarr"]


def test_psf_file_through_the_console_script(tmp_path, scheduler, psf_file):
    exe = os.path.join(os.path.dirname(sys.executable), "smlmscale")
    done = subprocess.run([exe, "--scheduler", scheduler, "simulate", "-o",
                           str(tmp_path / "s.zarr"), "--psf", psf_file, "--frames", "6",
                           "--size", "20", "--emitters-per-frame", "2", "5"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "6 frames of 20x20 uint16 (PSF file" in done.stderr.strip().splitlines()[-1]
    bad = subprocess.run([exe, "--scheduler", scheduler, "simulate", "-o",
                          str(tmp_path / "x.zarr"), "--psf", psf_file, "--z-range", "-100",
                          "500"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and not (tmp_path / "x.zarr").exists()
    lines = [line for line in bad.stderr.splitlines() if not line.startswith("dask: ")]
    assert len(lines) == 1 and "outside the PSF file's" in lines[0], bad.stderr
