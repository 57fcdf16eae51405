"""Bootstrap confidence intervals over songs for any regression metric.

Songs are the unit of resampling: each of ``n`` resamples draws N song indices with replacement
from a seeded ``numpy.random.Generator`` and recomputes the metric; the interval is the percentile
interval of those ``n`` values (e.g. the 2.5th and 97.5th percentiles for ``level=0.95``).

The metrics of :mod:`moodscape.metrics.regression` (``ccc``, ``pearson``, ``r2``, ``mse``, ``mae``,
``rmse``) are computed for all resamples at once over an (n, N) index matrix, with the same
degenerate-case conventions as the scalar functions (so a resample that repeats one song gives
CCC 1.0 when that song was predicted exactly, else 0.0; Pearson NaN). Any other callable
``metric(y_true, y_pred) -> float`` works too, resample by resample (slower).

Conventions:

* ``n=0`` disables the bootstrap and gives ``(nan, nan)``;
* resamples whose metric is NaN (Pearson of a constant resample) are left out of the percentiles;
  when every resample is NaN the interval is ``(nan, nan)``;
* the same ``seed`` and N give the same index matrix, so valence and arousal intervals computed
  with one seed use the same resampled songs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import ParameterError
from . import regression as M

__all__ = ["BATCHED_METRICS", "batched_metric", "bootstrap_distribution", "bootstrap_interval", "paired_difference_interval"]

MetricFn = Callable[[np.ndarray, np.ndarray], float]

# Rows of the index matrix handled per chunk: keeps each (rows, N) float64 temporary near 32 MB.
_CHUNK_ELEMENTS = 1 << 22


def _centred_rows(x: np.ndarray) -> np.ndarray:
    """Row-wise x - mean, exactly zero on constant rows (as ``metrics._centred``)."""
    c = x - x.mean(axis=1, keepdims=True)
    c[np.ptp(x, axis=1) == 0] = 0.0
    return c


def _ccc_rows(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    ct, cp = _centred_rows(t), _centred_rows(p)
    cov = np.mean(ct * cp, axis=1)
    denom = np.mean(ct**2, axis=1) + np.mean(cp**2, axis=1) + (t.mean(axis=1) - p.mean(axis=1)) ** 2
    exact = denom == 0.0  # both constant and equal: exact agreement
    return np.where(exact, 1.0, 2.0 * cov / np.where(exact, 1.0, denom))


def _pearson_rows(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    ct, cp = _centred_rows(t), _centred_rows(p)
    norm = np.sqrt(np.sum(ct**2, axis=1) * np.sum(cp**2, axis=1))
    undefined = norm == 0.0
    r = np.clip(np.sum(ct * cp, axis=1) / np.where(undefined, 1.0, norm), -1.0, 1.0)
    return np.where(undefined, np.nan, r)


def _r2_rows(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    ss_res = np.sum((t - p) ** 2, axis=1)
    ss_tot = np.sum(_centred_rows(t) ** 2, axis=1)
    constant = ss_tot == 0.0
    fallback = (ss_res == 0.0).astype(np.float64)
    return np.where(constant, fallback, 1.0 - ss_res / np.where(constant, 1.0, ss_tot))


def _mse_rows(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.mean((t - p) ** 2, axis=1)


def _mae_rows(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.mean(np.abs(t - p), axis=1)


def _rmse_rows(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.sqrt(_mse_rows(t, p))


#: Row-wise versions of the numpy metrics: (B, N) truth and prediction -> (B,) values.
BATCHED_METRICS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "ccc": _ccc_rows,
    "pearson": _pearson_rows,
    "r2": _r2_rows,
    "mse": _mse_rows,
    "mae": _mae_rows,
    "rmse": _rmse_rows,
}
_BY_FUNCTION = {M.ccc: "ccc", M.pearson: "pearson", M.r2: "r2", M.mse: "mse", M.mae: "mae", M.rmse: "rmse"}


def batched_metric(name: str, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """One metric per row of two (B, N) arrays, same conventions as the scalar numpy metric.

    Raises:
        ValueError: an unknown name (the message lists the valid ones) or shapes that differ.
    """
    if name not in BATCHED_METRICS:
        raise ParameterError(f"unknown metric '{name}'; valid names: {', '.join(BATCHED_METRICS)}")
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape or t.ndim != 2:
        raise ParameterError(f"expected two (B, N) arrays of the same shape, got {t.shape} and {p.shape}")
    return BATCHED_METRICS[name](t, p)


def _resolve(metric: str | MetricFn) -> tuple[str | None, MetricFn | None]:
    """(batched name, None) for the known metrics, (None, callable) for anything else."""
    if isinstance(metric, str):
        if metric not in BATCHED_METRICS:
            raise ParameterError(f"unknown metric '{metric}'; valid names: {', '.join(BATCHED_METRICS)}")
        return metric, None
    if not callable(metric):
        raise TypeError(f"metric must be a name or a callable(y_true, y_pred) -> float, got {metric!r}")
    name = _BY_FUNCTION.get(metric)
    return (name, None) if name is not None else (None, metric)


def bootstrap_distribution(
    y_true, y_pred, metric: str | MetricFn = M.ccc, *, n: int = 1000, seed: int = 0
) -> np.ndarray:
    """The metric on ``n`` resamples of songs (with replacement).

    Args:
        y_true, y_pred: (N,) arrays, one value per song (finite; validated as the numpy metrics).
        metric: a name in :data:`BATCHED_METRICS`, one of the numpy metric functions (both fast,
            vectorised), or any ``callable(y_true, y_pred) -> float`` (called once per resample).
        n: number of resamples, >= 0.
        seed: seed of the ``numpy.random.default_rng`` that draws the (n, N) index matrix.

    Returns:
        float64 array of shape (n,), in resample order; may contain NaN (e.g. Pearson of a
        resample that repeats one song).
    """
    t, p = M._check_pair(y_true, y_pred)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ParameterError(f"n (bootstrap resamples) must be an integer >= 0, got {n!r}")
    name, fn = _resolve(metric)
    n_songs = t.shape[0]
    rng = np.random.default_rng(seed)
    out = np.empty(int(n), dtype=np.float64)
    rows = max(1, _CHUNK_ELEMENTS // n_songs)
    for start in range(0, int(n), rows):
        stop = min(int(n), start + rows)
        idx = rng.integers(0, n_songs, size=(stop - start, n_songs))
        if name is not None:
            out[start:stop] = BATCHED_METRICS[name](t[idx], p[idx])
        else:
            out[start:stop] = [float(fn(t[row], p[row])) for row in idx]
    return out


def bootstrap_interval(
    y_true,
    y_pred,
    metric: str | MetricFn = M.ccc,
    *,
    n: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of a metric over songs.

    Args:
        y_true, y_pred: (N,) arrays, one value per song.
        metric: see :func:`bootstrap_distribution` (default: CCC).
        n: resamples; 0 disables the bootstrap and returns ``(nan, nan)``.
        seed: seeds the resampling, so the interval is reproducible.
        level: coverage in (0, 1); 0.95 gives the 2.5th and 97.5th percentiles.

    Returns:
        ``(low, high)`` as floats, ``low <= high``; ``(nan, nan)`` when ``n == 0`` or every
        resample gave NaN. NaN resamples are otherwise left out.

    Example:
        >>> low, high = bootstrap_interval(valence_true, valence_pred, n=1000, seed=0)
    """
    return _percentile_interval(bootstrap_distribution(y_true, y_pred, metric, n=n, seed=seed), level)


def paired_difference_interval(
    y_true,
    pred_a,
    pred_b,
    metric: str | MetricFn = M.ccc,
    *,
    n: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """``metric(b) - metric(a)`` on the same songs, with a paired percentile bootstrap interval.

    Two models scored on the same songs share each resample (the same seed draws the same index
    matrix), so song difficulty cancels out: the honest test of "does B beat A", where two
    overlapping single-model intervals say little either way.

    Returns:
        ``(difference, low, high)``; the bounds are NaN when ``n == 0``.
    """
    name, fn = _resolve(metric)
    score = fn or {v: k for k, v in _BY_FUNCTION.items()}[name]
    t, a = M._check_pair(y_true, pred_a)
    _, b = M._check_pair(y_true, pred_b)
    difference = score(t, b) - score(t, a)
    values = bootstrap_distribution(t, b, metric, n=n, seed=seed) - bootstrap_distribution(t, a, metric, n=n, seed=seed)
    return (float(difference), *_percentile_interval(values, level))


def _percentile_interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """Central ``level`` interval of the finite values; NaN bounds when there are none."""
    if not 0.0 < float(level) < 1.0:
        raise ParameterError(f"level must lie strictly between 0 and 1, got {level!r}")
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - float(level)) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)
