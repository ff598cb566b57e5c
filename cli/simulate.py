"""``smlmscale simulate``: a synthetic SMLM movie (or section stack) with its ground truth."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any, Optional, Tuple

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import dask_cluster, global_options, say
from smlmscale.cli._progress import progress_bar
from smlmscale.errors import InputError

_MOVIE = "Movie"
_CAMERA = "Background and camera"
_OUTPUT = "Output"
_SECTIONS = "Section stacks (--kind sections)"

#: CLI option -> where it goes in the movie parameters (the YAML keys).
_MOVIE_KEYS = {
    "frames": "frames", "size": "size_px", "pixel_size": "pixel_size_nm", "seed": "seed",
    "chunk_frames": "chunk_frames", "dtype": "dtype", "structure": "structure.kind",
    "sites": "structure.n_sites", "filaments": "structure.n_filaments",
    "clusters": "structure.n_clusters", "density": "emitters.density_per_um2",
    "emitters_per_frame": "emitters.per_frame_range", "on_frames": "emitters.on_frames_mean",
    "photon_threshold": "photons.threshold", "psf": "psf.model",
    "sigma_range": "psf.sigma_nm_range", "z_range": "psf.z_range_nm",
    "background": "background.photons_per_px",
    "nonuniform_background": "background.nonuniform_photons", "qe": "camera.qe",
    "em_gain": "camera.em_gain", "e_per_adu": "camera.e_per_adu",
    "baseline": "camera.baseline_adu", "read_noise": "camera.read_noise_e",
    "read_noise_max": "camera.read_noise_max_e", "spectral": "spectral.enabled",
    "spectral_offset": "spectral.offset_px",
}
#: CLI option -> SectionSettings field.
_SECTION_KEYS = {"sections": "n_sections", "section_thickness": "section_thickness_nm",
                 "clusters": "n_clusters", "size": "size_px", "pixel_size": "pixel_size_nm",
                 "seed": "seed"}
_FLAG = {name: "--" + name.replace("_", "-") for name in [*_MOVIE_KEYS, *_SECTION_KEYS,
                                                          "photons_gamma", "photons_uniform",
                                                          "tiff", "tiff_frames"]}


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"psf.model": v}`` -> ``{"psf": {"model": v}}``."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        head, _, tail = key.partition(".")
        if tail:
            out.setdefault(head, {})[tail] = value
        else:
            out[head] = value
    return out


def movie_overrides(given: dict[str, Any]) -> dict[str, Any]:
    """Nested movie parameters from the options that were given (not None)."""
    if given.get("density") is not None and given.get("emitters_per_frame") is not None:
        raise InputError("give --density or --emitters-per-frame, not both")
    if given.get("photons_gamma") is not None and given.get("photons_uniform") is not None:
        raise InputError("give --photons-gamma or --photons-uniform, not both")
    flat = {_MOVIE_KEYS[k]: v for k, v in given.items() if k in _MOVIE_KEYS and v is not None}
    if given.get("photons_gamma") is not None:
        shape, scale = given["photons_gamma"]
        flat.update({"photons.distribution": "gamma", "photons.gamma_shape": shape,
                     "photons.gamma_scale": scale})
    if given.get("photons_uniform") is not None:
        flat.update({"photons.distribution": "uniform",
                     "photons.uniform_range": list(given["photons_uniform"])})
    for key in ("psf.sigma_nm_range", "psf.z_range_nm", "emitters.per_frame_range"):
        if key in flat:
            flat[key] = list(flat[key])
    return _nest(flat)


@app.command("simulate")
def simulate_command(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", help="OME-Zarr store to write.",
                                         show_default=False)],
    kind: Annotated[str, typer.Option("--kind", help="movie (blinking emitters, camera) or "
                                      "sections (serial-section STORM stack).")] = "movie",
    params: Annotated[Optional[Path], typer.Option(
        "--params", help="YAML file of parameters (see smlmscale.simulate.params); "
                         "options given here override it.")] = None,
    frames: Annotated[Optional[int], typer.Option(
        "--frames", help="Frames (default 1000).", rich_help_panel=_MOVIE)] = None,
    size: Annotated[Optional[int], typer.Option(
        "--size", help="Frame edge, px (default movie 256; sections 1024).")] = None,
    pixel_size: Annotated[Optional[float], typer.Option(
        "--pixel-size", help="Pixel size, nm (default movie 100; sections 155).")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Random seed (default 0).")] = None,
    structure: Annotated[Optional[str], typer.Option(
        "--structure", help="uniform, filaments or clusters (default uniform).",
        rich_help_panel=_MOVIE)] = None,
    sites: Annotated[Optional[int], typer.Option(
        "--sites", help="Fluorophore sites (default 100 x active per frame, >= 1000).",
        rich_help_panel=_MOVIE)] = None,
    filaments: Annotated[Optional[int], typer.Option(
        "--filaments", help="Filaments (default 1 per 3 um of field diagonal).",
        rich_help_panel=_MOVIE)] = None,
    clusters: Annotated[Optional[int], typer.Option(
        "--clusters", help="Clusters (default movie: sites / 20; sections: 300).")] = None,
    density: Annotated[Optional[float], typer.Option(
        "--density", help="Active emitters per um^2 per frame (default 1.0).",
        rich_help_panel=_MOVIE)] = None,
    emitters_per_frame: Annotated[Optional[Tuple[int, int]], typer.Option(
        "--emitters-per-frame", metavar="MIN MAX",
        help="Independent frames with MIN..MAX emitters each (no blinking).",
        rich_help_panel=_MOVIE)] = None,
    on_frames: Annotated[Optional[float], typer.Option(
        "--on-frames", help="Mean on-run length, frames (default 4).",
        rich_help_panel=_MOVIE)] = None,
    photons_gamma: Annotated[Optional[Tuple[float, float]], typer.Option(
        "--photons-gamma", metavar="SHAPE SCALE", help="Gamma photons per emitter (default 4 500).",
        rich_help_panel=_MOVIE)] = None,
    photons_uniform: Annotated[Optional[Tuple[float, float]], typer.Option(
        "--photons-uniform", metavar="MIN MAX", help="Uniform photons per emitter instead.",
        rich_help_panel=_MOVIE)] = None,
    photon_threshold: Annotated[Optional[float], typer.Option(
        "--photon-threshold", help="Detection threshold, photons: dimmer emitters are "
                                   "rendered but flagged detectable=0 (default 0).",
        rich_help_panel=_MOVIE)] = None,
    psf: Annotated[Optional[str], typer.Option(
        "--psf", help="gaussian or astigmatic (default gaussian).", rich_help_panel=_MOVIE)] = None,
    sigma_range: Annotated[Optional[Tuple[float, float]], typer.Option(
        "--sigma-range", metavar="MIN MAX", help="In-focus PSF sigma per emitter, nm "
                                                 "[120 150].", rich_help_panel=_MOVIE)] = None,
    z_range: Annotated[Optional[Tuple[float, float]], typer.Option(
        "--z-range", metavar="MIN MAX", help="Axial range, nm, with --psf astigmatic "
                                             "[-600 600].", rich_help_panel=_MOVIE)] = None,
    spectral: Annotated[Optional[bool], typer.Option(
        "--spectral/--no-spectral", help="Add each emitter's dispersed spectrum (default off).",
        rich_help_panel=_MOVIE)] = None,
    spectral_offset: Annotated[Optional[float], typer.Option(
        "--spectral-offset", help="Emitter to spectral box distance, px (default 230).",
        rich_help_panel=_MOVIE)] = None,
    background: Annotated[Optional[float], typer.Option(
        "--background", help="Uniform background, photons/px (default 20).",
        rich_help_panel=_CAMERA)] = None,
    nonuniform_background: Annotated[Optional[float], typer.Option(
        "--nonuniform-background", help="Peak of the super-Gaussian background, "
                                        "photons/px (default 0).", rich_help_panel=_CAMERA)] = None,
    qe: Annotated[Optional[float], typer.Option(
        "--qe", help="Quantum efficiency (default 0.9).", rich_help_panel=_CAMERA)] = None,
    em_gain: Annotated[Optional[float], typer.Option(
        "--em-gain", help="EMCCD gain; 1 = no EM stage (default 1).",
        rich_help_panel=_CAMERA)] = None,
    e_per_adu: Annotated[Optional[float], typer.Option(
        "--e-per-adu", help="Electrons per ADU (default 1).", rich_help_panel=_CAMERA)] = None,
    baseline: Annotated[Optional[float], typer.Option(
        "--baseline", help="Camera offset, ADU (default 100).", rich_help_panel=_CAMERA)] = None,
    read_noise: Annotated[Optional[float], typer.Option(
        "--read-noise", help="Read noise sigma, e- (default 1.5).",
        rich_help_panel=_CAMERA)] = None,
    read_noise_max: Annotated[Optional[float], typer.Option(
        "--read-noise-max", help="Non-uniform read noise: sigma at the field's centre, e-.",
        rich_help_panel=_CAMERA)] = None,
    sections: Annotated[Optional[int], typer.Option(
        "--sections", help="Sections (default 40).", rich_help_panel=_SECTIONS)] = None,
    section_thickness: Annotated[Optional[float], typer.Option(
        "--section-thickness", help="Section thickness, nm (default 70).",
        rich_help_panel=_SECTIONS)] = None,
    chunk_frames: Annotated[Optional[int], typer.Option(
        "--chunk-frames", help="Frames per chunk and task (default about 16 MiB).",
        rich_help_panel=_OUTPUT)] = None,
    dtype: Annotated[Optional[str], typer.Option(
        "--dtype", help="uint16, uint8, uint32 or float32 (default uint16).",
        rich_help_panel=_OUTPUT)] = None,
    truth: Annotated[Optional[Path], typer.Option(
        "--truth", help="Ground-truth Parquet table (default <OUT stem>_truth.parquet).",
        rich_help_panel=_OUTPUT)] = None,
    tiff: Annotated[bool, typer.Option(
        "--tiff", help="Also write an OME-TIFF series in <OUT stem>_tiff/.",
        rich_help_panel=_OUTPUT)] = False,
    tiff_frames: Annotated[Optional[int], typer.Option(
        "--tiff-frames", help="Frames per TIFF file (default up to 2 GiB per file).",
        rich_help_panel=_OUTPUT)] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace existing outputs once the new ones are complete.",
        rich_help_panel=_OUTPUT)] = False,
) -> None:
    """Simulate a blinking-emitter SMLM movie (or a section stack) with its ground truth."""
    given = {k: v for k, v in locals().items()
             if k in _FLAG and v is not None and not (k == "tiff" and v is False)}
    command = shlex.join(["smlmscale", *sys.argv[1:]])
    if kind == "sections":
        _sections(ctx, output, params, given, truth, overwrite, command)
    elif kind == "movie":
        _movie(ctx, output, params, given, truth, tiff, tiff_frames, overwrite, command)
    else:
        raise InputError(f"unknown --kind {kind!r}", hint="use movie or sections")


def _movie(ctx, output, params, given, truth, tiff, tiff_frames, overwrite, command) -> None:
    from smlmscale.simulate import (check_simulation_outputs, load_settings, settings_from_dict,
                                    simulate_movie)

    stray = [_FLAG[k] for k in given if k in ("sections", "section_thickness")]
    if stray:
        raise InputError(f"{', '.join(stray)} applies to --kind sections only")
    if tiff_frames is not None and tiff_frames < 1:
        raise InputError(f"--tiff-frames must be at least 1, got {tiff_frames}")
    overrides = movie_overrides(given)
    settings = (load_settings(params, overrides) if params is not None
                else settings_from_dict(overrides))
    if given.get("z_range") is not None and not settings.psf.is_3d:
        raise InputError("--z-range needs --psf astigmatic")
    check_simulation_outputs(output, truth_path=truth, tiff=tiff, overwrite=overwrite)
    with dask_cluster(ctx) as client, progress_bar(global_options(ctx), "simulate") as update:
        result = simulate_movie(output, settings=settings, client=client, truth_path=truth,
                                tiff=tiff, tiff_frames_per_file=tiff_frames,
                                overwrite=overwrite, command=command, progress=update)
    t, h, w = result.shape
    extra = f", {len(result.tiff_paths)} TIFF file(s)" if result.tiff_paths else ""
    say(ctx, f"wrote {result.path}: {t} frames of {h}x{w} {result.dtype} "
             f"({settings.psf.model} PSF, {settings.structure.kind}), "
             f"{result.n_emitters} emitter-frames ({result.emitters_per_frame:.1f} per frame) "
             f"in {result.truth_path}{extra}; {result.seconds:.1f} s "
             f"({result.frames_per_s:.0f} frames/s)")


def _sections(ctx, output, params, given, truth, overwrite, command) -> None:
    import dataclasses

    from smlmscale.ingest import check_output
    from smlmscale.simulate.params import load_params
    from smlmscale.simulate.sections import SectionSettings, simulate_sections

    stray = [_FLAG[k] for k in given if k not in _SECTION_KEYS]
    if stray:
        raise InputError(f"{', '.join(stray)} applies to movies only (--kind movie)")
    kwargs = dict(load_params(params)) if params is not None else {}
    names = {f.name for f in dataclasses.fields(SectionSettings)}
    unknown = sorted(str(k) for k in kwargs if k not in names)
    if unknown:
        raise InputError(f"unknown section parameter(s): {', '.join(unknown)}", path=params)
    kwargs.update({_SECTION_KEYS[k]: v for k, v in given.items()})
    settings = SectionSettings(**kwargs)
    check_output(output, overwrite=overwrite, resume=True)
    with dask_cluster(ctx) as client:
        result = simulate_sections(output, settings=settings, client=client, truth_path=truth,
                                   overwrite=overwrite, command=command)
    say(ctx, f"wrote {result['path']}: {result['n_sections']} sections of "
             f"{settings.size_px}x{settings.size_px} px, {result['n_clusters']} clusters, "
             f"{result['n_localizations']} localizations in {result['truth_path']}, "
             f"{result['n_rois']} ROIs; {result['seconds']:.1f} s")
