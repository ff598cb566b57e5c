"""``--where`` conditions: what is allowed, evaluation against pandas, refusals."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

from smlmscale.errors import InputError
from smlmscale.postprocess import expression
from smlmscale.postprocess.expression import parse_where

COLUMNS = ["frame", "x_nm", "photons", "confidence", "uncertainty_x_nm"]


@pytest.fixture()
def part():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"frame": np.arange(200), "x_nm": rng.uniform(0, 1000, 200),
                       "photons": rng.gamma(3.0, 300.0, 200),
                       "confidence": rng.uniform(0, 1, 200),
                       "uncertainty_x_nm": rng.uniform(5, 40, 200)})
    df.loc[3, "photons"] = np.nan
    return df


@pytest.mark.parametrize("text", [
    "photons > 500 and uncertainty_x_nm < 20",
    "photons > 500 & (uncertainty_x_nm < 20) | confidence >= 0.9",
    "not (confidence < 0.5) or frame % 10 == 0",
    "100 < photons <= 2000",
    "~(x_nm * 2 - 1e2 > 1500.5) and -photons < -300",
    "photons / uncertainty_x_nm ** 2 > 1 and frame // 7 != 3",
    "True",
])
def test_conditions_equal_pandas_query(part, text):
    where = parse_where(text, COLUMNS)
    expected = part.eval(text.replace("&", " and ").replace("|", " or ").replace("~", "not "),
                         engine="python")
    expected = np.broadcast_to(np.asarray(expected, bool), (len(part),))
    np.testing.assert_array_equal(where.evaluate(part), expected)


def test_nan_compares_false(part):
    kept = parse_where("photons > 0", COLUMNS).evaluate(part)
    assert not kept[3] and kept.sum() == len(part) - 1
    assert parse_where("not photons > 0", COLUMNS).evaluate(part)[3]


def test_thresholds_and_columns():
    where = parse_where("100 < photons <= 2000 and confidence > 0.5 and -x_nm < -3",
                        COLUMNS)
    assert where.thresholds == (("photons", 100.0), ("photons", 2000.0),
                                ("confidence", 0.5))
    assert where.columns == ("photons", "confidence", "x_nm")


@pytest.mark.parametrize("text, fragment", [
    ("photons >", "not a valid expression"),
    ("photons > 500 and bogus < 3", "no column 'bogus'"),
    ("photons + 500", "not a condition"),
    ("photons", "not a condition"),
    ("abs(x_nm) > 3", "a function call is not allowed"),
    ("x_nm.__class__ > 3", "attribute access is not allowed"),
    ("x_nm[0] > 3", "indexing is not allowed"),
    ("x_nm > 'a'", "str values are not allowed"),
    ("(photons > 3) + 1 > 0", "arithmetic is on numbers"),
    ("photons and confidence", "and/or join conditions"),
    ("__import__('os').system('true')", "a function call is not allowed"),
    ("x_nm in (1, 2)", "Compare is not allowed"),
])
def test_refusals_name_what_is_wrong(text, fragment):
    with pytest.raises(InputError, match="--where") as info:
        parse_where(text, COLUMNS)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_doctests():
    assert doctest.testmod(expression).failed == 0
