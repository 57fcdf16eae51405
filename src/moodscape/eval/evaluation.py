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

Later stages can reuse :func:`evaluation_sections` to put these results into their own reports.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import EvaluateConfig
from ..data.quadrants import QUADRANT_NAMES, QUADRANTS, quadrant
from ..data.records import from_unit
from ..metrics import regression as M
from ..metrics.intervals import bootstrap_interval
from ..models.serialization import to_jsonable
from .plots import (
    plot_confusion,
    plot_error_histograms,
    plot_scatter,
    plot_training_curves,
    plot_va_plane,
    plot_worst_songs,
)
from .quadrant_analysis import analyse_quadrants
from .report import Image, Section, Table, Text, write_report

__all__ = [
    "CONFIDENCE_LEVEL",
    "DIMENSIONS",
    "HISTORY_COLUMNS",
    "PLOT_NAMES",
    "compare_to_floor",
    "score_floors",
    "dimension_metrics",
    "evaluate_predictions",
    "evaluation_sections",
    "fusion_summary",
    "to_jsonable",
    "worst_songs",
]

logger = logging.getLogger(__name__)

DIMENSIONS = ("valence", "arousal")
CONFIDENCE_LEVEL = 0.95
#: Plot names, in report order; each is written to ``out_dir/plots/<name>.png``.
PLOT_NAMES = ("training_curves", "scatter", "errors", "va_plane", "confusion", "worst_songs")
HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "val_ccc_valence", "val_ccc_arousal", "val_ccc_mean", "lr")
_DEAM = "1-9"


