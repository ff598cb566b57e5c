"""``smlmscale patches`` through the typer app on a real cluster, bad input included."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from smlmscale.cli import app
from smlmscale.patches import open_patchset
from smlmscale.simulate import EmitterSettings, MovieSettings, simulate_movie
from tests.cli.helpers import assert_fails_with_one_line
from tests.patches import make_data

runner = CliRunner()
pytestmark = pytest.mark.timeout(180)


def _run(scheduler, *args):
    return runner.invoke(app, ["--scheduler", scheduler, "patches", *map(str, args)])


def _patch_a_simulation(tmp_path, scheduler, out, *args, **movie):
    """Simulate ``sim.zarr`` (1 emitter per um^2, ``movie`` settings), then run patches on it."""
    sim = tmp_path / "sim.zarr"
    simulate_movie(sim, settings=MovieSettings(emitters=EmitterSettings(density_per_um2=1.0),
                                               **movie))
    return _run(scheduler, sim, "--locs", tmp_path / "sim_truth.parquet", "-o", out, *args)


def test_issue_example_on_a_simulated_movie(tmp_path, scheduler):
    out = tmp_path / "train.zarr"
    result = _patch_a_simulation(tmp_path, scheduler, out, "--kind", "deepstorm",
                                 "--patch-size", 26, "--upsampling", 8, "--per-frame", 4,
                                 "--min-emitters", 2, "--validation", 0.2, frames=20,
                                 size_px=64, chunk_frames=6, seed=1)
    assert result.exit_code == 0, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"wrote {out}: ") and "deepstorm patches of 208x208x1" in line
    ps = open_patchset(out)
    assert 0 < len(ps) <= 80 and ps.targets.shape[1:] == (208, 208, 1)
    assert ps.attrs["command"].startswith("smlmscale") and ps.attrs["pixel_size_nm"] == 100.0
    assert ps.attrs["split"]["n_validation"] == round(0.2 * len(ps))
    inputs = ps.inputs[:]
    assert inputs.min() >= 0 and inputs.max() <= 1
    assert np.all(ps.targets[:].sum(axis=(1, 2, 3)) > 1.0)  # at least 2 emitters, some edge loss
    info = json.loads(runner.invoke(app, ["info", str(out), "--json"]).stdout)
    assert info["kind"] == "patch set" and info["patches"] == len(ps)


def test_photon_weights_and_overwrite(tmp_path, scheduler):
    store, locs, _, _ = make_data(tmp_path, frames=6, per_frame=30)
    out = tmp_path / "p.zarr"
    args = [store, "--locs", locs, "-o", out, "--patch-size", 12, "--upsampling", 2,
            "--weight", "photons", "--target-sigma", 0, "--seed", 3]
    assert _run(scheduler, *args).exit_code == 0
    ps = open_patchset(out)
    assert ps.attrs["params"]["weight"] == "photons" and ps.targets[:].sum() > 500
    assert_fails_with_one_line(_run(scheduler, *args), "output exists", "--overwrite")
    assert _run(scheduler, *args, "--overwrite").exit_code == 0


def test_summed_with_export_and_3d_deepstorm(tmp_path, scheduler):
    store, locs, _, _ = make_data(tmp_path, frames=30, per_frame=30, z=True)
    out, tiffs = tmp_path / "summed.zarr", tmp_path / "summed_tiff"
    result = _run(scheduler, store, "--locs", locs, "-o", out, "--kind", "summed",
                  "--patch-size", 10, "--upsampling", 2, "--bin-size", 4, "--camera-offset",
                  100, "--export-tiff", tiffs)
    assert result.exit_code == 0, result.stderr
    assert "summed patches of 20x20x1" in result.stderr and f"wrote {tiffs}" in result.stderr
    assert sorted(p.name for p in tiffs.iterdir()) == ["summed.csv", "summed.tif"]
    assert open_patchset(out).attrs["params"]["bin_size"] == 4
    out3d = tmp_path / "ds3d.zarr"
    result = _run(scheduler, store, "--locs", locs, "-o", out3d, "--patch-size", 10,
                  "--upsampling", 2, "--z-bins", 4, "--z-range", "-400:400")
    assert result.exit_code == 0, result.stderr
    ps = open_patchset(out3d)
    assert ps.targets.shape[1:] == (20, 20, 4) and ps.attrs["params"]["z_range_nm"] == [-400,
                                                                                     400]


@pytest.mark.parametrize("extra, fragments", [
    (["--kind", "fusion", "--bin-size", 3], ["--bin-size does not apply to --kind fusion"]),
    (["--kind", "deepstorm", "--rois", "r.csv"], ["--rois is used by --kind counts only"]),
    (["--export-tiff", "t"], ["--export-tiff does not apply to --kind deepstorm"]),
    (["--z-range", "a:b"], ["--z-range must be LOW:HIGH"]),
    (["--z-bins", 3], ["no z_nm column"]),
    (["--kind", "counts"], ["--kind counts needs an ROI list"]),
    (["--kind", "nope"], ["unknown patch kind"]),
    (["--patch-size", 50], ["larger than the 40x40 frame"]),
    (["--min-emitters", 100], ["no patch holds at least 100 emitters"]),
    (["--weight", "heavy"], ["unknown weight"]),
])
def test_bad_input(tmp_path, scheduler, extra, fragments):
    store, locs, _, _ = make_data(tmp_path, frames=3)
    result = _run(scheduler, store, "--locs", locs, "-o", tmp_path / "out.zarr", *extra)
    assert_fails_with_one_line(result, *fragments)
    assert not (tmp_path / "out.zarr").exists()


def test_table_beyond_the_movie(tmp_path, scheduler):
    store, _, _, _ = make_data(tmp_path, frames=3)
    (tmp_path / "other").mkdir()
    _, locs, _, _ = make_data(tmp_path / "other", frames=5)
    result = _run(scheduler, store, "--locs", locs, "-o", tmp_path / "out.zarr")
    assert_fails_with_one_line(result, "frame 4 but the movie has only 3 frames", "truth.parquet")


def test_counts_on_a_simulated_section_stack(tmp_path, scheduler):
    from smlmscale.simulate.sections import SectionSettings, simulate_sections

    stack = tmp_path / "sections.zarr"
    sim = simulate_sections(stack, settings=SectionSettings(n_sections=4, size_px=96,
                                                            n_clusters=6, seed=2))
    out = tmp_path / "counts.zarr"
    result = _run(scheduler, stack, "--locs", sim["truth_path"], "--rois", sim["rois_path"],
                  "-o", out, "--kind", "counts", "--degree", 2, "--validation", 0.25)
    assert result.exit_code == 0, result.stderr
    ps = open_patchset(out)
    assert len(ps) > 0 and ps.inputs.shape[-1] == 2 and ps.targets.shape[-1] == 1
    assert ps.attrs["generator"] == "counts" and len(ps.attrs["estimate"]["coefficients"]) == 3
    assert ps.attrs["source"]["rois"] == str(sim["rois_path"])
    bad = tmp_path / "bad.csv"
    bad.write_text("roi,section,x\n0,0,1\n")
    result = _run(scheduler, stack, "--locs", sim["truth_path"], "--rois", bad, "-o",
                  tmp_path / "x.zarr", "--kind", "counts")
    assert_fails_with_one_line(result, "bad.csv")


def test_fusion_through_the_cli_on_a_spectral_movie(tmp_path, scheduler):
    from smlmscale.io.ome_zarr import create_image_store
    from smlmscale.io.tables import TableMeta, write_table
    from tests.patches.spectral import PIXEL_NM, SIGNAL_MIN, simulate_spectral

    data = simulate_spectral(frames=120, emitters=12, seed=4)
    store = tmp_path / "spectral.zarr"
    create_image_store(store, shape=data.movie.shape, dtype=data.movie.dtype,
                       chunks=(50, *data.movie.shape[1:]), pixel_size_nm=PIXEL_NM)[:] = data.movie
    locs = tmp_path / "peakfit.parquet"
    write_table(data.table, locs, meta=TableMeta(pixel_size_nm=PIXEL_NM))
    out = tmp_path / "fusion.zarr"
    result = _run(scheduler, store, "--locs", locs, "-o", out, "--kind", "fusion",
                  "--min-run", 8, "--signal-min", SIGNAL_MIN, "--spectral-offset", 230,
                  "--spectral-jitter", "-10:20", "--tophat-radius", 10)
    assert result.exit_code == 0, result.stderr
    assert "fusion patches of 16x64x1" in result.stderr
    ps = open_patchset(out)
    assert len(ps) > 0 and ps.attrs["params"]["spectral_jitter_px"] == [-10, 20]
    assert ps.attrs["stats"]["runs_kept"] > 0
    result = _run(scheduler, store, "--locs", locs, "-o", tmp_path / "none.zarr", "--kind",
                  "fusion", "--min-run", 500, "--signal-min", SIGNAL_MIN)
    assert_fails_with_one_line(result, "peakfit.parquet")


def test_help_defaults_come_from_the_settings():
    from smlmscale.patches.base import CHUNK_BYTES

    shown = runner.invoke(app, ["patches", "--help"], env={"COLUMNS": "250"}).output
    text = " ".join(shown.split())
    assert f"about {CHUNK_BYTES / 2**20:g} MiB of pairs" in text
    for words in ("Patch side, camera px [26; frames 40; deepstorm3d 64].",
                  "Upsampling factor [8; deepstorm3d 4].",
                  "Keep patches with at least this many emitters [1; summed 2].",
                  "Patches summed into one [10].", "DBSCAN eps, nm [half a pixel].",
                  "deepstorm and summed options", "counts options", "--keep-empty",
                  "frames options", "Frames per input stack, centred on the target frame [3].",
                  "deepstorm, summed, frames and deepstorm3d options",
                  "deepstorm, summed and deepstorm3d options", "deepstorm3d options",
                  "voxels along z (D) of the target grid [121]."):
        assert words in text, words


@pytest.mark.parametrize("extra, fragments", [
    (["--kind", "deepstorm", "--keep-empty"], ["--keep-empty does not apply to --kind deepstorm"]),
    (["--kind", "counts", "--patch-size", 8], ["--patch-size does not apply to --kind counts"]),
    (["--kind", "summed", "--bin-size", 0], ["--bin-size must be at least 1, got 0"]),
    (["--spectral-jitter", "1:x", "--kind", "fusion"], ["--spectral-jitter must be LOW:HIGH"]),
    (["--kind", "fusion", "--spectral-jitter", "5:1"], ["--spectral-jitter must be LOW, HIGH"]),
])
def test_refused_before_a_cluster_starts(tmp_path, extra, fragments):
    store, locs, _, _ = make_data(tmp_path, frames=3)
    result = runner.invoke(app, ["patches", str(store), "--locs", str(locs), "-o",
                                 str(tmp_path / "out.zarr"), *map(str, extra)])
    assert_fails_with_one_line(result, *fragments)
    assert "dask:" not in result.stderr and not (tmp_path / "out.zarr").exists()


def test_frames_on_a_simulated_movie(tmp_path, scheduler):
    out = tmp_path / "frames.zarr"
    result = _patch_a_simulation(tmp_path, scheduler, out, "--kind", "frames", "--context", 3,
                                 "--patch-size", 32, "--per-frame", 1, "--max-emitters", 40,
                                 "--scale-adu", 250, frames=12, size_px=48, chunk_frames=5,
                                 seed=2)
    assert result.exit_code == 0, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"wrote {out}: ") and "frames patches of 32x32x3" in line
    ps = open_patchset(out)
    assert 0 < len(ps) <= 12 and ps.targets.shape[1:] == (32, 32, 5)
    assert ps.attrs["context"] == 3 and ps.attrs["params"]["max_emitters"] == 40
    assert ps.attrs["normalization"]["offset_adu"] == 100.0  # the simulated camera's baseline
    assert ps.attrs["normalization"]["scale_adu"] == 250.0
    inputs = ps.inputs[:]
    assert -1 < inputs.min() and 0.02 < np.median(inputs) < 0.2  # background 20 photons / 250
    assert ps.attrs["background_units"] == "photons/px"
    assert ps.attrs["command"].startswith("smlmscale")


@pytest.mark.parametrize("extra, fragments", [
    (["--kind", "frames", "--context", 2], ["--context must be one of 1, 3, got 2"]),
    (["--kind", "deepstorm", "--context", 3], ["--context does not apply to --kind deepstorm"]),
    (["--kind", "frames", "--upsampling", 2], ["--upsampling does not apply to --kind frames"]),
    (["--kind", "frames", "--patch-size", 8], ["--context 3 needs at least 3", "movie.zarr"]),
    (["--kind", "frames", "--scale-adu", 0], ["--scale-adu must be greater than 0"]),
    (["--kind", "frames", "--context", 1, "--patch-size", 8, "--locs", "nophotons.parquet"],
     ["no photons column", "nophotons.parquet"]),
])
def test_frames_bad_input_refused_before_a_cluster_starts(tmp_path, monkeypatch, extra,
                                                          fragments):
    import pandas as pd

    from smlmscale.io.tables import TableMeta, write_table

    store, locs, _, _ = make_data(tmp_path, frames=2)
    write_table(pd.DataFrame({"frame": [0], "x_nm": [100.0], "y_nm": [200.0]}),
                tmp_path / "nophotons.parquet", meta=TableMeta(pixel_size_nm=100.0))
    monkeypatch.chdir(tmp_path)  # the table without photons is given by a relative path
    result = runner.invoke(app, ["patches", str(store), "--locs", str(locs), "-o",
                                 str(tmp_path / "out.zarr"), *map(str, extra)])
    assert_fails_with_one_line(result, *fragments)
    assert "dask:" not in result.stderr and not (tmp_path / "out.zarr").exists()
