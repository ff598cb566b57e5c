"""prepare_evaluate: the plot checked first, the tables read, the cluster decided."""

from __future__ import annotations

import pandas as pd
import pytest

from smlmscale.errors import InputError
from smlmscale.evaluate import EvaluateSettings
from smlmscale.evaluate.plan import prepare_evaluate, run_evaluate
from smlmscale.settings import option_help


@pytest.fixture()
def tables(tmp_path):
    truth = pd.DataFrame({"frame": [0, 0, 1], "x_nm": [0.0, 1000, 0], "y_nm": [0.0, 0, 0]})
    pred = pd.DataFrame({"frame": [0, 2], "x_nm": [30.0, 0], "y_nm": [40.0, 0]})
    truth.to_csv(tmp_path / "truth.csv", index=False)
    pred.to_csv(tmp_path / "locs.csv", index=False)
    return tmp_path / "locs.csv", tmp_path / "truth.csv"


def test_the_plan_decides_where_to_match(tables, tmp_path):
    locs, truth = tables
    small = prepare_evaluate(locs, truth=truth)
    assert not small.needs_cluster and not small.lazy and len(small.truth_table) == 3
    assert prepare_evaluate(locs, truth=truth, cluster_rows=4).needs_cluster
    lazy = prepare_evaluate(locs, truth=truth, lazy_bytes=0)
    assert lazy.lazy and lazy.needs_cluster
    result = run_evaluate(small)
    assert (result.tp, result.fp, result.fn) == (1, 1, 2)


def test_the_plot_is_checked_before_the_tables_are_read(tables, tmp_path):
    locs, _ = tables
    (tmp_path / "eval.png").write_text("keep")
    with pytest.raises(InputError, match="output exists; pass --overwrite to replace it$"):
        prepare_evaluate(locs, truth=tmp_path / "missing.csv", plot=tmp_path / "eval.png")
    with pytest.raises(InputError, match="the plot must be a .png file"):
        prepare_evaluate(locs, truth=tmp_path / "missing.csv", plot=tmp_path / "eval.jpg")
    plan = prepare_evaluate(locs, truth=tables[1], plot=tmp_path / "new.png",
                            settings=EvaluateSettings(keep_pairs=False))
    assert plan.settings.keep_pairs
    run_evaluate(plan)
    assert (tmp_path / "new.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "eval.png").read_text() == "keep"


def test_evaluate_settings_round_trip_and_messages():
    settings = EvaluateSettings(tolerance_axial_nm=650, matching="hungarian")
    assert settings.tolerance_axial_nm == 650.0
    assert EvaluateSettings.from_mapping(settings.to_mapping()) == settings
    assert option_help(EvaluateSettings, "tolerance_lateral_nm") == \
        "Largest lateral distance of a match, nm [250]."
    with pytest.raises(InputError, match="tolerance_lateral_nm must be a positive number"):
        EvaluateSettings(tolerance_lateral_nm=-5)
    with pytest.raises(InputError, match="block_rows must be at least 1"):
        EvaluateSettings(block_rows=0)
