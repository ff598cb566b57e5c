"""Movie settings as plain data: YAML parameter files (Deep-STORM3D style) and dicts.

A parameter file holds any subset of the settings, in sections named like the
parts of :class:`~smlmscale.simulate.settings.MovieSettings`; everything left
out keeps its default::

    frames: 20000
    size_px: 256            # or [height, width]
    pixel_size_nm: 100
    seed: 1
    structure: {kind: filaments}
    emitters: {density_per_um2: 1.5, on_frames_mean: 4}
    photons: {distribution: gamma, gamma_shape: 4, gamma_scale: 500, threshold: 0}
    psf: {model: astigmatic, z_range_nm: [-600, 600], sigma_nm_range: [120, 150]}
    background: {photons_per_px: 20, nonuniform_photons: 60}
    camera: {qe: 0.9, em_gain: 1, baseline_adu: 100, read_noise_e: 1.5}

Unknown keys are errors (naming every one of them), so a typo never silently
falls back to a default. Command-line options override the file:
:func:`merge_params` lays one nested dict over another before
:meth:`MovieSettings.from_mapping <smlmscale.settings.Settings.from_mapping>` builds
and checks the settings (:func:`load_settings` does both); a section stack's file
holds the fields of :class:`~smlmscale.simulate.settings.SectionSettings`.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from smlmscale.errors import InputError
from smlmscale.settings import Settings
from smlmscale.simulate.settings import MovieSettings


def merge_params(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` laid over it, mappings merged key by key."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_params(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_params(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML parameter file into a dict (not yet checked: see :func:`load_settings`).

    Raises
    ------
    InputError
        Missing or unreadable file, malformed YAML, or a document that is not a mapping.
    """
    import yaml

    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError:
        raise InputError("no such parameter file", path=path) from None
    except IsADirectoryError:
        raise InputError("the parameter file is a folder", path=path) from None
    except UnicodeDecodeError:
        raise InputError("not a YAML text file", path=path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "malformed"
        raise InputError(f"malformed YAML{where}: {problem}", path=path) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"a parameter file must hold a mapping of parameters, not a "
                         f"{type(data).__name__}", path=path)
    return data


def load_settings(path: str | os.PathLike, overrides: Mapping[str, Any] | None = None, *,
                  settings_class: type[Settings] = MovieSettings) -> Any:
    """Settings from a YAML file, with ``overrides`` (nested dict) laid over it.

    Parameters
    ----------
    path : str or os.PathLike
        The parameter file.
    overrides : mapping, optional
        Values that replace the file's (the command-line options).
    settings_class : type
        :class:`MovieSettings` (default) or
        :class:`~smlmscale.simulate.settings.SectionSettings`.

    Raises
    ------
    InputError
        As :func:`load_params`; unknown keys or bad values, naming the file.
    """
    data = merge_params(load_params(path), overrides or {})
    return settings_class.from_mapping(data, source=path)


def dump_params(settings: Settings, path: str | os.PathLike) -> None:
    """Write the settings as a YAML parameter file that :func:`load_settings` reads back."""
    import yaml

    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(settings.to_mapping(), handle, sort_keys=False)


__all__ = ["dump_params", "load_params", "load_settings", "merge_params"]
