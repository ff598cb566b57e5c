"""``smlmscale patches``: training pairs from a movie and its localizations, as a patch set.

Every generator option is a field of a generator's settings (the records of
:mod:`smlmscale.patches.generators`), named as the field, with its help and shown
default generated from it; it defaults to ``None`` here, meaning "the generator's
default", so that an option given for another kind (``--bin-size`` with ``--kind
deepstorm``) is refused with one line instead of being silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import (command_line, dask_cluster, given_settings, global_options,
                                    panel_option, say, settings_option)
from smlmscale.cli._progress import progress_bar
from smlmscale.errors import InputError
from smlmscale.patches.base import CHUNK_BYTES
from smlmscale.patches.generators import GENERATORS, KINDS, field_kinds
from smlmscale.settings import shown_default

_FIELDS = field_kinds()


def _kinds_text(names: list[str], word: str = "and") -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {word} {names[-1]}"


def _panel(records) -> str | None:
    """The help panel of an option that applies to ``records`` (none when to all)."""
    names = [g.name for g in records]
    return None if len(names) == len(GENERATORS) else _kinds_text(names)


def _option(name: str, *flags: str, **kw):
    """The option of settings field ``name``: help from the first generator that has it;
    its default, and the other generators' where they differ (``[1; summed 2]``)."""
    records = _FIELDS[name]
    first = shown_default(records[0].settings, name)
    others = [f"{g.name} {shown_default(g.settings, name)}" for g in records[1:]
              if shown_default(g.settings, name) != first]
    kw.setdefault("default_text", "; ".join([first, *others]) if others else None)
    return settings_option(records[0].settings, name, *flags, panel=_panel(records), **kw)


def _for_kinds(flags: str, help: str, which):
    """An option that is no settings field, in the panel of the generators ``which`` picks."""
    return panel_option(flags, help, _panel([g for g in GENERATORS.values() if which(g)]))


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


def _low_high(kind):
    """A typer callback reading ``LOW:HIGH`` as a pair of ``kind``."""
    def parse(param: typer.CallbackParam, value: Optional[str]):
        return None if value is None else parse_range(value, param.opts[0], kind)
    return parse


