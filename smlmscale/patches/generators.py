"""The patch generators: one record each, registered in :data:`GENERATORS`.

A :class:`Generator` says everything the orchestrator (:mod:`smlmscale.patches.run`) and
the command line need to know about a kind of training pairs: its settings class, the
table columns it reads, whether it takes an ROI list or exports TIFFs, the stores it
accepts, whether its patch count is planned from the table or streamed, and the function
that builds its lazy work. Adding a generator is adding a record here; nothing else
switches on the kind.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from smlmscale.errors import InputError
from smlmscale.patches.base import Generated
from smlmscale.patches.counts import CountsSettings
from smlmscale.patches.deepstorm import DeepstormSettings
from smlmscale.patches.deepstorm3d import Deepstorm3dSettings
from smlmscale.patches.fusion_graph import FusionSettings
from smlmscale.patches.stacks import FramesSettings
from smlmscale.patches.summed import CARRIED, SummedSettings
from smlmscale.settings import Settings, field_names, flag_of


@dataclass(frozen=True)
class Generator:
    """One patch generator.

    Attributes
    ----------
    name : str
        ``--kind`` value and the patch set's ``generator`` attribute.
    settings : type
        Its :class:`~smlmscale.settings.Settings` class (every field a ``patches`` option).
    build : callable
        ``build(movie, table, *, pixel_size_nm, settings, chunk, runner, rois, rois_path)``
        -> ``(Generated, export source or None)``; ``rois`` is the ROI list (a DataFrame)
        for generators that take one.
    columns : tuple of str
        Table columns it always needs beyond ``frame``.
    member_columns : callable
        ``member_columns(settings)``: the further columns the settings need (photon
        weights, z bins).
    carried : tuple of str
        Table columns read when the table has them.
    rois : bool
        Takes an ROI list (``--rois``), required.
    first_axes : str
        First axes of the stores it accepts (``"t"``: movies; ``"tz"``: section stacks too).
    accepts : str
        The stores it accepts, in messages.
    planned : bool
        Its patch count is known before a pixel is read (written region by region);
        otherwise its pairs are streamed.
    export : callable, optional
        ``export(source, out, *, runner)`` writes the ``--export-tiff`` folder into
        ``out`` (a :class:`~smlmscale.io.outputs.Staged` folder); the option does not
        apply without it.
    check : callable, optional
        ``check(settings, shape, path)``: cheap checks of the settings against the
        store's shape ``(t, y, x)``, before anything runs.
    summary : str
        A few words for the help.
    """

    name: str
    settings: type
    build: Callable[..., tuple[Generated, Any]]
    columns: tuple[str, ...] = ("x_nm", "y_nm")
    member_columns: Callable[[Any], tuple[str, ...]] = lambda settings: ()
    carried: tuple[str, ...] = ()
    rois: bool = False
    first_axes: str = "t"
    accepts: str = "a movie (t,y,x)"
    planned: bool = True
    export: Callable[..., Any] | None = None
    check: Callable[[Any, tuple, str], None] | None = None
    summary: str = ""

    def table_columns(self, settings: Any) -> tuple[list[str], list[str]]:
        """``(columns to read, columns that must exist)`` with ``settings``."""
        need = list(self.columns) + [c for c in self.member_columns(settings)
                                     if c not in self.columns]
        return need + [c for c in self.carried if c not in need], need

    def make_settings(self, given: Mapping[str, Any] | Settings | None = None) -> Settings:
        """Settings from an instance of :attr:`settings`, or from a mapping of fields.

        A field of another generator is refused by its flag (``--bin-size does not apply
        to --kind deepstorm``); unknown names as :meth:`Settings.from_mapping` does.
        """
        if isinstance(given, self.settings):
            return given
        if isinstance(given, Settings):
            raise InputError(f"{type(given).__name__} are not the settings of --kind "
                             f"{self.name}", hint=f"give {self.settings.__name__}")
        given = dict(given or {})
        own = set(field_names(self.settings))
        for name in given:
            owner = next((g for g in GENERATORS.values()
                          if name not in own and name in field_names(g.settings)), None)
            if owner is not None:
                raise InputError(f"{{flag}} does not apply to --kind {self.name}", param=name,
                                 flag=flag_of(owner.settings, name),
                                 hint=f"see smlmscale patches --help for the {self.name} "
                                      "options")
        return self.settings.from_mapping(given)

    def check_options(self, *, rois: Any = None, export_tiff: Any = None) -> None:
        """Refuse ``--rois`` / ``--export-tiff`` where they do not apply (or are missing)."""
        if self.rois and rois is None:
            raise InputError(f"--kind {self.name} needs an ROI list", hint="pass --rois rois.csv")
        if not self.rois and rois is not None:
            kinds = " and ".join(g.name for g in GENERATORS.values() if g.rois)
            raise InputError(f"--rois is used by --kind {kinds} only, not {self.name}")
        if export_tiff is not None and self.export is None:
            raise InputError(f"--export-tiff does not apply to --kind {self.name}")

    def read_rois(self, path: str | os.PathLike, shape: tuple) -> Any:
        """The ROI list at ``path``, checked against the stack's shape ``(z, y, x)``."""
        from smlmscale.io.rois import check_rois, read_rois

        rois = read_rois(path)
        check_rois(rois, n_sections=shape[0], height=shape[1], width=shape[2], path=path)
        return rois

    def check_store(self, axes: str, path: str) -> None:
        """Refuse a store whose axes this generator does not read."""
        if len(axes) != 3 or axes[1:] != "yx" or axes[:1] not in self.first_axes:
            raise InputError(f"--kind {self.name} needs {self.accepts}, found axes "
                             f"{','.join(axes)}", path=path)


