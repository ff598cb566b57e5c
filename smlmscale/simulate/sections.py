"""Synthetic serial-section STORM stacks: synapse-like 3D clusters cut into sections.

The model, in the order it is drawn (all from one ``numpy.random.Generator`` seeded
with :attr:`SectionSettings.seed`, once, in the calling process; rendering is a
pure function of a section's localizations, so the stack is the same with or
without a Dask client and for any number of workers):

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
   :attr:`SectionSettings.saturation_level` is set to it. The level is given as a
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

import math
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.special import erf
import pandas as pd

from smlmscale import __version__
from smlmscale.errors import InputError
from smlmscale.validate import integer as _integer
from smlmscale.simulate.sections_render import (ROI_COLUMNS, TRUNCATE_SIGMA, TRUTH_COLUMNS,
                                                render_section, roi_table, simulate_truth)


@dataclass(frozen=True)
class SectionSettings:
    """What section stack to simulate (built by the CLI from ``simulate --kind sections``).

    Attributes
    ----------
    n_sections : int
        Number of sections (z planes). Default 40 (2.8 um of tissue).
    section_thickness_nm : float
        Section thickness in nm. Default 70, the usual ultrathin serial section.
    n_clusters : int
        Number of synapse-like clusters. Default 300.
    size_px : int
        Edge of each square section image in pixels. Default 1024.
    pixel_size_nm : float
        Rendered STORM-tiff pixel in nm. Default 155, a usual camera pixel (100x
        objective) and 8-15 times the localization precision: a synapse covers a few
        pixels holding tens of localizations each, so count targets are dense and
        saturation erases the intensity gradient inside clusters, and 300 synapses in
        the 159 um field rarely share a tile. The seed renders its STORM-tiffs at 1/10
        of the camera pixel (``storm_image_scale = 10``) with 72 px tiles: 15.5 gives
        that geometry (tiles then default to 64 px); there a cluster pixel holds far
        fewer localizations, so saturation (floored at two lone-localization peaks,
        see :attr:`saturation_level`) clips only the densest clusters.
    seed : int
        Seed of the random generator; the same seed gives the same stack.
    cluster_diameter_nm : (float, float)
        Range of each principal diameter of the ellipsoids in nm. Default (200, 800):
        synaptic protein clusters.
    locs_per_cluster : (int, int)
        Inclusive range of localizations per cluster. Default (50, 500).
    precision_nm : (float, float)
        Range of the lateral localization precision (Gaussian sigma) in nm. Default
        (10, 20), typical of STORM with Alexa 647.
    background_per_um2 : float
        Non-specific localizations per um^2 per section. Default 0.02 (about a fifth
        of all localizations at the defaults).
    saturation_per_um2 : float or None
        Saturation level as localizations per um^2 (see :attr:`saturation_level`);
        ``None``: no saturation. Default 120.
    roi_size_px : int or None
        ROI tile edge in pixels; ``None`` picks :attr:`tile_size_px`.
    """

    n_sections: int = 40
    section_thickness_nm: float = 70.0
    n_clusters: int = 300
    size_px: int = 1024
    pixel_size_nm: float = 155.0
    seed: int = 0
    cluster_diameter_nm: tuple[float, float] = (200.0, 800.0)
    locs_per_cluster: tuple[int, int] = (50, 500)
    precision_nm: tuple[float, float] = (10.0, 20.0)
    background_per_um2: float = 0.02
    saturation_per_um2: float | None = 120.0
    roi_size_px: int | None = None

    def __post_init__(self) -> None:
        for name, minimum in (("n_sections", 1), ("n_clusters", 0), ("size_px", 8), ("seed", 0)):
            object.__setattr__(self, name, _integer(name, getattr(self, name), minimum))
        for name in ("section_thickness_nm", "pixel_size_nm"):
            object.__setattr__(self, name, _number(name, getattr(self, name), positive=True))
        object.__setattr__(self, "background_per_um2",
                           _number("background_per_um2", self.background_per_um2))
        if self.saturation_per_um2 is not None:
            object.__setattr__(self, "saturation_per_um2",
                               _number("saturation_per_um2", self.saturation_per_um2, True))
        object.__setattr__(self, "cluster_diameter_nm",
                           _range("cluster_diameter_nm", self.cluster_diameter_nm, float))
        object.__setattr__(self, "locs_per_cluster",
                           _range("locs_per_cluster", self.locs_per_cluster, int))
        object.__setattr__(self, "precision_nm", _range("precision_nm", self.precision_nm, float))
        if self.n_clusters == 0 and self.background_per_um2 == 0:
            raise InputError("nothing to simulate: no clusters and no background",
                             hint="ask for at least one cluster")
        needed = math.ceil(self.max_footprint_nm / self.pixel_size_nm) + 2
        if self.roi_size_px is not None:
            size = _integer("roi_size_px", self.roi_size_px, 1)
            object.__setattr__(self, "roi_size_px", size)
            if size < needed:
                raise InputError(f"ROI tiles of {size} px cannot hold a cluster "
                                 f"({needed} px at {self.pixel_size_nm:g} nm per pixel)",
                                 hint=f"use a tile size of at least {needed} px")
        if self.tile_size_px > self.size_px:
            raise InputError(f"the {self.size_px} px image is smaller than one ROI tile "
                             f"({self.tile_size_px} px)", hint="use a larger image size")

    @property
    def max_footprint_nm(self) -> float:
        """Largest lateral extent of one cluster's localizations in nm (diameter + jitter)."""
        return self.cluster_diameter_nm[1] + 2 * TRUNCATE_SIGMA * self.precision_nm[1]

    @property
    def tile_size_px(self) -> int:
        """ROI tile edge in px: ``roi_size_px``, or the smallest multiple of 8 (at least 32,
        a network-friendly patch) that holds the largest cluster footprint."""
        if self.roi_size_px is not None:
            return self.roi_size_px
        needed = math.ceil(self.max_footprint_nm / self.pixel_size_nm) + 2
        return max(32, 8 * math.ceil(needed / 8))

    @property
    def saturation_level(self) -> float | None:
        """Saturation level in image units (localizations per pixel), or ``None``.

        ``saturation_per_um2`` over the pixel area, but never below twice the
        peak pixel of one lone localization (precision at the low end of
        ``precision_nm``, centred in a pixel): a lone localization never clips,
        whatever the pixel size. At 155 nm pixels the density term decides
        (2.88 against 2 x 1.00); at the seed's 15.5 nm pixels the floor does
        (2 x 0.32).
        """
        if self.saturation_per_um2 is None:
            return None
        half_pixel = self.pixel_size_nm / (2 * np.sqrt(2) * self.precision_nm[0])
        lone_peak = float(erf(half_pixel)) ** 2
        return max(self.saturation_per_um2 * (self.pixel_size_nm / 1000.0) ** 2, 2 * lone_peak)

    @property
    def image_width_nm(self) -> float:
        """Lateral edge of the volume in nm."""
        return self.size_px * self.pixel_size_nm

    @property
    def depth_nm(self) -> float:
        """Axial extent of the volume in nm."""
        return self.n_sections * self.section_thickness_nm


