"""Orchestration: score a prediction table against ground truth, in-process or by frame blocks.

:func:`evaluate_tables` matches frame by frame (:mod:`~smlmscale.evaluate.matching`)
and sums the per-block statistics (:mod:`~smlmscale.evaluate.metrics`). Without a
client the whole table is one block, matched in-process with vectorized kernels.
With a client, pandas tables are cut at frame boundaries into blocks of about
``block_rows`` rows (both tables on the same cuts) and dask tables (such as
:func:`~smlmscale.io.tables.read_table_lazy` gives) are persisted partition by
partition and regrouped into frame ranges; each block is matched in one task and
only the sums (and, if kept, the matched pairs) come back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from smlmscale.errors import InputError
from smlmscale.io.tables.notices import warn
from smlmscale.evaluate.block import BlockConfig, BlockResult, CrlbInputs, match_block, \
    table_arrays
from smlmscale.evaluate.frames import (UNCOVERED_FRACTION, restrict_to_frames,
                                       uncovered_truth)
from smlmscale.evaluate.matching import METHODS
from smlmscale.evaluate.metrics import MatchStatistics, summarize
from smlmscale.evaluate.parallel import evaluate_dask_partitions, evaluate_pandas_blocks
from smlmscale.settings import Settings, setting

if TYPE_CHECKING:
    import distributed

    from smlmscale.io.tables import TableMeta

METRIC_KEYS: tuple[str, ...] = (
    "jaccard", "precision", "recall", "f1", "rmse_lateral_nm", "rmse_axial_nm",
    "efficiency_lateral", "efficiency_axial", "tp", "fp", "fn", "n_truth", "n_pred",
    "rmse_3d_nm", "bias_x_nm", "bias_y_nm", "bias_z_nm", "rmse_over_crlb",
    "rmse_over_frame_limit",
)
_REQUIRED = ("frame", "x_nm", "y_nm")
_POSITIVE = {"min": 0, "min_open": True, "unit": "nm"}


@dataclass(frozen=True)
class EvaluateSettings(Settings):
    """Settings of :func:`evaluate_tables`.

    Errors name the parameter itself (``tolerance_lateral_nm must be ...``).

    Parameters
    ----------
    tolerance_lateral_nm : float, optional
        Largest lateral distance of a match, nm (250, inclusive).
    tolerance_axial_nm : float, optional
        Largest ``|dz|`` of a match, nm (500); applied only when both tables have ``z_nm``.
    matching : {"greedy", "hungarian"}, optional
        Matching rule per frame (see :mod:`smlmscale.evaluate.matching`).
    pixel_size_nm : float, optional
        Camera pixel size for the CRLB, nm; default: the truth table's metadata.
    psf_sigma_nm : float, optional
        PSF standard deviation for the CRLB when the truth has no ``sigma_nm`` column, nm.
    background_photons : float, optional
        Background photons per pixel for the CRLB when the truth has no ``background``
        column; without either, 0 (noted in the result).
    noise_factor : float, optional
        CRLB variance factor ``F``: 1 (default), 2 for an EMCCD.
    block_rows : int, optional
        Rows (both tables together) per block task when a client is given.
    keep_pairs : bool, optional
        Return the matched pairs (indices, distances, errors) in the result.
    frame_limit : bool, optional
        Also report ``rmse_over_frame_limit``: the RMSE over each matched truth's limit
        among the other emitters of its frame
        (:func:`~smlmscale.evaluate.crlb_frames.frame_bounds`; needs what the CRLB needs).
        Costs 0.3-0.7 ms per truth row at 0.5-6 emitters/um^2 (one core of this project's
        2-core test machine).
    """

    tolerance_lateral_nm: float = setting(250.0, **_POSITIVE, flag="tolerance_lateral_nm",
                                          help="Largest lateral distance of a match")
    tolerance_axial_nm: float = setting(500.0, **_POSITIVE, flag="tolerance_axial_nm",
                                        help="Largest axial distance of a match (when both "
                                             "tables have z)")
    matching: str = setting("greedy", help="greedy (SMLM Challenge 2016) or hungarian")
    pixel_size_nm: float | None = setting(None, **_POSITIVE, flag="pixel_size_nm",
                                          help="Camera pixel size, for tables in pixels and "
                                               "the CRLB", default_text="the truth's")
    psf_sigma_nm: float | None = setting(None, **_POSITIVE, flag="psf_sigma_nm",
                                         help="PSF sigma for the CRLB when the truth has no "
                                              "sigma_nm column", default_text="the truth's")
    background_photons: float | None = setting(
        None, min=0, unit="photons/pixel", flag="background_photons",
        help="Background for the CRLB when the truth has no background column",
        default_text="the truth's, else 0")
    noise_factor: float = setting(1.0, min=0, min_open=True, flag="noise_factor",
                                  help="CRLB variance factor (2 for an EMCCD)")
    block_rows: int = setting(250_000, min=1, flag="block_rows",
                              help="Rows per block task on a cluster")
    keep_pairs: bool = setting(True, help="Keep the matched pairs in the result")
    frame_limit: bool = setting(False, flag="frame_limit",
                                help="Also score the RMSE over each emitter's limit among "
                                     "the emitters of its frame")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.matching not in METHODS:
            raise InputError(f"unknown matching {self.matching!r}", param="matching",
                             hint="use greedy or hungarian")


@dataclass(frozen=True)
class MatchedPairs:
    """Matched pairs, ordered by truth row.

    Attributes
    ----------
    truth_index, pred_index : numpy.ndarray of int64
        Row positions (``iloc``) in the truth and prediction tables as given.
    distance_nm : numpy.ndarray of float64
        Lateral distance, nm.
    dx_nm, dy_nm : numpy.ndarray of float64
        Errors, prediction minus truth, nm.
    dz_nm : numpy.ndarray of float64 or None
        Axial error, nm; ``None`` unless both tables have ``z_nm``.
    """

    truth_index: np.ndarray
    pred_index: np.ndarray
    distance_nm: np.ndarray
    dx_nm: np.ndarray
    dy_nm: np.ndarray
    dz_nm: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.truth_index.size)


@dataclass(frozen=True)
class EvaluationResult:
    """Metrics of one evaluation (see :mod:`smlmscale.evaluate.metrics` for definitions).

    Fractions: ``jaccard, precision, recall, f1``; nm: ``rmse_*``, ``bias_*``; percent:
    ``efficiency_*``. ``None`` where undefined (no matches; axial values without ``z``;
    ``rmse_over_crlb`` without what the bound needs, see ``notes``;
    ``rmse_over_frame_limit`` unless ``settings.frame_limit``).
    """

    jaccard: float
    precision: float
    recall: float
    f1: float
    rmse_lateral_nm: float | None
    rmse_axial_nm: float | None
    rmse_3d_nm: float | None
    efficiency_lateral: float | None
    efficiency_axial: float | None
    bias_x_nm: float | None
    bias_y_nm: float | None
    bias_z_nm: float | None
    rmse_over_crlb: float | None
    rmse_over_frame_limit: float | None
    tp: int
    fp: int
    fn: int
    n_truth: int
    n_pred: int
    settings: EvaluateSettings
    axial: bool
    statistics: MatchStatistics
    pairs: MatchedPairs | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready metrics (:data:`METRIC_KEYS`) plus ``matching``, tolerances, ``notes``."""
        out: dict[str, Any] = {key: getattr(self, key) for key in METRIC_KEYS}
        out.update(matching=self.settings.matching,
                   tolerance_lateral_nm=self.settings.tolerance_lateral_nm,
                   tolerance_axial_nm=self.settings.tolerance_axial_nm if self.axial else None,
                   notes=list(self.notes))
        return out


