"""An error about a settings field names the flag the user typed (cli/_app.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Optional

import typer
from typer.testing import CliRunner

from smlmscale.cli._app import SmlmscaleGroup
from smlmscale.cli._options import given_settings, settings_option
from smlmscale.settings import Settings, setting


@dataclass(frozen=True)
class TileSettings(Settings):
    tile_px: int = setting(256, min=8, unit="px", help="Tile side")
    threshold: float = setting(0.5, min=0, help="Detection threshold")


def _app() -> typer.Typer:
    app = typer.Typer(cls=SmlmscaleGroup, add_completion=False)

    @app.command("tiles")
    def tiles(ctx: typer.Context,
              tile_px: Annotated[Optional[int], settings_option(TileSettings, "tile_px",
                                                                "--tile", "-t")] = None,
              threshold: Annotated[Optional[float], settings_option(
                  TileSettings, "threshold")] = None) -> None:
        settings = TileSettings.from_mapping(given_settings(ctx, TileSettings))
        typer.echo(f"{settings.tile_px} {settings.threshold}")

    @app.command("other")
    def other() -> None:  # pragma: no cover - a second command makes a group
        pass

    return app


def test_the_error_names_the_option_given():
    result = CliRunner().invoke(_app(), ["tiles", "--tile", "4"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: --tile must be at least 8, got 4"


def test_given_settings_and_generated_help():
    runner = CliRunner()
    assert runner.invoke(_app(), ["tiles", "--threshold", "1"]).output.strip() == "256 1.0"
    help_text = runner.invoke(_app(), ["tiles", "--help"], terminal_width=200).output
    assert "Tile side, px [256]." in help_text
    assert "Detection threshold [0.5]." in help_text
