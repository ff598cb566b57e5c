"""Kernels of the section-stack simulator: truth, STORM-tiff rendering, saturation, ROI tiles.

NumPy/pandas in, NumPy/pandas out: no Dask, no paths, no printing. The model is
described in :mod:`smlmscale.simulate.sections`. Coordinates follow the canonical
table: nm from the top-left *corner* of pixel (0, 0), so pixel ``i`` spans
``[i, i + 1) * pixel_size_nm`` along its axis; images are ``(y, x)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import erf

from smlmscale.errors import InputError
from smlmscale.simulate.settings import SPOT_TRUNCATE_SIGMA, SectionSettings

TRUTH_COLUMNS = ("frame", "x_nm", "y_nm", "z_nm", "uncertainty_nm", "section", "cluster")
ROI_COLUMNS = ("roi", "section", "x", "y", "size", "cluster", "n_localizations")

#: Spots are truncated at this many standard deviations (then renormalized to mass 1).
TRUNCATE_SIGMA = SPOT_TRUNCATE_SIGMA
_BATCH_PIXELS = 1 << 22  # spot pixels per batch: about 32 MiB per work array


def _axis_weights(coord_px: np.ndarray, sigma_px: np.ndarray,
                  offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel indices ``(n, k)`` and the mass of a 1D Gaussian in each, normalized per row."""
    index = np.floor(coord_px).astype(np.int64)[:, None] + offsets[None, :]
    scale = 1.0 / (np.sqrt(2.0) * sigma_px)[:, None]
    weights = 0.5 * (erf((index + 1 - coord_px[:, None]) * scale)
                     - erf((index - coord_px[:, None]) * scale))
    weights /= weights.sum(axis=1, keepdims=True)
    return index, weights


