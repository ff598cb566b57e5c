"""``smlmscale simulate``: a synthetic SMLM movie (or section stack) with its ground truth.

Parse, build the settings (the options laid over the ``--params`` YAML file), prepare,
run on the cluster, report. The options that set one parameter are declared by the
tables below: their type, help and shown default come from the settings field.
"""

from __future__ import annotations

import inspect
import os
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Optional, Tuple

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import (command_line, dask_cluster, global_options, say,
                                    settings_option)
from smlmscale.cli._progress import progress_bar
from smlmscale.errors import InputError
from smlmscale.settings import shown_default
from smlmscale.simulate.settings import MovieSettings, PhotonSettings, SectionSettings

_MOVIE = "Movie"
_CAMERA = "Background and camera"
_OUTPUT = "Output"
_SECTIONS = "Section stacks (--kind sections)"

_GAMMA_HELP = (f"Gamma photons per emitter [{shown_default(PhotonSettings, 'gamma_shape')} "
               f"{shown_default(PhotonSettings, 'gamma_scale')}].")

#: Movie options: parameter -> (flag, YAML key of the movie parameter, help panel).
_MOVIE_OPTIONS = {
    "frames": ("--frames", "frames", _MOVIE),
    "structure": ("--structure", "structure.kind", _MOVIE),
    "sites": ("--sites", "structure.n_sites", _MOVIE),
    "filaments": ("--filaments", "structure.n_filaments", _MOVIE),
    "density": ("--density", "emitters.density_per_um2", _MOVIE),
    "emitters_per_frame": ("--emitters-per-frame", "emitters.per_frame_range", _MOVIE),
    "on_frames": ("--on-frames", "emitters.on_frames_mean", _MOVIE),
    "photon_threshold": ("--photon-threshold", "photons.threshold", _MOVIE),
    "psf": ("--psf", "psf.model", _MOVIE),
    "sigma_range": ("--sigma-range", "psf.sigma_nm_range", _MOVIE),
    "z_range": ("--z-range", "psf.z_range_nm", _MOVIE),
    "spectral": ("--spectral/--no-spectral", "spectral.enabled", _MOVIE),
    "spectral_offset": ("--spectral-offset", "spectral.offset_px", _MOVIE),
    "background": ("--background", "background.photons_per_px", _CAMERA),
    "nonuniform_background": ("--nonuniform-background", "background.nonuniform_photons",
                              _CAMERA),
    "qe": ("--qe", "camera.qe", _CAMERA),
    "em_gain": ("--em-gain", "camera.em_gain", _CAMERA),
    "e_per_adu": ("--e-per-adu", "camera.e_per_adu", _CAMERA),
    "baseline": ("--baseline", "camera.baseline_adu", _CAMERA),
    "read_noise": ("--read-noise", "camera.read_noise_e", _CAMERA),
    "read_noise_max": ("--read-noise-max", "camera.read_noise_max_e", _CAMERA),
    "background_per_frame": ("--background-per-frame/--background-per-movie",
                             "background.nonuniform_per_frame", _CAMERA),
    "baseline_range": ("--baseline-range", "camera.baseline_range_adu", _CAMERA),
    "shot_noise": ("--shot-noise/--no-shot-noise", "camera.shot_noise", _CAMERA),
    "chunk_frames": ("--chunk-frames", "chunk_frames", _OUTPUT),
    "dtype": ("--dtype", "dtype", _OUTPUT),
}
#: Options of both kinds: parameter -> (flag, movie YAML key, SectionSettings field).
_SHARED_OPTIONS = {
    "size": ("--size", "size_px", "size_px"),
    "pixel_size": ("--pixel-size", "pixel_size_nm", "pixel_size_nm"),
    "seed": ("--seed", "seed", "seed"),
    "clusters": ("--clusters", "structure.n_clusters", "n_clusters"),
}
#: Section-stack options: parameter -> (flag, SectionSettings field).
_SECTION_OPTIONS = {
    "sections": ("--sections", "n_sections"),
    "section_thickness": ("--section-thickness", "section_thickness_nm"),
}


def _movie_field(key: str) -> tuple[type, str]:
    """``"psf.sigma_nm_range"`` -> ``(PsfSettings, "sigma_nm_range")``."""
    cls, *parts, name = (MovieSettings, *key.split("."))
    for part in parts:
        cls = typing.get_type_hints(cls)[part]
    return cls, name


