"""``smlmscale convert``: exit codes, one-line errors, atomic outputs."""

import h5py
import pytest
from typer.testing import CliRunner

from smlmscale.cli import app
from smlmscale.io.tables import read_table

TS = ('"id","frame","x [nm]","y [nm]","sigma [nm]","intensity [photon]","offset [photon]",'
      '"bkgstd [photon]","uncertainty_xy [nm]"\n'
      "1,1,53.5,160.5,120.0,1500.0,20.0,4.5,10.7\n2,2,267.5,53.5,130.0,900.0,18.0,4.2,21.4\n")
PEAKFIT = ("#Localisation Results File\n#FileVersion Text.D0.E0.V4\n"
           '#Calibration {"distanceCalibration":{"nmPerPixel":107.0}}\n'
           "#Frame\torigX\torigY\tSignal\tX (px)\tY (px)\tPrecision (nm)\n"
           "1\t0\t1\t500\t0.5\t1.5\t12.0\n4\t3\t3\t800\t3.25\t3.5\t9.0*\n")


@pytest.fixture
def runner():
    return CliRunner()


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_thunderstorm_to_picasso(runner, tmp_path):
    src, out = tmp_path / "locs.csv", tmp_path / "locs.hdf5"
    src.write_text(TS)
    result = runner.invoke(app, ["convert", str(src), "-o", str(out), "--pixel-size", "107"])
    assert result.exit_code == 0, result.output
    assert _lines(result.stderr)[-1].startswith(f"wrote 2 localizations (2 frames) to {out} in ")
    assert (tmp_path / "locs.yaml").exists()
    with h5py.File(out) as handle:
        assert handle["locs"]["x"].tolist() == [0.0, 2.0]
    table, meta = read_table(out)
    assert meta.pixel_size_nm == 107.0 and table["frame"].tolist() == [0, 1]


def test_peakfit_to_parquet(runner, tmp_path):
    src, out = tmp_path / "results.xls", tmp_path / "locs.parquet"
    src.write_text(PEAKFIT)
    result = runner.invoke(app, ["convert", str(src), "--from", "peakfit", "-o", str(out),
                                 "--pixel-size", "100"])
    assert result.exit_code == 0, result.output
    table, meta = read_table(out)
    assert meta.pixel_size_nm == 100.0
    assert table["x_nm"].tolist() == [50.0, 325.0] and table["frame"].tolist() == [0, 3]
    assert table["uncertainty_nm"].tolist() == [12.0, 9.0]


def test_format_alias_and_quiet(runner, tmp_path):
    src, out = tmp_path / "locs.csv", tmp_path / "deep.csv"
    src.write_text(TS)
    result = runner.invoke(app, ["--quiet", "convert", str(src), "-o", str(out),
                                 "--format", "deepstorm"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert out.read_text().startswith(",frame,x [nm],y [nm],Photon #,Sigma [nm]")


@pytest.mark.parametrize("args, message", [
    (["--to", "picasso"], "the pixel size is needed to write picasso; pass --pixel-size NM"),
    (["--to", "excel"], "unknown table format 'excel'"),
    (["--from", "picasso", "--pixel-size", "100"], "not an HDF5 file"),
    (["--pixel-size", "-5"], "pixel size must be a positive number"),
])
def test_bad_usage_exits_2_with_one_line(runner, tmp_path, args, message):
    src, out = tmp_path / "locs.csv", tmp_path / "out.hdf5"
    src.write_text(TS)
    result = runner.invoke(app, ["convert", str(src), "-o", str(out), *args])
    assert result.exit_code == 2
    lines = _lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["locs.csv"]


def test_bad_input_file_exits_2(runner, tmp_path):
    src, out = tmp_path / "movie.csv", tmp_path / "out.parquet"
    src.write_bytes(b"II*\x00" + bytes(100))
    result = runner.invoke(app, ["convert", str(src), "-o", str(out)])
    assert result.exit_code == 2
    lines = _lines(result.stderr)
    assert lines == [f"error: {src}: not a text table: the file is a TIFF image; check the file "
                     "and its extension"]
    assert not out.exists()


def test_existing_output_untouched_without_overwrite(runner, tmp_path):
    src, out = tmp_path / "locs.csv", tmp_path / "out.parquet"
    src.write_text(TS)
    out.write_bytes(b"precious")
    result = runner.invoke(app, ["convert", str(src), "-o", str(out)])
    assert result.exit_code == 2
    assert _lines(result.stderr) == [f"error: {out}: output exists; pass --overwrite to replace it"]
    assert out.read_bytes() == b"precious"
    result = runner.invoke(app, ["convert", str(src), "-o", str(out), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert len(read_table(out)[0]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["locs.csv", "out.parquet"]


def test_bad_rows_leave_no_output(runner, tmp_path):
    src, out = tmp_path / "locs.csv", tmp_path / "out.csv"
    src.write_text(TS + "3,3,NaN,1.0,1,1,1,1,1\n")
    result = runner.invoke(app, ["convert", str(src), "-o", str(out), "--to", "csv"])
    assert result.exit_code == 2
    lines = _lines(result.stderr)
    assert len(lines) == 1 and "1 row(s) have a NaN or infinite x_nm" in lines[0]
    assert str(src) in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["locs.csv"]


def test_picasso_output_warns_of_rows_picasso_drops(runner, tmp_path):
    """Issue 18 item 1: y within half a pixel of the top edge is y < 0 in Picasso's pixels."""
    src, out = tmp_path / "locs.csv", tmp_path / "locs.hdf5"
    src.write_text("frame,x_nm,y_nm\n0,500.0,500.0\n0,500.0,40.0\n")
    result = runner.invoke(app, ["convert", str(src), "-o", str(out), "--pixel-size", "100"])
    assert result.exit_code == 0, result.output
    warned = [line for line in _lines(result.stderr) if line.startswith("warning: ")]
    assert len(warned) == 1 and "1 of 2 localizations will be dropped by Picasso" in warned[0]
    with h5py.File(out) as handle:
        assert len(handle["locs"]) == 2 and (handle["locs"]["lpx"] == 1.0).all()
