"""Ingest of Picasso .raw and .dax movies on a process cluster equals the movie written."""

from __future__ import annotations

import numpy as np
import pytest

from smlmscale.errors import InputError
from smlmscale.ingest import IngestSettings, ingest_tiffs
from smlmscale.io.ome_zarr import open_image_store
from tests.rawdata import write_dax, write_picasso_raw


@pytest.mark.parametrize("chunk_frames, tile", [(7, None), (13, 16)])
def test_picasso_raw_to_zarr(client, tmp_path, movie, chunk_frames, tile):
    src = write_picasso_raw(tmp_path / "m.raw", movie, byteorder=">", pixel_size_nm=117.0)
    result = ingest_tiffs([src], tmp_path / "m.zarr", client=client, command="test",
                          settings=IngestSettings(chunk_frames=chunk_frames, tile_px=tile))
    store = open_image_store(result.path)
    np.testing.assert_array_equal(store.array[:], movie)
    assert store.pixel_size_nm == 117.0 and result.pixel_size_nm == 117.0
    assert store.attrs["source_format"] == "picasso-raw"


def test_a_folder_of_dax_movies_concatenates(client, tmp_path, movie):
    folder = tmp_path / "run"
    folder.mkdir()
    write_dax(folder / "movie_2.dax", movie[30:])
    write_dax(folder / "movie_1.dax", movie[:30], endian="little")
    (folder / "notes.txt").write_text("not a movie")
    result = ingest_tiffs([folder], tmp_path / "m.zarr", client=client,
                          settings=IngestSettings(chunk_frames=8, pixel_size_nm=160.0))
    store = open_image_store(result.path)
    np.testing.assert_array_equal(store.array[:], movie)
    assert result.n_files == 2 and store.pixel_size_nm == 160.0


def test_a_raw_movie_that_disagrees_with_its_yaml_writes_nothing(client, tmp_path, movie):
    src = write_picasso_raw(tmp_path / "m.raw", movie, Height=36)
    with pytest.raises(InputError, match="describes 61 frames"):
        ingest_tiffs([src], tmp_path / "m.zarr", client=client)
    assert not (tmp_path / "m.zarr").exists()
