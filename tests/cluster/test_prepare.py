"""``prepare_cluster`` checks everything cheap with no cluster and writes nothing;
``ClusterSettings`` round-trips through mappings and names its flags; ``cluster.json``
is read through the shared output-record reader."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from smlmscale.cluster.output import is_cluster_dir, read_record
from smlmscale.cluster.run import ClusterPlan, prepare_cluster
from smlmscale.cluster.settings import ClusterSettings
from smlmscale.errors import InputError
from smlmscale.io.tables import TableMeta
from tests.cluster.data import PIXEL_NM, section_data, write_partitioned


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return section_data(tmp_path_factory.mktemp("prepare-data"))


def test_prepare_reads_only_the_header_and_plans(data, tmp_path):
    locs, rois, table = data
    plan = prepare_cluster(locs, tmp_path / "out", rois=rois, command="smlmscale cluster",
                           settings=ClusterSettings(eps_nm=80, min_samples=5))
    assert isinstance(plan, ClusterPlan)
    assert plan.output == str(tmp_path / "out") and plan.input == str(locs)
    assert plan.pixel_size_nm == PIXEL_NM and plan.thickness_from == "table"
    assert plan.sequences["sequence"].nunique() == 8 and plan.command == "smlmscale cluster"
    assert list(tmp_path.iterdir()) == []          # nothing written, no cluster needed
    glob = prepare_cluster(locs, tmp_path / "g", settings=ClusterSettings(mode="global"))
    assert glob.sequences is None and glob.rois is None


@pytest.mark.parametrize("case, fragments", [
    ("no_rois", ["--mode sequences needs the ROI list"]),
    ("global_rois", ["--rois goes with --mode sequences"]),
    ("exists", ["output exists", "--overwrite"]),
    ("partial", ["an interrupted run left this", "--overwrite to start again"]),
    ("output_file", ["writes a folder"]),
    ("no_parent", ["folder does not exist"]),
    ("no_z", ["points without z or section"]),
    ("no_pixel", ["does not record its pixel size"]),
    ("rois_sections", ["ROI list names sections 41-45"]),
    ("thickness_2d", ["--section-thickness needs z_nm"]),
])
def test_prepare_refuses_without_a_cluster_and_writes_nothing(data, tmp_path, case, fragments):
    locs, rois, table = data
    out, settings, kwargs = tmp_path / "out", {}, {"rois": rois}
    if case == "no_rois":
        kwargs = {}
    elif case == "global_rois":
        settings["mode"] = "global"
    elif case == "exists":
        out.mkdir()
    elif case == "partial":
        (tmp_path / "out.partial").mkdir()
    elif case == "output_file":
        out.write_text("keep")
    elif case == "no_parent":
        out = tmp_path / "missing" / "out"
    elif case == "no_z":
        locs = write_partitioned(table.drop(columns="z_nm"), tmp_path / "t.parquet",
                                 TableMeta(pixel_size_nm=PIXEL_NM))
    elif case == "no_pixel":
        locs = write_partitioned(table, tmp_path / "t.parquet", TableMeta())
    elif case == "rois_sections":
        extra = pd.read_csv(rois).iloc[:5].assign(section=range(41, 46), roi=range(900, 905))
        pd.concat([pd.read_csv(rois), extra]).to_csv(tmp_path / "r.csv", index=False)
        kwargs["rois"] = tmp_path / "r.csv"
    elif case == "thickness_2d":
        locs = write_partitioned(table.drop(columns="z_nm"), tmp_path / "t.parquet",
                                 TableMeta(pixel_size_nm=PIXEL_NM))
        settings.update(mode="global", section_thickness_nm=70.0)
        kwargs = {}
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(InputError) as error:
        prepare_cluster(locs, out, settings=ClusterSettings(**settings), **kwargs)
    for fragment in fragments:
        assert fragment in str(error.value), (fragment, str(error.value))
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_settings_round_trip_and_name_their_flags():
    settings = ClusterSettings(mode="global", eps_nm=60, eps_z_nm=120.0, randomize=3)
    mapping = settings.to_mapping()
    assert mapping["eps_nm"] == 60.0 and isinstance(mapping["eps_nm"], float)
    assert ClusterSettings.from_mapping(json.loads(json.dumps(mapping))) == settings
    assert settings.diff(ClusterSettings()) == ["eps_nm", "eps_z_nm", "mode", "randomize"]
    with pytest.raises(InputError, match="unknown parameter.*epsilon.*did you mean 'eps_nm'"):
        ClusterSettings.from_mapping({"epsilon_nm": 3})
    for changes, param, text in (
            ({"eps_nm": 0}, "eps_nm", "--eps must be a distance > 0"),
            ({"eps_z_nm": -1.0}, "eps_z_nm", "--eps-z must be a distance > 0"),
            ({"min_samples": 0}, "min_samples", "--min-samples must be an integer >= 1"),
            ({"mode": "local"}, "mode", "--mode must be sequences or global"),
            ({"randomize": -1}, "randomize", "--randomize must be at least 0"),
            ({"pixel_size_nm": 0.0}, "pixel_size_nm", "--pixel-size must be a positive number"),
            ({"min_overlap_px": 0}, "min_overlap_px", "--min-overlap must be at least 1"),
            ({"points_per_task": 2.5}, "points_per_task", "--points-per-task must be an "
                                                          "integer")):
        with pytest.raises(InputError) as error:
            ClusterSettings(**changes)
        assert error.value.param == param and text in str(error.value), str(error.value)


def test_cluster_record_is_read_through_the_shared_reader(tmp_path):
    with pytest.raises(InputError, match="no such clusters folder"):
        read_record(tmp_path / "none")
    with pytest.raises(InputError, match="not a clusters folder: it has no cluster.json"):
        read_record(tmp_path)
    (tmp_path / "cluster.json").write_text("{broken")
    with pytest.raises(InputError, match="cluster.json cannot be read"):
        read_record(tmp_path)
    assert not is_cluster_dir(tmp_path)
    (tmp_path / "cluster.json").write_text(json.dumps({"kind": "model"}))
    with pytest.raises(InputError, match="does not describe a clusters folder"):
        read_record(tmp_path)
    (tmp_path / "cluster.json").write_text(json.dumps({"kind": "clusters", "mode": "global"}))
    assert read_record(tmp_path)["mode"] == "global" and is_cluster_dir(tmp_path)
