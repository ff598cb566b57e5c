"""`smlmscale ingest` and `smlmscale info` through the real entry point, bad input included."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from smlmscale.cli import app
from tests.cli.helpers import assert_fails_with_one_line
from smlmscale.io.ome_zarr import open_image_store
from tests.io.vendor_files import write_czi, write_nd2
from tests.rawdata import write_dax, write_picasso_raw
from tests.tiffdata import write_tiff

runner = CliRunner()


def test_ingest_then_info(tmp_path, movie, scheduler):
    src = write_tiff(tmp_path / "m.ome.tif", movie, "ome")
    out = tmp_path / "m.zarr"
    result = runner.invoke(app, ["--scheduler", scheduler, "ingest", str(src), "-o", str(out),
                                 "--chunk-frames", "16", "--pixel-size", "110"])
    assert result.exit_code == 0, result.stderr
    assert "wrote" in result.stderr and "61 frames of 37x45 uint16" in result.stderr
    np.testing.assert_array_equal(open_image_store(out).array[:], movie)
    info = runner.invoke(app, ["info", str(out)])
    assert info.exit_code == 0
    assert "shape: 61 x 37 x 45" in info.stdout and "pixel size nm: 110.0" in info.stdout
    summary = json.loads(runner.invoke(app, ["info", str(out), "--json"]).stdout)
    assert summary["chunks"] == [16, 37, 45] and summary["provenance"]["kind"] == "movie"
    assert "smlmscale" in summary["provenance"]["command"]


def _bad_files(tmp_path, movie):
    (tmp_path / "junk.tif").write_text("not an image at all\n" * 10)
    trunc = write_tiff(tmp_path / "trunc.tif", movie)
    trunc.write_bytes(trunc.read_bytes()[:30000])
    write_tiff(tmp_path / "a.tif", movie)
    write_tiff(tmp_path / "narrow.tif", movie[:, :, :40])
    write_tiff(tmp_path / "float.tif", movie.astype(np.float32))
    (tmp_path / "empty").mkdir()
    (tmp_path / "locs.csv").write_text("frame,x,y\n1,2,3\n")
    write_picasso_raw(tmp_path / "lone.raw", movie).with_suffix(".yaml").unlink()
    write_picasso_raw(tmp_path / "short.raw", movie, Frames=80)
    write_dax(tmp_path / "lone.dax", movie).with_suffix(".inf").unlink()
    write_dax(tmp_path / "short.dax", movie).write_bytes(b"\0" * 1000)
    write_nd2(tmp_path / "two.nd2", movie[:4].reshape(2, 2, 37, 45), "PCYX")
    write_czi(tmp_path / "two.czi", movie[:4].reshape(1, 2, 2, 37, 45),
              channel_names=["A647", "CF568"])
    for name in ("corrupt.nd2", "corrupt.czi"):
        (tmp_path / name).write_bytes(movie[:2].tobytes())
    (tmp_path / "movie.xyz").write_bytes(movie[:2].tobytes())


@pytest.mark.parametrize("inputs, options, fragments", [
    (["junk.tif"], [], ["junk.tif", "not a readable TIFF"]),
    (["locs.csv"], [], ["locs.csv", "not a readable TIFF"]),
    (["trunc.tif"], [], ["trunc.tif", "truncated"]),
    (["a.tif", "narrow.tif"], [], ["narrow.tif", "frame shape 37x40 differs"]),
    (["a.tif", "float.tif"], [], ["float.tif", "pixel type float32 differs"]),
    (["empty"], [], ["empty", "no TIFF files"]),
    (["lone.raw"], [], ["lone.raw", "without its .yaml"]),
    (["short.raw"], [], ["short.raw", "describes 80 frames", "truncated"]),
    (["lone.dax"], [], ["lone.dax", "without its .inf"]),
    (["short.dax"], [], ["short.dax", "holds 1000 bytes", "truncated"]),
    (["two.nd2"], [], ["two.nd2", "2 channels (ch0, ch1)", "--channel N"]),
    (["two.nd2"], ["--channel", "1"], ["two.nd2", "2 positions", "--position N (0 to 1)"]),
    (["two.czi"], ["--position", "0"], ["two.czi", "2 channels (A647, CF568)"]),
    (["two.czi"], ["--channel", "3"], ["two.czi", "--channel 3 is out of range"]),
    (["corrupt.nd2"], [], ["corrupt.nd2", "not a readable ND2 file"]),
    (["corrupt.czi"], [], ["corrupt.czi", "not a readable CZI file"]),
    (["movie.xyz"], [], ["movie.xyz", "not a readable TIFF", "ND2, CZI, Picasso .raw"]),
    (["a.tif"], ["--channel", "1"], ["a.tif", "ND2 and CZI files only"]),
    (["missing.tif"], [], ["missing.tif", "no such file"]),
    (["a.tif"], ["--compressor", "gzip"], ["unknown compressor"]),
    (["a.tif"], ["--shards", "64", "--zarr-format", "2"], ["sharding needs Zarr format 3"]),
    (["a.tif"], ["--chunk-frames", "10", "--shards", "15"], ["multiple of the chunk"]),
])
def test_bad_input_exits_2_with_one_line(tmp_path, movie, scheduler, inputs, options, fragments):
    _bad_files(tmp_path, movie)
    out = tmp_path / "out.zarr"
    result = runner.invoke(app, ["--scheduler", scheduler, "ingest",
                                 *[str(tmp_path / i) for i in inputs], "-o", str(out), *options])
    assert_fails_with_one_line(result, *fragments)
    assert not out.exists() and not os.path.exists(f"{out}.partial")


def test_ingest_czi_plane_then_info(tmp_path, movie, scheduler):
    data = movie[:60].reshape(1, 30, 2, 37, 45)              # scene, T, channel, y, x
    src = write_czi(tmp_path / "m.czi", data, pixel_size_nm=108.0)
    out = tmp_path / "m.zarr"
    result = runner.invoke(app, ["--scheduler", scheduler, "ingest", str(src), "-o", str(out),
                                 "--channel", "1", "--chunk-frames", "7"])
    assert result.exit_code == 0, result.stderr
    assert "30 frames of 37x45 uint16" in result.stderr
    assert "; took channel 1, scene 0" in result.stderr
    np.testing.assert_array_equal(open_image_store(out).array[:], data[0, :, 1])
    info = runner.invoke(app, ["info", str(out)])
    assert info.exit_code == 0 and "pixel size nm: 108.0" in info.stdout


def test_existing_output_is_untouched(tmp_path, movie):
    src = write_tiff(tmp_path / "a.tif", movie)
    out = tmp_path / "out.zarr"
    out.mkdir()
    (out / "data").write_text("old")
    result = runner.invoke(app, ["ingest", str(src), "-o", str(out)])
    assert_fails_with_one_line(result, "out.zarr", "output exists", "--overwrite")
    assert (out / "data").read_text() == "old"


def test_unreachable_scheduler(tmp_path, movie):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    src = write_tiff(tmp_path / "a.tif", movie)
    started = time.monotonic()
    result = runner.invoke(app, ["--scheduler", f"tcp://127.0.0.1:{port}", "ingest", str(src),
                                 "-o", str(tmp_path / "out.zarr")])
    assert time.monotonic() - started < 12
    assert_fails_with_one_line(result, f"127.0.0.1:{port}")
    assert not (tmp_path / "out.zarr").exists()


def test_info_of_a_folder_that_is_not_a_store(tmp_path):
    (tmp_path / "plain").mkdir()
    assert_fails_with_one_line(runner.invoke(app, ["info", str(tmp_path / "plain")]), "plain")


def test_console_script_runs_ingest_and_reports_bad_input(tmp_path, movie):
    """The installed `smlmscale` script, as a user runs it: embedded LocalCluster and all."""
    exe = os.path.join(os.path.dirname(sys.executable), "smlmscale")
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(movie[:12]):
        write_tiff(folder / f"f{i}.tif", frame[None])
    ok = subprocess.run([exe, "--workers", "1", "ingest", str(folder), "-o",
                         str(tmp_path / "f.zarr")], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "dashboard http://127.0.0.1:" in ok.stderr and "12 frames of 37x45" in ok.stderr
    np.testing.assert_array_equal(open_image_store(tmp_path / "f.zarr").array[:], movie[:12])
    (tmp_path / "junk.tif").write_bytes(b"\x00" * 100)
    bad = subprocess.run([exe, "--workers", "1", "ingest", str(tmp_path / "junk.tif"), "-o",
                          str(tmp_path / "j.zarr")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    errors = [line for line in bad.stderr.splitlines() if not line.startswith("dask:")]
    assert len(errors) == 1 and "junk.tif" in errors[0], bad.stderr
    version = subprocess.run([sys.executable, "-m", "smlmscale", "--version"],
                             capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("smlmscale ")


def test_help_defaults_come_from_the_settings():
    from smlmscale.ingest import IngestSettings
    from smlmscale.settings import option_help

    result = runner.invoke(app, ["ingest", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.stdout.replace("│", " ").split())
    for name in ("chunk_frames", "compressor", "zarr_format"):
        assert " ".join(option_help(IngestSettings, name).split()) in text
    assert "--shards" in text and "--pixel-size" in text and "--tile" in text
