"""ND2 and CZI movies: described from their metadata, one plane read per frame range.

All files are real: CZI written by pylibCZIrw, ND2 built byte by byte (no library writes
ND2; see :func:`tests.io.vendor_files.write_nd2`) and read by the nd2 package.
"""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import numpy as np
import pytest

from smlmscale.errors import InputError
from smlmscale.io.vendor_movies import inspect_vendor, read_vendor_frames
from tests.io.vendor_files import write_czi, write_nd2

pytest.importorskip("nd2")
pytest.importorskip("pylibCZIrw")


def _data(shape, dtype="uint16", seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 4000, size=shape).astype(dtype)


def _check_windows(info, movie):
    """read_vendor_frames on frame ranges and windows cutting through ``movie`` (N, H, W)."""
    info = pickle.loads(pickle.dumps(info))    # what a Dask task receives
    n, h, w = movie.shape
    windows = [(0, n, 0, h, 0, w), (2, n - 1, 3, h - 2, 5, w - 3), (n - 1, n, 0, 1, w - 1, w)]
    for start, stop, y0, y1, x0, x1 in windows:
        got = read_vendor_frames(info, start, stop, y0, y1, x0, x1)
        np.testing.assert_array_equal(got, movie[start:stop, y0:y1, x0:x1])
        assert got.dtype == movie.dtype and got.flags.c_contiguous


def _fails(path, *fragments, **choice):
    with pytest.raises(InputError) as failed:
        inspect_vendor(path, **choice)
    text = str(failed.value)
    assert "\n" not in text
    for fragment in fragments:
        assert fragment in text, text


@pytest.fixture
def nd2_spy(monkeypatch):
    """Record the paths ``nd2.ND2File`` opens and the sequence indices it reads."""
    import nd2

    spy = SimpleNamespace(opened=[], frames_read=[])
    real_init, real_read = nd2.ND2File.__init__, nd2.ND2File.read_frame

    def init(self, path, *args, **kwargs):
        spy.opened.append(str(path))
        real_init(self, path, *args, **kwargs)

    def read_frame(self, index):
        spy.frames_read.append(int(index))
        return real_read(self, index)

    monkeypatch.setattr(nd2.ND2File, "__init__", init)
    monkeypatch.setattr(nd2.ND2File, "read_frame", read_frame)
    return spy


# --- CZI ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["uint16", "uint8", "float32"])
def test_czi_channels_scenes_windows(tmp_path, dtype):
    data = _data((2, 10, 2, 13, 17), dtype)                 # scene, T, channel, y, x
    path = write_czi(tmp_path / "m.CZI", data, pixel_size_nm=107.5,
                     channel_names=["A647", "CF568"], origins=[(0, 0), (40, 25)])
    for scene in (0, 1):
        for channel in (0, 1):
            info = inspect_vendor(path, channel=channel, position=scene)
            assert (info.kind, info.n_frames, info.frame_shape, info.dtype) == (
                "czi", 10, (13, 17), dtype)
            assert info.plane == (("C", channel), ("S", scene))
            assert info.pixel_size_nm == pytest.approx(107.5)
            assert info.data_offsets is None and info.ifd_offsets is None
            assert info.size_bytes == path.stat().st_size
            _check_windows(info, data[scene, :, channel])


def test_czi_z_stack_is_read_as_frames_without_scaling(tmp_path):
    data = _data((1, 9, 1, 12, 18), seed=1)
    path = write_czi(tmp_path / "z.czi", data, axis="Z")
    info = inspect_vendor(path)
    assert (info.n_frames, info.frame_shape, info.plane) == (9, (12, 18), (("C", 0), ("S", 0),
                                                                          ("T", 0)))
    assert info.pixel_size_nm is None
    _check_windows(info, data[0, :, 0])


