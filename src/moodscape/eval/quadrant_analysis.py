"""How well predictions land in the right quadrant of Russell's circumplex.

Quadrants come from :func:`moodscape.data.quadrants.quadrant` (Q1 valence+ arousal+, Q2 valence-
arousal+, Q3 valence- arousal-, Q4 valence+ arousal-; a value exactly at the threshold counts as
positive), applied to the true and to the predicted (valence, arousal) of each song.

Conventions:

* the confusion matrix is always 4 x 4, rows = true quadrant, columns = predicted quadrant, in the
  order Q1..Q4, whether or not a quadrant occurs;
* the row-normalised matrix divides each row by its number of songs; a row with no songs (a
  quadrant absent from the truth) is NaN, "undefined" rather than "never predicted";
* per quadrant: precision = TP / predicted (NaN when nothing was predicted as q), recall = TP /
  support (NaN when no song truly is q), F1 = 2 TP / (2 TP + FP + FN) (NaN when q occurs in
  neither truth nor prediction, else well defined, 0 when TP = 0);
* macro-F1 averages F1 over the quadrants present in the truth or in the predictions, which is
  what ``sklearn.metrics.f1_score(t, p, average="macro")`` does;
* per-quadrant regression metrics (CCC, MAE per dimension) use the songs whose TRUE quadrant is q,
  and are NaN for quadrants with fewer than 2 such songs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data.quadrants import QUADRANT_NAMES, QUADRANTS, quadrant
from ..errors import ParameterError
from ..metrics.regression import ccc, mae

__all__ = ["MIN_SONGS_PER_QUADRANT", "QuadrantAnalysis", "analyse_quadrants", "quadrant_confusion"]

#: Fewest songs of a true quadrant for its CCC/MAE to be reported.
MIN_SONGS_PER_QUADRANT = 2

_DIMENSIONS = ("valence", "arousal")


def quadrant_confusion(true_quadrants, predicted_quadrants) -> np.ndarray:
    """4 x 4 int64 counts, rows = true quadrant 1..4, columns = predicted quadrant 1..4.

    Args:
        true_quadrants, predicted_quadrants: (N,) integer arrays with values in 1..4.
    """
    t = np.asarray(true_quadrants)
    p = np.asarray(predicted_quadrants)
    if t.shape != p.shape or t.ndim != 1:
        raise ParameterError(f"expected two (N,) quadrant arrays of the same shape, got {t.shape} and {p.shape}")
    for name, arr in (("true", t), ("predicted", p)):
        bad = ~np.isin(arr, QUADRANTS)
        if bad.any():
            raise ParameterError(f"{name} quadrants must be 1..4, got {sorted(set(arr[bad].tolist()))}")
    flat = (t.astype(np.int64) - 1) * 4 + (p.astype(np.int64) - 1)
    return np.bincount(flat, minlength=16).reshape(4, 4)


@dataclass(frozen=True)
class QuadrantAnalysis:
    """Quadrant agreement of N songs.

    Attributes:
        threshold: the boundary used on both axes (labels on [-1, 1]).
        true_quadrants, predicted_quadrants: (N,) int64 arrays, values 1..4.
        confusion: (4, 4) int64 counts, rows true Q1..Q4, columns predicted Q1..Q4.
        confusion_normalised: (4, 4) float64, each row divided by its count; NaN rows for
            quadrants absent from the truth.
        accuracy: fraction of songs whose predicted quadrant is the true one.
        macro_f1: mean F1 over ``macro_f1_quadrants``.
        macro_f1_quadrants: the quadrants present in the truth or the predictions.
        per_quadrant: one flat dict per quadrant 1..4 with keys quadrant, name, support, predicted,
            precision, recall, f1, ccc_valence, mae_valence, ccc_arousal, mae_arousal.
    """

    threshold: float
    true_quadrants: np.ndarray
    predicted_quadrants: np.ndarray
    confusion: np.ndarray
    confusion_normalised: np.ndarray
    accuracy: float
    macro_f1: float
    macro_f1_quadrants: tuple[int, ...]
    per_quadrant: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain lists, ints and floats (NaN stays NaN; ``serialization.to_jsonable`` maps it to null)."""
        return {
            "threshold": float(self.threshold),
            "names": {str(q): QUADRANT_NAMES[q] for q in QUADRANTS},
            "confusion": self.confusion.tolist(),
            "confusion_normalised": self.confusion_normalised.tolist(),
            "accuracy": float(self.accuracy),
            "macro_f1": float(self.macro_f1),
            "macro_f1_quadrants": list(self.macro_f1_quadrants),
            "per_quadrant": [dict(row) for row in self.per_quadrant],
        }


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den > 0 else float("nan")


def analyse_quadrants(y_true, y_pred, *, threshold: float = 0.0) -> QuadrantAnalysis:
    """Confusion, accuracy, macro-F1 and per-quadrant metrics of (valence, arousal) predictions.

    Args:
        y_true, y_pred: (N, 2) arrays, columns (valence, arousal), on [-1, 1], finite, N >= 1.
        threshold: boundary between negative and positive on both axes; a value equal to it counts
            as positive (``EvaluateConfig.quadrant_threshold``).

    Returns:
        a :class:`QuadrantAnalysis` (see the module docstring for the conventions).
    """
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape or t.ndim != 2 or t.shape[1] != 2:
        raise ParameterError(f"expected (N, 2) arrays (valence, arousal) of the same shape, got {t.shape} and {p.shape}")
    if t.shape[0] == 0:
        raise ParameterError("quadrant analysis needs at least one song, got empty arrays")
    if not (np.isfinite(t).all() and np.isfinite(p).all()):
        raise ParameterError("y_true and y_pred must be finite (NaN or infinite values found)")

    tq = np.asarray(quadrant(t[:, 0], t[:, 1], threshold=threshold), dtype=np.int64)
    pq = np.asarray(quadrant(p[:, 0], p[:, 1], threshold=threshold), dtype=np.int64)
    conf = quadrant_confusion(tq, pq)
    support = conf.sum(axis=1)
    predicted = conf.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        normalised = np.where(support[:, None] > 0, conf / np.maximum(support[:, None], 1), np.nan)

    rows: list[dict[str, Any]] = []
    f1s: dict[int, float] = {}
    for i, q in enumerate(QUADRANTS):
        tp = int(conf[i, i])
        fp = int(predicted[i]) - tp
        fn = int(support[i]) - tp
        f1 = _ratio(2 * tp, 2 * tp + fp + fn)
        if support[i] > 0 or predicted[i] > 0:
            f1s[q] = f1
        row: dict[str, Any] = {
            "quadrant": q,
            "name": QUADRANT_NAMES[q],
            "support": int(support[i]),
            "predicted": int(predicted[i]),
            "precision": _ratio(tp, predicted[i]),
            "recall": _ratio(tp, support[i]),
            "f1": f1,
        }
        members = tq == q
        for j, dim in enumerate(_DIMENSIONS):
            enough = int(members.sum()) >= MIN_SONGS_PER_QUADRANT
            row[f"ccc_{dim}"] = ccc(t[members, j], p[members, j]) if enough else float("nan")
            row[f"mae_{dim}"] = mae(t[members, j], p[members, j]) if enough else float("nan")
        rows.append(row)

    return QuadrantAnalysis(
        threshold=float(threshold),
        true_quadrants=tq,
        predicted_quadrants=pq,
        confusion=conf,
        confusion_normalised=normalised,
        accuracy=float(np.mean(tq == pq)),
        macro_f1=float(np.mean(list(f1s.values()))),
        macro_f1_quadrants=tuple(f1s),
        per_quadrant=tuple(rows),
    )
