"""prepare_ingest: every cheap check before a cluster starts; IngestSettings as settings."""

from __future__ import annotations

import os

import numpy as np
import pytest

from smlmscale.errors import InputError
from smlmscale.ingest import IngestPlan, IngestSettings, ingest_tiffs, partial_path, prepare_ingest
from smlmscale.ingest.run import RECORD_NAME
from smlmscale.io.ome_zarr import open_image_store
from smlmscale.settings import option_help
from tests.tiffdata import write_tiff


def test_plan_expands_the_inputs_and_records_the_command(tmp_path, movie):
    for i in (10, 2):
        write_tiff(tmp_path / f"part{i}.tif", movie[:5])
    plan = prepare_ingest([tmp_path / "part*.tif"], tmp_path / "m.zarr",
                          settings=IngestSettings(chunk_frames=4), command="smlmscale ingest")
    assert isinstance(plan, IngestPlan)
    assert [os.path.basename(p) for p in plan.paths] == ["part2.tif", "part10.tif"]
    assert plan.output == str(tmp_path / "m.zarr") and plan.command == "smlmscale ingest"
    assert not (tmp_path / "m.zarr").exists() and not os.path.exists(partial_path(plan.output))


@pytest.mark.parametrize("setup, settings, fragment", [
    ("exists", {}, "output exists"),
    ("interrupted", {}, "--resume"),
    ("missing", {}, "no such file or folder"),
    ("exists", {"resume": True}, "output exists"),
])
def test_bad_plans_are_refused_without_a_cluster(tmp_path, movie, setup, settings, fragment):
    src = write_tiff(tmp_path / "m.tif", movie)
    out = tmp_path / "m.zarr"
    if setup == "exists":
        out.mkdir()
    if setup == "interrupted":
        os.mkdir(partial_path(out))
    inputs = [tmp_path / "nope.tif"] if setup == "missing" else [src]
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(InputError, match=fragment):
        prepare_ingest(inputs, out, settings=IngestSettings(**settings))
    assert sorted(os.listdir(tmp_path)) == before  # nothing written


def test_resume_with_nothing_to_resume_starts_afresh(client, tmp_path, movie):
    src = write_tiff(tmp_path / "m.tif", movie)
    out = tmp_path / "m.zarr"
    result = ingest_tiffs([src], out, client=client,
                          settings=IngestSettings(chunk_frames=16, resume=True))
    assert result.regions_reused == 0 and result.regions_written == result.regions_total
    np.testing.assert_array_equal(open_image_store(out).array[:], movie)
    assert not (out / RECORD_NAME).exists()


@pytest.mark.parametrize("values, fragment", [
    ({"compressor": "gzip"}, "unknown compressor 'gzip'; use one of zstd, lz4, none"),
    ({"zarr_format": 4}, "unknown Zarr format 4"),
    ({"chunk_frames": 0}, "--chunk-frames must be at least 1, got 0"),
    ({"shard_frames": 0}, "--shards must be at least 1, got 0"),
    ({"pixel_size_nm": -5.0}, "--pixel-size must be a positive number"),
    ({"shard_frames": 64, "zarr_format": 2}, "sharding needs Zarr format 3"),
    ({"tile": 64}, "unknown parameter(s) tile"),
])
def test_settings_are_checked_field_by_field(values, fragment):
    with pytest.raises(InputError) as info:
        IngestSettings.from_mapping(values)
    assert fragment in str(info.value)


def test_settings_round_trip_and_generated_help():
    settings = IngestSettings(pixel_size_nm=110, chunk_frames=8, shard_frames=16,
                              compressor="lz4", overwrite=True)
    assert settings.pixel_size_nm == 110.0 and isinstance(settings.pixel_size_nm, float)
    assert IngestSettings.from_mapping(settings.to_mapping()) == settings
    assert settings.diff(IngestSettings()) == ["chunk_frames", "compressor", "overwrite",
                                               "pixel_size_nm", "shard_frames"]
    assert option_help(IngestSettings, "chunk_frames") == \
        "Frames per chunk [about 32 MiB per chunk]."
    assert option_help(IngestSettings, "zarr_format") == "3: NGFF 0.5; 2: NGFF 0.4 [3]."
