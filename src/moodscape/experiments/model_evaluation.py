"""Any model, scored on any labelled data through the path users predict with (``moodscape evaluate --model``).

A shipped model, a run folder or an exported file predicts every labelled file of a dataset (a labels CSV of
``path,quadrant`` or ``path,valence,arousal``, a DEAM or emoMusic folder) exactly as ``moodscape predict`` would;
the song values are then scored as every evaluation is (metrics with bootstrap intervals, the quadrant confusion
matrix, the songs furthest off, plots, a self-contained report) and, beside that:

* the quadrant scores a quadrant-labelled set is judged by (accuracy, macro-F1, valence and arousal sign), each
  with an interval;
* with a metadata file, a group column (e.g. ``Artist``) and the training set's metadata, the same scores on the
  songs whose group the model heard in training and on the songs of new groups (songs of a known artist score
  higher: the honest number for new music is the second);
* where the data has time-continuous curves (emoMusic's 2 Hz annotations), the predicted timelines against them
  per song (:func:`moodscape.eval.scoring.curve_agreement`).

Files that cannot be predicted are reported in ``errors.csv`` and left out; the run goes on.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import EvaluateConfig
from ..data.dataset import load_dataset
from ..data.folds import read_groups
from ..errors import DataError
from ..eval.evaluation import evaluate_predictions
from ..eval.report import Section, Table, Text
from ..eval.scoring import DIMENSIONS, curve_agreement, dimension_metrics, quadrant_scores
from ..files import write_json
from ..inference.predictor import Predictor

log = logging.getLogger(__name__)

QUADRANT_SCORES = (("macro_f1", "macro-F1"), ("accuracy", "accuracy"), ("valence_sign", "valence sign"),
                   ("arousal_sign", "arousal sign"))  # fmt: skip


@dataclass(frozen=True)
class Groups:
    """Which songs are by a group (artist) the model heard: ``metadata`` maps the evaluated songs to groups,
    ``train_metadata`` lists the training songs' groups (both read with ``id_column`` and ``column``)."""

    metadata: Path
    train_metadata: Path
    column: str = "Artist"
    id_column: str = "Song"

    def seen(self, song_ids: Sequence[str]) -> np.ndarray:
        """True for each song whose group has songs in the training metadata."""
        groups = read_groups(self.metadata, id_column=self.id_column, group_column=self.column)
        known = set(read_groups(self.train_metadata, id_column=self.id_column, group_column=self.column).values())
        missing = [s for s in song_ids if s not in groups]
        if missing:
            raise DataError(f"{self.metadata}: no {self.column} for {len(missing)} evaluated song(s), e.g. "
                            f"{', '.join(missing[:5])}; its {self.id_column} column must hold the song ids "
                            "(the audio file names without extension)")  # fmt: skip
        return np.array([groups[s] in known for s in song_ids])


def subset_scores(truth: np.ndarray, predicted: np.ndarray, *, bootstrap: int, seed: int) -> dict[str, Any]:
    """The quadrant scores and the CCC (with intervals) of one set of songs."""
    per_dim = dimension_metrics(truth, predicted, bootstrap=bootstrap, seed=seed)
    return {"songs": len(truth), **quadrant_scores(truth, predicted, bootstrap=bootstrap, seed=seed),
            **{f"ccc_{d}": {"value": per_dim[d]["ccc"], "ci95_low": per_dim[d]["ccc_ci95_low"],
                            "ci95_high": per_dim[d]["ccc_ci95_high"]} for d in DIMENSIONS}}  # fmt: skip


def _interval(entry: dict[str, float]) -> str:
    low, high = entry["ci95_low"], entry["ci95_high"]
    ranged = low is not None and high is not None and np.isfinite(low) and np.isfinite(high)
    return f"{entry['value']:.3f} [{low:.3f}, {high:.3f}]" if ranged else f"{entry['value']:.3f}"


