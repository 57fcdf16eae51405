"""Scores of one set of per-song predictions: metrics per dimension, the worst songs, the floors.

Numbers only, no files: :func:`moodscape.eval.evaluation.evaluate_predictions` writes them, and
:mod:`moodscape.eval.evaluation_report` lays them out; other stages can score without either.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..data.quadrants import quadrant
from ..data.records import from_unit
from ..errors import ParameterError
from ..metrics import regression as M
from ..metrics.intervals import bootstrap_interval
from .quadrant_analysis import analyse_quadrants

__all__ = ["CONFIDENCE_LEVEL", "DIMENSIONS", "compare_to_floor", "curve_agreement", "dimension_metrics", "macro_f1",
           "quadrant_scores", "score_floors", "worst_songs"]

DIMENSIONS = ("valence", "arousal")
CONFIDENCE_LEVEL = 0.95
_DEAM = "1-9"


def dimension_metrics(y_true, y_pred, *, bootstrap: int = 1000, seed: int = 0) -> dict[str, dict[str, float]]:
    """Regression metrics per dimension, with the CCC bootstrap interval and 1-9 scale errors.

    Args:
        y_true, y_pred: (N, 2) arrays (valence, arousal) on [-1, 1].
        bootstrap: resamples of songs for the interval; 0 gives NaN bounds.
        seed: seed of the resampling.

    Returns:
        ``{dim: {"ccc", "ccc_ci95_low", "ccc_ci95_high", "pearson", "r2", "mse", "mae", "rmse",
        "mse_1_9", "mae_1_9", "rmse_1_9"}}``.
    """
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    base = M.regression_metrics(t, p, names=DIMENSIONS)
    out: dict[str, dict[str, float]] = {}
    for j, dim in enumerate(DIMENSIONS):
        low, high = bootstrap_interval(t[:, j], p[:, j], M.ccc, n=bootstrap, seed=seed, level=CONFIDENCE_LEVEL)
        t9, p9 = from_unit(t[:, j], _DEAM), from_unit(p[:, j], _DEAM)
        m = base[dim]
        out[dim] = {
            "ccc": m["ccc"], "ccc_ci95_low": low, "ccc_ci95_high": high,
            "pearson": m["pearson"], "r2": m["r2"], "mse": m["mse"], "mae": m["mae"], "rmse": m["rmse"],
            "mse_1_9": M.mse(t9, p9), "mae_1_9": M.mae(t9, p9), "rmse_1_9": M.rmse(t9, p9),
        }  # fmt: skip
    return out


def macro_f1(true_quadrants, predicted_quadrants) -> float:
    """Mean F1 over the four quadrants; a quadrant neither true nor predicted counts as 0 (so a resample that
    lacks one scores lower, never higher)."""
    t, p = np.asarray(true_quadrants), np.asarray(predicted_quadrants)
    f1 = []
    for q in (1, 2, 3, 4):
        hit = np.sum((t == q) & (p == q))
        total = np.sum(t == q) + np.sum(p == q)
        f1.append(2 * hit / total if total else 0.0)
    return float(np.mean(f1))


def quadrant_scores(y_true, y_pred, *, bootstrap: int = 1000, seed: int = 0,
                    threshold: float = 0.0) -> dict[str, dict[str, float]]:  # fmt: skip
    """What a quadrant-labelled set measures (4Q's labels are quadrants): quadrant accuracy and macro-F1, and the
    share of songs whose valence or arousal has the right sign, each with a percentile bootstrap interval over
    songs (``bootstrap`` resamples, 0: none).

    Returns ``{"accuracy" | "macro_f1" | "valence_sign" | "arousal_sign": {"value", "ci95_low", "ci95_high"}}``.
    """
    t, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    tq = np.asarray(quadrant(t[:, 0], t[:, 1], threshold=threshold), dtype=np.float64)
    pq = np.asarray(quadrant(p[:, 0], p[:, 1], threshold=threshold), dtype=np.float64)
    pairs = {
        "accuracy": (tq, pq, lambda a, b: float(np.mean(a == b))),
        "macro_f1": (tq, pq, macro_f1),
        "valence_sign": ((t[:, 0] >= threshold) * 1.0, (p[:, 0] >= threshold) * 1.0, lambda a, b: float(np.mean(a == b))),
        "arousal_sign": ((t[:, 1] >= threshold) * 1.0, (p[:, 1] >= threshold) * 1.0, lambda a, b: float(np.mean(a == b))),
    }  # fmt: skip
    out = {}
    for name, (a, b, metric) in pairs.items():
        low, high = bootstrap_interval(a, b, metric, n=bootstrap, seed=seed, level=CONFIDENCE_LEVEL)
        out[name] = {"value": metric(a, b), "ci95_low": low, "ci95_high": high}
    return out


def curve_agreement(curves: Mapping[str, Any], timelines: Mapping[str, Any]) -> dict[str, Any]:
    """Predicted timelines against annotated time-continuous curves, per song as in MediaEval's dynamic task
    (2015): each song's predicted values, linearly interpolated at the annotation times (held constant before the
    first and after the last window), give a Pearson r and an RMSE per dimension; their mean and standard deviation
    over songs are reported (a song whose curve or prediction is flat has no r and is left out of the r mean).

    Args:
        curves: ``{song_id: DynamicLabels-like}`` with ``times`` (s), ``valence`` and ``arousal`` on [-1, 1].
        timelines: ``{song_id: (times (W,), values (W, 2))}``, window centres in seconds and their predictions.

    Returns:
        ``{"songs": n, dim: {"pearson_mean", "pearson_std", "rmse_mean", "rmse_std", "songs_with_r"}}``, and
        ``per_song``: ``[{song_id, pearson_valence, rmse_valence, pearson_arousal, rmse_arousal}]``.
    """
    rows = []
    for song in sorted(set(curves) & set(timelines)):
        curve = curves[song]
        times, values = (np.asarray(a, dtype=np.float64) for a in timelines[song])
        row: dict[str, Any] = {"song_id": song}
        for j, dim in enumerate(DIMENSIONS):
            truth = np.asarray(getattr(curve, dim), dtype=np.float64)
            at = np.interp(np.asarray(curve.times, dtype=np.float64), times, values[:, j])
            flat = np.std(truth) == 0 or np.std(at) == 0
            row[f"pearson_{dim}"] = float("nan") if flat else M.pearson(truth, at)
            row[f"rmse_{dim}"] = M.rmse(truth, at)
        rows.append(row)
    out: dict[str, Any] = {"songs": len(rows), "per_song": rows}
    for dim in DIMENSIONS:
        r = np.array([row[f"pearson_{dim}"] for row in rows], dtype=np.float64)
        e = np.array([row[f"rmse_{dim}"] for row in rows], dtype=np.float64)
        kept = r[np.isfinite(r)]
        out[dim] = {"pearson_mean": float(kept.mean()) if kept.size else float("nan"),
                    "pearson_std": float(kept.std()) if kept.size else float("nan"), "songs_with_r": int(kept.size),
                    "rmse_mean": float(e.mean()) if e.size else float("nan"),
                    "rmse_std": float(e.std()) if e.size else float("nan")}  # fmt: skip
    return out


def worst_songs(
    song_ids: Sequence[str], y_true, y_pred, *, k: int = 10, threshold: float = 0.0
) -> list[dict[str, Any]]:
    """The ``k`` songs farthest from their truth on the valence-arousal plane, worst first.

    The error of a song is its Euclidean ``distance`` between true and predicted (valence, arousal)
    on [-1, 1] (the arrow length in the plane plot); ties keep input order.

    Returns:
        one dict per song: rank, song_id, valence, valence_pred, valence_abs_error, arousal,
        arousal_pred, arousal_abs_error, distance, quadrant, quadrant_pred.
    """
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    dist = np.hypot(p[:, 0] - t[:, 0], p[:, 1] - t[:, 1])
    order = np.argsort(-dist, kind="stable")[: max(0, int(k))]
    tq = quadrant(t[:, 0], t[:, 1], threshold=threshold)
    pq = quadrant(p[:, 0], p[:, 1], threshold=threshold)
    rows = []
    for rank, i in enumerate(order, start=1):
        row: dict[str, Any] = {"rank": rank, "song_id": str(song_ids[i])}
        for j, dim in enumerate(DIMENSIONS):
            error = float(abs(p[i, j] - t[i, j]))
            row.update({dim: float(t[i, j]), f"{dim}_pred": float(p[i, j]), f"{dim}_abs_error": error})
        row.update({"distance": float(dist[i]), "quadrant": int(tq[i]), "quadrant_pred": int(pq[i])})
        rows.append(row)
    return rows


def compare_to_floor(
    metrics: Mapping[str, Mapping[str, Any]],
    floor: Mapping[str, Mapping[str, Any]],
    *,
    names: Mapping[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Model vs floor per dimension, by CCC.

    Args:
        metrics: ``{dim: {"ccc", "ccc_ci95_low", "ccc_ci95_high", ...}}`` of the model.
        floor: ``{dim: {"ccc", ...}}`` of the floor (``BaselineResult.metrics`` or the "metrics"
            entry of the baseline's metrics.json), scored on the same songs.
        names: which floor each dimension's row is (``{dim: "descriptor floor"}``); default
            "ridge floor".

    Returns:
        ``{dim: {"model_ccc", "floor_ccc", "difference", "beats_floor", "floor_below_interval",
        "sentence"}}``; ``beats_floor`` is a strict ``model_ccc > floor_ccc``;
        ``floor_below_interval`` is None when there is no interval.
    """
    missing = [d for d in DIMENSIONS if d not in floor or "ccc" not in floor[d]]
    if missing:
        raise ParameterError(
            f"floor_metrics needs {{dimension: {{'ccc': ...}}}} for {list(DIMENSIONS)}; missing {missing} "
            f"(got keys {sorted(floor)}; pass BaselineResult.metrics or the 'metrics' entry of its metrics.json)"
        )
    out: dict[str, dict[str, Any]] = {}
    for dim in DIMENSIONS:
        model, base = float(metrics[dim]["ccc"]), float(floor[dim]["ccc"])
        low, high = metrics[dim].get("ccc_ci95_low"), metrics[dim].get("ccc_ci95_high")
        has_ci = low is not None and high is not None and not (math.isnan(low) or math.isnan(high))
        beats = model > base
        below = (base < low) if has_ci else None
        name = (names or {}).get(dim, "ridge floor")
        head = f"{dim.capitalize()}: the model {'beats' if beats else 'does not beat'} the {name}"
        sentence = f"{head} (CCC {model:.3f} vs {base:.3f}, difference {model - base:+.3f})"
        if has_ci and beats:
            sentence += (
                f"; the floor lies below the model's 95% interval [{low:.3f}, {high:.3f}]."
                if below
                else f", but the floor lies inside the model's 95% interval [{low:.3f}, {high:.3f}], "
                "so the gain is within resampling noise."
            )
        else:
            sentence += "."
        out[dim] = {"model_ccc": model, "floor_ccc": base, "difference": model - base, "beats_floor": beats,
                    "floor_below_interval": below, "floor": name, "sentence": sentence}  # fmt: skip
    return out