@app.command("patches")
def patches_command(
    ctx: typer.Context,
    input: Annotated[Path, typer.Argument(help="OME-Zarr movie (t,y,x); a section stack "
                                          "(z,y,x) for counts.", show_default=False)],
    locs: Annotated[Path, typer.Option("--locs", help="Localization table (ground truth or "
                                       "fitted); any format convert reads.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Patch-set Zarr to write.",
                                         show_default=False)],
    kind: Annotated[str, typer.Option("--kind", help=_kinds_text(list(KINDS), "or") + ".")
                    ] = "deepstorm",
    validation: Annotated[float, typer.Option("--validation", help="Validation fraction.")
                          ] = 0.1,
    seed: Annotated[Optional[int], _option("seed")] = None,
    pixel_size: Annotated[Optional[float], typer.Option(
        "--pixel-size", help="Pixel size in nm (default: the store's).", show_default=False)
    ] = None,
    chunk_patches: Annotated[Optional[int], typer.Option(
        "--chunk-patches", help=f"Patches per Zarr chunk (default: about "
                                f"{CHUNK_BYTES / 2**20:g} MiB of pairs).", show_default=False)
    ] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing output once the new one is complete.")] = False,
    patch_size_px: Annotated[Optional[int], _option("patch_size_px")] = None,
    upsampling: Annotated[Optional[int], _option("upsampling")] = None,
    per_frame: Annotated[Optional[int], _option("per_frame")] = None,
    min_emitters: Annotated[Optional[int], _option("min_emitters")] = None,
    target_sigma_px: Annotated[Optional[float], _option("target_sigma_px")] = None,
    weight: Annotated[Optional[str], _option("weight")] = None,
    z_bins: Annotated[Optional[int], _option("z_bins")] = None,
    z_range_nm: Annotated[Optional[str], _option("z_range_nm", callback=_low_high(float))
                          ] = None,
    normalize: Annotated[Optional[str], _option("normalize")] = None,
    z_voxels: Annotated[Optional[int], _option("z_voxels")] = None,
    global_factors: Annotated[Optional[str], _option(
        "global_factors", callback=_low_high(float), metavar="OFFSET:SCALE")] = None,
    bin_size: Annotated[Optional[int], _option("bin_size")] = None,
    camera_offset: Annotated[Optional[float], _option("camera_offset")] = None,
    n_summed: Annotated[Optional[int], _option("n_summed")] = None,
    export_tiff: Annotated[Optional[Path], _for_kinds(
        "--export-tiff", "Also write the summed patches as DIR/summed.tif + DeepSTORM "
                         "DIR/summed.csv.", lambda g: g.export is not None)] = None,
    signal_min: Annotated[Optional[float], _option("signal_min")] = None,
    eps_nm: Annotated[Optional[float], _option("eps_nm")] = None,
    min_samples: Annotated[Optional[int], _option("min_samples")] = None,
    min_run: Annotated[Optional[int], _option("min_run")] = None,
    box_px: Annotated[Optional[int], _option("box_px")] = None,
    shift_px: Annotated[Optional[int], _option("shift_px")] = None,
    spectral_offset_px: Annotated[Optional[int], _option("spectral_offset_px")] = None,
    spectral_jitter_px: Annotated[Optional[str], _option(
        "spectral_jitter_px", callback=_low_high(int))] = None,
    row_jitter_px: Annotated[Optional[int], _option("row_jitter_px")] = None,
    spectral_width_px: Annotated[Optional[int], _option("spectral_width_px")] = None,
    scale: Annotated[Optional[float], _option("scale")] = None,
    tophat_radius_px: Annotated[Optional[int], _option("tophat_radius_px")] = None,
    spectral_amplification: Annotated[Optional[float], _option("spectral_amplification")
                                      ] = None,
    min_peak: Annotated[Optional[float], _option("min_peak")] = None,
    rois: Annotated[Optional[Path], _for_kinds(
        "--rois", "ROI list CSV (roi, section, x, y, size).", lambda g: g.rois)] = None,
    estimate: Annotated[Optional[bool], _option("estimate", "--estimate/--no-estimate")
                        ] = None,
    degree: Annotated[Optional[int], _option("degree")] = None,
    nn_size: Annotated[Optional[int], _option("nn_size")] = None,
    shuffle: Annotated[Optional[bool], _option("shuffle")] = None,
    per_section: Annotated[Optional[int], _option("per_section")] = None,
    drop_empty: Annotated[Optional[bool], _option(
        "drop_empty", " /--keep-empty", help="Keep tiles with no signal", default_text="no")
    ] = None,
    context: Annotated[Optional[int], _option("context")] = None,
    max_emitters: Annotated[Optional[int], _option("max_emitters")] = None,
    offset_adu: Annotated[Optional[float], _option("offset_adu")] = None,
    scale_adu: Annotated[Optional[float], _option("scale_adu")] = None,
    background_frames: Annotated[Optional[int], _option("background_frames")] = None,
) -> None:
    """Cut training pairs (inputs, targets) into a patch-set Zarr chunked along patches."""
    from smlmscale.patches.run import prepare_patches, run_patches

    given = {}
    for record in GENERATORS.values():
        given.update(given_settings(ctx, record.settings))
    plan = prepare_patches(input, output, locs=locs, kind=kind, settings=given, rois=rois,
                           export_tiff=export_tiff, validation_fraction=validation,
                           pixel_size_nm=pixel_size, chunk_patches=chunk_patches,
                           overwrite=overwrite, command=command_line())
    with dask_cluster(ctx) as client, progress_bar(global_options(ctx), "patches") as update:
        result = run_patches(plan, client=client, progress=update)
    h, w, c = result.input_shape
    say(ctx, f"wrote {result.path}: {result.n_patches} {result.kind} patches of {h}x{w}x{c} "
             f"({result.n_train} train, {result.n_validation} validation) from "
             f"{result.frames} frames in {result.seconds:.1f} s "
             f"({result.patches_per_s:.0f} patches/s)")
    if result.export is not None:
        say(ctx, f"wrote {result.export}")
