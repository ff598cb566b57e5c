"""Synthetic serial-section STORM stacks: synapse-like 3D clusters cut into sections.

The model, in the order it is drawn (all from one ``numpy.random.Generator`` seeded
with ``SectionSettings.seed``, once, in the calling process; rendering is a pure
function of a section's localizations, so the stack is the same with or without a
Dask client and for any number of workers). The settings are
:class:`~smlmscale.simulate.settings.SectionSettings`:

1. **Clusters.** ``n_clusters`` ellipsoids whose three principal diameters are
   drawn independently from ``cluster_diameter_nm`` (spheres to 4:1 discs), with a
   uniform in-plane orientation ``angle_rad`` (the axial semi-axis stays along z).
   Centres are uniform in the volume ``[0, W) x [0, W) x [0, n_sections *
   thickness)`` (``W = size_px * pixel_size_nm``), laterally far enough from the
   image edge for the cluster and its jitter to fit, and accepted in draw order
   only if their bounding spheres (largest semi-axis + 4 x the largest precision)
   do not touch an accepted one: synapses do not overlap. Clusters near the top or
   bottom of the volume are cut by it, as a tissue block cuts synapses.
2. **Localizations.** Each cluster gets an integer count from ``locs_per_cluster``,
   placed uniformly inside its ellipsoid, then jittered laterally by a Gaussian
   (truncated at 4 sigma) of its precision, drawn per localization from
   ``precision_nm`` (column ``uncertainty_nm``); z is not jittered: it decides the
   section physically. Localizations outside the volume are dropped.
   **Background** (non-specific) localizations: Poisson, ``background_per_um2`` per
   um^2 per section, uniform in each section, ``cluster`` = -1.
3. **Sections.** Section ``k`` holds ``k * t <= z_nm < (k + 1) * t``, so
   ``section = floor(z_nm / t)``; ``frame`` equals ``section`` so that
   frame-based tools (rendering, evaluation by frame) treat a section as a frame.
4. **STORM-tiff rendering.** Every localization of a section adds a Gaussian spot
   of its precision, pixel-integrated and normalized to mass 1
   (:func:`~smlmscale.simulate.sections_render.render_localizations`): the image
   unit is *localizations per pixel*, and at the default 155 nm pixels (spots of
   10-20 nm) the image is a 2D histogram of localization counts.
5. **Artificial saturation.** As in the seed ("the Stormtiff images are
   artificially saturated to some extent ... most of the bright pixels in clusters"
   saturate and their gradients are lost), every pixel above
   ``SectionSettings.saturation_level`` is set to it. The level is given as a
   density, ``saturation_per_um2`` localizations per um^2 (120 -> 2.88 per 155 nm
   pixel), so the same tissue saturates alike at any pixel size. At the defaults
   the median cluster pixel holds 3 localizations, so the brighter half of the
   cluster pixels (about 80 % of the cluster localizations) clip, while lone
   background localizations (1 per pixel) do not. ``None`` renders
   unsaturated stacks (the seed's ``*_no_saturation`` images). Images are float32.
6. **ROI tiles.** One square tile of ``tile_size_px`` per (cluster, section) with
   localizations of that cluster: ``x`` (column), ``y`` (row) is its top-left pixel,
   centred on the bounding box of those localizations' pixels and shifted to lie
   inside the image; it holds them all. Other localizations may also fall in it.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from smlmscale import __version__
from smlmscale.errors import InputError
from smlmscale.io.chunk_writer import ProgressCallback
from smlmscale.io.outputs import check_output, staged_output, utc_now
from smlmscale.simulate.run import check_simulation_store
from smlmscale.simulate.sections_render import (ROI_COLUMNS, TRUTH_COLUMNS, render_section,
                                                roi_table, simulate_truth)
from smlmscale.simulate.settings import SectionSettings


def _section_jobs(truth: pd.DataFrame, n_sections: int) -> list[tuple]:
    """``(section, x_nm, y_nm, sigma_nm)`` per section of a section-ordered truth table."""
    bounds = np.searchsorted(truth["section"].to_numpy(), np.arange(n_sections + 1))
    columns = [truth[c].to_numpy() for c in ("x_nm", "y_nm", "uncertainty_nm")]
    return [(k, *(c[a:b] for c in columns)) for k, (a, b) in enumerate(zip(bounds, bounds[1:]))]


def section_stack(settings: SectionSettings
                  ) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """In-memory kernel for small stacks and tests.

    Returns
    -------
    images : numpy.ndarray of float32, shape ``(n_sections, size_px, size_px)``
        The saturated STORM-tiff stack, axes ``(z, y, x)``.
    truth, clusters : pandas.DataFrame
        See :func:`simulate_truth`.
    rois : pandas.DataFrame
        See :func:`roi_table`.
    """
    truth, clusters = simulate_truth(settings)
    images = np.stack([render_section(*job[1:], settings=settings)
                       for job in _section_jobs(truth, settings.n_sections)])
    return images, truth, roi_table(truth, settings), clusters


def _render_task(section: int, x_nm, y_nm, sigma_nm, *, settings: SectionSettings,
                 store_path: str) -> tuple[int, int, int]:
    """Render one section into the store; returns (section, saturated px, non-zero px)."""
    import zarr

    image = render_section(x_nm, y_nm, sigma_nm, settings=settings)
    zarr.open_array(store_path, path="0", mode="r+")[section] = image
    level = settings.saturation_level
    saturated = 0 if level is None else int(np.count_nonzero(image >= np.float32(level)))
    return section, saturated, int(np.count_nonzero(image))


def _table_path(given, output: Path, suffix: str) -> Path:
    if given is not None:
        return Path(os.path.abspath(given))
    stem = output.name.removesuffix(".zarr").removesuffix(".ome")
    return output.parent / f"{stem}{suffix}"


@dataclass(frozen=True)
class SectionsPlan:
    """A checked section-stack simulation (:func:`prepare_sections`), ready for
    :func:`run_sections`.

    Attributes
    ----------
    output : pathlib.Path
        The store, absolute.
    tables : dict of str to pathlib.Path
        ``truth``, ``rois`` and ``clusters``: the tables to write, absolute.
    settings : SectionSettings
    overwrite : bool
    command : str or None
    zarr_format : int
    compressor : str
    """

    output: Path
    tables: dict
    settings: SectionSettings
    overwrite: bool = False
    command: str | None = None
    zarr_format: int = 3
    compressor: str = "zstd"


def prepare_sections(output, *, settings: SectionSettings, truth_path=None, rois_path=None,
                     clusters_path=None, overwrite: bool = False, command: str | None = None,
                     zarr_format: int = 3, compressor: str = "zstd") -> SectionsPlan:
    """Check a section-stack simulation and every output; cheap, starts nothing.

    Parameters are those of :func:`simulate_sections`.

    Raises
    ------
    InputError
        An output exists without ``overwrite`` (or is a folder where a file is written),
        its folder does not exist, or another command's interrupted run is in
        ``OUT.partial``.
    """
    if not isinstance(settings, SectionSettings):
        raise InputError(f"settings must be SectionSettings, got {type(settings).__name__}")
    final = Path(os.path.abspath(os.fspath(output)))
    check_simulation_store(final, overwrite=overwrite)
    tables = {"truth": _table_path(truth_path, final, "_truth.parquet"),
              "rois": _table_path(rois_path, final, "_rois.csv"),
              "clusters": _table_path(clusters_path, final, "_clusters.parquet")}
    for path in tables.values():
        check_output(path, overwrite=overwrite, kind="file")
    return SectionsPlan(output=final, tables=tables, settings=settings, overwrite=overwrite,
                        command=command, zarr_format=zarr_format, compressor=compressor)


def run_sections(plan: SectionsPlan, *, client=None,
                 progress: ProgressCallback | None = None) -> dict:
    """Simulate the section stack of a :class:`SectionsPlan` and write it with its truth.

    Parameters
    ----------
    plan : SectionsPlan
        From :func:`prepare_sections`.
    client : distributed.Client, optional
        Render the sections as tasks (one per section, each writing its own chunk
        row); ``None`` renders in this process. The result is the same.
    progress : callable, optional
        ``progress(sections_done, sections_total, 0)`` as sections are rendered.

    Returns
    -------
    dict
        As :func:`simulate_sections`.
    """
    from smlmscale.io.ome_zarr import create_image_store, update_smlmscale_attrs
    from smlmscale.io.tables import TableMeta, write_table

    started, s = time.perf_counter(), plan.settings
    truth, clusters = simulate_truth(s)
    rois = roi_table(truth, s)
    with contextlib.ExitStack() as stack:
        store = stack.enter_context(staged_output(plan.output, overwrite=plan.overwrite,
                                                  discard_interrupted=True))
        temps = {key: stack.enter_context(staged_output(path, overwrite=plan.overwrite,
                                                        kind="file")).path
                 for key, path in plan.tables.items()}
        edge = min(s.size_px, 2048)
        create_image_store(
            store.path, shape=(s.n_sections, s.size_px, s.size_px), dtype=np.float32,
            chunks=(1, edge, edge), compressor=plan.compressor, axes="zyx",
            pixel_size_nm=s.pixel_size_nm, zarr_format=plan.zarr_format,
            attrs={"kind": "sections", "version": __version__, "command": plan.command,
                   "created": utc_now(), "section_thickness_nm": s.section_thickness_nm,
                   "saturation_level": s.saturation_level, "image_units": "localizations/pixel",
                   "settings": s.to_mapping(), "tiles_px": s.tile_size_px,
                   "tables": {k: p.name for k, p in plan.tables.items()}})
        stats = _render_all(client, _section_jobs(truth, s.n_sections), settings=s,
                            store_path=str(store.path), progress=progress)
        saturated, nonzero = (sum(v[i] for v in stats) for i in (1, 2))
        update_smlmscale_attrs(store.path, completed=utc_now(), n_localizations=len(truth))
        write_table(truth, temps["truth"], format="parquet", meta=TableMeta(
            pixel_size_nm=s.pixel_size_nm, image_shape=(s.size_px, s.size_px),
            n_frames=s.n_sections, source=f"smlmscale simulate sections (seed {s.seed})",
            extra={"section_thickness_nm": s.section_thickness_nm}))
        rois.to_csv(temps["rois"], index=False)
        clusters.to_parquet(temps["clusters"], index=False)
    return {"path": str(plan.output), **{f"{k}_path": str(p) for k, p in plan.tables.items()},
            "n_sections": s.n_sections, "n_clusters": s.n_clusters,
            "n_localizations": len(truth), "n_rois": len(rois),
            "saturation_level": s.saturation_level,
            "saturated_fraction": saturated / nonzero if nonzero else 0.0,
            "seconds": time.perf_counter() - started}


def simulate_sections(output, *, settings: SectionSettings, client=None, truth_path=None,
                      rois_path=None, clusters_path=None, overwrite: bool = False,
                      command: str | None = None, zarr_format: int = 3,
                      compressor: str = "zstd") -> dict:
    """Simulate a section stack and write it with its ground truth.

    :func:`prepare_sections` then :func:`run_sections`.

    Parameters
    ----------
    output : str or os.PathLike
        OME-Zarr store to create: float32 ``(z, y, x)``, one section per chunk (tiles of
        at most 2048 px), lateral scale ``pixel_size_nm``; group attribute
        ``"smlmscale"`` holds ``kind: "sections"``, ``section_thickness_nm``,
        ``saturation_level``, ``settings`` and provenance. Built in ``OUT.partial``
        and renamed when complete.
    settings : SectionSettings
    client : distributed.Client, optional
        Render the sections as tasks; ``None`` renders in this process.
    truth_path, rois_path, clusters_path : str or os.PathLike, optional
        Default ``<OUT stem>_truth.parquet`` (canonical table), ``<OUT stem>_rois.csv``
        and ``<OUT stem>_clusters.parquet``, beside the store.
    overwrite : bool
        Replace existing outputs (only once the new ones are complete).
    command : str, optional
        The command line, recorded as provenance.
    zarr_format : {3, 2}
    compressor : {"zstd", "lz4", "none"}

    Returns
    -------
    dict
        ``path``, ``truth_path``, ``rois_path``, ``clusters_path``, ``n_sections``,
        ``n_clusters``, ``n_localizations``, ``n_rois``, ``saturation_level``,
        ``saturated_fraction`` (of non-zero pixels), ``seconds``.

    Raises
    ------
    InputError
        As :func:`prepare_sections`.
    """
    plan = prepare_sections(output, settings=settings, truth_path=truth_path,
                            rois_path=rois_path, clusters_path=clusters_path,
                            overwrite=overwrite, command=command, zarr_format=zarr_format,
                            compressor=compressor)
    return run_sections(plan, client=client)


def _render_all(client, jobs: list[tuple], *, settings: SectionSettings, store_path: str,
                progress: ProgressCallback | None = None) -> list[tuple[int, int, int]]:
    if client is None:
        stats = []
        for job in jobs:
            stats.append(_render_task(*job, settings=settings, store_path=store_path))
            if progress is not None:
                progress(len(stats), len(jobs), 0)
        return stats
    from distributed import as_completed

    futures = client.map(_render_task, *zip(*jobs), settings=settings, store_path=store_path,
                         pure=False)
    try:
        if progress is not None:
            for done, _ in enumerate(as_completed(futures), 1):
                progress(done, len(futures), 0)
        return client.gather(futures)
    finally:
        client.cancel(futures)


__all__ = ["ROI_COLUMNS", "SectionSettings", "SectionsPlan", "TRUTH_COLUMNS", "prepare_sections",
           "render_section", "roi_table", "run_sections", "section_stack", "simulate_sections",
           "simulate_truth"]
