"""``cluster_table``: sequences mode equals the serial loop, global mode equals scikit-learn,
the properties equal those of the whole output, randomization is reproducible, outputs are
atomic, and bad input is refused."""

from __future__ import annotations

import json

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.cluster import DBSCAN

from smlmscale.cluster.coords import scaled_coordinates
from smlmscale.cluster.properties import cluster_properties
from smlmscale.cluster.randomize import randomized_properties
from smlmscale.cluster.run import ClusterSettings, cluster_table
from smlmscale.cluster.run_common import finish_properties, infer_section_thickness
from smlmscale.cluster.run_sequences import plan_tasks
from smlmscale.cluster.sequence_dbscan import serial_reference
from smlmscale.cluster.sequences import assign_sequences, tile_sequences
from smlmscale.errors import InputError
from smlmscale.io.tables import TableMeta, read_table, read_table_lazy, write_table
from tests.cluster.data import PIXEL_NM, THICKNESS_NM, section_data, write_partitioned

EPS = dict(eps_nm=80.0, min_samples=5, eps_z_nm=140.0)


@pytest.fixture(scope="module")
def mclient(dask_cluster):
    from distributed import Client

    with Client(dask_cluster) as client:
        yield client


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return section_data(tmp_path_factory.mktemp("cluster-data"))


@pytest.fixture(scope="module")
def sequences_run(data, mclient, tmp_path_factory):
    locs, rois, _ = data
    out = tmp_path_factory.mktemp("cluster-seq") / "clusters"
    seen = []
    result = cluster_table(locs, out, client=mclient, rois=rois, blocksize=1,
                           settings=ClusterSettings(**EPS, randomize=2, seed=5,
                                                    sequences_per_task=2),
                           progress=lambda done, total: seen.append((done, total)))
    return result, out, seen


@pytest.fixture(scope="module")
def global_run(data, mclient, tmp_path_factory):
    locs, _, _ = data
    out = tmp_path_factory.mktemp("cluster-global") / "clusters"
    result = cluster_table(locs, out, client=mclient, blocksize=1,
                           settings=ClusterSettings(mode="global", **EPS, points_per_task=400))
    return result, out


def record(out):
    return json.loads((out / "cluster.json").read_text())


def test_sequences_mode_equals_the_serial_loop(data, sequences_run):
    _, rois, table = data
    result, out, seen = sequences_run
    got, meta = read_table(out / "localizations.parquet")
    # The input rows, in input order, the truth labels kept under another name.
    pd.testing.assert_frame_equal(got.drop(columns=["cluster", "sequence"]),
                                  table.rename(columns={"cluster": "input_cluster"}))
    sequences = tile_sequences(pd.read_csv(rois))
    assigned = assign_sequences(table, sequences, pixel_size_nm=PIXEL_NM).to_numpy()
    np.testing.assert_array_equal(got["sequence"].to_numpy(), assigned)
    inside = assigned >= 0
    reference = serial_reference(table[inside].assign(sequence=assigned[inside]), **EPS)
    label = reference["cluster_in_sequence"].to_numpy()
    # Documented renumbering: sequence s's clusters follow those of all sequences < s.
    per_sequence = reference.groupby("sequence")["cluster_in_sequence"].max() + 1
    n_clusters = np.zeros(len(np.unique(sequences["sequence"])), np.int64)
    n_clusters[per_sequence.index.to_numpy()] = per_sequence.to_numpy()
    offsets = np.concatenate(([0], np.cumsum(n_clusters)[:-1]))
    expected = np.full(len(table), -1, np.int64)
    expected[inside] = np.where(label >= 0, offsets[assigned[inside]] + label, -1)
    np.testing.assert_array_equal(got["cluster"].to_numpy(), expected)
    assert got["cluster"].dtype == np.int64 and got["sequence"].dtype == np.int64
    assert (assigned == -1).any() and label.max() >= 1

    counts = record(out)["counts"]
    assert counts["tasks"] >= 3 and counts["sequences"] == 8       # several tasks
    assert read_table_lazy(data[0], blocksize=1)[0].npartitions == 3   # and partitions
    assert result.clusters == n_clusters.sum() == counts["clusters"]
    assert result.clustered == (expected >= 0).sum() == counts["clustered"]
    assert result.localizations == len(table) == counts["localizations"]
    assert meta.pixel_size_nm == PIXEL_NM
    assert seen[-1][0] == seen[-1][1] and all(a <= b for a, b in seen)
    summary = pd.read_csv(out / "sequences.csv")
    assert summary["n_clusters"].tolist() == n_clusters.tolist()
    assert summary["n_localizations"].sum() == inside.sum()


