"""OME-Zarr stores: NGFF 0.5 / 0.4 metadata, reopening, and ome-zarr-py's reader."""

from __future__ import annotations

import numpy as np
import pytest

from smlmscale.errors import InputError
from smlmscale.io.describe import describe_store
from smlmscale.io.ome_zarr import create_image_store, open_image_store, upsampled_translation_nm


@pytest.mark.parametrize("zarr_format, version", [(3, "0.5"), (2, "0.4")])
@pytest.mark.parametrize("compressor", ["zstd", "lz4", "none"])
def test_store_round_trip(tmp_path, movie, zarr_format, version, compressor):
    path = tmp_path / "s.zarr"
    array = create_image_store(path, shape=movie.shape, dtype=movie.dtype, chunks=(16, 37, 45),
                               compressor=compressor, pixel_size_nm=107.0,
                               zarr_format=zarr_format, attrs={"kind": "movie"})
    array[:] = movie
    store = open_image_store(path)
    assert store.ngff_version == version and store.axes == "tyx"
    assert store.pixel_size_nm == 107.0 and store.attrs["kind"] == "movie"
    np.testing.assert_array_equal(store.array[:], movie)
    summary = describe_store(path)
    assert summary["shape"] == [61, 37, 45] and summary["chunks"] == [16, 37, 45]
    assert summary["stored_bytes"] > 0 and summary["compression_ratio"] > 0


@pytest.mark.parametrize("zarr_format", [3, 2])
def test_ome_zarr_py_reads_the_store(tmp_path, movie, zarr_format):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    path = tmp_path / "s.zarr"
    create_image_store(path, shape=movie.shape, dtype=movie.dtype, chunks=(8, 37, 45),
                       pixel_size_nm=160.0, zarr_format=zarr_format)[:] = movie
    nodes = list(Reader(parse_url(str(path)))())
    image = nodes[0]
    np.testing.assert_array_equal(np.asarray(image.data[0]), movie)
    multiscales = image.metadata
    assert [a["name"] for a in multiscales["axes"]] == ["t", "y", "x"]
    scale = multiscales["coordinateTransformations"][0][0]["scale"]
    assert scale == [1.0, 160.0, 160.0]


def test_sharded_store(tmp_path, movie):
    path = tmp_path / "s.zarr"
    array = create_image_store(path, shape=movie.shape, dtype=movie.dtype, chunks=(8, 37, 45),
                               shards=(16, 37, 45))
    array[:] = movie
    assert describe_store(path)["shards"] == [16, 37, 45]
    np.testing.assert_array_equal(open_image_store(path).array[:], movie)


def test_shards_need_zarr_v3(tmp_path):
    with pytest.raises(InputError, match="Zarr format 3"):
        create_image_store(tmp_path / "s.zarr", shape=(4, 4, 4), dtype="uint16",
                           chunks=(2, 4, 4), shards=(4, 4, 4), zarr_format=2)


def test_open_refuses_non_stores(tmp_path):
    with pytest.raises(InputError, match="no such"):
        open_image_store(tmp_path / "missing.zarr")
    (tmp_path / "plain").mkdir()
    with pytest.raises(InputError):
        open_image_store(tmp_path / "plain")


@pytest.mark.parametrize("zarr_format", [3, 2])
def test_every_store_has_a_translation_and_its_own_name(tmp_path, zarr_format):
    """ome-zarr-py reads scale then translation (zeros by default) and the final name,
    not the ``.partial`` folder the store was built in (issue 18 item 4)."""
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    built = tmp_path / "out.zarr.partial"
    create_image_store(built, shape=(2, 8, 8), dtype="uint16", chunks=(1, 8, 8),
                       pixel_size_nm=100.0, zarr_format=zarr_format)
    built.rename(tmp_path / "out.zarr")
    image = list(Reader(parse_url(str(tmp_path / "out.zarr")))())[0]
    transforms = image.metadata["coordinateTransformations"][0]
    assert [t["type"] for t in transforms] == ["scale", "translation"]
    assert transforms[1]["translation"] == [0.0, 0.0, 0.0]
    assert image.metadata["name"] == "out.zarr"


@pytest.mark.parametrize("factor", [1, 2, 4, 8])
def test_upsampled_grid_is_registered_with_the_movie(tmp_path, factor):
    """A point's density pixel centre lies within half a density pixel of the point, in
    the movie's NGFF coordinates (pixel centres at ``i * pixel_size``)."""
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    pixel = 100.0
    shift = upsampled_translation_nm(pixel, factor)
    create_image_store(tmp_path / "d.zarr", shape=(1, 4 * factor, 4 * factor),
                       dtype="float32", chunks=(1, 4 * factor, 4 * factor),
                       pixel_size_nm=pixel / factor, translation=(0.0, shift, shift))
    transforms = list(Reader(parse_url(str(tmp_path / "d.zarr")))())[0].metadata[
        "coordinateTransformations"][0]
    scale, translation = transforms[0]["scale"][2], transforms[1]["translation"][2]
    points_nm = np.random.default_rng(0).uniform(0, 4 * pixel, 500)  # canonical: corner origin
    index = np.floor(points_nm / (pixel / factor))
    world_density = index * scale + translation
    world_movie = points_nm - pixel / 2  # the movie's NGFF coordinate of the same point
    assert np.abs(world_density - world_movie).max() <= 0.5 * pixel / factor + 1e-9
    if factor == 4:
        assert translation == -37.5
    # movie pixel centres coincide: the centre of movie pixel i is the mean of its
    # factor density pixel centres
    centres = (np.arange(4 * factor) * scale + translation).reshape(4, factor).mean(axis=1)
    np.testing.assert_allclose(centres, np.arange(4) * pixel)
