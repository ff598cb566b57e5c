"""``smlmscale psf -o PSF.zarr``: a PSF file from optics and a phase mask, or from a bead.

A pupil model by default (``--mask``, ``--builtin``, ``--zernike`` and the optics); a
measured one with ``--bead-stack``. Every option is a settings field, named as the field,
its help and default generated from it; options default to ``None`` ("the model's
default"), so that an option of the other model is refused with one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional, Tuple

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import command_line, given_settings, say, settings_option
from smlmscale.errors import InputError
from smlmscale.psf.optics import OpticsSettings as O
from smlmscale.psf.settings import BeadSettings as B, MaskSettings as M, PsfGridSettings as G
from smlmscale.settings import field_names, shown_default

_OPTICS, _MASK, _GRID, _BEAD = "Optics (pupil model)", "Phase mask (pupil model)", \
    "PSF images", "Measured bead (--bead-stack)"
_PAIR = {"metavar": "MIN MAX"}


def _shared(name: str, **kw):
    """An option of both models: help from the pupil's field, both defaults shown."""
    pupil = O if name in field_names(O) else G
    text = f"{shown_default(pupil, name)}; bead {shown_default(B, name)}"
    return settings_option(pupil, name, panel=_GRID, default_text=text, **kw)


@app.command("psf")
def psf_command(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", metavar="PSF.zarr",
                                         help="PSF file (Zarr folder) to write.",
                                         show_default=False)],
    mask: Annotated[Optional[Path], settings_option(M, "mask", panel=_MASK,
                                                    metavar="FILE")] = None,
    mask_key: Annotated[Optional[str], settings_option(M, "mask_key", panel=_MASK,
                                                       metavar="NAME")] = None,
    builtin: Annotated[Optional[str], settings_option(M, "builtin", panel=_MASK)] = None,
    zernike: Annotated[Optional[str], settings_option(M, "zernike", panel=_MASK,
                                                      metavar="J:C,...",
                                                      default_text="none")] = None,
    wavelength_nm: Annotated[Optional[float], settings_option(O, "wavelength_nm", panel=_OPTICS,
                                                              metavar="NM")] = None,
    na: Annotated[Optional[float], settings_option(O, "na", panel=_OPTICS)] = None,
    n_immersion: Annotated[Optional[float], settings_option(O, "n_immersion",
                                                            panel=_OPTICS)] = None,
    n_sample: Annotated[Optional[float], settings_option(O, "n_sample", panel=_OPTICS)] = None,
    magnification: Annotated[Optional[float], settings_option(O, "magnification",
                                                              panel=_OPTICS)] = None,
    slm_pixel_um: Annotated[Optional[float], settings_option(O, "slm_pixel_um", panel=_OPTICS,
                                                             metavar="UM")] = None,
    f_4f_um: Annotated[Optional[float], settings_option(O, "f_4f_um", panel=_OPTICS,
                                                        metavar="UM")] = None,
    focus_nm: Annotated[Optional[float], settings_option(O, "focus_nm", panel=_OPTICS,
                                                         metavar="NM")] = None,
    pixel_size_nm: Annotated[Optional[float], _shared("pixel_size_nm", metavar="NM")] = None,
    z_range_nm: Annotated[Optional[Tuple[float, float]], _shared("z_range_nm", **_PAIR)] = None,
    z_step_nm: Annotated[Optional[float], _shared("z_step_nm", metavar="NM")] = None,
    size_px: Annotated[Optional[int], _shared("size_px", metavar="PX")] = None,
    blur_sigma_px_range: Annotated[Optional[Tuple[float, float]],
                                   _shared("blur_sigma_px_range", **_PAIR)] = None,
    bead_stack: Annotated[Optional[Path], typer.Option(
        "--bead-stack", metavar="TIF", rich_help_panel=f"{_BEAD} options",
        help="TIFF z-stack (z, y, x) of one bead: a measured PSF instead of a pupil model.",
        show_default=False)] = None,
    bead_step_nm: Annotated[Optional[float], settings_option(B, "bead_step_nm", panel=_BEAD,
                                                             metavar="NM")] = None,
    min_snr: Annotated[Optional[float], settings_option(B, "min_snr", panel=_BEAD)] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing PSF file once the new one is complete.")
    ] = False,
) -> None:
    """Make a PSF file: a Fourier-optics model of the optics and a phase mask, or a bead's."""
    if bead_stack is not None:
        _bead(ctx, output, bead_stack, overwrite)
    else:
        _pupil(ctx, output, zernike, overwrite)


def _refuse(ctx: typer.Context, names, where: str) -> None:
    """One line naming the given options of ``names`` that do not apply."""
    command = ctx.command
    flags = [p.opts[0] for p in command.params if p.name in names
             and ctx.params.get(p.name) is not None]
    if flags:
        raise InputError(f"{', '.join(flags)} {'applies' if len(flags) == 1 else 'apply'} "
                         f"to {where}")


def _pupil(ctx: typer.Context, output: Path, zernike: str | None, overwrite: bool) -> None:
    from smlmscale.psf.run import make_pupil_psf
    from smlmscale.psf.zernike import parse_zernike

    _refuse(ctx, ("bead_step_nm", "min_snr"), "--bead-stack only")
    masked = {k: (str(v) if k == "mask" else v)
              for k, v in given_settings(ctx, M).items() if k != "zernike"}
    if zernike is not None:
        masked["zernike"] = tuple(parse_zernike(zernike).items())
    if masked.get("mask_key") is not None and masked.get("mask") is None:
        raise InputError("--mask-key needs --mask")
    result = make_pupil_psf(output, optics=O(**given_settings(ctx, O)),
                            grid=G(**given_settings(ctx, G)), mask=M(**masked),
                            overwrite=overwrite, command=command_line())
    z, h, w = result.shape
    say(ctx, f"wrote {result.path}: pupil PSF ({result.details['mask']} mask), {z} planes "
             f"{result.z_range_nm[0]:g}..{result.z_range_nm[1]:g} nm of {h}x{w} px, pupil "
             f"grid {result.details['grid_n']} px, {result.details['in_window']:.0%} of the "
             f"light in the window; {result.seconds:.1f} s")


def _bead(ctx: typer.Context, output: Path, stack: Path, overwrite: bool) -> None:
    from smlmscale.psf.run import make_bead_psf

    pupil_only = {*field_names(O), *field_names(M)} - set(field_names(B))
    _refuse(ctx, pupil_only, "pupil models only, not --bead-stack")
    result = make_bead_psf(output, stack, settings=B(**given_settings(ctx, B)),
                           overwrite=overwrite, command=command_line())
    z, h, w = result.shape
    row, col = result.details["centre_px"]
    say(ctx, f"wrote {result.path}: bead PSF from {result.details['slices']} slices (bead at "
             f"row {row}, col {col}, SNR {result.details['snr']:.0f}), {z} planes "
             f"{result.z_range_nm[0]:g}..{result.z_range_nm[1]:g} nm of {h}x{w} px; "
             f"{result.seconds:.1f} s")
