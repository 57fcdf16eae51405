"""The report sections of one evaluation: run summary, metrics, floors, quadrants, largest errors.

Kept apart from the scoring (:mod:`moodscape.eval.scoring`) and from writing the files
(:mod:`moodscape.eval.evaluation`) because later stages put these sections into their own reports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..data.quadrants import QUADRANT_NAMES, QUADRANTS
from ..metrics import regression as M
from .quadrant_analysis import analyse_quadrants
from .report import Image, Section, Table, Text
from .scoring import DIMENSIONS

__all__ = ["evaluation_sections", "fusion_summary"]


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
    """Report sections for the output of :func:`~moodscape.eval.evaluation.evaluate_predictions`.

    Args:
        metrics: the dict :func:`~moodscape.eval.evaluation.evaluate_predictions` returns (or its
            metrics.json, loaded); its "floor" entry, when set, becomes the section on the floors.
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
    members = fusion.describe()
    rows = [{"dimension": d, **{f"{name} weight": w[d] for name, w in members.items()},
             "network alone CCC": alone["metrics"][d]["ccc"]} for d in DIMENSIONS]  # fmt: skip
    blend = " + ".join(f"w_{name} * {name}" for name in members)
    text = (f"The model's song values are {blend}, with the weights below (floor: the descriptor SVR; probe: the "
            "ridge on musicnn song summaries). "
            f"The network alone scores quadrant accuracy {quads.accuracy:.3f}, macro-F1 {quads.macro_f1:.3f} here.")
    summary = {"weights": members["network"], "members": members, "network_alone": alone}
    return summary, [Section("Fusion", [Text(text), Table(rows)])]