@pytest.mark.parametrize("use_z", [True, False])
def test_global_mode_equals_sklearn(data, global_run, mclient, tmp_path, use_z):
    table = data[2]
    if use_z:
        result, out = global_run
    else:                                   # a 2D table without sections, 3 partitions
        table = table.drop(columns=["z_nm", "section"])
        write_table(dd.from_pandas(table, npartitions=3, sort=False), tmp_path / "flat.parquet")
        out = tmp_path / "flat"
        result = cluster_table(tmp_path / "flat.parquet", out, client=mclient, blocksize=1,
                               settings=ClusterSettings(mode="global", eps_nm=80.0,
                                                        min_samples=5, points_per_task=400))
    got, _ = read_table(out / "localizations.parquet")
    coords = scaled_coordinates(table, eps_nm=80.0, eps_z_nm=140.0 if use_z else None)
    want = DBSCAN(eps=80.0, min_samples=5).fit(coords).labels_
    np.testing.assert_array_equal(got["cluster"].to_numpy(), want)
    assert "sequence" not in got.columns and "core" not in got.columns
    rec = record(out)
    assert rec["counts"]["blocks"] > 1 and rec["mode"] == "global"
    assert result.clusters == want.max() + 1 and result.noise == (want < 0).sum()
    assert want.max() >= 5 and (want < 0).any()
    assert rec["section_thickness_nm"] == (THICKNESS_NM if use_z else None)
    props = pd.read_parquet(out / "properties.parquet")
    pd.testing.assert_frame_equal(props, cluster_properties(
        got, section_thickness_nm=THICKNESS_NM if use_z else None), check_exact=True)


@pytest.mark.parametrize("mode", ["sequences", "global"])
def test_properties_equal_those_of_the_whole_output(sequences_run, global_run, mode):
    out = sequences_run[1] if mode == "sequences" else global_run[1]
    got, _ = read_table(out / "localizations.parquet")
    props = pd.read_parquet(out / "properties.parquet")
    want = cluster_properties(got, section_thickness_nm=THICKNESS_NM)
    if mode == "sequences":
        owner = got[got["cluster"] >= 0].groupby("cluster")["sequence"].agg(["min", "max"])
        assert (owner["min"] == owner["max"]).all()
        assert props["sequence"].tolist() == owner["min"].tolist()
        props = props.drop(columns="sequence")
    pd.testing.assert_frame_equal(props, want, check_exact=True)
    csv = pd.read_csv(out / "properties.csv")
    assert len(csv) == len(props) and csv["cluster"].tolist() == props["cluster"].tolist()
    assert len(props) > 5 and props["nearest_cluster_nm"].notna().all()


