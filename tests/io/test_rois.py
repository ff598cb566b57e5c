"""ROI lists: reading, validation against a stack, and the seed's selections."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from smlmscale.errors import InputError
from smlmscale.io.rois import (check_rois, drop_empty, first_per_section, read_rois,
                                    shuffle_rois, validate_rois)


def _rois(n=6, size=8):
    return pd.DataFrame({"roi": np.arange(10, 10 + n), "section": [0, 1, 0, 2, 1, 0][:n],
                         "x": np.arange(n) * 3, "y": np.arange(n), "size": size,
                         "cluster": np.arange(n) % 2})


def _write(tmp_path, text, name="rois.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_rois_keeps_order_and_extra_columns(tmp_path):
    rois = _rois()
    path = tmp_path / "rois.csv"
    rois.to_csv(path, index=False)
    out = read_rois(path)
    pd.testing.assert_frame_equal(out, rois.astype({"size": np.int64}), check_dtype=False)
    for column in ("roi", "section", "x", "y", "size"):
        assert out[column].dtype == np.int64


def test_read_rois_accepts_integral_floats_and_spaces(tmp_path):
    path = _write(tmp_path, "roi, section, x, y, size\n1, 0, 2.0, 3, 8\n")
    out = read_rois(path)
    assert out.loc[0, "x"] == 2 and out["x"].dtype == np.int64


@pytest.mark.parametrize("text, words", [
    ("roi,section,x,size\n1,0,2,8\n", ["no y column"]),
    ("roi,x,size\n1,2,8\n", ["no section, y columns"]),
    ("roi,section,x,y,size\n", ["holds no ROI"]),
    ("", ["empty"]),
    ("roi,section,x,y,size\n1,0,2,,8\n", ["ROI y is missing in row 1"]),
    ("roi,section,x,y,size\n1,0,2,3,8\n2,0,2.5,3,8\n", ["ROI x is not an integer in row 2"]),
    ("roi,section,x,y,size\n1,0,-2,3,8\n", ["ROI x is negative in row 1"]),
    ("roi,section,x,y,size\n1,zero,2,3,8\n", ["ROI section is 'zero' in row 1"]),
    ("roi,section,x,y,size\n1,0,2,3,8\n2,0,2,3,16\n", ["mixes tile sizes (8, 16 px)"]),
    ("roi,section,x,y,size\n1,0,2,3,8\n1,1,2,3,8\n", ["ROI id 1 appears more than once"]),
    ("roi,section,x,y,size\n1,0,2,3,0\n", ["at least 1 px"]),
])
def test_read_rois_rejects_bad_lists_naming_the_file(tmp_path, text, words):
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as error:
        read_rois(path)
    message = str(error.value)
    assert message.startswith(str(path))
    for word in words:
        assert word in message


def test_read_rois_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such ROI list"):
        read_rois(tmp_path / "absent.csv")
    with pytest.raises(InputError, match="not a file"):
        read_rois(tmp_path)


def test_check_rois_accepts_tiles_touching_the_edges():
    rois = validate_rois(pd.DataFrame({"roi": [0, 1], "section": [0, 2], "x": [0, 12],
                                       "y": [22, 0], "size": 8}))
    check_rois(rois, n_sections=3, height=30, width=20)


@pytest.mark.parametrize("change, words", [
    ({"x": 13}, ["ROI 7", "x 13", "beyond the 30x20 px image"]),
    ({"y": 23}, ["ROI 7", "y 23", "beyond"]),
    ({"section": 3}, ["ROI 7 is in section 3", "only 3 sections"]),
])
def test_check_rois_names_the_first_offending_roi(change, words):
    rois = pd.DataFrame({"roi": [5, 7, 9], "section": [0, 1, 2], "x": [0, 12, 12],
                         "y": [0, 22, 22], "size": 8})
    for column, value in change.items():
        rois.loc[1:, column] = value
    with pytest.raises(InputError) as error:
        check_rois(validate_rois(rois), n_sections=3, height=30, width=20, path="r.csv")
    assert str(error.value).startswith("r.csv: ")
    for word in words:
        assert word in str(error.value)


def test_shuffle_is_a_seeded_permutation():
    rois = validate_rois(pd.DataFrame({"roi": np.arange(50), "section": np.arange(50) % 4,
                                       "x": 0, "y": 0, "size": 4}))
    a, b, c = shuffle_rois(rois, 3), shuffle_rois(rois, 3), shuffle_rois(rois, 4)
    pd.testing.assert_frame_equal(a, b)
    assert sorted(a["roi"]) == list(range(50))
    assert a["roi"].tolist() != c["roi"].tolist() != list(range(50))
    assert a.index.tolist() == list(range(50))
    expected = np.random.default_rng(3).permutation(50)
    assert a["roi"].tolist() == expected.tolist()


def test_first_per_section_keeps_list_order():
    rois = _rois()  # sections 0, 1, 0, 2, 1, 0
    assert first_per_section(rois, 1)["roi"].tolist() == [10, 11, 13]
    assert first_per_section(rois, 2)["roi"].tolist() == [10, 11, 12, 13, 14]
    assert first_per_section(rois, 99)["roi"].tolist() == rois["roi"].tolist()
    with pytest.raises(InputError, match="at least 1"):
        first_per_section(rois, 0)


def test_drop_empty():
    rois = _rois()
    out = drop_empty(rois, [False, True, False, False, True, False])
    assert out["roi"].tolist() == [10, 12, 13, 15] and out.index.tolist() == [0, 1, 2, 3]
    assert len(drop_empty(rois, np.zeros(6, bool))) == 6
    with pytest.raises(ValueError, match="shape"):
        drop_empty(rois, [True])