def render_localizations(x_nm, y_nm, sigma_nm, *, shape: tuple[int, int],
                         pixel_size_nm: float) -> np.ndarray:
    """Render localizations as a STORM-tiff image (before saturation).

    Every localization adds a 2D Gaussian of standard deviation ``sigma_nm`` (its
    localization precision), integrated exactly over each pixel with the error
    function and truncated at :data:`TRUNCATE_SIGMA` standard deviations, with total
    mass 1. A spot much smaller than a pixel therefore lands in the pixel that holds
    it, and the image becomes a 2D histogram of localization counts; a spot of about
    a pixel or more is a smooth blob. Mass falling outside the image is lost.

    Parameters
    ----------
    x_nm, y_nm : array_like of float, shape (n,)
        Positions in nm, origin at the top-left corner of pixel (0, 0).
    sigma_nm : array_like of float, shape (n,)
        Spot standard deviation in nm (> 0).
    shape : tuple of int
        ``(height, width)`` of the image in pixels.
    pixel_size_nm : float
        Edge of one pixel in nm.

    Returns
    -------
    numpy.ndarray of float32, shape ``(height, width)``
        Localizations per pixel: the image sums to the number of localizations
        whose spots lie inside it.

    Examples
    --------
    >>> image = render_localizations([150.0], [50.0], [1.0], shape=(2, 3), pixel_size_nm=100.0)
    >>> image.tolist()
    [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    """
    height, width = (int(v) for v in shape)
    x = np.asarray(x_nm, dtype=np.float64).ravel() / pixel_size_nm
    y = np.asarray(y_nm, dtype=np.float64).ravel() / pixel_size_nm
    sigma = np.broadcast_to(np.asarray(sigma_nm, dtype=np.float64), x.shape) / pixel_size_nm
    image = np.zeros(height * width, dtype=np.float64)
    if x.size:
        radius = int(np.ceil(TRUNCATE_SIGMA * sigma.max()))
        offsets = np.arange(-radius, radius + 1)
        batch = max(256, _BATCH_PIXELS // offsets.size ** 2)
        for start in range(0, x.size, batch):
            part = slice(start, start + batch)
            ix, wx = _axis_weights(x[part], sigma[part], offsets)
            iy, wy = _axis_weights(y[part], sigma[part], offsets)
            inside = (((iy >= 0) & (iy < height))[:, :, None]
                      & ((ix >= 0) & (ix < width))[:, None, :])
            flat = iy[:, :, None] * width + ix[:, None, :]
            mass = wy[:, :, None] * wx[:, None, :]
            image += np.bincount(flat[inside], mass[inside], minlength=height * width)
    return image.reshape(height, width).astype(np.float32)


def saturate(image: np.ndarray, level: float | None) -> np.ndarray:
    """Clip an image at ``level`` (the artificial saturation of STORM-tiffs).

    Parameters
    ----------
    image : numpy.ndarray
    level : float or None
        Saturation level in the image's units; ``None`` leaves the image as it is.

    Returns
    -------
    numpy.ndarray
        Same dtype; every pixel above ``level`` equals ``level``.
    """
    if level is None:
        return image
    return np.minimum(image, image.dtype.type(level))


def tile_origins(first_px: np.ndarray, last_px: np.ndarray, *, size_px: int,
                 extent_px: int) -> np.ndarray:
    """Top-left corners of tiles centred on pixel ranges, clipped to the image.

    Parameters
    ----------
    first_px, last_px : numpy.ndarray of int
        First and last pixel index (inclusive) of each footprint along one axis.
    size_px : int
        Tile edge in pixels; at least ``last_px - first_px + 1`` everywhere.
    extent_px : int
        Image size along the axis, at least ``size_px``.

    Returns
    -------
    numpy.ndarray of int64
        Tile starts in ``[0, extent_px - size_px]``; each tile holds its footprint.

    Examples
    --------
    >>> tile_origins(np.array([10, 0, 95]), np.array([13, 1, 99]), size_px=8, extent_px=100)
    array([ 8,  0, 92])
    """
    first = np.asarray(first_px, dtype=np.int64)
    span = np.asarray(last_px, dtype=np.int64) - first + 1
    if np.any(span > size_px):
        raise ValueError(f"a footprint of {int(span.max())} px does not fit a {size_px} px tile")
    return np.clip(first - (size_px - span) // 2, 0, extent_px - size_px)


def _truncated_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal draws redrawn until within +-TRUNCATE_SIGMA."""
    values = rng.standard_normal(shape)
    bad = np.abs(values) > TRUNCATE_SIGMA
    while bad.any():
        values[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(values) > TRUNCATE_SIGMA
    return values


def _place_clusters(rng: np.random.Generator, s: SectionSettings):
    """Centres (n, 3) nm, semi-axes (n, 3) nm and angles (n,) of non-overlapping clusters."""
    from scipy.spatial import cKDTree

    m = 4 * s.n_clusters + 64
    semi = rng.uniform(*s.cluster_diameter_nm, size=(m, 3)) / 2
    angle = rng.uniform(0.0, np.pi, size=m)
    halo = TRUNCATE_SIGMA * s.precision_nm[1]
    reach = semi[:, :2].max(axis=1) + halo
    xy = rng.uniform(reach[:, None], s.image_width_nm - reach[:, None], size=(m, 2))
    centres = np.column_stack([xy, rng.uniform(0.0, s.depth_nm, size=m)])
    bound = semi.max(axis=1) + halo
    tree, taken = cKDTree(centres), np.zeros(m, dtype=bool)
    chosen: list[int] = []
    for i in range(m):
        if len(chosen) == s.n_clusters:
            break
        near = [j for j in tree.query_ball_point(centres[i], bound[i] + bound.max()) if taken[j]]
        if near and np.any(np.linalg.norm(centres[near] - centres[i], axis=1)
                           < bound[i] + bound[near]):
            continue
        taken[i] = True
        chosen.append(i)
    if len(chosen) < s.n_clusters:
        raise InputError(f"cannot place {s.n_clusters} non-overlapping clusters in a "
                         f"{s.image_width_nm / 1000:g} um x {s.depth_nm / 1000:g} um volume",
                         hint="use fewer clusters, a larger image or more sections")
    return centres[chosen], semi[chosen], angle[chosen]


def simulate_truth(settings: SectionSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw the clusters and every localization of a section stack.

    Parameters
    ----------
    settings : SectionSettings

    Returns
    -------
    truth : pandas.DataFrame
        Canonical localization table (:data:`TRUTH_COLUMNS`), ordered by section, then
        cluster (background last): ``frame`` = ``section`` (int64, 0-based), ``x_nm``,
        ``y_nm`` (nm from the corner of pixel (0, 0)), ``z_nm`` (nm from the top of the
        volume), ``uncertainty_nm`` (lateral precision), ``cluster`` (-1 background).
    clusters : pandas.DataFrame
        One row per cluster: ``cluster``; ``x_nm``, ``y_nm``, ``z_nm``, the centroid of
        its localizations inside the volume (NaN if none); ``centre_x_nm``,
        ``centre_y_nm``, ``centre_z_nm`` of the ellipsoid; its semi-axes
        ``radius_a_nm`` (along ``angle_rad`` from +x towards +y), ``radius_b_nm``,
        ``radius_z_nm``; ``n_localizations``; ``first_section``, ``last_section`` (-1
        if none).
    """
    s = settings
    rng = np.random.default_rng(s.seed)
    centres, semi, angle = _place_clusters(rng, s)
    counts = rng.integers(s.locs_per_cluster[0], s.locs_per_cluster[1] + 1, size=s.n_clusters)
    owner = np.repeat(np.arange(s.n_clusters), counts)
    direction = rng.standard_normal((owner.size, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    local = direction * rng.uniform(size=(owner.size, 1)) ** (1 / 3) * semi[owner]
    cos, sin = np.cos(angle[owner]), np.sin(angle[owner])
    sigma = rng.uniform(*s.precision_nm, size=owner.size)
    jitter = _truncated_normal(rng, (owner.size, 2)) * sigma[:, None]
    x = centres[owner, 0] + cos * local[:, 0] - sin * local[:, 1] + jitter[:, 0]
    y = centres[owner, 1] + sin * local[:, 0] + cos * local[:, 1] + jitter[:, 1]
    z = centres[owner, 2] + local[:, 2]
    area_um2 = (s.image_width_nm / 1000.0) ** 2
    n_background = rng.poisson(s.background_per_um2 * area_um2, size=s.n_sections)
    total = int(n_background.sum())
    bg_section = np.repeat(np.arange(s.n_sections), n_background)
    bg = rng.uniform(0.0, s.image_width_nm, size=(total, 2))
    bg_z = (bg_section + rng.uniform(size=total)) * s.section_thickness_nm
    bg_sigma = rng.uniform(*s.precision_nm, size=total)

    width = s.image_width_nm
    keep = (x >= 0) & (x < width) & (y >= 0) & (y < width) & (z >= 0) & (z < s.depth_nm)
    x, y, z = np.concatenate([x[keep], bg[:, 0]]), np.concatenate([y[keep], bg[:, 1]]), \
        np.concatenate([z[keep], bg_z])
    cluster = np.concatenate([owner[keep], np.full(total, -1)]).astype(np.int64)
    section = np.minimum(np.floor(z / s.section_thickness_nm).astype(np.int64), s.n_sections - 1)
    order = np.argsort(section, kind="stable")
    truth = pd.DataFrame({
        "frame": section[order], "x_nm": x[order], "y_nm": y[order], "z_nm": z[order],
        "uncertainty_nm": np.concatenate([sigma[keep], bg_sigma])[order],
        "section": section[order], "cluster": cluster[order]})
    return truth, _cluster_table(truth, centres, semi, angle)


def _cluster_table(truth: pd.DataFrame, centres, semi, angle) -> pd.DataFrame:
    members = truth[truth["cluster"] >= 0].groupby("cluster")
    stats = members.agg(x_nm=("x_nm", "mean"), y_nm=("y_nm", "mean"), z_nm=("z_nm", "mean"),
                        n_localizations=("x_nm", "size"), first_section=("section", "min"),
                        last_section=("section", "max"))
    table = pd.DataFrame({"cluster": np.arange(len(centres), dtype=np.int64)})
    table = table.join(stats, on="cluster")
    for name in ("n_localizations", "first_section", "last_section"):
        table[name] = table[name].fillna(0 if name == "n_localizations" else -1).astype(np.int64)
    table["centre_x_nm"], table["centre_y_nm"], table["centre_z_nm"] = centres.T
    table["radius_a_nm"], table["radius_b_nm"], table["radius_z_nm"] = semi.T
    table["angle_rad"] = angle
    return table


def roi_table(truth: pd.DataFrame, settings: SectionSettings) -> pd.DataFrame:
    """ROI tiles: one per (cluster, section) that holds localizations of the cluster.

    Parameters
    ----------
    truth : pandas.DataFrame
        As returned by :func:`simulate_truth`.
    settings : SectionSettings

    Returns
    -------
    pandas.DataFrame
        :data:`ROI_COLUMNS`, int64, ordered by section then cluster: ``roi`` (0, 1, ...),
        ``section``, ``x`` / ``y`` (column / row of the tile's top-left pixel), ``size``
        (tile edge, px), ``cluster`` and ``n_localizations`` (of that cluster in that
        section). The tile spans pixels ``[x, x + size) x [y, y + size)``, i.e.
        ``[x * p, (x + size) * p)`` nm, and holds all those localizations.
    """
    size, p = settings.tile_size_px, settings.pixel_size_nm
    own = truth[truth["cluster"] >= 0]
    px = pd.DataFrame({"section": own["section"], "cluster": own["cluster"],
                       "col": np.floor(own["x_nm"] / p).astype(np.int64),
                       "row": np.floor(own["y_nm"] / p).astype(np.int64)})
    box = px.groupby(["section", "cluster"], sort=True).agg(
        c0=("col", "min"), c1=("col", "max"), r0=("row", "min"), r1=("row", "max"),
        n=("col", "size")).reset_index()
    x = tile_origins(box["c0"].to_numpy(), box["c1"].to_numpy(), size_px=size,
                     extent_px=settings.size_px)
    y = tile_origins(box["r0"].to_numpy(), box["r1"].to_numpy(), size_px=size,
                     extent_px=settings.size_px)
    columns = {"roi": np.arange(len(box)), "section": box["section"], "x": x, "y": y,
               "size": np.full(len(box), size), "cluster": box["cluster"],
               "n_localizations": box["n"]}
    return pd.DataFrame({k: np.asarray(v, dtype=np.int64) for k, v in columns.items()})


def render_section(x_nm, y_nm, sigma_nm, *, settings: SectionSettings) -> np.ndarray:
    """One section's STORM-tiff: rendered localizations, saturated; float32 ``(y, x)``."""
    image = render_localizations(x_nm, y_nm, sigma_nm, shape=(settings.size_px,) * 2,
                                 pixel_size_nm=settings.pixel_size_nm)
    return saturate(image, settings.saturation_level)