def _resolve(pred, truth, settings: EvaluateSettings, truth_meta) -> tuple[BlockConfig, list[str]]:
    notes: list[str] = []
    for df, label in ((truth, "truth"), (pred, "prediction")):
        missing = [c for c in _REQUIRED if c not in df.columns]
        if missing:
            raise InputError(f"the {label} table lacks column(s) {', '.join(missing)}")
    axial = "z_nm" in truth.columns and "z_nm" in pred.columns
    if "z_nm" in truth.columns and not axial:
        notes.append("the prediction table has no z_nm: lateral metrics only")
    elif "z_nm" in pred.columns and not axial:
        notes.append("the truth table has no z_nm: lateral metrics only")
    crlb, why = None, None
    pixel = settings.pixel_size_nm or (truth_meta.pixel_size_nm if truth_meta else None)
    if "photons" not in truth.columns:
        why = "the truth table has no photons column"
    elif pixel is None:
        why = "no pixel size (pass --pixel-size NM)"
    elif "sigma_nm" not in truth.columns and settings.psf_sigma_nm is None:
        why = "the truth table has no sigma_nm column (pass --psf-sigma NM)"
    else:
        background = None if "background" in truth.columns else settings.background_photons
        if background is None and "background" not in truth.columns:
            background = 0.0
            notes.append("CRLB with 0 background photons/pixel: the truth table has no "
                         "background column (pass --background PHOTONS)")
        sigma = None if "sigma_nm" in truth.columns else settings.psf_sigma_nm
        crlb = CrlbInputs(pixel_size_nm=float(pixel), psf_sigma_nm=sigma,
                          background_photons=background, noise_factor=settings.noise_factor)
    if why:
        notes.append(f"rmse_over_crlb skipped: {why}")
        if settings.frame_limit:
            notes.append(f"rmse_over_frame_limit skipped: {why}")
    config = BlockConfig(settings.tolerance_lateral_nm,
                         settings.tolerance_axial_nm if axial else None, settings.matching, crlb,
                         settings.keep_pairs, frame_limit=settings.frame_limit)
    return config, notes


