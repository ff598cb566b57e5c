"""``smlmscale info``: summary of a store, table, patch set or model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from smlmscale.cli._app import app
from smlmscale.io.describe import describe_path


def _human_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return str(n)


def format_summary(summary: dict[str, Any]) -> str:
    """Human-readable lines for a :func:`describe_path` summary."""
    lines = []
    for key, value in summary.items():
        if key.endswith("_bytes") and isinstance(value, int):
            value = f"{_human_bytes(value)} ({value} B)"
        elif isinstance(value, list) and all(isinstance(v, (int, float, str)) for v in value):
            value = " x ".join(str(v) for v in value) if key in ("shape", "chunks", "shards") \
                else ", ".join(str(v) for v in value)
        elif isinstance(value, (dict, list)):
            value = json.dumps(value, indent=2, default=str).replace("\n", "\n    ")
        elif value is None:
            value = "unknown" if key == "pixel_size_nm" else "-"
        lines.append(f"{key.replace('_', ' ')}: {value}")
    return "\n".join(lines)


@app.command("info")
def info_command(
    path: Annotated[Path, typer.Argument(
        help="An OME-Zarr store, a patch set, a model folder, a PSF file, a clusters folder or a "
             "localization table.",
        show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Summarize a store (shape, chunks, compression, provenance), patch set, model, clusters
    folder or table."""
    summary = describe_path(path)
    typer.echo(json.dumps(summary, indent=2, default=str) if as_json else format_summary(summary))
