"""``smlmscale evaluate LOCS --truth TABLE``: Jaccard, precision, recall, RMSE, efficiency."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import dask_cluster, parse_frames, say, settings_option
from smlmscale.evaluate import EMCCD_NOISE_FACTOR, EvaluateSettings
from smlmscale.evaluate.plan import CLUSTER_ROWS, LAZY_BYTES, prepare_evaluate, run_evaluate
from smlmscale.io.tables import FORMATS

E = EvaluateSettings
_NAMES = ", ".join(FORMATS)


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
    if m.get("rmse_over_frame_limit") is not None:
        rows.append(("RMSE / frame limit", _value(m["rmse_over_frame_limit"], "", 3)))
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
    tolerance_lateral: Annotated[Optional[float], settings_option(
        E, "tolerance_lateral_nm", "--tolerance-lateral", metavar="NM")] = None,
    tolerance_axial: Annotated[Optional[float], settings_option(
        E, "tolerance_axial_nm", "--tolerance-axial", metavar="NM")] = None,
    matching: Annotated[Optional[str], settings_option(E, "matching", "--matching")] = None,
    pixel_size: Annotated[Optional[float], settings_option(
        E, "pixel_size_nm", "--pixel-size", metavar="NM")] = None,
    from_format: Annotated[Optional[str], typer.Option(
        "--from", metavar="FORMAT", help=f"Format of LOCS ({_NAMES}); default: from the "
                                         "extension and the header.")] = None,
    truth_from: Annotated[Optional[str], typer.Option(
        "--truth-from", metavar="FORMAT", help="Format of the truth table.")] = None,
    psf_sigma: Annotated[Optional[float], settings_option(
        E, "psf_sigma_nm", "--psf-sigma", metavar="NM")] = None,
    background: Annotated[Optional[float], settings_option(
        E, "background_photons", "--background", metavar="PHOTONS")] = None,
    emccd: Annotated[bool, typer.Option(
        "--emccd", help="EMCCD camera: the CRLB variance doubles (excess noise).")] = False,
    frame_limit: Annotated[bool, typer.Option(
        "--frame-limit", help="Also report the RMSE over each emitter's limit among the "
                              "emitters of its frame (multi-emitter CRLB; slower).")] = False,
    frames: Annotated[Optional[str], typer.Option(
        "--frames", metavar="FIRST:STOP", help="Score only these frames of both tables; "
                                               "default: the frames the prediction's metadata "
                                               "records (predict --frames), else all.")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing --plot file.")] = False,
) -> None:
    """Score predicted localizations against ground truth, frame by frame.

    Examples: smlmscale evaluate locs.csv --truth truth.parquet;
    smlmscale evaluate locs.hdf5 --truth truth.csv --json --plot eval.png
    """
    started = time.perf_counter()
    # the parameters keep their own names: errors name the settings field (a test pins it)
    given = {"tolerance_lateral_nm": tolerance_lateral, "tolerance_axial_nm": tolerance_axial,
             "matching": matching and matching.strip().lower(), "pixel_size_nm": pixel_size,
             "psf_sigma_nm": psf_sigma, "background_photons": background}
    settings = EvaluateSettings(**{k: v for k, v in given.items() if v is not None},
                                noise_factor=EMCCD_NOISE_FACTOR if emccd else 1.0,
                                keep_pairs=plot is not None, frame_limit=frame_limit)
    plan = prepare_evaluate(locs, truth=truth, settings=settings, from_format=from_format,
                            truth_from=truth_from, plot=plot, overwrite=overwrite,
                            cluster_rows=CLUSTER_ROWS, lazy_bytes=LAZY_BYTES,
                            frames=parse_frames(frames))
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(dask_cluster(ctx)) if plan.needs_cluster else None
        result = run_evaluate(plan, client=client)
    for note in result.notes:
        say(ctx, f"note: {note}")
    metrics = result.to_dict()
    if as_json:
        typer.echo(json.dumps(metrics))
    else:
        for line in summary_lines(metrics, truth=truth, locs=locs):
            typer.echo(line)
    if plot is not None:
        say(ctx, f"wrote {plot}")
    say(ctx, f"evaluated {result.n_pred} predictions against {result.n_truth} truth "
             f"localizations in {time.perf_counter() - started:.1f} s")