def _check_patch_size(settings: Any, shape: tuple, path: str) -> None:
    size = settings.patch_size_px
    if size > min(shape[1:]):
        raise InputError(f"patch size {size} px is larger than the {shape[1]}x{shape[2]} "
                         "frame", path=path, hint="lower --patch-size")


def _check_frames(settings: Any, shape: tuple, path: str) -> None:
    _check_patch_size(settings, shape, path)
    if settings.context > shape[0]:
        raise InputError(f"--context {settings.context} needs at least {settings.context} "
                         f"frames, the movie has {shape[0]}", path=path,
                         hint="lower --context")


def _check_fusion(settings: Any, shape: tuple, path: str) -> None:
    from smlmscale.patches.fusion_graph import check_geometry

    check_geometry(settings, shape[1], shape[2], path)


def _build_deepstorm(movie, table, *, pixel_size_nm, settings, chunk, runner, **_):
    from smlmscale.patches.deepstorm_graph import build_deepstorm

    return build_deepstorm(movie, table, pixel_size_nm=pixel_size_nm, settings=settings,
                           chunk=chunk, runner=runner), None


def _build_fusion(movie, table, *, pixel_size_nm, settings, chunk, runner, **_):
    from smlmscale.patches.fusion_graph import build_fusion

    return build_fusion(movie, table, pixel_size_nm=pixel_size_nm, settings=settings,
                        chunk=chunk, runner=runner), None


def _build_summed(movie, table, *, pixel_size_nm, settings, chunk, runner, **_):
    """The pairs and the raw sums they are built on (what ``--export-tiff`` writes)."""
    from smlmscale.patches.summed_graph import build_summed, summed_raw

    raw = summed_raw(movie, table, pixel_size_nm=pixel_size_nm, settings=settings,
                     chunk=chunk, runner=runner)
    return build_summed(movie, table, pixel_size_nm=pixel_size_nm, settings=settings,
                        chunk=chunk, runner=runner, raw=raw), raw


def _build_counts(movie, table, *, pixel_size_nm, settings, chunk, runner, rois, rois_path,
                  **_):
    from smlmscale.patches.counts_graph import build_counts

    return build_counts(movie, table, rois=rois, pixel_size_nm=pixel_size_nm,
                        settings=settings, chunk=chunk, runner=runner,
                        rois_path=None if rois_path is None else os.fspath(rois_path)), None


def _build_frames(movie, table, *, pixel_size_nm, settings, chunk, runner, store=None, **_):
    from smlmscale.patches.stacks_graph import build_frames

    return build_frames(movie, table, pixel_size_nm=pixel_size_nm, settings=settings,
                        chunk=chunk, runner=runner, store=store), None


def _build_deepstorm3d(movie, table, *, pixel_size_nm, settings, chunk, runner, store=None,
                       **_):
    from smlmscale.patches.deepstorm3d_graph import build_deepstorm3d

    return build_deepstorm3d(movie, table, pixel_size_nm=pixel_size_nm, settings=settings,
                             chunk=chunk, runner=runner, store=store), None


def _export_summed(raw, out, *, runner):
    from smlmscale.patches.summed_export import write_summed_export

    return write_summed_export(raw, out, runner=runner)


_members = operator.attrgetter("member_columns")


def _registry(*generators: Generator) -> dict[str, Generator]:
    return {g.name: g for g in generators}


#: Every patch generator, by name: the one place a generator is registered.
GENERATORS: dict[str, Generator] = _registry(
    Generator("deepstorm", DeepstormSettings, _build_deepstorm, member_columns=_members,
              check=_check_patch_size,
              summary="Deep-STORM / DSIR pairs: random patches, Gaussian spike targets"),
    Generator("fusion", FusionSettings, _build_fusion, columns=("x_nm", "y_nm", "photons"),
              planned=False, check=_check_fusion,
              summary="spectral SMLM: SF-selected fusion of consecutive-frame runs"),
    Generator("summed", SummedSettings, _build_summed, member_columns=_members, carried=CARRIED,
              export=_export_summed, check=_check_patch_size,
              summary="ImageSumming: random patches of sparse frames summed into dense ones"),
    Generator("counts", CountsSettings, _build_counts, rois=True, first_axes="tz",
              accepts="a movie (t,y,x) or a section stack (z,y,x)",
              summary="localizations per pixel of ROI tiles of a section stack"),
    Generator("frames", FramesSettings, _build_frames, columns=("x_nm", "y_nm", "photons"),
              carried=("z_nm",), check=_check_frames,
              summary="locnet: K-frame stacks at camera resolution, emitter maps of the "
                      "centre frame (3D with a z_nm column)"),
    Generator("deepstorm3d", Deepstorm3dSettings, _build_deepstorm3d,
              columns=("x_nm", "y_nm", "z_nm"), carried=("photons",), check=_check_patch_size,
              summary="Deep-STORM3D: camera-resolution patches, their emitters for a 3D "
                      "voxel grid of --z-voxels slices (needs z_nm)"),
)

#: The generator names, in registration order (``--kind`` values).
KINDS: tuple[str, ...] = tuple(GENERATORS)


def generator(kind: str) -> Generator:
    """The record of ``kind``.

    Raises
    ------
    InputError
        Unknown kind.
    """
    try:
        return GENERATORS[kind]
    except KeyError:
        raise InputError(f"unknown patch kind {kind!r}", hint="use " + ", ".join(KINDS),
                         param="kind", flag="--kind") from None


def field_kinds() -> dict[str, list[Generator]]:
    """Every settings field of any generator -> the generators that have it, in order."""
    out: dict[str, list[Generator]] = {}
    for g in GENERATORS.values():
        for name in field_names(g.settings):
            out.setdefault(name, []).append(g)
    return out


__all__ = ["GENERATORS", "Generator", "KINDS", "field_kinds", "generator"]