def _score_rows(subsets: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    keys = [*QUADRANT_SCORES, *((f"ccc_{d}", f"CCC {d}") for d in DIMENSIONS)]
    return [{"songs": name, "n": entry["songs"], **{label: _interval(entry[key]) for key, label in keys}}
            for name, entry in subsets.items()]  # fmt: skip


def _sections(subsets: dict[str, dict[str, Any]], curves: dict[str, Any] | None, failed: list) -> list[Section]:
    sections = [Section("Quadrant scores (95% bootstrap intervals over songs)", [
        Table(_score_rows(subsets)),
        Text("Macro-F1 is the mean F1 of the four quadrants; a sign score is the share of songs whose value has the "
             "right sign. Songs by an artist the model heard in training usually score higher than new artists."),
    ])]  # fmt: skip
    if curves is not None:
        rows = [{"dimension": d, "songs": curves[d]["songs_with_r"], "Pearson r (mean ± sd)":
                 f"{curves[d]['pearson_mean']:.3f} ± {curves[d]['pearson_std']:.3f}",
                 "RMSE (mean ± sd)": f"{curves[d]['rmse_mean']:.3f} ± {curves[d]['rmse_std']:.3f}"} for d in DIMENSIONS]
        sections.append(Section("Timelines against the annotated curves", [
            Table(rows),
            Text(f"Per song, as in MediaEval's dynamic task: the predicted timeline interpolated at the annotation "
                 f"times, then Pearson r and RMSE against the curve, averaged over {curves['songs']} songs. A song-level "
                 "model's windows follow the music's changes only loosely; r near 0 means the timeline does not track "
                 "the annotated curve."),
        ]))  # fmt: skip
    if failed:
        sections.append(Section("Files left out", [Table([{"file": p, "reason": r} for p, r in failed])]))
    return sections


def evaluate_model(model: str | Path, data: str | Path, *, out_dir: str | Path, layout: str = "auto",
                   csv_scale: str = "1-9", annotations: str | Path | None = None, groups: Groups | None = None,
                   hop_seconds: float | None = None, threads: int | None = None, files_at_once: int | None = None,
                   bootstrap: int = 1000, worst: int = 10, seed: int = 0, progress: bool = True) -> dict[str, Any]:  # fmt: skip
    """Predict every labelled song of ``data`` with ``model`` (a shipped model's name, a run or checkpoint folder,
    an .onnx file or folder) and write the evaluation into ``out_dir`` (metrics.json, predictions.csv, plots,
    report.html, errors.csv); returns the metrics. ``groups`` adds the scores on seen and on new groups."""
    out = Path(out_dir)
    dataset = load_dataset(data, layout=layout, csv_scale=csv_scale, annotations=annotations)
    records = [r for r in dataset.records if r.valence is not None and r.arousal is not None]
    if not records:
        raise DataError(f"{data}: no song has both audio and labels to score ({len(dataset.records)} with audio); "
                        "`moodscape data check` tells what is missing")  # fmt: skip
    curves = {r.song_id: r.dynamic for r in records if r.dynamic is not None}
    predictor = Predictor.load(model, threads=threads, hop_seconds=hop_seconds, files_at_once=files_at_once)
    by_path = {str(r.path): r for r in records}
    kept, predicted, timelines, failed = [], [], {}, []
    for path, result, reason in predictor.predict_many([r.path for r in records], timeline=bool(curves),
                                                        progress=progress):  # fmt: skip
        record = by_path[str(path)]
        if result is None:
            failed.append((str(path), reason or "unknown error"))
            continue
        kept.append(record)
        predicted.append((result.valence, result.arousal))
        if curves:
            timelines[record.song_id] = (np.array([p["time"] for p in result.timeline]),
                                         np.array([[p["valence"], p["arousal"]] for p in result.timeline]))  # fmt: skip
    if not kept:
        raise DataError(f"{data}: none of the {len(records)} files could be predicted; see the warnings above")
    ids = [r.song_id for r in kept]
    truth = np.array([(r.valence, r.arousal) for r in kept], dtype=np.float64)
    values = np.array(predicted, dtype=np.float64)

    subsets = {"all": subset_scores(truth, values, bootstrap=bootstrap, seed=seed)}
    if groups is not None:
        seen = groups.seen(ids)
        for name, mask in ((f"{groups.column} seen in training", seen), (f"new {groups.column}", ~seen)):
            if mask.any():
                subsets[name] = subset_scores(truth[mask], values[mask], bootstrap=bootstrap, seed=seed)
    agreement = curve_agreement(curves, timelines) if curves else None
    extra = {"quadrant_scores": subsets, "failed": [{"path": p, "reason": r} for p, r in failed],
             "model_source": str(model), "data_source": str(data)}  # fmt: skip
    if groups is not None:
        extra["groups"] = {"column": groups.column, "metadata": str(groups.metadata),
                           "train_metadata": str(groups.train_metadata)}  # fmt: skip
    if agreement is not None:
        extra["timelines"] = {k: v for k, v in agreement.items() if k != "per_song"}
    out.mkdir(parents=True, exist_ok=True)
    with (out / "errors.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "reason"])
        writer.writerows(failed)
    if agreement is not None:
        write_json(out / "timelines.json", agreement)
    config = EvaluateConfig(bootstrap=bootstrap, worst_songs=worst, floors=[])
    return evaluate_predictions(ids, truth, values, split=dataset.name, config=config, out_dir=out,
                                title=f"moodscape evaluation: {dataset.name}",
                                model=predictor.backend.description, data=f"{dataset.name} ({dataset.root})",
                                seed=seed, extra=extra, extra_sections=_sections(subsets, agreement, failed))  # fmt: skip
