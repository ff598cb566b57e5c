"""Table formats are records in one list; every lookup goes through them. ``info``'s
kinds of path are records too."""

from __future__ import annotations

import pandas as pd
import pytest

from smlmscale.errors import InputError
from smlmscale.io.describe import PATH_KINDS, describe_path
from smlmscale.io.tables import FORMATS, TableMeta, format_name, read_table, write_table
from smlmscale.io.tables._format import TEXT_EXTENSIONS, TableFormat
from smlmscale.io.tables._text import read_layout
from smlmscale.io.tables.registry import TABLE_FORMATS, guess_format, open_table, sniff_text

TABLE = pd.DataFrame({"frame": [0, 1], "x_nm": [10.0, 20.0], "y_nm": [30.0, 40.0],
                      "z_nm": [1.0, 2.0], "confidence": [0.5, 0.9]})


def test_one_record_per_format():
    assert list(FORMATS) == [f.name for f in TABLE_FORMATS] == [
        "parquet", "thunderstorm", "picasso", "picasso_csv", "deepstorm", "deepstorm3d",
        "peakfit", "smap", "decode", "csv"]
    assert all(isinstance(f, TableFormat) for f in TABLE_FORMATS)
    assert [f.name for f in TABLE_FORMATS if not f.writable] == ["peakfit", "smap", "decode"]
    assert {f.name for f in TABLE_FORMATS if not f.text} == {"parquet", "picasso", "decode"}
    assert FORMATS["picasso"].outputs("a/locs.hdf5")[1].name == "locs.yaml"
    aliases = [a for f in TABLE_FORMATS for a in f.aliases]
    assert len(aliases) == len(set(aliases)) and not set(aliases) & set(FORMATS)
    for f in TABLE_FORMATS:
        for alias in f.aliases:
            assert format_name(alias.upper()) == f.name


def test_extensions_name_formats_on_read_and_write(tmp_path):
    assert guess_format(tmp_path / "a.parquet") == "parquet"
    assert guess_format(tmp_path / "a.H5") == "picasso"
    for ext in TEXT_EXTENSIONS[:-1]:
        assert guess_format(tmp_path / f"a{ext}", for_write=True) == "thunderstorm"
    with pytest.raises(InputError, match=r"\.xls\) cannot be written.*\.parquet \(parquet\)"):
        guess_format(tmp_path / "a.xls", for_write=True)


@pytest.mark.parametrize("name", [f.name for f in TABLE_FORMATS if f.writable])
def test_every_writable_text_format_is_sniffed_back_as_itself(tmp_path, name):
    path = tmp_path / ("t.parquet" if name == "parquet" else "t.hdf5" if name == "picasso"
                       else "t.csv")
    write_table(TABLE, path, format=name, meta=TableMeta(pixel_size_nm=100.0))
    record = FORMATS[name]
    if record.text:
        layout = read_layout(path)
        scores = {f.name: f.sniff(layout) for f in TABLE_FORMATS if f.text}
        assert max(scores, key=scores.get) == name == sniff_text(path), scores
    source = open_table(path, pixel_size_nm=100.0)
    assert source.format == name
    assert record.open(path, pixel_size_nm=100.0).format == name
    got, _ = read_table(path, pixel_size_nm=100.0)
    assert got["frame"].tolist() == [0, 1]


def test_info_kinds_are_records(tmp_path):
    assert [k.kind for k in PATH_KINDS] == ["clusters", "patch set", "model", "PSF file",
                                            "image store",
                                            "localization table"]
    path = tmp_path / "t.csv"
    write_table(TABLE, path, format="csv")
    assert [k.kind for k in PATH_KINDS if k.sniff(str(path))] == ["localization table"]
    summary = describe_path(path)
    assert list(summary)[:2] == ["kind", "path"] and summary["kind"] == "localization table"
    assert summary["rows"] == 2 and summary["format"] == "csv"
    with pytest.raises(InputError, match="no such file or folder"):
        describe_path(tmp_path / "missing")
