"""Regression metrics for valence/arousal: CCC, Pearson, R2, MSE, MAE, RMSE.

Two families that agree with each other:

* numpy functions ``metric(y_true, y_pred) -> float`` on 1-D arrays of shape (N,), computed in
  float64, with inputs validated (used for reports and model selection);
* torch functions ``metric_torch(pred, target) -> Tensor`` on (N,) or (N, D), reduced over the batch
  dimension 0 to shape () or (D,), differentiable (``ccc_loss`` is the training loss). Note the
  argument order follows torch losses (prediction first); only R2 is not symmetric.

All moments are population moments (ddof=0), so
``ccc = 2 * cov / (var_true + var_pred + (mean_true - mean_pred) ** 2)``.

Degenerate cases (the same in both families):

* constant predictions while the truth varies: CCC = 0 (the covariance is zero), Pearson = NaN;
* constant truth: Pearson = NaN; R2 = 1.0 if predictions are exact, else 0.0 (as sklearn's
  ``r2_score`` with its default ``force_finite=True``);
* truth and predictions both constant and equal (this includes N = 1 with an exact prediction):
  CCC = 1.0 (exact agreement; the formula would be 0/0); both constant but different: CCC = 0.0;
* Pearson is NaN whenever either side is constant, as ``scipy.stats.pearsonr`` (NaN rather than 0
  keeps "undefined" apart from "uncorrelated"; select models by CCC, which is never NaN).

numpy functions raise ``ValueError`` (naming the shapes) on empty input, mismatched shapes, arrays
that are not 1-D, and NaN or infinite values. torch functions check shapes only: checking values
would force a device synchronisation on every training step; NaN in gives NaN out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..errors import ParameterError

__all__ = [
    "ccc",
    "pearson",
    "r2",
    "mse",
    "mae",
    "rmse",
    "regression_metrics",
    "METRIC_NAMES",
    "ccc_torch",
    "pearson_torch",
    "r2_torch",
    "mse_torch",
    "mae_torch",
    "rmse_torch",
    "ccc_loss",
]

METRIC_NAMES = ("ccc", "pearson", "r2", "mse", "mae", "rmse")


# ----------------------------------------------------------------------------------------- numpy


def _check_pair(y_true, y_pred, *, ndim: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert a (truth, prediction) pair to float64 arrays of equal shape."""
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    shapes = f"y_true {t.shape}, y_pred {p.shape}"
    if t.shape != p.shape:
        raise ParameterError(f"y_true and y_pred must have the same shape, got {shapes}")
    if t.ndim != ndim:
        hint = " (use regression_metrics for (N, D) arrays, or pass one column)" if ndim == 1 else ""
        raise ParameterError(f"expected {ndim}-D arrays, got {shapes}{hint}")
    if t.shape[0] == 0:
        raise ParameterError(f"metrics need at least one sample, got empty arrays: {shapes}")
    for name, arr in (("y_true", t), ("y_pred", p)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise ParameterError(f"{name} has {int(bad.sum())} NaN or infinite value(s) ({shapes})")
    return t, p


def _centred(x: np.ndarray) -> np.ndarray:
    """x - mean(x), exactly zero for constant x (the mean of a constant can be off by rounding)."""
    if np.ptp(x) == 0:
        return np.zeros_like(x)
    return x - x.mean()


def ccc(y_true, y_pred) -> float:
    """Lin's concordance correlation coefficient of two (N,) arrays, in [-1, 1].

    Population moments; 1.0 when both are constant and equal (see module docstring).
    """
    t, p = _check_pair(y_true, y_pred)
    ct, cp = _centred(t), _centred(p)
    cov = float(np.mean(ct * cp))
    denom = float(np.mean(ct**2) + np.mean(cp**2) + (t.mean() - p.mean()) ** 2)
    if denom == 0.0:  # both constant and equal: exact agreement
        return 1.0
    return 2.0 * cov / denom


def pearson(y_true, y_pred) -> float:
    """Pearson correlation of two (N,) arrays; NaN when either is constant (as scipy)."""
    t, p = _check_pair(y_true, y_pred)
    ct, cp = _centred(t), _centred(p)
    norm = float(np.sqrt(np.sum(ct**2) * np.sum(cp**2)))
    if norm == 0.0:
        return float("nan")
    return float(np.clip(np.sum(ct * cp) / norm, -1.0, 1.0))


def r2(y_true, y_pred) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot of two (N,) arrays (not symmetric).

    Constant truth: 1.0 for exact predictions, else 0.0 (sklearn's ``force_finite`` convention).
    """
    t, p = _check_pair(y_true, y_pred)
    ss_res = float(np.sum((t - p) ** 2))
    ss_tot = float(np.sum(_centred(t) ** 2))
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else 0.0
    return 1.0 - ss_res / ss_tot


def mse(y_true, y_pred) -> float:
    """Mean squared error of two (N,) arrays, in squared label units."""
    t, p = _check_pair(y_true, y_pred)
    return float(np.mean((t - p) ** 2))


def mae(y_true, y_pred) -> float:
    """Mean absolute error of two (N,) arrays, in label units."""
    t, p = _check_pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def rmse(y_true, y_pred) -> float:
    """Root mean squared error of two (N,) arrays, in label units."""
    return float(np.sqrt(mse(y_true, y_pred)))


_NUMPY_METRICS = {"ccc": ccc, "pearson": pearson, "r2": r2, "mse": mse, "mae": mae, "rmse": rmse}


def regression_metrics(
    y_true, y_pred, *, names: Sequence[str] = ("valence", "arousal")
) -> dict[str, dict[str, float]]:
    """Every metric for every output dimension.

    Args:
        y_true, y_pred: arrays of shape (N, D) with D == len(names), columns in ``names`` order.
        names: one name per column.

    Returns:
        ``{name: {"ccc", "pearson", "r2", "mse", "mae", "rmse": float}}``, e.g.
        ``result["valence"]["ccc"]``.
    """
    t, p = _check_pair(y_true, y_pred, ndim=2)
    names = tuple(names)
    if t.shape[1] != len(names):
        raise ParameterError(
            f"got {t.shape[1]} column(s) (y_true {t.shape}) but {len(names)} name(s) {names}"
        )
    if len(set(names)) != len(names):
        raise ParameterError(f"names must be unique, got {names}")
    return {
        name: {metric: fn(t[:, j], p[:, j]) for metric, fn in _NUMPY_METRICS.items()}
        for j, name in enumerate(names)
    }


# ----------------------------------------------------------------------------------------- torch


def _check_tensors(pred: torch.Tensor, target: torch.Tensor) -> None:
    """Shape checks only (no value checks: those would synchronise the device)."""
    if pred.shape != target.shape:
        raise ParameterError(
            f"pred and target must have the same shape, got pred {tuple(pred.shape)}, "
            f"target {tuple(target.shape)}"
        )
    if pred.ndim not in (1, 2):
        raise ParameterError(f"expected (N,) or (N, D) tensors, got {tuple(pred.shape)}")
    if pred.shape[0] == 0:
        raise ParameterError(f"metrics need at least one sample, got {tuple(pred.shape)}")


def _is_constant(x: torch.Tensor) -> torch.Tensor:
    """Boolean per column: every value along dim 0 equals the first. No gradient flows here."""
    return (x == x[:1]).all(dim=0)


def ccc_torch(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Differentiable CCC over the batch dim: (N,) -> (), (N, D) -> (D,). Same conventions as ``ccc``."""
    _check_tensors(pred, target)
    mean_p, mean_t = pred.mean(dim=0), target.mean(dim=0)
    cp, ct = pred - mean_p, target - mean_t
    cov = (cp * ct).mean(dim=0)
    denom = (cp**2).mean(dim=0) + (ct**2).mean(dim=0) + (mean_t - mean_p) ** 2
    exact = _is_constant(pred) & _is_constant(target) & (pred[0] == target[0])
    # A denominator of exactly 0 happens only in the "exact" case; keep its gradient finite.
    safe = torch.where(denom > 0, denom, torch.ones_like(denom))
    return torch.where(exact, torch.ones_like(cov), 2.0 * cov / safe)


def ccc_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Training loss ``1 - mean CCC`` over dimensions; scalar in [0, 2], 0 for perfect agreement."""
    return 1.0 - ccc_torch(pred, target).mean()


def pearson_torch(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Pearson correlation over the batch dim: (N,) -> (), (N, D) -> (D,); NaN for constant input."""
    _check_tensors(pred, target)
    cp, ct = pred - pred.mean(dim=0), target - target.mean(dim=0)
    norm = torch.sqrt((cp**2).sum(dim=0) * (ct**2).sum(dim=0))
    undefined = _is_constant(pred) | _is_constant(target)
    safe = torch.where(undefined, torch.ones_like(norm), norm)
    r = ((cp * ct).sum(dim=0) / safe).clamp(-1.0, 1.0)
    return torch.where(undefined, torch.full_like(r, float("nan")), r)


def r2_torch(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """R2 over the batch dim: (N,) -> (), (N, D) -> (D,). Constant target: 1.0 if exact, else 0.0."""
    _check_tensors(pred, target)
    ss_res = ((target - pred) ** 2).sum(dim=0)
    ss_tot = ((target - target.mean(dim=0)) ** 2).sum(dim=0)
    constant = _is_constant(target)
    safe = torch.where(constant, torch.ones_like(ss_tot), ss_tot)
    fallback = (ss_res == 0).to(ss_res.dtype)
    return torch.where(constant, fallback, 1.0 - ss_res / safe)


def mse_torch(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the batch dim: (N,) -> (), (N, D) -> (D,)."""
    _check_tensors(pred, target)
    return ((pred - target) ** 2).mean(dim=0)


def mae_torch(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the batch dim: (N,) -> (), (N, D) -> (D,)."""
    _check_tensors(pred, target)
    return (pred - target).abs().mean(dim=0)


def rmse_torch(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Root mean squared error over the batch dim: (N,) -> (), (N, D) -> (D,).

    The gradient is infinite at exactly zero error (sqrt at 0); train on ``mse_torch`` instead.
    """
    return torch.sqrt(mse_torch(pred, target))
