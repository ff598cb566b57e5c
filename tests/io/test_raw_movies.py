"""Picasso .raw and .dax movies: described from their sidecars, read per frame range."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from smlmscale.errors import InputError
from smlmscale.io.movie_files import inspect_movie
from smlmscale.io.raw_movies import inspect_raw_movie
from smlmscale.io.tiff import read_frames
from tests.rawdata import write_dax, write_picasso_raw


@pytest.mark.parametrize("byteorder", ["<", ">"])
@pytest.mark.parametrize("dtype", ["uint16", "float32"])
def test_picasso_raw_frames_and_windows(tmp_path, movie, byteorder, dtype):
    data = movie.astype(dtype)
    path = write_picasso_raw(tmp_path / "m.raw", data, byteorder=byteorder, pixel_size_nm=130)
    info = inspect_movie(path)
    assert (info.kind, info.n_frames, info.frame_shape, info.dtype) == (
        "picasso-raw", 61, (37, 45), dtype)
    assert info.pixel_size_nm == 130.0 and info.byteorder == byteorder
    info = pickle.loads(pickle.dumps(info))   # what a Dask task receives
    for start, stop, yx in [(0, 61, None), (7, 20, (slice(3, 30), slice(11, 44)))]:
        got = read_frames(info, start, stop, yx)
        want = data[start:stop] if yx is None else data[start:stop][:, yx[0], yx[1]]
        np.testing.assert_array_equal(got, want)
        assert got.dtype == np.dtype(dtype) and got.dtype.isnative


@pytest.mark.parametrize("endian", ["big", "little"])
def test_dax_frames_width_and_height(tmp_path, movie, endian):
    path = write_dax(tmp_path / "m.dax", movie, endian=endian)  # 37 rows, 45 columns
    info = inspect_movie(path)
    assert (info.kind, info.n_frames, info.frame_shape) == ("dax", 61, (37, 45))
    assert info.pixel_size_nm is None and info.byteorder == (">" if endian == "big" else "<")
    np.testing.assert_array_equal(read_frames(info, 5, 40, (slice(2, 9), slice(0, 45))),
                                  movie[5:40, 2:9])


def test_inspection_reads_only_the_sidecar(tmp_path, movie, monkeypatch):
    path = write_picasso_raw(tmp_path / "m.raw", movie)
    import io

    opened = []
    real_open = io.open

    def spy(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("io.open", spy)
    monkeypatch.setattr("builtins.open", spy)
    inspect_raw_movie(path)
    assert opened == [str(path.with_suffix(".yaml"))]  # the pixels are not read to describe it


def _fails(path, *fragments):
    with pytest.raises(InputError) as failed:
        inspect_movie(path)
    text = str(failed.value)
    assert "\n" not in text
    for fragment in fragments:
        assert fragment in text, text


def test_picasso_raw_bad_input(tmp_path, movie):
    raw = write_picasso_raw(tmp_path / "a.raw", movie)
    raw.with_suffix(".yaml").unlink()
    _fails(raw, "a.raw", "without its .yaml", "a.yaml")
    raw = write_picasso_raw(tmp_path / "b.raw", movie, Frames=60)   # the YAML disagrees
    _fails(raw, "b.raw", "61 frames", "describes 60 frames")
    raw = write_picasso_raw(tmp_path / "c.raw", movie)
    raw.write_bytes(raw.read_bytes()[:-100])                          # truncated
    _fails(raw, "c.raw", "truncated")
    _fails(write_picasso_raw(tmp_path / "d.raw", movie, Width=None), "d.yaml", "lacks Width")
    _fails(write_picasso_raw(tmp_path / "e.raw", movie, **{"Data Type": "'pixels'"}),
           "e.yaml", "unknown Data Type")
    _fails(write_picasso_raw(tmp_path / "f.raw", movie, Frames=0), "f.yaml", "Frames must be")
    bad = write_picasso_raw(tmp_path / "g.raw", movie)
    bad.with_suffix(".yaml").write_text("Frames: [1, 2\n")
    _fails(bad, "g.yaml", "not a readable YAML")


def test_dax_bad_input(tmp_path, movie):
    dax = write_dax(tmp_path / "a.dax", movie)
    dax.with_suffix(".inf").unlink()
    _fails(dax, "a.dax", "without its .inf")
    _fails(write_dax(tmp_path / "b.dax", movie, frames=70), "b.dax", "describes 70 frames")
    dax = write_dax(tmp_path / "c.dax", movie)
    dax.with_suffix(".inf").write_text("binning = 1 x 1\n")
    _fails(dax, "c.inf", "lacks the 'frame dimensions' and 'number of frames' lines")


def test_unknown_suffix_names_the_formats(tmp_path):
    (tmp_path / "movie.avi").write_bytes(b"RIFF" + bytes(100))
    _fails(tmp_path / "movie.avi", "movie.avi", "not a readable TIFF", "ND2, CZI",
           "Picasso .raw")


def test_channel_refused_for_a_single_plane_format(tmp_path, movie):
    raw = write_picasso_raw(tmp_path / "a.raw", movie)
    with pytest.raises(InputError, match="ND2 and CZI files only"):
        inspect_movie(raw, channel=1)