def _option_type(cls: type, name: str) -> tuple[Any, dict]:
    """The typer type of field ``name`` (always optional: None is "not given") and its
    metavar."""
    hint = typing.get_type_hints(cls)[name]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is tuple:
        return Optional[Tuple[typing.get_args(hint)]], {"metavar": "MIN MAX"}
    return Optional[hint], {}


def _table_options() -> list[inspect.Parameter]:
    """The options of the tables, as keyword parameters defaulting to None."""
    options = []
    for name, (flag, key, panel) in _MOVIE_OPTIONS.items():
        cls, field = _movie_field(key)
        kind, extra = _option_type(cls, field)
        options.append((name, kind, settings_option(cls, field, flag, rich_help_panel=panel,
                                                     **extra)))
    for name, (flag, key, section_field) in _SHARED_OPTIONS.items():
        cls, field = _movie_field(key)
        both = (f"movie {shown_default(cls, field)}; "
                f"sections {shown_default(SectionSettings, section_field)}")
        kind, _ = _option_type(SectionSettings, section_field)
        options.append((name, kind, settings_option(cls, field, flag, default_text=both)))
    for name, (flag, field) in _SECTION_OPTIONS.items():
        kind, _ = _option_type(SectionSettings, field)
        options.append((name, kind, settings_option(SectionSettings, field, flag,
                                                     rich_help_panel=_SECTIONS)))
    return [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                              annotation=Annotated[kind, option])
            for name, kind, option in options]


def _with_table_options(func):
    """Declare the table options to typer: they join ``func``'s signature as keywords."""
    signature = inspect.signature(func, eval_str=True)
    fixed = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    func.__signature__ = signature.replace(parameters=[*fixed, *_table_options()])
    func.__annotations__ = {p.name: p.annotation
                            for p in func.__signature__.parameters.values()}
    return func


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


def is_psf_file(value: str) -> bool:
    """Whether ``--psf VALUE`` names a PSF file: an existing PSF store, or ``*.zarr``."""
    from smlmscale.psf.store import is_psf_store

    return value.rstrip("/\\").lower().endswith(".zarr") or is_psf_store(value)


def movie_overrides(given: dict[str, Any]) -> dict[str, Any]:
    """Nested movie parameters from the options that were given (not None); ``--psf FILE``
    sets ``psf.model: file`` and ``psf.file``, ``--psf MODEL`` clears ``psf.file``."""
    if given.get("density") is not None and given.get("emitters_per_frame") is not None:
        raise InputError("give --density or --emitters-per-frame, not both")
    if given.get("photons_gamma") is not None and given.get("photons_uniform") is not None:
        raise InputError("give --photons-gamma or --photons-uniform, not both")
    keys = {**{k: v[1] for k, v in _MOVIE_OPTIONS.items()},
            **{k: v[1] for k, v in _SHARED_OPTIONS.items()}}
    flat = {keys[k]: list(v) if isinstance(v, tuple) else v
            for k, v in given.items() if k in keys and v is not None}
    if given.get("psf") is not None:
        psf = given["psf"]
        flat["psf.file"] = os.path.abspath(psf) if is_psf_file(psf) else None
        flat["psf.model"] = "file" if flat["psf.file"] is not None else psf
    if given.get("photons_gamma") is not None:
        shape, scale = given["photons_gamma"]
        flat.update({"photons.distribution": "gamma", "photons.gamma_shape": shape,
                     "photons.gamma_scale": scale})
    if given.get("photons_uniform") is not None:
        flat.update({"photons.distribution": "uniform",
                     "photons.uniform_range": list(given["photons_uniform"])})
    return _nest(flat)


def _refuse(given: dict[str, Any], names, where: str) -> None:
    flags = {**{k: v[0] for k, v in [*_MOVIE_OPTIONS.items(), *_SECTION_OPTIONS.items()]},
             "photons_gamma": "--photons-gamma", "photons_uniform": "--photons-uniform",
             "tiff": "--tiff", "tiff_frames": "--tiff-frames"}
    stray = [flags[k] for k in given if k in names]
    if stray:
        raise InputError(f"{', '.join(stray)} applies to {where}")