def score_floors(
    y_true: np.ndarray, floors: Mapping[str, np.ndarray], per_dim: Mapping[str, Mapping[str, Any]], *, threshold: float
) -> dict[str, Any]:
    """Every floor's metrics and quadrant scores on the same songs, and the model against the strongest.

    ``floors`` maps a name ("ridge floor", "descriptor floor") to its (N, 2) predictions. The strongest
    floor is chosen per dimension by CCC: "beats the floor" always means beating the best cheap model.
    """
    scored = {}
    for name, predicted in floors.items():
        predicted = np.asarray(predicted, dtype=np.float64)
        if predicted.shape != y_true.shape:
            raise ParameterError(f"floor '{name}': predictions of shape {predicted.shape}, expected {y_true.shape}")
        quads = analyse_quadrants(y_true, predicted, threshold=threshold)
        scored[name] = {"metrics": M.regression_metrics(y_true, predicted, names=DIMENSIONS),
                        "quadrants": {"accuracy": quads.accuracy, "macro_f1": quads.macro_f1}}  # fmt: skip
    strongest = {d: max(scored, key=lambda n: scored[n]["metrics"][d]["ccc"]) for d in DIMENSIONS}
    metrics = {d: scored[strongest[d]]["metrics"][d] for d in DIMENSIONS}
    return {"floors": scored, "strongest": strongest, "metrics": metrics,
            "comparison": compare_to_floor(per_dim, metrics, names=strongest)}  # fmt: skip
