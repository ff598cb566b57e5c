"""``smlmscale patches``: training pairs from a movie and its localizations, as a patch set.

Every generator option defaults to ``None`` here, meaning "the generator's default", so
that an option given for another kind (``--bin-size`` with ``--kind deepstorm``) is
refused with one line instead of being silently ignored.
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import dask_cluster, global_options, say
from smlmscale.cli._options import panel_option as _opt
from smlmscale.cli._progress import progress_bar
from smlmscale.errors import InputError

_RANDOM = "deepstorm and summed"
_SUMMED = "summed"
_FUSION = "fusion"
_COUNTS = "counts"

#: CLI option (parameter name) -> settings field.
FIELDS = {
    "patch_size": "patch_size_px", "upsampling": "upsampling", "per_frame": "per_frame",
    "min_emitters": "min_emitters", "target_sigma": "target_sigma_px", "weight": "weight",
    "z_bins": "z_bins", "z_range": "z_range_nm", "normalize": "normalize", "bin_size": "bin_size",
    "camera_offset": "camera_offset", "n_summed": "n_summed", "signal_min": "signal_min",
    "eps": "eps_nm", "min_samples": "min_samples", "min_run": "min_run", "box": "box_px",
    "shift": "shift_px", "spectral_offset": "spectral_offset_px",
    "spectral_jitter": "spectral_jitter_px", "row_jitter": "row_jitter_px",
    "spectral_width": "spectral_width_px", "scale": "scale",
    "tophat_radius": "tophat_radius_px", "spectral_amplification": "spectral_amplification",
    "min_peak": "min_peak", "estimate": "estimate", "degree": "degree", "nn_size": "nn_size",
    "shuffle_rois": "shuffle", "per_section": "per_section", "keep_empty": "drop_empty",
    "seed": "seed",
}


def parse_range(text: str, option: str, kind=float) -> tuple:
    """``"lo:hi"`` -> ``(lo, hi)``; InputError naming ``option`` otherwise.

    >>> parse_range("-10:20", "--spectral-jitter", int)
    (-10, 20)
    """
    try:
        lo, hi = (kind(part) for part in text.split(":"))
    except ValueError:
        raise InputError(f"{option} must be LOW:HIGH, got {text!r}") from None
    return lo, hi


def build_settings(kind: str, given: dict[str, Any]):
    """The settings of ``kind`` from the options given (``None`` = not given)."""
    from smlmscale.patches.run import default_settings

    cls = type(default_settings(kind))
    names = {f.name for f in dataclasses.fields(cls)}
    values = {}
    for option, value in given.items():
        if value is None:
            continue
        field = FIELDS[option]
        if field not in names:
            flag = "--" + option.replace("_", "-")
            raise InputError(f"{flag} does not apply to --kind {kind}",
                             hint=f"see smlmscale patches --help for the {kind} options")
        if option == "z_range":
            value = parse_range(value, "--z-range", float)
        elif option == "spectral_jitter":
            value = parse_range(value, "--spectral-jitter", int)
        elif option == "keep_empty":
            value = not value
        values[field] = value
    return cls(**values)


@app.command("patches")
def patches_command(
    ctx: typer.Context,
    input: Annotated[Path, typer.Argument(help="OME-Zarr movie (t,y,x); a section stack "
                                          "(z,y,x) for counts.", show_default=False)],
    locs: Annotated[Path, typer.Option("--locs", help="Localization table (ground truth or "
                                       "fitted); any format convert reads.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Patch-set Zarr to write.",
                                         show_default=False)],
    kind: Annotated[str, typer.Option("--kind", help="deepstorm, fusion, summed or counts.")
                    ] = "deepstorm",
    validation: Annotated[float, typer.Option("--validation", help="Validation fraction.")
                          ] = 0.1,
    seed: Annotated[Optional[int], typer.Option(
        "--seed", help="Seeds positions, shifts, bins and the split [default: 0].",
        show_default=False)] = None,
    pixel_size: Annotated[Optional[float], typer.Option(
        "--pixel-size", help="Pixel size in nm (default: the store's).", show_default=False)
    ] = None,
    chunk_patches: Annotated[Optional[int], typer.Option(
        "--chunk-patches", help="Patches per Zarr chunk (default: ~16 MiB of pairs).",
        show_default=False)] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing output once the new one is complete.")] = False,
    patch_size: Annotated[Optional[int], _opt("--patch-size", "Patch side, camera px "
                                              "[26].", _RANDOM)] = None,
    upsampling: Annotated[Optional[int], _opt("--upsampling", "Upsampling factor [8].",
                                              _RANDOM)] = None,
    per_frame: Annotated[Optional[int], _opt("--per-frame", "Candidate patches per frame [4].",
                                             _RANDOM)] = None,
    min_emitters: Annotated[Optional[int], _opt("--min-emitters", "Keep patches with at "
                                                "least this many emitters [1; summed 2].",
                                                _RANDOM)] = None,
    target_sigma: Annotated[Optional[float], _opt("--target-sigma", "Gaussian sigma of the "
                                                  "target, upsampled px [1].", _RANDOM)] = None,
    weight: Annotated[Optional[str], _opt("--weight", "Spike weight: one or photons [one].",
                                          _RANDOM)] = None,
    z_bins: Annotated[Optional[int], _opt("--z-bins", "deepstorm 3D: target channels along z "
                                          "[0: 2D].", _RANDOM)] = None,
    z_range: Annotated[Optional[str], _opt("--z-range", "deepstorm 3D: LOW:HIGH nm "
                                           "[-500:500].", _RANDOM)] = None,
    normalize: Annotated[Optional[str], _opt("--normalize", "deepstorm: inputs projected to "
                                             "[0, 1] per frame (as predict does) or per "
                                             "patch [frame].", _RANDOM)] = None,
    bin_size: Annotated[Optional[int], _opt("--bin-size", "Patches summed into one [10].",
                                            _SUMMED)] = None,
    camera_offset: Annotated[Optional[float], _opt("--camera-offset", "Camera offset, ADU; "
                                                   "subtracted bin-size - 1 times [100].",
                                                   _SUMMED)] = None,
    n_summed: Annotated[Optional[int], _opt("--n-summed", "At most this many summed patches "
                                            "[all].", _SUMMED)] = None,
    export_tiff: Annotated[Optional[Path], _opt("--export-tiff", "Also write the summed "
                                                "patches as DIR/summed.tif + DeepSTORM "
                                                "DIR/summed.csv.", _SUMMED)] = None,
    signal_min: Annotated[Optional[float], _opt("--signal-min", "Keep events with more "
                                                "photons [5000].", _FUSION)] = None,
    eps: Annotated[Optional[float], _opt("--eps", "DBSCAN eps, nm [half a pixel].", _FUSION)
                   ] = None,
    min_samples: Annotated[Optional[int], _opt("--min-samples", "DBSCAN min samples [3].",
                                               _FUSION)] = None,
    min_run: Annotated[Optional[int], _opt("--min-run", "Keep runs of consecutive frames "
                                           "longer than this [8].", _FUSION)] = None,
    box: Annotated[Optional[int], _opt("--box", "Localization box side, px [16].", _FUSION)
                   ] = None,
    shift: Annotated[Optional[int], _opt("--shift", "Random box shift, +- px [6].", _FUSION)
                     ] = None,
    spectral_offset: Annotated[Optional[int], _opt("--spectral-offset", "Spectral box "
                                                   "distance, px (none: no spectral box).",
                                                   _FUSION)] = None,
    spectral_jitter: Annotated[Optional[str], _opt("--spectral-jitter", "LOW:HIGH px added "
                                                   "to the offset [-10:20].", _FUSION)] = None,
    row_jitter: Annotated[Optional[int], _opt("--row-jitter", "Spectral box row jitter, +- "
                                              "px [1].", _FUSION)] = None,
    spectral_width: Annotated[Optional[int], _opt("--spectral-width", "Spectral box width, "
                                                  "px [48].", _FUSION)] = None,
    scale: Annotated[Optional[float], _opt("--scale", "Divide pixels by this [2^bits for "
                                           "integers, 1 for floats].", _FUSION)] = None,
    tophat_radius: Annotated[Optional[int], _opt("--tophat-radius", "Top-hat disk radius, "
                                                 "px [10].", _FUSION)] = None,
    spectral_amplification: Annotated[Optional[float], _opt(
        "--spectral-amplification", "Spectral part divided by this x its max [0.5].",
        _FUSION)] = None,
    min_peak: Annotated[Optional[float], _opt("--min-peak", "Drop events whose normalized "
                                              "box peak is lower [0.09].", _FUSION)] = None,
    rois: Annotated[Optional[Path], _opt("--rois", "ROI list CSV (roi, section, x, y, size).",
                                         _COUNTS)] = None,
    estimate: Annotated[Optional[bool], _opt(("--estimate/--no-estimate",), "Add the "
                                             "intensity-to-density estimate channel [yes].",
                                             _COUNTS)] = None,
    degree: Annotated[Optional[int], _opt("--degree", "Degree of the estimate polynomial "
                                          "[3].", _COUNTS)] = None,
    nn_size: Annotated[Optional[int], _opt("--nn-size", "Neighbourhood averaging window, px "
                                           "[3].", _COUNTS)] = None,
    shuffle_rois: Annotated[Optional[bool], _opt("--shuffle-rois", "Shuffle the ROI list "
                                                 "(seeded).", _COUNTS)] = None,
    per_section: Annotated[Optional[int], _opt("--per-section", "Only the first N ROIs of "
                                               "each section.", _COUNTS)] = None,
    keep_empty: Annotated[Optional[bool], _opt("--keep-empty", "Keep tiles with no signal.",
                                               _COUNTS)] = None,
) -> None:
    """Cut training pairs (inputs, targets) into a patch-set Zarr chunked along patches."""
    from smlmscale.io.ome_zarr import open_image_store
    from smlmscale.io.outputs import check_output
    from smlmscale.patches.run import check_kind, make_patches

    check_kind(kind)  # everything checked before a cluster starts
    given = {name: value for name, value in locals().items() if name in FIELDS}
    settings = build_settings(kind, given)
    if export_tiff is not None and kind != "summed":
        raise InputError(f"--export-tiff does not apply to --kind {kind}")
    if (rois is not None) != (kind == "counts"):
        raise InputError("--kind counts needs an ROI list" if rois is None else
                         f"--rois is used by --kind counts only, not {kind}",
                         hint="pass --rois rois.csv" if rois is None else None)
    open_image_store(input)
    check_output(output, overwrite=overwrite)
    if export_tiff is not None:
        check_output(export_tiff, overwrite=overwrite)
    command = shlex.join(["smlmscale", *sys.argv[1:]])
    with dask_cluster(ctx) as client, progress_bar(global_options(ctx), "patches") as update:
        result = make_patches(input, output, locs=locs, kind=kind, settings=settings,
                              rois=rois, validation_fraction=validation, client=client,
                              pixel_size_nm=pixel_size, chunk_patches=chunk_patches,
                              overwrite=overwrite, command=command, progress=update,
                              export_tiff=export_tiff)
    h, w, c = result.input_shape
    say(ctx, f"wrote {result.path}: {result.n_patches} {result.kind} patches of {h}x{w}x{c} "
             f"({result.n_train} train, {result.n_validation} validation) from "
             f"{result.frames} frames in {result.seconds:.1f} s "
             f"({result.patches_per_s:.0f} patches/s)")
    if result.export is not None:
        say(ctx, f"wrote {result.export}")
