"""The generator records, their settings, and prepare_patches / run_patches."""

from __future__ import annotations

import dataclasses

import pytest

from smlmscale.errors import InputError
from smlmscale.patches import (GENERATORS, KINDS, PatchesPlan, generator, make_patches,
                               open_patchset, prepare_patches, run_patches)
from smlmscale.patches.counts import CountsSettings
from smlmscale.patches.deepstorm import DeepstormSettings
from smlmscale.patches.deepstorm3d import Deepstorm3dSettings
from smlmscale.patches.fusion_graph import FusionSettings
from smlmscale.patches.run import check_kind, default_settings
from smlmscale.patches.stacks import FramesSettings
from smlmscale.patches.summed import SummedSettings
from smlmscale.settings import Settings, option_help
from tests.helpers import raise_if_dask_computes
from tests.patches import make_data

pytestmark = pytest.mark.timeout(120)


def test_one_record_per_kind():
    assert KINDS == ("deepstorm", "fusion", "summed", "counts", "frames",
                     "deepstorm3d") == tuple(GENERATORS)
    assert [generator(k).settings for k in KINDS] == [DeepstormSettings, FusionSettings,
                                                      SummedSettings, CountsSettings,
                                                      FramesSettings, Deepstorm3dSettings]
    assert [k for k in KINDS if not generator(k).planned] == ["fusion"]
    assert [k for k in KINDS if generator(k).rois] == ["counts"]
    assert [k for k in KINDS if generator(k).export is not None] == ["summed"]
    assert check_kind("summed") == "summed" and default_settings("counts") == CountsSettings()
    with pytest.raises(InputError, match="unknown patch kind 'nope'; use deepstorm, fusion"):
        generator("nope")


@pytest.mark.parametrize("kind", KINDS)
def test_settings_round_trip_through_mappings(kind):
    cls = generator(kind).settings
    assert issubclass(cls, Settings)
    for field in dataclasses.fields(cls):  # every field documents itself for --help
        assert option_help(cls, field.name).endswith("].")
    settings = cls.from_mapping({"seed": 5})
    assert cls.from_mapping(settings.to_mapping()) == settings
    assert settings.diff(cls()) == ["seed"]
    with pytest.raises(InputError, match="unknown parameter"):
        cls.from_mapping({"seeds": 1})


def test_table_columns_follow_the_settings():
    record = generator("deepstorm")
    assert record.table_columns(DeepstormSettings()) == (["x_nm", "y_nm"], ["x_nm", "y_nm"])
    read, need = record.table_columns(DeepstormSettings(weight="photons", z_bins=2))
    assert read == need == ["x_nm", "y_nm", "photons", "z_nm"]
    read, need = generator("summed").table_columns(SummedSettings())
    assert read == ["x_nm", "y_nm", "photons", "sigma_nm"] and need == ["x_nm", "y_nm"]


def test_settings_of_another_kind_are_refused_by_flag():
    record = generator("deepstorm")
    with pytest.raises(InputError) as info:
        record.make_settings({"bin_size": 3})
    assert str(info.value).startswith("--bin-size does not apply to --kind deepstorm")
    assert info.value.param == "bin_size"
    with pytest.raises(InputError, match="--keep-empty does not apply to --kind fusion"):
        generator("fusion").make_settings({"drop_empty": False})
    with pytest.raises(InputError, match="SummedSettings are not the settings of --kind"):
        record.make_settings(SummedSettings())
    assert record.make_settings({"patch_size_px": 8}) == DeepstormSettings(patch_size_px=8)


@pytest.mark.parametrize("changes, fragment", [
    ({"kind": "nonsense"}, "unknown patch kind"),
    ({"settings": {"bin_size": 2}}, "--bin-size does not apply to --kind deepstorm"),
    ({"settings": {"weight": "heavy"}}, "unknown weight 'heavy'"),
    ({"rois": "rois.csv"}, "--rois is used by --kind counts only"),
    ({"kind": "counts"}, "--kind counts needs an ROI list"),
    ({"export_tiff": "tiffs"}, "--export-tiff does not apply to --kind deepstorm"),
    ({"validation_fraction": 1.0}, "--validation must be in [0, 1)"),
    ({"chunk_patches": -1}, "--chunk-patches must be at least 1"),
    ({"settings": {"patch_size_px": 41}}, "larger than the 40x40 frame"),
    ({"kind": "fusion", "settings": {"box_px": 41}}, "box is larger than the 40x40 frame"),
    ({"settings": {"z_bins": 2}}, "no z_nm column"),
    ({"locs": "missing.parquet"}, "no such file"),
    ({"input": "missing.zarr"}, "missing.zarr"),
])
def test_prepare_refuses_bad_input_cheaply(tmp_path, changes, fragment):
    store, locs, _, _ = make_data(tmp_path, frames=3)
    args = {"input": store, "locs": locs, **changes}
    for name in ("input", "locs", "rois", "export_tiff"):
        if isinstance(args.get(name), str):
            args[name] = tmp_path / args[name]
    with raise_if_dask_computes(), pytest.raises(InputError) as info:
        prepare_patches(args.pop("input"), tmp_path / "out.zarr", **args)
    assert fragment in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["movie.zarr", "truth.parquet"]


def test_prepare_refuses_an_existing_output(tmp_path):
    store, locs, _, _ = make_data(tmp_path, frames=3)
    (tmp_path / "out.zarr").mkdir()
    with pytest.raises(InputError, match="output exists"):
        prepare_patches(store, tmp_path / "out.zarr", locs=locs)
    (tmp_path / "tiffs").mkdir()
    with pytest.raises(InputError, match="tiffs: output exists"):
        prepare_patches(store, tmp_path / "other.zarr", locs=locs, kind="summed",
                        export_tiff=tmp_path / "tiffs")


def test_plan_then_run_equals_make_patches(tmp_path):
    store, locs, _, _ = make_data(tmp_path, frames=6, per_frame=30)
    settings = {"patch_size_px": 10, "upsampling": 2, "seed": 4}
    with raise_if_dask_computes():
        plan = prepare_patches(store, tmp_path / "a.zarr", locs=locs, settings=settings,
                               validation_fraction=0.25, command="smlmscale patches ...")
    assert isinstance(plan, PatchesPlan) and plan.shape == (6, 40, 40)
    assert plan.settings == DeepstormSettings(**settings) and plan.pixel_size_nm == 100.0
    result = run_patches(plan, client=None)
    other = make_patches(store, tmp_path / "b.zarr", locs=locs, validation_fraction=0.25,
                         settings=DeepstormSettings(**settings))
    assert result.n_patches == other.n_patches > 0 and result.path == str(tmp_path / "a.zarr")
    a, b = open_patchset(result.path), open_patchset(other.path)
    assert (a.inputs[:] == b.inputs[:]).all() and (a.validation[:] == b.validation[:]).all()
    assert a.attrs["command"] == "smlmscale patches ..." and a.attrs["params"]["seed"] == 4
    assert not (tmp_path / "a.zarr.partial").exists()


def test_a_failed_export_leaves_neither_output(tmp_path, monkeypatch):
    import smlmscale.patches.summed_export as export

    store, locs, _, _ = make_data(tmp_path, frames=20, per_frame=30)

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export, "_write_csv", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        make_patches(store, tmp_path / "s.zarr", locs=locs, kind="summed",
                     settings=SummedSettings(patch_size_px=10, upsampling=2, bin_size=4),
                     export_tiff=tmp_path / "tiffs")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["movie.zarr", "truth.parquet"]