def test_czi_choices_required_and_in_range(tmp_path):
    path = write_czi(tmp_path / "m.czi", _data((2, 3, 2, 5, 6)), channel_names=["A", "B"])
    _fails(path, "m.czi", "2 channels (A, B)", "--channel N", position=0)
    _fails(path, "2 scenes", "--position N (0 to 1)", channel=1)
    _fails(path, "--channel 2 is out of range", "2 channels (A, B)", channel=2, position=0)
    _fails(path, "--position 5 is out of range", "2 scenes", channel=0, position=5)
    one = write_czi(tmp_path / "one.czi", _data((1, 3, 1, 5, 6)))
    _fails(one, "--channel 1 is out of range: the file holds 1 channel;", channel=1)
    assert inspect_vendor(one, channel=0, position=0).plane == (("C", 0), ("S", 0))


def test_czi_rgb_refused(tmp_path):
    from pylibCZIrw import czi

    path = tmp_path / "rgb.czi"
    with czi.create_czi(str(path)) as writer:
        writer.write(_data((6, 7, 3), "uint8"), plane={"T": 0})
    _fails(path, "rgb.czi", "RGB")


def test_czi_inspection_reads_no_pixels_and_reading_opens_per_call(tmp_path, monkeypatch):
    from pylibCZIrw import czi

    data = _data((1, 6, 1, 8, 9))
    path = write_czi(tmp_path / "m.czi", data)

    def no_pixels(*args, **kwargs):
        raise AssertionError("inspection read pixels")

    with monkeypatch.context() as patch:
        patch.setattr(czi.CziReader, "read", no_pixels)
        info = inspect_vendor(path)
    opened, real_open = [], czi.open_czi

    def spy(filepath, *args, **kwargs):
        opened.append(filepath)
        return real_open(filepath, *args, **kwargs)

    monkeypatch.setattr(czi, "open_czi", spy)
    read_vendor_frames(info, 0, 2, 0, 8, 0, 9)
    read_vendor_frames(info, 4, 6, 0, 8, 0, 9)
    assert opened == [str(path), str(path)]


# --- ND2 -----------------------------------------------------------------------------

def test_nd2_positions_channels_windows(tmp_path):
    data = _data((10, 3, 2, 13, 17))                         # T, P, C, y, x
    path = write_nd2(tmp_path / "m.ND2", data, "TPCYX", pixel_size_um=0.16,
                     channel_names=["488", "640"])
    for position in (0, 2):
        for channel in (0, 1):
            info = inspect_vendor(path, channel=channel, position=position)
            assert (info.kind, info.n_frames, info.frame_shape, info.dtype) == (
                "nd2", 10, (13, 17), "uint16")
            assert info.plane == (("C", channel), ("P", position))
            assert info.pixel_size_nm == pytest.approx(160.0)
            _check_windows(info, data[:, position, channel])


def test_nd2_one_channel_and_position_order(tmp_path, nd2_spy):
    data = _data((4, 10, 12, 11), "uint8")                   # P before T, one channel
    path = write_nd2(tmp_path / "m.nd2", data, "PTYX")
    info = inspect_vendor(path, position=3)
    assert info.plane == (("C", 0), ("P", 3)) and info.pixel_size_nm is None  # uncalibrated
    _check_windows(info, data[3])
    nd2_spy.frames_read.clear()
    read_vendor_frames(info, 2, 5, 0, 12, 0, 11)
    assert nd2_spy.frames_read == [3 * 10 + 2, 3 * 10 + 3, 3 * 10 + 4]   # only those


def test_nd2_z_stack_frames_and_single_frame(tmp_path):
    data = _data((9, 2, 12, 18), seed=2)
    info = inspect_vendor(write_nd2(tmp_path / "z.nd2", data, "ZCYX"), channel=1)
    assert (info.n_frames, info.plane) == (9, (("C", 1), ("P", 0), ("T", 0)))
    _check_windows(info, data[:, 1])
    single = _data((1, 12, 18))
    info = inspect_vendor(write_nd2(tmp_path / "s.nd2", single, "TYX"))
    assert info.n_frames == 1
    np.testing.assert_array_equal(read_vendor_frames(info, 0, 1, 2, 7, 1, 9), single[:, 2:7, 1:9])


