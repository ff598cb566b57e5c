"""``smlmscale evaluate LOCS --truth TABLE``: Jaccard, precision, recall, RMSE, efficiency."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import dask_cluster, say
from smlmscale.evaluate import EMCCD_NOISE_FACTOR, EvaluateSettings, evaluate_tables
from smlmscale.evaluate.plot import check_plot_path, plot_evaluation
from smlmscale.io.tables import FORMATS, read_table, read_table_lazy

_NAMES = ", ".join(FORMATS)
#: Above this many rows (both tables) the blocks are matched on the Dask cluster. The
#: in-process kernels are fast (2e6 rows in 0.35 s, 2e7 in 5 s on 2 cores, where a 2-worker
#: LocalCluster took 1.1 s and 6 s: benchmarks/RESULTS.md), so only very large tables go there.
CLUSTER_ROWS = 5_000_000
#: Above this many bytes (both files) the tables are read lazily, on the cluster.
LAZY_BYTES = 256 * 2**20


def _value(value: Any, unit: str = "", digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return f"{value}"
    return f"{value:.{digits}f}{unit}"


def summary_lines(metrics: dict[str, Any], *, truth: Path, locs: Path) -> list[str]:
    """The human-readable report: one aligned ``label  value`` line per metric."""
    m = metrics
    axial = m["tolerance_axial_nm"]
    rows = [
        ("truth", f"{m['n_truth']} localizations ({truth})"),
        ("predictions", f"{m['n_pred']} localizations ({locs})"),
        ("matching", f"{m['matching']}, lateral <= {m['tolerance_lateral_nm']:g} nm"
                     + (f", axial <= {axial:g} nm" if axial is not None else ", lateral only")),
        ("TP / FP / FN", f"{m['tp']} / {m['fp']} / {m['fn']}"),
        ("Jaccard", _value(m["jaccard"])),
        ("precision", _value(m["precision"])),
        ("recall", _value(m["recall"])),
        ("F1", _value(m["f1"])),
        ("RMSE lateral", _value(m["rmse_lateral_nm"], " nm", 2)),
        ("RMSE axial", _value(m["rmse_axial_nm"], " nm", 2)),
        ("RMSE 3D", _value(m["rmse_3d_nm"], " nm", 2)),
        ("bias x / y / z", " / ".join(_value(m[k], "", 2) for k in
                                      ("bias_x_nm", "bias_y_nm", "bias_z_nm")) + " nm"),
        ("efficiency lateral", _value(m["efficiency_lateral"], " %", 2)),
        ("efficiency axial", _value(m["efficiency_axial"], " %", 2)),
        ("RMSE / CRLB", _value(m["rmse_over_crlb"], "", 3)),
    ]
    width = max(len(label) for label, _ in rows) + 2
    return [f"{label:<{width}}{value}" for label, value in rows]


@app.command("evaluate")
def evaluate_command(
    ctx: typer.Context,
    locs: Annotated[Path, typer.Argument(
        metavar="LOCS", help="Predicted localizations (.csv, .tsv, .txt, .xls, .hdf5, .parquet).",
        show_default=False)],
    truth: Annotated[Path, typer.Option(
        "--truth", metavar="TABLE", help="Ground-truth localizations, any table format.",
        show_default=False)],
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object with every metric on stdout.")] = False,
    plot: Annotated[Optional[Path], typer.Option(
        "--plot", metavar="FILE.png", help="Write error histograms and precision/recall vs "
                                           "tolerance to this PNG.")] = None,
    tolerance_lateral: Annotated[float, typer.Option(
        "--tolerance-lateral", metavar="NM", help="Largest lateral distance of a match, nm.")
    ] = 250.0,
    tolerance_axial: Annotated[float, typer.Option(
        "--tolerance-axial", metavar="NM", help="Largest axial distance of a match, nm "
                                                "(when both tables have z).")] = 500.0,
    matching: Annotated[str, typer.Option(
        "--matching", help="greedy (SMLM Challenge 2016) or hungarian.")] = "greedy",
    pixel_size: Annotated[Optional[float], typer.Option(
        "--pixel-size", metavar="NM", help="Camera pixel size in nm, for tables in pixels and "
                                           "the CRLB.")] = None,
    from_format: Annotated[Optional[str], typer.Option(
        "--from", metavar="FORMAT", help=f"Format of LOCS ({_NAMES}); default: from the "
                                         "extension and the header.")] = None,
    truth_from: Annotated[Optional[str], typer.Option(
        "--truth-from", metavar="FORMAT", help="Format of the truth table.")] = None,
    psf_sigma: Annotated[Optional[float], typer.Option(
        "--psf-sigma", metavar="NM", help="PSF sigma for the CRLB when the truth has no "
                                          "sigma_nm column, nm.")] = None,
    background: Annotated[Optional[float], typer.Option(
        "--background", metavar="PHOTONS", help="Background photons/pixel for the CRLB when "
                                                "the truth has no background column.")] = None,
    emccd: Annotated[bool, typer.Option(
        "--emccd", help="EMCCD camera: the CRLB variance doubles (excess noise).")] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing --plot file.")] = False,
) -> None:
    """Score predicted localizations against ground truth, frame by frame.

    Examples: smlmscale evaluate locs.csv --truth truth.parquet;
    smlmscale evaluate locs.hdf5 --truth truth.csv --json --plot eval.png
    """
    started = time.perf_counter()
    settings = EvaluateSettings(
        tolerance_lateral_nm=tolerance_lateral, tolerance_axial_nm=tolerance_axial,
        matching=matching.strip().lower(), pixel_size_nm=pixel_size, psf_sigma_nm=psf_sigma,
        background_photons=background, noise_factor=EMCCD_NOISE_FACTOR if emccd else 1.0,
        keep_pairs=plot is not None)
    if plot is not None:
        check_plot_path(plot, overwrite=overwrite)  # fail before reading anything
    sizes = sum(p.stat().st_size for p in (locs, truth) if p.is_file())
    with contextlib.ExitStack() as stack:
        if sizes > LAZY_BYTES:
            pred_table, _ = read_table_lazy(locs, format=from_format, pixel_size_nm=pixel_size)
            truth_table, meta = read_table_lazy(truth, format=truth_from,
                                                pixel_size_nm=pixel_size)
            client = stack.enter_context(dask_cluster(ctx))
        else:
            pred_table, _ = read_table(locs, format=from_format, pixel_size_nm=pixel_size)
            truth_table, meta = read_table(truth, format=truth_from, pixel_size_nm=pixel_size)
            rows = len(pred_table) + len(truth_table)
            client = stack.enter_context(dask_cluster(ctx)) if rows > CLUSTER_ROWS else None
        result = evaluate_tables(pred_table, truth_table, settings=settings, client=client,
                                 truth_meta=meta)
    for note in result.notes:
        say(ctx, f"note: {note}")
    metrics = result.to_dict()
    if as_json:
        typer.echo(json.dumps(metrics))
    else:
        for line in summary_lines(metrics, truth=truth, locs=locs):
            typer.echo(line)
    if plot is not None:
        plot_evaluation(result, plot, overwrite=overwrite)
        say(ctx, f"wrote {plot}")
    say(ctx, f"evaluated {result.n_pred} predictions against {result.n_truth} truth "
             f"localizations in {time.perf_counter() - started:.1f} s")
