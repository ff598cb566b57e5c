"""Ingest of ND2 and CZI movies equals the plane written, read per task.

The files are real (CZI written by pylibCZIrw, ND2 built byte by byte by
:func:`tests.io.vendor_files.write_nd2` and read by the nd2 package) and go through the
session's process cluster, so every task opens the file itself from a pickled
description.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from smlmscale.errors import InputError
from smlmscale.ingest import IngestSettings, ingest_tiffs
from smlmscale.ingest.layout import choose_layout
from smlmscale.ingest.sources import combine_sources
from smlmscale.ingest.tasks import inspect_files
from smlmscale.io.ome_zarr import open_image_store
from smlmscale.io.tiff import read_frames
from tests.io.vendor_files import write_czi, write_nd2

pytest.importorskip("nd2")
pytest.importorskip("pylibCZIrw")


def _data(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 60000, size=shape).astype(np.uint16)


@pytest.mark.parametrize("chunk_frames, tile", [(7, None), (9, 8)])
def test_czi_plane_to_zarr(client, tmp_path, chunk_frames, tile):
    data = _data((2, 23, 2, 19, 21))                         # scene, T, channel, y, x
    src = write_czi(tmp_path / "m.czi", data, pixel_size_nm=97.5, channel_names=["A", "B"])
    result = ingest_tiffs([src], tmp_path / "m.zarr", client=client, command="test",
                          settings=IngestSettings(chunk_frames=chunk_frames, tile_px=tile,
                                                  channel=1, position=1))
    store = open_image_store(result.path)
    np.testing.assert_array_equal(store.array[:], data[1, :, 1])
    assert store.array.chunks[0] == chunk_frames
    assert store.pixel_size_nm == pytest.approx(97.5)
    assert store.attrs["source_format"] == "czi"
    assert store.attrs["source_plane"] == {"C": 1, "S": 1}


def test_czi_choice_missing_writes_nothing(client, tmp_path):
    src = write_czi(tmp_path / "m.czi", _data((1, 4, 2, 6, 7)), channel_names=["A", "B"])
    with pytest.raises(InputError, match=r"2 channels \(A, B\).*--channel N"):
        ingest_tiffs([src], tmp_path / "m.zarr", client=client)
    assert not (tmp_path / "m.zarr").exists()
    assert not (tmp_path / "m.zarr.partial").exists()


def test_czi_task_descriptions_read_nothing_and_pickle(tmp_path, monkeypatch):
    """Describing the movie and building every region's task reads no pixels; the task
    arguments pickle small and read the right frames once unpickled."""
    from pylibCZIrw import czi

    data = _data((1, 40, 1, 16, 18), seed=1)
    src = write_czi(tmp_path / "m.czi", data)
    layout = choose_layout((40, 16, 18), "uint16", chunk_frames=6, tile_px=8)

    def no_pixels(*args, **kwargs):
        raise AssertionError("pixels read while building the tasks")

    with monkeypatch.context() as patch:
        patch.setattr(czi.CziReader, "read", no_pixels)
        source = combine_sources(inspect_files([str(src)]))
        tasks = [(source.pieces(r.t0, r.t1), r) for r in layout.regions()]
    blob = pickle.dumps(tasks)
    assert len(blob) < 1000 * len(tasks)
    for pieces, region in pickle.loads(blob):
        (info, start), = pieces
        np.testing.assert_array_equal(read_frames(info, 0, info.n_frames, region.yx),
                                      data[0, :, 0][region.selection])


def test_nd2_position_channel_to_zarr(client, tmp_path):
    data = _data((17, 2, 3, 14, 15), seed=2)                 # T, P, C, y, x
    src = write_nd2(tmp_path / "m.nd2", data, "TPCYX", pixel_size_um=0.108,
                    channel_names=["405", "488", "640"])
    result = ingest_tiffs([src], tmp_path / "m.zarr", client=client, command="test",
                          settings=IngestSettings(chunk_frames=5, tile_px=8, channel=2,
                                                  position=1))
    store = open_image_store(result.path)
    np.testing.assert_array_equal(store.array[:], data[:, 1, 2])
    assert store.pixel_size_nm == pytest.approx(108.0)
    assert store.attrs["source_format"] == "nd2"
    assert store.attrs["source_plane"] == {"C": 2, "P": 1}


def test_nd2_and_czi_z_stacks_concatenate(client, tmp_path):
    """Files of two formats, one after the other, frames along Z (no time axis)."""
    first, second = _data((6, 11, 13), seed=3), _data((1, 5, 1, 11, 13), seed=4)
    a = write_nd2(tmp_path / "a.nd2", first, "ZYX", pixel_size_um=0.1)
    b = write_czi(tmp_path / "b.czi", second, axis="Z")
    result = ingest_tiffs([a, b], tmp_path / "m.zarr", client=client,
                          settings=IngestSettings(chunk_frames=4))
    store = open_image_store(result.path)
    np.testing.assert_array_equal(store.array[:], np.concatenate([first, second[0, :, 0]]))
    assert result.n_files == 2 and store.pixel_size_nm == pytest.approx(100.0)