def test_nd2_bad_choices_and_axes(tmp_path):
    path = write_nd2(tmp_path / "m.nd2", _data((3, 2, 2, 5, 6)), "TPCYX",
                     channel_names=["488", "640"])
    _fails(path, "m.nd2", "2 channels (488, 640)", "choose one with --channel N", position=0)
    _fails(path, "2 positions", "--position N", channel=0)
    _fails(path, "--position 2 is out of range", channel=0, position=2)
    _fails(path, "--channel -1 is out of range", channel=-1, position=0)
    tz = write_nd2(tmp_path / "tz.nd2", _data((3, 4, 5, 6)), "TZYX")
    _fails(tz, "3 time points of 4 Z planes")
    rgb = write_nd2(tmp_path / "rgb.nd2", _data((3, 5, 6, 3), "uint8"), "TYXS")
    _fails(rgb, "RGB")
    custom = write_nd2(tmp_path / "u.nd2", _data((3, 2, 5, 6)), "TUYX")
    _fails(custom, "2 indices of a custom loop")


def test_nd2_inspection_reads_no_pixels_and_reading_opens_per_call(tmp_path, nd2_spy):
    path = write_nd2(tmp_path / "m.nd2", _data((6, 8, 9)), "TYX", pixel_size_um=0.1)
    info = inspect_vendor(path)
    assert nd2_spy.frames_read == [] and nd2_spy.opened == [str(path)]
    info = pickle.loads(pickle.dumps(info))
    read_vendor_frames(info, 0, 2, 0, 8, 0, 9)
    read_vendor_frames(info, 4, 6, 0, 8, 0, 9)
    assert nd2_spy.opened == [str(path)] * 3 and nd2_spy.frames_read == [0, 1, 4, 5]


def test_changed_file_is_reported(tmp_path):
    path = write_nd2(tmp_path / "m.nd2", _data((6, 8, 9)), "TYX")
    info = inspect_vendor(path)
    write_nd2(path, _data((3, 8, 9)), "TYX")
    with pytest.raises(InputError, match="changed since it was inspected"):
        read_vendor_frames(info, 0, 6, 0, 8, 0, 9)


# --- both -----------------------------------------------------------------------------

@pytest.mark.parametrize("name, what", [("bad.nd2", "ND2"), ("bad.czi", "CZI")])
def test_corrupt_files(tmp_path, name, what):
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(3).bytes(5000))
    _fails(path, name, f"not a readable {what} file", "copy it again")


def test_truncated_files(tmp_path):
    nd2_file = write_nd2(tmp_path / "cut.nd2", _data((4, 8, 9)), "TYX")
    czi_file = write_czi(tmp_path / "cut.czi", _data((1, 4, 1, 8, 9)))
    for path, what in [(nd2_file, "ND2"), (czi_file, "CZI")]:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        _fails(path, path.name, f"not a readable {what} file")


def test_through_the_format_dispatch(tmp_path):
    from smlmscale.io.movie_files import inspect_movie
    from smlmscale.io.tiff import read_frames

    nd2_data, czi_data = _data((7, 2, 10, 12), seed=4), _data((1, 7, 2, 10, 12), seed=5)
    for path, movie in [(write_nd2(tmp_path / "m.nd2", nd2_data, "TCYX"), nd2_data[:, 1]),
                        (write_czi(tmp_path / "m.czi", czi_data), czi_data[0, :, 1])]:
        info = inspect_movie(path, channel=1)
        np.testing.assert_array_equal(read_frames(info, 2, 6, (slice(1, 9), slice(4, 12))),
                                      movie[2:6, 1:9, 4:12])


def test_missing_library(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "nd2", None)      # import nd2 -> ImportError
    path = tmp_path / "m.nd2"
    path.write_bytes(b"x")
    _fails(path, "m.nd2", "needs the nd2 package", "pip install 'smlmscale[vendor]'")


def test_empty_window_reads_nothing(tmp_path):
    path = write_czi(tmp_path / "m.czi", _data((1, 3, 1, 5, 6)))
    info = inspect_vendor(path)
    assert read_vendor_frames(info, 1, 1, 0, 5, 0, 6).shape == (0, 5, 6)
