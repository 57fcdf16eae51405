"""Everything written about one set of per-song predictions: metrics.json, CSVs, plots and reports.

:func:`evaluate_predictions` is the one entry point the training stages call once they have a
(valence, arousal) prediction per song. Its outputs in ``out_dir``:

* ``metrics.json`` - per dimension: CCC with its bootstrap 95% interval, Pearson, R2, MSE, MAE,
  RMSE on [-1, 1] and MSE/MAE/RMSE on DEAM's 1-9 scale (``*_1_9`` keys; 1-9 = x * 4 + 5, so MAE and
  RMSE scale by 4 and MSE by 16); the quadrant analysis; the worst songs; the cheap floors scored
  on the same songs when given (each floor's metrics, accuracy and macro-F1, and the comparison
  with the strongest of them per dimension); song count and split. NaN is written as ``null``.
* ``predictions.csv`` - one row per song in input order: song_id, split, valence, arousal,
  valence_pred, arousal_pred (on [-1, 1]), quadrant, quadrant_pred, valence_abs_error,
  arousal_abs_error.
* ``history.csv`` - one row per epoch, when a training history is given.
* ``plots/<name>.png`` for each of :data:`PLOT_NAMES` that applies (training_curves only with a
  history, worst_songs only when ``config.worst_songs > 0``) - see :mod:`moodscape.eval.plots`.
  Plots and history.csv left in ``out_dir`` by an earlier evaluation that this one does not
  produce are removed, so the folder always matches metrics.json.
* ``report.html`` (self-contained) and ``report.md`` - see :mod:`moodscape.eval.report`.

The numbers come from :mod:`moodscape.eval.scoring` and the report's sections from
:mod:`moodscape.eval.evaluation_report`, which later stages reuse for their own reports; this module
checks the inputs and writes the files.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import EvaluateConfig
from ..errors import DataError, ParameterError
from ..files import write_json
from ..models.serialization import to_jsonable
from .evaluation_report import evaluation_sections
from .plots import (
    plot_confusion,
    plot_error_histograms,
    plot_scatter,
    plot_training_curves,
    plot_va_plane,
    plot_worst_songs,
)
from .quadrant_analysis import analyse_quadrants
from .report import Section, write_report
from .scoring import CONFIDENCE_LEVEL, DIMENSIONS, dimension_metrics, score_floors, worst_songs

__all__ = ["HISTORY_COLUMNS", "PLOT_NAMES", "evaluate_predictions", "read_predictions"]

logger = logging.getLogger(__name__)

#: Plot names, in report order; each is written to ``out_dir/plots/<name>.png``.
PLOT_NAMES = ("training_curves", "scatter", "errors", "va_plane", "confusion", "worst_songs")
HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "val_ccc_valence", "val_ccc_arousal", "val_ccc_mean", "lr")


def _check_inputs(song_ids, y_true, y_pred) -> tuple[list[str], np.ndarray, np.ndarray]:
    ids = [str(s) for s in song_ids]
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape or t.ndim != 2 or t.shape[1] != 2:
        raise ParameterError(
            f"expected y_true and y_pred of shape (N, 2), columns (valence, arousal), got {t.shape} and {p.shape}"
        )
    if len(ids) != t.shape[0]:
        raise ParameterError(f"got {len(ids)} song ids for {t.shape[0]} rows of predictions")
    if not ids:
        raise ParameterError("nothing to evaluate: no songs")
    if len(set(ids)) != len(ids):
        dupes = sorted({s for s in ids if ids.count(s) > 1})[:5]
        raise ParameterError(f"song ids must be unique (one prediction per song), repeated: {dupes}")
    for name, arr in (("y_true", t), ("y_pred", p)):
        bad = ~np.isfinite(arr)
        if bad.any():
            rows = np.flatnonzero(bad.any(axis=1))[:5]
            raise ParameterError(f"{name} has NaN or infinite values, e.g. songs {[ids[i] for i in rows]}")
    if np.abs(t).max() > 1.0 + 1e-6:
        raise ParameterError(
            f"y_true must be on [-1, 1], got values in [{t.min():g}, {t.max():g}]; labels on DEAM's "
            "1-9 scale convert with moodscape.data.records.to_unit"
        )
    outside = int((np.abs(p) > 1.0 + 1e-6).sum())
    if outside:
        logger.warning("%d predicted value(s) lie outside [-1, 1] (range [%g, %g]); metrics use them as they are",
                       outside, p.min(), p.max())  # fmt: skip
    return ids, t, p


def _write_predictions(path: Path, ids: list[str], split: str, t: np.ndarray, p: np.ndarray, tq, pq) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["song_id", "split", "valence", "arousal", "valence_pred", "arousal_pred", "quadrant",
                         "quadrant_pred", "valence_abs_error", "arousal_abs_error"])  # fmt: skip
        for i, song_id in enumerate(ids):
            err = np.abs(p[i] - t[i])
            writer.writerow([song_id, split, f"{t[i, 0]:.6f}", f"{t[i, 1]:.6f}", f"{p[i, 0]:.6f}", f"{p[i, 1]:.6f}",
                             int(tq[i]), int(pq[i]), f"{err[0]:.6f}", f"{err[1]:.6f}"])  # fmt: skip


def read_predictions(path: str | Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(song_ids, y_true, y_pred)`` of a predictions.csv written by :func:`evaluate_predictions`."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise DataError(f"{path} holds no predictions; evaluate the run again (`moodscape evaluate RUN`)")
    ids = [row["song_id"] for row in rows]
    t = np.array([[float(row["valence"]), float(row["arousal"])] for row in rows])
    p = np.array([[float(row["valence_pred"]), float(row["arousal_pred"])] for row in rows])
    return ids, t, p


def _write_history(path: Path, history: Sequence[Mapping[str, Any]]) -> None:
    keys: dict[str, None] = dict.fromkeys(c for c in HISTORY_COLUMNS if any(c in row for row in history))
    for row in history:
        keys.update(dict.fromkeys(row))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(keys), restval="")
        writer.writeheader()
        for row in history:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})


def evaluate_predictions(
    song_ids: Sequence[str],
    y_true,
    y_pred,
    *,
    split: str,
    config: EvaluateConfig,
    out_dir: str | Path,
    history: Sequence[Mapping[str, Any]] | None = None,
    floors: Mapping[str, np.ndarray] | None = None,
    title: str | None = None,
    model: str | None = None,
    data: str | None = None,
    songs_per_split: Mapping[str, int] | None = None,
    seed: int = 0,
    extra: Mapping[str, Any] | None = None,
    extra_sections: Sequence[Section] = (),
) -> dict[str, Any]:
    """Score per-song predictions and write metrics.json, predictions.csv, history.csv, plots and reports.

    Args:
        song_ids: N unique song ids, in the row order of ``y_true`` / ``y_pred``.
        y_true, y_pred: (N, 2) arrays, columns (valence, arousal), on [-1, 1] (finite; truth
            outside [-1, 1] is rejected, predictions outside it are logged and kept).
        split: name of the split evaluated ("val", "test", ...), written into the outputs.
        config: ``quadrant_threshold``, ``bootstrap`` (resamples; 0 disables the intervals) and
            ``worst_songs`` (how many to list; 0 lists none).
        out_dir: the run folder; created if needed; outputs of an earlier evaluation there are
            replaced (stale plots and history.csv removed).
        history: one dict per epoch (see :data:`HISTORY_COLUMNS`) -> history.csv and a curves plot.
        floors: the cheap floors' (N, 2) predictions of the same songs by name ("ridge floor",
            "descriptor floor") -> their metrics and quadrant scores, and the model against the
            strongest of them per dimension (see :func:`score_floors`).
        title: report title; default "moodscape evaluation (<split>)".
        model, data, songs_per_split: shown in the run summary and stored in metrics.json.
        seed: seed of the bootstrap resampling.
        extra: more entries for metrics.json (e.g. "fusion", see
            :func:`~moodscape.eval.evaluation_report.fusion_summary`).
        extra_sections: report sections appended after the evaluation's own.

    Returns:
        the JSON-safe metrics dict written to metrics.json (NaN -> None): keys title, split, songs,
        model, data, songs_per_split, bootstrap, metrics ({dim: {...}}, see :func:`dimension_metrics`),
        ccc_mean, quadrants (see ``QuadrantAnalysis.to_dict``), worst_songs, floor (or None: floors,
        strongest, metrics, comparison), files.
    """
    ids, t, p = _check_inputs(song_ids, y_true, y_pred)
    out = Path(out_dir)
    plots_dir = out / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    title = title or f"moodscape evaluation ({split})"
    threshold = float(config.quadrant_threshold)

    per_dim = dimension_metrics(t, p, bootstrap=config.bootstrap, seed=seed)
    quads = analyse_quadrants(t, p, threshold=threshold)
    worst = worst_songs(ids, t, p, k=config.worst_songs, threshold=threshold)
    floor = score_floors(t, floors, per_dim, threshold=threshold) if floors else None

    plots: dict[str, Path] = {}
    if history:
        plots["training_curves"] = plot_training_curves(history, plots_dir / "training_curves.png")
    plots["scatter"] = plot_scatter(t, p, plots_dir / "scatter.png", title=f"True vs predicted ({split}, N = {len(t)})")
    plots["errors"] = plot_error_histograms(t, p, plots_dir / "errors.png", title=f"Prediction errors ({split})")
    plots["va_plane"] = plot_va_plane(t, p, plots_dir / "va_plane.png", threshold=threshold)
    plots["confusion"] = plot_confusion(quads.confusion, plots_dir / "confusion.png", title=f"Quadrants ({split})")
    if worst:
        abs_err = np.array([[r["valence_abs_error"], r["arousal_abs_error"]] for r in worst])
        plots["worst_songs"] = plot_worst_songs([r["song_id"] for r in worst], abs_err, plots_dir / "worst_songs.png")

    stale = [plots_dir / f"{name}.png" for name in PLOT_NAMES if name not in plots]
    stale += [] if history else [out / "history.csv"]
    for path in stale:  # outputs of an earlier run into the same folder that this run does not make
        if path.is_file():
            logger.info("removing %s, left by an earlier evaluation in %s", path.name, out)
            path.unlink()

    files = {
        "metrics": "metrics.json",
        "predictions": "predictions.csv",
        "history": "history.csv" if history else None,
        "plots": {k: v.relative_to(out).as_posix() for k, v in plots.items()},
        "report_html": "report.html",
        "report_md": "report.md",
    }
    result = to_jsonable({
        "title": title,
        "split": split,
        "songs": len(ids),
        "model": model,
        "data": data,
        "songs_per_split": dict(songs_per_split) if songs_per_split else None,
        "bootstrap": {"resamples": config.bootstrap, "level": CONFIDENCE_LEVEL, "seed": seed, "unit": "song"},
        "metrics": per_dim,
        "ccc_mean": float(np.mean([per_dim[d]["ccc"] for d in DIMENSIONS])),
        "quadrants": quads.to_dict(),
        "worst_songs": worst,
        "floor": floor,
        **dict(extra or {}),
        "files": files,
    })  # fmt: skip

    write_json(out / "metrics.json", result, allow_nan=False)
    _write_predictions(out / "predictions.csv", ids, split, t, p, quads.true_quadrants, quads.predicted_quadrants)
    if history:
        _write_history(out / "history.csv", history)
    sections = evaluation_sections(result, plots=plots)
    write_report(out, title=title, sections=[*sections, *extra_sections],
                 subtitle=f"{split} split, {len(ids)} songs")  # fmt: skip
    logger.info("evaluation of %d %s songs written to %s", len(ids), split, out)
    return result