def evaluate_tables(pred, truth, *, settings: EvaluateSettings = EvaluateSettings(),
                    client: distributed.Client | None = None,
                    truth_meta: TableMeta | None = None,
                    frames: tuple[int, int] | None = None) -> EvaluationResult:
    """Score predicted localizations against ground truth (SMLM Challenge 2016 protocol).

    Parameters
    ----------
    pred, truth : pandas.DataFrame or dask.dataframe.DataFrame
        Canonical tables (``frame``, ``x_nm``, ``y_nm``, optional ``z_nm``; the truth
        may have ``photons``, ``sigma_nm``, ``background`` for the CRLB ratio); rows in
        any order (canonical tables are frame-sorted). Dask tables are computed
        in-process without a client, and matched partition by partition with one.
    settings : EvaluateSettings, optional
        Tolerances, matching rule, CRLB inputs, block size.
    client : distributed.Client, optional
        Match blocks of frames in parallel on this cluster; default: in-process.
    truth_meta : TableMeta, optional
        The truth's metadata; its pixel size feeds the CRLB unless the settings give one.
    frames : tuple of int, optional
        ``(first, stop)``: score only these frames of both tables (the frames a
        prediction covers, :func:`~smlmscale.evaluate.frames.predicted_frames`); row
        positions in ``pairs`` are then positions in the restricted tables. Without it,
        a :class:`~smlmscale.io.tables.notices.TableWarning` is issued when more than
        1 % of the truth lies in frames before the prediction's first or after its last
        localization (in-memory tables).

    Returns
    -------
    EvaluationResult
        Metrics; matched pairs in ``pairs`` (when ``settings.keep_pairs``), with row
        positions in the tables as given.

    Raises
    ------
    InputError
        A missing column or NaN coordinates; bad settings.

    Examples
    --------
    >>> import pandas as pd
    >>> truth = pd.DataFrame({"frame": [0, 0, 1], "x_nm": [0.0, 1000, 0], "y_nm": [0.0, 0, 0]})
    >>> pred = pd.DataFrame({"frame": [0, 2], "x_nm": [30.0, 0], "y_nm": [40.0, 0]})
    >>> r = evaluate_tables(pred, truth)
    >>> r.tp, r.fp, r.fn, r.rmse_lateral_nm, round(r.jaccard, 4)
    (1, 1, 2, 50.0, 0.25)
    """
    config, notes = _resolve(pred, truth, settings, truth_meta)
    if frames is not None:
        pred, truth, restricted = restrict_to_frames(pred, truth, frames)
        notes += restricted
    else:
        _warn_uncovered(pred, truth)
    lazy = hasattr(truth, "to_delayed") or hasattr(pred, "to_delayed")
    if lazy and client is None:
        truth, pred = (d.compute() if hasattr(d, "to_delayed") else d for d in (truth, pred))
        lazy = False
    if lazy:
        import dask.dataframe as dd

        truth, pred = (d if hasattr(d, "to_delayed") else dd.from_pandas(d, npartitions=1)
                       for d in (truth, pred))
        blocks = evaluate_dask_partitions(truth, pred, config, client)
    elif client is not None:
        blocks = evaluate_pandas_blocks(truth, pred, config, client, settings.block_rows)
    else:
        blocks = [match_block(table_arrays(truth, config.truth_columns(), label="truth"),
                              table_arrays(pred, config.pred_columns(), label="prediction"),
                              config)]
    stats = sum((b.stats for b in blocks), MatchStatistics())
    metrics = summarize(stats, axial=config.tolerance_axial_nm is not None)
    return EvaluationResult(**metrics, settings=settings,
                            axial=config.tolerance_axial_nm is not None, statistics=stats,
                            pairs=_gather_pairs(blocks, axial=config.tolerance_axial_nm is not None)
                            if config.keep_pairs else None,
                            notes=tuple(notes))


def _warn_uncovered(pred, truth) -> None:
    uncovered = uncovered_truth(pred, truth)
    if uncovered and uncovered[0] > UNCOVERED_FRACTION * len(truth):
        rows, first, last = uncovered
        warn(f"{rows} of {len(truth)} truth localizations lie in frames outside the "
             f"prediction's {first}-{last}, and count as missed; if only part of the movie "
             f"was predicted, score those frames only (evaluate --frames {first}:{last + 1})")


def _gather_pairs(blocks: list[BlockResult], *, axial: bool) -> MatchedPairs:
    pieces = [b.pairs for b in blocks if b.pairs is not None]
    keys = ("truth_index", "pred_index", "distance_nm", "dx_nm", "dy_nm", "dz_nm")
    cols: dict[str, Any] = {}
    for key in keys:
        if pieces and key in pieces[0]:
            cols[key] = np.concatenate([p[key] for p in pieces])
        elif key != "dz_nm" or axial:
            cols[key] = np.empty(0, np.int64 if key.endswith("index") else np.float64)
    ti = cols["truth_index"]
    if ti.size > 1 and np.any(ti[1:] < ti[:-1]):
        order = np.argsort(ti, kind="stable")
        cols = {k: v[order] for k, v in cols.items()}
    return MatchedPairs(**cols)