def _check_inputs(song_ids, y_true, y_pred) -> tuple[list[str], np.ndarray, np.ndarray]:
    ids = [str(s) for s in song_ids]
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape or t.ndim != 2 or t.shape[1] != 2:
        raise ValueError(
            f"expected y_true and y_pred of shape (N, 2), columns (valence, arousal), got {t.shape} and {p.shape}"
        )
    if len(ids) != t.shape[0]:
        raise ValueError(f"got {len(ids)} song ids for {t.shape[0]} rows of predictions")
    if not ids:
        raise ValueError("nothing to evaluate: no songs")
    if len(set(ids)) != len(ids):
        dupes = sorted({s for s in ids if ids.count(s) > 1})[:5]
        raise ValueError(f"song ids must be unique (one prediction per song), repeated: {dupes}")
    for name, arr in (("y_true", t), ("y_pred", p)):
        bad = ~np.isfinite(arr)
        if bad.any():
            rows = np.flatnonzero(bad.any(axis=1))[:5]
            raise ValueError(f"{name} has NaN or infinite values, e.g. songs {[ids[i] for i in rows]}")
    if np.abs(t).max() > 1.0 + 1e-6:
        raise ValueError(
            f"y_true must be on [-1, 1], got values in [{t.min():g}, {t.max():g}]; labels on DEAM's "
            "1-9 scale convert with moodscape.data.records.to_unit"
        )
    outside = int((np.abs(p) > 1.0 + 1e-6).sum())
    if outside:
        logger.warning("%d predicted value(s) lie outside [-1, 1] (range [%g, %g]); metrics use them as they are",
                       outside, p.min(), p.max())  # fmt: skip
    return ids, t, p


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
        raise ValueError(
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
            raise ValueError(f"floor '{name}': predictions of shape {predicted.shape}, expected {y_true.shape}")
        quads = analyse_quadrants(y_true, predicted, threshold=threshold)
        scored[name] = {"metrics": M.regression_metrics(y_true, predicted, names=DIMENSIONS),
                        "quadrants": {"accuracy": quads.accuracy, "macro_f1": quads.macro_f1}}  # fmt: skip
    strongest = {d: max(scored, key=lambda n: scored[n]["metrics"][d]["ccc"]) for d in DIMENSIONS}
    metrics = {d: scored[strongest[d]]["metrics"][d] for d in DIMENSIONS}
    return {"floors": scored, "strongest": strongest, "metrics": metrics,
            "comparison": compare_to_floor(per_dim, metrics, names=strongest)}  # fmt: skip


def _num(value: Any) -> float:
    """A float for a JSON number; None (null) back to NaN."""
    return float("nan") if value is None else float(value)


def _fmt_ci(row: Mapping[str, Any]) -> str:
    low, high = _num(row.get("ccc_ci95_low")), _num(row.get("ccc_ci95_high"))
    return "n/a" if math.isnan(low) or math.isnan(high) else f"[{low:.3f}, {high:.3f}]"


def _quadrant_label(q: int) -> str:
    return f"Q{q} {QUADRANT_NAMES[q]}"


def _images(plots: Mapping[str, Path], captions: Sequence[tuple[str, str]]) -> list[Image]:
    return [Image(plots[key], caption) for key, caption in captions if key in plots]


def _summary_section(metrics: Mapping[str, Any]) -> Section:
    rows = [
        {"item": "model", "value": metrics.get("model") or "n/a"},
        {"item": "data", "value": metrics.get("data") or "n/a"},
        {"item": "split evaluated", "value": metrics["split"]},
        {"item": "songs evaluated", "value": metrics["songs"]},
    ]
    rows += [{"item": f"songs in {name}", "value": n} for name, n in (metrics.get("songs_per_split") or {}).items()]
    rows += [
        {"item": "quadrant threshold", "value": f"{metrics['quadrants']['threshold']:g} on [-1, 1]"},
        {"item": "bootstrap resamples (songs)", "value": metrics.get("bootstrap", {}).get("resamples") or "off"},
    ]
    return Section("Run summary", [Table(rows, columns=[("item", "setting"), ("value", "value")])])


_METRIC_COLUMNS = [
    ("dimension", "dimension"), ("ccc", "CCC"), ("ci", "CCC 95% CI"), ("pearson", "Pearson"), ("r2", "R2"),
    ("mse", "MSE"), ("mae", "MAE"), ("rmse", "RMSE"),
    ("mse_1_9", "MSE (1-9)"), ("mae_1_9", "MAE (1-9)"), ("rmse_1_9", "RMSE (1-9)"),
]  # fmt: skip


def _metrics_section(metrics: Mapping[str, Any]) -> Section:
    rows = []
    for dim in DIMENSIONS:
        m = metrics["metrics"][dim]
        rows.append({"dimension": dim, "ci": _fmt_ci(m), **{k: _num(v) for k, v in m.items()}})
    resamples = metrics.get("bootstrap", {}).get("resamples") or 0
    intervals = (f"CCC intervals: percentile bootstrap over songs, {resamples} resamples." if resamples
                 else "CCC intervals: off (evaluate.bootstrap = 0).")  # fmt: skip
    return Section("Metrics", [
        Text(f"Per-song metrics on {metrics['songs']} {metrics['split']} songs. CCC, Pearson, R2, MSE, MAE and RMSE "
             "are on the [-1, 1] scale; the (1-9) columns are on DEAM's 1-9 scale (x * 4 + 5: errors x4, MSE x16). "
             + intervals),
        Table(rows, columns=_METRIC_COLUMNS, caption="Model metrics per dimension"),
        Text(f"Mean CCC over valence and arousal: {_num(metrics.get('ccc_mean')):.3f}."),
    ])  # fmt: skip


def _floor_section(metrics: Mapping[str, Any], floor: Mapping[str, Any]) -> Section:
    model = {d: {k: _num(v) for k, v in metrics["metrics"][d].items()} for d in DIMENSIONS}
    floors = floor.get("floors") or {"ridge floor": {"metrics": floor["metrics"]}}
    rows = [
        {"dimension": dim, "who": who, **{k: _num(src.get(k)) for k in M.METRIC_NAMES}}
        for dim in DIMENSIONS
        for who, src in (("model", model[dim]), *((name, f["metrics"][dim]) for name, f in floors.items()))
    ]
    columns = [("dimension", "dimension"), ("who", "predictor"), ("ccc", "CCC"), ("pearson", "Pearson"),
               ("r2", "R2"), ("mse", "MSE"), ("mae", "MAE"), ("rmse", "RMSE")]  # fmt: skip
    blocks: list = [Table(rows, columns=columns, caption="Model vs the cheap floors, same songs (on [-1, 1])")]
    quads = [{"who": "model", "accuracy": _num(metrics["quadrants"]["accuracy"]),
              "macro_f1": _num(metrics["quadrants"]["macro_f1"])}]  # fmt: skip
    quads += [{"who": name, **{k: _num(v) for k, v in f["quadrants"].items()}} for name, f in floors.items()
              if "quadrants" in f]  # fmt: skip
    if len(quads) > 1:
        blocks.append(Table(quads, columns=[("who", "predictor"), ("accuracy", "quadrant accuracy"),
                                            ("macro_f1", "macro-F1")], caption="Quadrants, same songs"))  # fmt: skip
    comparison = floor["comparison"]
    return Section("Against the floors", blocks + [Text(comparison[d]["sentence"]) for d in DIMENSIONS])


_PER_QUADRANT_COLUMNS = [
    ("quadrant", "quadrant"), ("support", "true songs"), ("predicted", "predicted songs"),
    ("precision", "precision"), ("recall", "recall"), ("f1", "F1"),
    ("ccc_valence", "CCC valence"), ("mae_valence", "MAE valence"),
    ("ccc_arousal", "CCC arousal"), ("mae_arousal", "MAE arousal"),
]  # fmt: skip


def _quadrant_section(quads: Mapping[str, Any], plots: Mapping[str, Path]) -> Section:
    conf, rates = quads["confusion"], quads["confusion_normalised"]
    conf_rows = []
    for i, q in enumerate(QUADRANTS):
        row: dict[str, Any] = {"true": _quadrant_label(q), "songs": sum(conf[i])}
        for j, pq in enumerate(QUADRANTS):
            rate = _num(rates[i][j])
            row[f"Q{pq}"] = f"{conf[i][j]}" + ("" if math.isnan(rate) else f" ({rate:.0%})")
        conf_rows.append(row)
    conf_columns = [("true", "true \u2193 predicted \u2192"), *((f"Q{q}", _quadrant_label(q)) for q in QUADRANTS)]
    conf_columns.append(("songs", "songs"))
    counts = ("support", "predicted")
    per_q = [{**{k: (v if k in counts else _num(v)) for k, v in r.items() if k not in ("quadrant", "name")},
              "quadrant": _quadrant_label(r["quadrant"])} for r in quads["per_quadrant"]]  # fmt: skip
    used = ", ".join(f"Q{q}" for q in quads["macro_f1_quadrants"])
    blocks: list = [
        Text(f"Quadrants of Russell's circumplex, boundary at {quads['threshold']:g} on both axes (a value exactly at "
             f"the boundary counts as positive). Accuracy {_num(quads['accuracy']):.3f}; macro-F1 "
             f"{_num(quads['macro_f1']):.3f} over the quadrants present in truth or prediction ({used})."),
        Table(conf_rows, columns=conf_columns, caption="Confusion: songs (share of the true quadrant's songs)"),
        Table(per_q, columns=_PER_QUADRANT_COLUMNS,
              caption="Per quadrant (CCC/MAE over the songs truly in it; n/a below 2 songs)"),
    ]  # fmt: skip
    blocks += _images(plots, [("confusion", "Quadrant confusion: counts and row-normalised"),
                              ("va_plane", "Valence-arousal plane: arrows from true to predicted")])  # fmt: skip
    return Section("Quadrants", blocks)


_WORST_COLUMNS = [
    ("rank", "#"), ("song_id", "song"),
    ("valence", "valence"), ("valence_pred", "predicted"), ("valence_abs_error", "|error|"),
    ("arousal", "arousal"), ("arousal_pred", "predicted"), ("arousal_abs_error", "|error|"),
    ("distance", "distance"), ("quadrant", "true Q"), ("quadrant_pred", "predicted Q"),
]  # fmt: skip


def _worst_section(worst: Sequence[Mapping[str, Any]], plots: Mapping[str, Path]) -> Section:
    rows = [{**r, "quadrant": f"Q{r['quadrant']}", "quadrant_pred": f"Q{r['quadrant_pred']}"} for r in worst]
    blocks: list = [
        Text("Songs farthest from their truth on the valence-arousal plane (Euclidean distance on [-1, 1])."),
        Table(rows, columns=_WORST_COLUMNS, caption=f"The {len(worst)} worst songs"),
    ]
    return Section("Largest errors", blocks + _images(plots, [("worst_songs", "Absolute error per song")]))


def evaluation_sections(
    metrics: Mapping[str, Any],
    *,
    plots: Mapping[str, str | Path],
) -> list[Section]:
    """Report sections for the output of :func:`evaluate_predictions`.

    Args:
        metrics: the dict :func:`evaluate_predictions` returns (or its metrics.json, loaded); its
            "floor" entry, when set, becomes the section on the floors.
        plots: PNG paths by name: "training_curves", "scatter", "errors", "va_plane", "confusion",
            "worst_songs"; missing names are skipped.

    Returns:
        sections in order: run summary, metrics, floors (when scored), quadrants, predictions,
        largest errors (when any), training (when its plot is given).
    """
    plots = {k: Path(v) for k, v in plots.items()}
    sections = [_summary_section(metrics), _metrics_section(metrics)]
    if metrics.get("floor"):
        sections.append(_floor_section(metrics, metrics["floor"]))
    sections.append(_quadrant_section(metrics["quadrants"], plots))
    images = _images(plots, [("scatter", "True vs predicted, with the identity line"),
                             ("errors", "Signed errors (predicted - true)")])  # fmt: skip
    if images:
        sections.append(Section("Predictions", images))
    if metrics.get("worst_songs"):
        sections.append(_worst_section(metrics["worst_songs"], plots))
    images = _images(plots, [("training_curves", "Loss, validation CCC and learning rate per epoch")])
    if images:
        sections.append(Section("Training", images))
    return sections


def fusion_summary(fusion, y_true: np.ndarray, network: np.ndarray, threshold: float) -> tuple[dict[str, Any], list[Section]]:
    """What a fused model's evaluation adds: its weights, and the network alone on the same songs."""
    quads = analyse_quadrants(y_true, network, threshold=threshold)
    alone = {"metrics": M.regression_metrics(y_true, network, names=DIMENSIONS),
             "quadrants": {"accuracy": quads.accuracy, "macro_f1": quads.macro_f1}}  # fmt: skip
    weights = {"valence": float(fusion.weights[0]), "arousal": float(fusion.weights[1])}
    rows = [{"dimension": d, "network weight": weights[d], "network alone CCC": alone["metrics"][d]["ccc"]}
            for d in DIMENSIONS]  # fmt: skip
    text = (f"The model's song values are w * network + (1 - w) * descriptor floor, w chosen on training songs held back from the network. "
            f"The network alone scores quadrant accuracy {quads.accuracy:.3f}, macro-F1 {quads.macro_f1:.3f} here.")
    return {"weights": weights, "network_alone": alone}, [Section("Fusion with the descriptor floor",
                                                                  [Text(text), Table(rows)])]  # fmt: skip


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
        raise ValueError(f"{path} holds no predictions; evaluate the run again (`moodscape evaluate RUN`)")
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
        extra: more entries for metrics.json (e.g. "fusion", see :func:`fusion_summary`).
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

    (out / "metrics.json").write_text(json.dumps(result, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    _write_predictions(out / "predictions.csv", ids, split, t, p, quads.true_quadrants, quads.predicted_quadrants)
    if history:
        _write_history(out / "history.csv", history)
    sections = evaluation_sections(result, plots=plots)
    write_report(out, title=title, sections=[*sections, *extra_sections],
                 subtitle=f"{split} split, {len(ids)} songs")  # fmt: skip
    logger.info("evaluation of %d %s songs written to %s", len(ids), split, out)
    return result
