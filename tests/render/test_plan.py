"""prepare_render: every check before a cluster starts; RenderSettings."""

from __future__ import annotations

import pytest

from smlmscale.errors import InputError
from smlmscale.io.tables import TableMeta, write_table
from smlmscale.render.run import RenderSettings, prepare_render
from smlmscale.settings import option_help
from tests.render.test_render import _table


def test_prepare_checks_the_image_the_table_and_the_movie(tmp_path):
    path = tmp_path / "locs.parquet"
    write_table(_table(n=50), path, meta=TableMeta(pixel_size_nm=100.0))
    plan = prepare_render(path, tmp_path / "r.tif", settings=RenderSettings(mode="gaussian"))
    assert plan.format == "tiff" and plan.settings.mode == "gaussian"
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(InputError, match=".png or .tif"):
        prepare_render(path, tmp_path / "r.jpg")
    (tmp_path / "r.png").write_text("keep")
    with pytest.raises(InputError, match="exists"):
        prepare_render(path, tmp_path / "r.png")
    with pytest.raises(InputError, match="folder does not exist"):
        prepare_render(path, tmp_path / "none" / "r.png")
    with pytest.raises(InputError):
        prepare_render(tmp_path / "missing.csv", tmp_path / "x.png")
    with pytest.raises(InputError):
        prepare_render(path, tmp_path / "x.png", widefield=tmp_path / "missing.zarr")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before + ["r.png"])


def test_render_settings():
    settings = RenderSettings(pixel_size_nm=20, sigma_nm=30.0)
    assert settings.pixel_size_nm == 20.0
    assert RenderSettings.from_mapping(settings.to_mapping()) == settings
    assert option_help(RenderSettings, "pixel_size_nm") == "Render pixel size, nm [10]."
    with pytest.raises(InputError, match="--pixel-size must be positive"):
        RenderSettings(pixel_size_nm=0)
    with pytest.raises(InputError, match="unknown render mode 'dots'"):
        RenderSettings(mode="dots")
    with pytest.raises(InputError, match="--sigma must be a number >= 0"):
        RenderSettings(sigma_nm=-1)