def test_randomize_writes_the_control_and_is_reproducible(data, sequences_run, mclient,
                                                         tmp_path):
    locs, rois, _ = data
    out = sequences_run[1]
    names = {p.name for p in out.iterdir()}
    assert names == {"localizations.parquet", "properties.parquet", "properties.csv",
                     "randomized_properties.parquet", "summary.csv", "histograms.png",
                     "sequences.csv", "cluster.json"}
    assert set(record(out)["files"]) == names
    randomized = pd.read_parquet(out / "randomized_properties.parquet")
    got, _ = read_table(out / "localizations.parquet")
    # Per-cluster generators: the tasks' result equals one call on the whole table.
    want = finish_properties(randomized_properties(got, repeats=2, seed=5,
                                                   section_thickness_nm=THICKNESS_NM),
                             by="repeat")
    pd.testing.assert_frame_equal(randomized, want, check_exact=True)
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["set"]) == {"real", "randomized"}
    assert list(summary.columns[:3]) == ["set", "property", "count"]
    assert "sequence" not in set(summary["property"])
    # Same seed, other task grouping and partitions: the same files.
    again = tmp_path / "again"
    cluster_table(locs, again, client=mclient, rois=rois,
                  settings=ClusterSettings(**EPS, randomize=2, seed=5, sequences_per_task=50))
    pd.testing.assert_frame_equal(pd.read_parquet(again / "randomized_properties.parquet"),
                                  randomized, check_exact=True)
    pd.testing.assert_frame_equal(pd.read_parquet(again / "properties.parquet"),
                                  pd.read_parquet(out / "properties.parquet"), check_exact=True)
    assert record(again)["counts"]["tasks"] == 1
    assert not (sequences_run[1].parent / "clusters.partial").exists()


def test_output_is_atomic_and_never_replaced_without_overwrite(data, mclient, tmp_path):
    locs, rois, table = data
    out = tmp_path / "clusters"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    settings = ClusterSettings(**EPS)
    with pytest.raises(InputError, match="output exists.*--overwrite"):
        cluster_table(locs, out, client=mclient, rois=rois, settings=settings)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert not (tmp_path / "clusters.partial").exists()
    # A failure after work started (ROI sections without points) leaves nothing behind.
    bare = write_partitioned(table[table["section"] < 4], tmp_path / "bare.parquet",
                             TableMeta(pixel_size_nm=PIXEL_NM), groups=((0, 1), (2, 3)))
    with pytest.raises(InputError, match="sections 4-5 which the table does not have"):
        cluster_table(bare, tmp_path / "other", client=mclient, rois=rois, settings=settings)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bare.parquet", "clusters"]
    result = cluster_table(locs, out, client=mclient, rois=rois, settings=settings,
                           overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "cluster.json").is_file()
    assert not (tmp_path / "clusters.partial").exists() and result.path == str(out)


def test_section_thickness_from_z_at_section_centres(data, mclient, tmp_path):
    table = data[2].assign(z_nm=(data[2]["section"] + 0.5) * 70.0)
    locs = write_partitioned(table, tmp_path / "centres.parquet", TableMeta())
    result = cluster_table(locs, tmp_path / "c", client=mclient, settings=ClusterSettings(
        mode="global", eps_nm=80.0, min_samples=5))
    rec = record(tmp_path / "c")
    assert result.section_thickness_nm == 70.0 and rec["section_thickness_from"] == "z spacing"
    props = pd.read_parquet(tmp_path / "c" / "properties.parquet")
    assert (props["hull_volume_nm3"] > 0).all()          # one-section clusters are prisms


def test_infer_section_thickness_and_plan_tasks():
    centres = pd.DataFrame({"section": [0, 1, 2], "n": 3, "z_min": [35.0, 105.0, 175.0],
                            "z_max": [35.0, 105.0, 175.0]})
    assert infer_section_thickness(centres) == 70.0
    assert infer_section_thickness(centres.assign(z_max=[40.0, 105.0, 175.0])) is None
    assert infer_section_thickness(centres.assign(z_min=[35.0, 105.0, 200.0],
                                                  z_max=[35.0, 105.0, 200.0])) is None
    assert infer_section_thickness(centres.iloc[:1]) is None
    counts = np.array([0, 40, 10, 10, 0, 20, 20, 0])
    bounds = plan_tasks(counts, sequences_per_task=2, points_per_task=1000)
    held = np.add.reduceat(counts, bounds[:-1])
    assert bounds[0] == 0 and bounds[-1] == counts.size and (held > 0).all()
    assert len(held) == 3 and held.max() <= 40
    assert plan_tasks(counts, sequences_per_task=100, points_per_task=30).size - 1 == 4