@app.command("simulate")
@_with_table_options
def simulate_command(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", help="OME-Zarr store to write.",
                                         show_default=False)],
    data_kind: Annotated[str, typer.Option("--kind", help="movie (blinking emitters, camera) "
                                           "or sections (serial-section STORM stack).")
                         ] = "movie",
    params: Annotated[Optional[Path], typer.Option(
        "--params", help="YAML file of parameters (see smlmscale.simulate.params); "
                         "options given here override it.")] = None,
    photons_gamma: Annotated[Optional[Tuple[float, float]], typer.Option(
        "--photons-gamma", metavar="SHAPE SCALE", help=_GAMMA_HELP,
        rich_help_panel=_MOVIE)] = None,
    photons_uniform: Annotated[Optional[Tuple[float, float]], typer.Option(
        "--photons-uniform", metavar="MIN MAX", help="Uniform photons per emitter instead.",
        rich_help_panel=_MOVIE)] = None,
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
    **options: Any,
) -> None:
    """Simulate a blinking-emitter SMLM movie (or a section stack) with its ground truth."""
    given = {k: v for k, v in options.items() if v is not None}
    movie_only = {"photons_gamma": photons_gamma, "photons_uniform": photons_uniform,
                  "tiff": tiff or None, "tiff_frames": tiff_frames}
    given.update({k: v for k, v in movie_only.items() if v is not None})
    kinds = {"movie": _movie, "sections": _sections}
    if data_kind not in kinds:
        raise InputError(f"unknown --kind {data_kind!r}", hint="use movie or sections")
    kinds[data_kind](ctx, output, params, given, truth, tiff, tiff_frames, overwrite)


def _movie(ctx, output, params, given, truth, tiff, tiff_frames, overwrite) -> None:
    from smlmscale.simulate.params import load_settings
    from smlmscale.simulate.run import prepare_simulate, run_simulate

    _refuse(given, _SECTION_OPTIONS, "--kind sections only")
    overrides = movie_overrides(given)
    settings = (load_settings(params, overrides) if params is not None
                else MovieSettings.from_mapping(overrides))
    if given.get("z_range") is not None and not settings.psf.is_3d:
        raise InputError("--z-range needs --psf astigmatic or a PSF file")
    plan = prepare_simulate(output, settings=settings, truth_path=truth, tiff=tiff,
                            tiff_frames_per_file=tiff_frames, overwrite=overwrite,
                            command=command_line())
    with dask_cluster(ctx) as client, progress_bar(global_options(ctx), "simulate") as update:
        result = run_simulate(plan, client=client, progress=update)
    t, h, w = result.shape
    extra = f", {len(result.tiff_paths)} TIFF file(s)" if result.tiff_paths else ""
    say(ctx, f"wrote {result.path}: {t} frames of {h}x{w} {result.dtype} "
             f"({settings.psf.label}, {settings.structure.kind}), "
             f"{result.n_emitters} emitter-frames ({result.emitters_per_frame:.1f} per frame) "
             f"in {result.truth_path}{extra}; {result.seconds:.1f} s "
             f"({result.frames_per_s:.0f} frames/s)")


def _sections(ctx, output, params, given, truth, tiff, tiff_frames, overwrite) -> None:
    from smlmscale.simulate.params import load_settings
    from smlmscale.simulate.sections import prepare_sections, run_sections

    _refuse(given, set(given) - {*_SHARED_OPTIONS, *_SECTION_OPTIONS},
            "movies only (--kind movie)")
    fields = {**{k: v[2] for k, v in _SHARED_OPTIONS.items()},
              **{k: v[1] for k, v in _SECTION_OPTIONS.items()}}
    overrides = {fields[k]: v for k, v in given.items()}
    settings = (load_settings(params, overrides, settings_class=SectionSettings)
                if params is not None else SectionSettings.from_mapping(overrides))
    plan = prepare_sections(output, settings=settings, truth_path=truth, overwrite=overwrite,
                            command=command_line())
    with dask_cluster(ctx) as client:
        result = run_sections(plan, client=client)
    say(ctx, f"wrote {result['path']}: {result['n_sections']} sections of "
             f"{settings.size_px}x{settings.size_px} px, {result['n_clusters']} clusters, "
             f"{result['n_localizations']} localizations in {result['truth_path']}, "
             f"{result['n_rois']} ROIs; {result['seconds']:.1f} s")
