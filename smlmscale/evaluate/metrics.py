"""Kernels: detection and localization metrics from sums over matched pairs.

Every metric is a function of a few sums (:class:`MatchStatistics`) that add up
over blocks of frames, so blocks matched in parallel combine exactly (up to float
summation order). Definitions (SMLM Challenge 2016; Sage et al., "Super-resolution
fight club: assessment of 2D and 3D single-molecule localization microscopy
software", Nat. Methods 16, 387-395 (2019), doi:10.1038/s41592-019-0364-4):

* Jaccard index ``TP / (TP + FP + FN)``, a fraction in ``[0, 1]``;
  precision ``TP / n_pred``, recall ``TP / n_truth``, F1 their harmonic mean.
  A ratio whose denominator is zero (no predictions, no truth) is defined as 0.
* RMSE over the matched pairs: lateral ``sqrt(mean(dx^2 + dy^2))``, axial
  ``sqrt(mean(dz^2))``, 3D ``sqrt(mean(dx^2 + dy^2 + dz^2))``, in nm; bias
  ``mean(d)`` per axis, prediction minus truth, in nm. Undefined (``None``) without
  matches, and the axial ones without ``z`` in both tables.
* Efficiency, in percent, ``E = 100 - sqrt((100 - 100 * Jaccard)^2 + alpha^2 * RMSE^2)``
  with ``alpha = 1 nm^-1`` lateral and ``0.5 nm^-1`` axial. Checked (2026-11-22)
  against the SMLMMetrics.jl documentation (JuliaSMLM), ``E = 1 - sqrt((1 - JI)^2 +
  alpha^2 * RMSE^2)`` with ``alpha = 1e-2 nm^-1`` lateral and ``0.5e-2 nm^-1`` axial,
  and a public Python implementation citing Sage et al. 2019 with the same fraction
  form and constants (``1e-2``, ``5e-3``); the percent form here is 100 times it.
  100 is perfect; it can be negative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

#: Efficiency weight of the lateral RMSE, nm^-1 (percent form).
ALPHA_LATERAL_PER_NM = 1.0
#: Efficiency weight of the axial RMSE, nm^-1 (percent form).
ALPHA_AXIAL_PER_NM = 0.5


@dataclass(frozen=True)
class MatchStatistics:
    """Sufficient statistics of one block of frames; ``a + b`` combines blocks.

    Attributes
    ----------
    n_truth, n_pred, tp : int
        Rows of each table and matched pairs.
    sum_dx_nm, sum_dy_nm, sum_dz_nm : float
        Sums of the per-axis errors (prediction minus truth) over the pairs, nm.
    sum_dx2_nm2, sum_dy2_nm2, sum_dz2_nm2 : float
        Sums of their squares, nm^2 (``z`` sums stay 0 without ``z``).
    n_crlb : int
        Pairs whose truth has a finite lateral bound.
    sum_crlb_nm2 : float
        Sum of the per-axis bound variances of those pairs, nm^2.
    sum_err2_crlb_nm2 : float
        Sum of their per-axis squared errors ``(dx^2 + dy^2) / 2``, nm^2.
    n_limit, sum_limit_nm2, sum_err2_limit_nm2 : int, float, float
        The same three for the frame limit
        (:func:`~smlmscale.evaluate.crlb_frames.frame_bounds`), when it is scored.
    """

    n_truth: int = 0
    n_pred: int = 0
    tp: int = 0
    sum_dx_nm: float = 0.0
    sum_dy_nm: float = 0.0
    sum_dz_nm: float = 0.0
    sum_dx2_nm2: float = 0.0
    sum_dy2_nm2: float = 0.0
    sum_dz2_nm2: float = 0.0
    n_crlb: int = 0
    sum_crlb_nm2: float = 0.0
    sum_err2_crlb_nm2: float = 0.0
    n_limit: int = 0
    sum_limit_nm2: float = 0.0
    sum_err2_limit_nm2: float = 0.0

    def __add__(self, other: "MatchStatistics") -> "MatchStatistics":
        return MatchStatistics(**{f.name: getattr(self, f.name) + getattr(other, f.name)
                                  for f in fields(self)})

    @property
    def fp(self) -> int:
        """Unmatched predictions."""
        return self.n_pred - self.tp

    @property
    def fn(self) -> int:
        """Unmatched truth."""
        return self.n_truth - self.tp

    @classmethod
    def from_pairs(cls, *, n_truth: int, n_pred: int, dx_nm: np.ndarray, dy_nm: np.ndarray,
                   dz_nm: np.ndarray | None = None,
                   crlb_nm2: np.ndarray | None = None,
                   limit_nm2: np.ndarray | None = None) -> "MatchStatistics":
        """The statistics of a block from its matched pairs' errors.

        Parameters
        ----------
        n_truth, n_pred : int
            Rows of each table in the block.
        dx_nm, dy_nm : numpy.ndarray, shape (tp,)
            Errors of the pairs, prediction minus truth, nm.
        dz_nm : numpy.ndarray, optional
            Axial errors, nm (when both tables have ``z``).
        crlb_nm2 : numpy.ndarray, optional
            Per-axis lateral bound variance of each pair's truth, nm^2 (non-finite: skipped).
        limit_nm2 : numpy.ndarray, optional
            Per-axis frame limit of each pair's truth, nm^2 (non-finite: skipped).
        """
        dx, dy = np.asarray(dx_nm, np.float64), np.asarray(dy_nm, np.float64)
        dz = np.zeros(0) if dz_nm is None else np.asarray(dz_nm, np.float64)
        n_crlb, sum_crlb, sum_err2 = _bound_sums(dx, dy, crlb_nm2)
        n_limit, sum_limit, sum_err2_limit = _bound_sums(dx, dy, limit_nm2)
        return cls(n_truth=int(n_truth), n_pred=int(n_pred), tp=int(dx.size),
                   sum_dx_nm=float(dx.sum()), sum_dy_nm=float(dy.sum()), sum_dz_nm=float(dz.sum()),
                   sum_dx2_nm2=float(np.dot(dx, dx)), sum_dy2_nm2=float(np.dot(dy, dy)),
                   sum_dz2_nm2=float(np.dot(dz, dz)), n_crlb=n_crlb, sum_crlb_nm2=sum_crlb,
                   sum_err2_crlb_nm2=sum_err2, n_limit=n_limit, sum_limit_nm2=sum_limit,
                   sum_err2_limit_nm2=sum_err2_limit)


def _bound_sums(dx: np.ndarray, dy: np.ndarray, bound_nm2: np.ndarray | None
                ) -> tuple[int, float, float]:
    """Pairs with a finite bound, the sum of their bounds and of their per-axis squared
    errors (all 0 without a bound)."""
    if bound_nm2 is None:
        return 0, 0.0, 0.0
    ok = np.isfinite(bound_nm2)
    return (int(ok.sum()), float(np.sum(bound_nm2[ok])),
            float(np.sum(dx[ok] * dx[ok] + dy[ok] * dy[ok])) / 2.0)


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator) if denominator else 0.0


def jaccard_index(tp: int, fp: int, fn: int) -> float:
    """``TP / (TP + FP + FN)``, a fraction; 0 when there is nothing at all.

    Examples
    --------
    >>> jaccard_index(8, 1, 1)
    0.8
    """
    return _ratio(tp, tp + fp + fn)


def f1_score(precision: float, recall: float) -> float:
    """Harmonic mean of precision and recall; 0 when both are 0."""
    return _ratio(2.0 * precision * recall, precision + recall)


def efficiency(jaccard: float, rmse_nm: float | None, *, alpha_per_nm: float) -> float | None:
    """SMLM Challenge 2016 efficiency in percent (Sage et al. 2019).

    Parameters
    ----------
    jaccard : float
        Jaccard index as a fraction in ``[0, 1]``.
    rmse_nm : float or None
        Lateral or axial RMSE in nm; ``None`` (undefined) gives ``None``.
    alpha_per_nm : float
        Weight of the RMSE in nm^-1: :data:`ALPHA_LATERAL_PER_NM` (1) or
        :data:`ALPHA_AXIAL_PER_NM` (0.5).

    Returns
    -------
    float or None
        ``100 - sqrt((100 - 100 * jaccard)**2 + alpha**2 * rmse**2)``.

    Examples
    --------
    >>> efficiency(1.0, 0.0, alpha_per_nm=1.0)
    100.0
    >>> efficiency(0.7, 40.0, alpha_per_nm=1.0)   # 100 - sqrt(30**2 + 40**2)
    50.0
    """
    if rmse_nm is None:
        return None
    return 100.0 - math.hypot(100.0 - 100.0 * float(jaccard), float(alpha_per_nm) * rmse_nm)


def summarize(stats: MatchStatistics, *, axial: bool) -> dict[str, float | int | None]:
    """All metrics from the summed statistics.

    Parameters
    ----------
    stats : MatchStatistics
        The sums over every block.
    axial : bool
        Whether both tables have ``z`` (otherwise the axial metrics are ``None``).

    Returns
    -------
    dict
        ``jaccard, precision, recall, f1`` (fractions), ``rmse_lateral_nm,
        rmse_axial_nm, rmse_3d_nm, bias_x_nm, bias_y_nm, bias_z_nm`` (nm),
        ``efficiency_lateral, efficiency_axial`` (percent), ``rmse_over_crlb``,
        ``rmse_over_frame_limit``,
        ``tp, fp, fn, n_truth, n_pred``; undefined values are ``None``.
    """
    tp = stats.tp
    precision, recall = _ratio(tp, stats.n_pred), _ratio(tp, stats.n_truth)
    jac = jaccard_index(tp, stats.fp, stats.fn)

    def root_mean(total: float) -> float | None:
        return math.sqrt(total / tp) if tp else None

    def mean(total: float) -> float | None:
        return total / tp if tp else None

    lateral = root_mean(stats.sum_dx2_nm2 + stats.sum_dy2_nm2)
    axial_rmse = root_mean(stats.sum_dz2_nm2) if axial else None
    rmse_3d = root_mean(stats.sum_dx2_nm2 + stats.sum_dy2_nm2 + stats.sum_dz2_nm2) \
        if axial else lateral
    over_crlb = math.sqrt(stats.sum_err2_crlb_nm2 / stats.sum_crlb_nm2) \
        if stats.n_crlb and stats.sum_crlb_nm2 > 0 else None
    over_limit = math.sqrt(stats.sum_err2_limit_nm2 / stats.sum_limit_nm2) \
        if stats.n_limit and stats.sum_limit_nm2 > 0 else None
    return {
        "jaccard": jac, "precision": precision, "recall": recall,
        "f1": f1_score(precision, recall),
        "rmse_lateral_nm": lateral, "rmse_axial_nm": axial_rmse, "rmse_3d_nm": rmse_3d,
        "efficiency_lateral": efficiency(jac, lateral, alpha_per_nm=ALPHA_LATERAL_PER_NM),
        "efficiency_axial": efficiency(jac, axial_rmse, alpha_per_nm=ALPHA_AXIAL_PER_NM),
        "bias_x_nm": mean(stats.sum_dx_nm), "bias_y_nm": mean(stats.sum_dy_nm),
        "bias_z_nm": mean(stats.sum_dz_nm) if axial else None,
        "rmse_over_crlb": over_crlb, "rmse_over_frame_limit": over_limit,
        "tp": tp, "fp": stats.fp, "fn": stats.fn, "n_truth": stats.n_truth,
        "n_pred": stats.n_pred,
    }


def tolerance_sweep(distance_nm: np.ndarray, *, n_truth: int, n_pred: int,
                    tolerances_nm: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall and Jaccard index at smaller lateral tolerances, from matched distances.

    For greedy matching this is exact: greedy accepts pairs in increasing distance and
    each decision depends only on closer candidates, so the match at a tolerance
    ``t`` is the full match restricted to the pairs with distance ``<= t``. For
    Hungarian matching it is that restriction, an approximation.

    Parameters
    ----------
    distance_nm : numpy.ndarray
        Lateral distances of the matched pairs, nm.
    n_truth, n_pred : int
        Rows of the truth and prediction tables.
    tolerances_nm : numpy.ndarray
        Tolerances in nm.

    Returns
    -------
    dict of numpy.ndarray
        ``tolerance_nm``, ``tp``, ``precision``, ``recall``, ``jaccard`` (fractions).
    """
    tolerances = np.asarray(tolerances_nm, dtype=np.float64)
    tp = np.searchsorted(np.sort(np.asarray(distance_nm, np.float64)), tolerances, side="right")
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(n_pred > 0, tp / max(n_pred, 1), 0.0)
        recall = np.where(n_truth > 0, tp / max(n_truth, 1), 0.0)
        union = n_truth + n_pred - tp
        jac = np.where(union > 0, tp / np.maximum(union, 1), 0.0)
    return {"tolerance_nm": tolerances, "tp": tp, "precision": precision, "recall": recall,
            "jaccard": jac}