def _number(name: str, value, positive: bool = False) -> float:
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        raise InputError(f"{name} must be a finite {'positive' if positive else 'non-negative'}"
                         f" number, got {value!r}")
    return number


def _range(name: str, value, kind) -> tuple:
    try:
        low, high = value
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a (low, high) pair, got {value!r}") from None
    if kind is int:
        low, high = _integer(name, low, 1), _integer(name, high, 1)
    else:
        low, high = _number(name, low, True), _number(name, high, True)
    if low > high:
        raise InputError(f"{name} must have low <= high, got {value!r}")
    return low, high


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


def _table_path(given, output: str, suffix: str) -> Path:
    if given is not None:
        return Path(given).absolute()
    stem = Path(output).name.removesuffix(".zarr").removesuffix(".ome")
    return Path(output).parent / f"{stem}{suffix}"


def simulate_sections(output, *, settings: SectionSettings, client=None, truth_path=None,
                      rois_path=None, clusters_path=None, overwrite: bool = False,
                      command: str | None = None, zarr_format: int = 3,
                      compressor: str = "zstd") -> dict:
    """Simulate a section stack and write it with its ground truth.

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
        Render the sections as tasks (one per section, each writing its own chunk
        row); ``None`` renders in this process. The result is the same.
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
        An output exists without ``overwrite``, or its folder does not exist.
    """
    from smlmscale.io.outputs import check_output, move_into_place, partial_path, utc_now
    from smlmscale.io.ome_zarr import create_image_store, update_smlmscale_attrs
    from smlmscale.io.tables import TableMeta, write_table

    started = time.perf_counter()
    final, partial = os.path.abspath(os.fspath(output)), partial_path(output)
    tables = {"truth": _table_path(truth_path, final, "_truth.parquet"),
              "rois": _table_path(rois_path, final, "_rois.csv"),
              "clusters": _table_path(clusters_path, final, "_clusters.parquet")}
    if os.path.exists(partial) and not overwrite:
        raise InputError("an interrupted simulation is here", path=partial,
                         hint="pass --overwrite to start again")
    check_output(final, overwrite=overwrite, resume=True)  # OUT.partial is handled above
    for path in tables.values():
        if path.is_dir():
            raise InputError("output is a folder, not a file", path=path)
        if path.exists() and not overwrite:
            raise InputError("output exists", path=path, hint="pass --overwrite to replace it")
        if not path.parent.is_dir():
            raise InputError("the output's folder does not exist", path=path.parent)
    truth, clusters = simulate_truth(settings)
    rois = roi_table(truth, settings)
    s, tag = settings, uuid.uuid4().hex[:8]
    temps = {k: p.with_name(f".{p.name}.{tag}.tmp") for k, p in tables.items()}
    shutil.rmtree(partial, ignore_errors=True)
    try:
        edge = min(s.size_px, 2048)
        create_image_store(
            partial, shape=(s.n_sections, s.size_px, s.size_px), dtype=np.float32,
            chunks=(1, edge, edge), compressor=compressor, axes="zyx",
            pixel_size_nm=s.pixel_size_nm, zarr_format=zarr_format,
            attrs={"kind": "sections", "version": __version__, "command": command,
                   "created": utc_now(), "section_thickness_nm": s.section_thickness_nm,
                   "saturation_level": s.saturation_level, "image_units": "localizations/pixel",
                   "settings": asdict(s), "tiles_px": s.tile_size_px,
                   "tables": {k: os.path.basename(p) for k, p in tables.items()}})
        stats = _render_all(client, _section_jobs(truth, s.n_sections), settings=s,
                            store_path=partial)
        saturated, nonzero = (sum(v[i] for v in stats) for i in (1, 2))
        update_smlmscale_attrs(partial, completed=utc_now(), n_localizations=len(truth))
        write_table(truth, temps["truth"], format="parquet", meta=TableMeta(
            pixel_size_nm=s.pixel_size_nm, image_shape=(s.size_px, s.size_px),
            n_frames=s.n_sections, source=f"smlmscale simulate sections (seed {s.seed})",
            extra={"section_thickness_nm": s.section_thickness_nm}))
        rois.to_csv(temps["rois"], index=False)
        clusters.to_parquet(temps["clusters"], index=False)
        for key, path in tables.items():
            os.replace(temps[key], path)
        move_into_place(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        for temp in temps.values():
            temp.unlink(missing_ok=True)
        raise
    return {"path": final, **{f"{k}_path": str(p) for k, p in tables.items()},
            "n_sections": s.n_sections, "n_clusters": s.n_clusters,
            "n_localizations": len(truth), "n_rois": len(rois),
            "saturation_level": s.saturation_level,
            "saturated_fraction": saturated / nonzero if nonzero else 0.0,
            "seconds": time.perf_counter() - started}


def _render_all(client, jobs: list[tuple], *, settings: SectionSettings,
                store_path: str) -> list[tuple[int, int, int]]:
    if client is None:
        return [_render_task(*job, settings=settings, store_path=store_path) for job in jobs]
    futures = client.map(_render_task, *zip(*jobs), settings=settings, store_path=store_path,
                         pure=False)
    try:
        return client.gather(futures)
    finally:
        client.cancel(futures)


__all__ = ["ROI_COLUMNS", "SectionSettings", "TRUTH_COLUMNS", "render_section", "roi_table",
           "section_stack", "simulate_sections", "simulate_truth"]