def _write_raw(path, **columns):
    pq.write_table(pa.table(columns), path)
    return path


@pytest.mark.parametrize("case, fragments", [
    ("no_rois", ["--mode sequences needs the ROI list", "--mode global"]),
    ("global_rois", ["--rois goes with --mode sequences"]),
    ("bad_mode", ["--mode must be sequences or global"]),
    ("eps", ["--eps must be a distance > 0"]),
    ("min_samples", ["--min-samples must be an integer >= 1"]),
    ("rois_columns", ["has no size column"]),
    ("rois_sections", ["ROI list names sections 41-45 which the table does not have"]),
    ("no_z", ["points without z or section", "z_nm"]),
    ("no_pixel", ["does not record its pixel size", "--pixel-size"]),
    ("empty", ["holds no localizations"]),
    ("nan", ["NaN", "x_nm"]),
    ("not_a_table", ["notes.txt"]),
    ("folder", ["is a folder, not a table file"]),
    ("thickness_2d", ["--section-thickness needs z_nm"]),
    ("output_file", ["writes a folder"]),
    ("no_points_in_rois", ["none of the", "ROI tile", "--pixel-size"]),
])
def test_bad_input_is_refused(data, mclient, tmp_path, case, fragments):
    locs, rois, table = data
    settings, kwargs = dict(EPS), {"rois": rois}
    with_pixel = TableMeta(pixel_size_nm=PIXEL_NM)
    if case == "no_rois":
        kwargs = {}
    elif case == "global_rois":
        settings["mode"] = "global"
    elif case == "bad_mode":
        settings["mode"] = "local"
    elif case == "eps":
        settings["eps_nm"] = 0.0
    elif case == "min_samples":
        settings["min_samples"] = 0
    elif case == "rois_columns":
        pd.read_csv(rois).drop(columns="size").to_csv(tmp_path / "r.csv", index=False)
        kwargs["rois"] = tmp_path / "r.csv"
    elif case == "rois_sections":
        extra = pd.read_csv(rois).iloc[:5].assign(section=range(41, 46), roi=range(900, 905))
        pd.concat([pd.read_csv(rois), extra]).to_csv(tmp_path / "r.csv", index=False)
        kwargs["rois"] = tmp_path / "r.csv"
    elif case == "no_z":
        locs = write_partitioned(table.drop(columns="z_nm"), tmp_path / "t.parquet", with_pixel)
    elif case == "no_pixel":
        locs = write_partitioned(table, tmp_path / "t.parquet", TableMeta())
    elif case == "empty":
        locs = _write_raw(tmp_path / "t.parquet", frame=pa.array([], pa.int64()),
                          x_nm=pa.array([], pa.float64()), y_nm=pa.array([], pa.float64()))
    elif case == "nan":
        locs = _write_raw(tmp_path / "t.parquet", frame=[0, 0], x_nm=[1.0, float("nan")],
                          y_nm=[1.0, 2.0], z_nm=[35.0, 35.0], section=[0, 0])
        settings["pixel_size_nm"] = PIXEL_NM
    elif case == "not_a_table":
        locs = tmp_path / "notes.txt"
        locs.write_text("just some notes\nnothing tabular\n")
    elif case == "folder":
        locs = tmp_path
    elif case == "thickness_2d":
        locs = write_partitioned(table.drop(columns="z_nm"), tmp_path / "t.parquet", with_pixel)
        settings.update(mode="global", section_thickness_nm=70.0)
        kwargs = {}
    elif case == "output_file":
        (tmp_path / "out").write_text("a file")
    elif case == "no_points_in_rois":
        settings["pixel_size_nm"] = PIXEL_NM / 100     # every point far beyond the tiles
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(InputError) as error:
        cluster_table(locs, tmp_path / "out", client=mclient, blocksize=1,
                      settings=ClusterSettings(**settings), **kwargs)
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert sorted(p.name for p in tmp_path.iterdir()) == before     # nothing written
