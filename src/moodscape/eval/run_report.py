"""One report for a whole ``moodscape run``: data and split, GAN quality, training, teacher and student
metrics with intervals, quadrants, error analysis, size and latency, exported files, predictions and
audio. Built from what the stages left in the run folder; only what ran is shown.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from ..config import Config
from .report import Audio, Image, Section, Table, Text, write_report

DIMENSIONS = ("valence", "arousal")


def _json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _plot(folder: Path, name: str, caption: str) -> list[Image]:
    path = folder / "plots" / f"{name}.png"
    return [Image(path, caption)] if path.exists() else []


def _metric_rows(model: str, metrics: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"model": model, "dimension": d, "CCC": m["ccc"], "95% low": m["ccc_ci95_low"], "95% high": m["ccc_ci95_high"],
             "Pearson": m["pearson"], "R2": m["r2"], "RMSE": m["rmse"], "MAE": m["mae"]}
            for d, m in ((d, metrics["metrics"][d]) for d in DIMENSIONS)]  # fmt: skip


def _quadrant_scores(metrics: dict[str, Any]) -> dict[str, float]:
    return {"accuracy": metrics["quadrants"]["accuracy"], "macro-F1": metrics["quadrants"]["macro_f1"]}


def _stage_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"stage": name, "status": s.get("status"), "seconds": s.get("seconds"), "peak memory (MB)": s.get("peak_memory_mb")}
            for name, s in summary["stages"].items()]  # fmt: skip


def _named_songs(config: Config, run: Path, split: str, store_dir: str | None) -> list[Section]:
    """Per-song table for ``evaluate.songs`` with the teacher's (and student's) predictions and the audio."""
    if not config.evaluate.songs or not store_dir:
        return []
    from ..data.splits_file import load_splits
    from ..features.store import FeatureStore

    store = FeatureStore(store_dir)
    splits = load_splits(store.directory / "splits.json")
    membership = {s: name for name in ("train", "val", "test") for s in getattr(splits, name)}
    predictions = {}
    for model in ("teacher", "student"):
        path = run / model / "evaluation" / split / "predictions.csv"
        if path.exists():
            with path.open(newline="", encoding="utf-8") as handle:
                predictions[model] = {row["song_id"]: row for row in csv.DictReader(handle)}
    rows, players = [], []
    for song in config.evaluate.songs:
        song = str(song)
        if song not in membership:
            rows.append({"song": song, "split": "not in this dataset"})
            continue
        label = store.labels([song])[0]
        row: dict[str, Any] = {"song": song, "split": membership[song], "valence": label[0], "arousal": label[1]}
        for model, table in predictions.items():
            if song in table:
                row[f"{model} valence"] = float(table[song]["valence_pred"])
                row[f"{model} arousal"] = float(table[song]["arousal_pred"])
        rows.append(row)
        audio = Path(store.entry(song).path)
        if audio.exists():
            players.append(Audio(audio, f"song {song} ({membership[song]})"))
    note = Text(f"Predictions are shown for songs of the {split} split (the evaluated one); the rest show labels only.")
    return [Section("Named songs", [note, Table(rows, caption="Labels and predictions on [-1, 1]"), *players])]


def gan_note(config: Config) -> str:
    """What the run did with a GAN, as its configuration says: trained or not, its windows used or not."""
    ratio = config.teacher.synthetic_ratio
    if not config.pipeline.gan and ratio > 0:
        return (f"No GAN was trained in this run; the teacher trained on {ratio:g} synthetic windows per real window "
                f"from {config.teacher.synthetic_dir} (training set only).")
    if not config.pipeline.gan:
        return "No GAN was trained in this run (pipeline.gan is off); every model saw real songs only."
    if ratio > 0:
        return (f"The GAN saw training songs only, and the teacher trained on {ratio:g} of its synthetic windows per "
                "real window (training set only).")
    return ("The GAN saw training songs only; its synthetic windows were generated but not used for training "
            "(teacher.synthetic_ratio is 0).")


def write_run_report(run: Path, config: Config, summary: dict[str, Any]) -> Path:
    """``run/report.html`` (self-contained) and ``report.md``; returns the HTML path."""
    split = config.evaluate.split
    stages = summary["stages"]
    sections: list[Section] = []
    features = (stages.get("features") or {}).get("outputs", {})
    counts = (stages.get("split") or {}).get("outputs", {})
    sections.append(Section("Run", [
        Text(f"Dataset {features.get('dataset')}: {features.get('songs')} songs, split by song into "
             f"{counts.get('train')} train / {counts.get('val')} val / {counts.get('test')} test. Validation and test "
             f"songs are real songs only. {gan_note(config)}"),
        Table(_stage_rows(summary), caption=f"Stages (peak memory of the whole run: {summary['peak_memory_mb']} MB)"),
    ]))  # fmt: skip

    gan = _json(run / "gan" / "evaluation" / "metrics.json") if config.pipeline.gan_evaluate else None
    if gan:
        rows = [{"space": space, "real vs synthetic": gan[space]["real_vs_synthetic"], "real vs real (scale)":
                 gan[space]["real_vs_real"]} for space in ("frechet_teacher_embedding", "frechet_band_statistics")]  # fmt: skip
        fidelity = gan["condition_fidelity_ccc"]
        plots = run / "gan" / "evaluation"
        sections.append(Section("GAN quality", [
            Table(rows, caption="Frechet distances (lower is closer; the real-vs-real distance of two halves of the "
                  "real windows gives the scale)"),
            Text(f"Condition fidelity (a real-only teacher's CCC on generated windows against their labels): "
                 f"valence {fidelity['valence']:.3f}, arousal {fidelity['arousal']:.3f}."),
            *_plot(plots, "spectrograms", "Real and generated windows per quadrant"),
            *_plot(plots, "labels", "Label distributions: real training songs vs generated"),
            *_plot(plots, "losses", "GAN losses and, per epoch, the band-statistics Frechet distance"),
        ]))  # fmt: skip

    teacher_eval = run / "teacher" / "evaluation" / split
    student_eval = run / "student" / "evaluation" / split
    teacher = _json(teacher_eval / "metrics.json")
    student = _json(student_eval / "metrics.json") if config.pipeline.distill else None
    if teacher:
        curves = [*_plot(teacher_eval, "training_curves", "Teacher: loss and validation CCC per epoch")]
        if student:
            curves += _plot(student_eval, "training_curves", "Student: loss and validation CCC per epoch")
        sections.append(Section("Training", curves))
        rows = _metric_rows("teacher", teacher) + (_metric_rows("student", student) if student else [])
        floors = (teacher.get("floor") or {}).get("floors") or {}
        rows += [{"model": name, "dimension": d, "CCC": f["metrics"][d]["ccc"], "Pearson": f["metrics"][d]["pearson"],
                  "R2": f["metrics"][d]["r2"], "RMSE": f["metrics"][d]["rmse"], "MAE": f["metrics"][d]["mae"]}
                 for name, f in floors.items() for d in DIMENSIONS]  # fmt: skip
        blocks: list[Any] = [Table(rows, caption=f"Song-level {split} metrics, {teacher['songs']} real songs, 95% "
                                   "bootstrap intervals over songs; the cheap floors on the same songs")]  # fmt: skip
        quads = [{"model": "teacher", **_quadrant_scores(teacher)}]
        quads += [{"model": "student", **_quadrant_scores(student)}] if student else []
        quads += [{"model": name, "accuracy": f["quadrants"]["accuracy"], "macro-F1": f["quadrants"]["macro_f1"]}
                  for name, f in floors.items()]  # fmt: skip
        blocks.append(Table(quads, caption="Russell quadrants, same songs"))
        comparison = _json(run / "student" / "comparison" / "comparison.json") if student else None
        if comparison:
            keep = comparison["retention_percent"]
            blocks.append(Text(f"The student keeps {keep['valence']:.0f}% of the teacher's valence CCC and "
                               f"{keep['arousal']:.0f}% of its arousal CCC."))  # fmt: skip
        sections.append(Section("Teacher and student", blocks))
        quads = [*_plot(teacher_eval, "confusion", "Teacher: quadrant confusion matrix")]
        if student:
            quads += _plot(student_eval, "confusion", "Student: quadrant confusion matrix")
        sections.append(Section("Quadrants (Russell's circumplex)", quads))
        final = student_eval if student else teacher_eval
        errors = [*_plot(final, "worst_songs", "Songs with the largest errors"),
                  *_plot(final, "va_plane", "True -> predicted on the valence-arousal plane"),
                  *_plot(final, "scatter", "True vs predicted"), *_plot(final, "errors", "Error histograms")]  # fmt: skip
        sections.append(Section("Error analysis", errors))
        if comparison:
            profile = comparison["profile"]
            sections.append(Section("Size and latency", [Table(
                [{"model": name, "parameters": f"{p['parameters']:,}", "file (MB)": p["file_mb"],
                  "ms per window (1 CPU thread)": p["latency_ms"]} for name, p in profile.items()],
                caption=f"Measured on this machine; the student is {comparison['speedup']:.1f}x faster per window")]))  # fmt: skip

    exported = _json(run / "export" / "export.json")
    if exported:
        parity = exported["parity"]
        rows = [{"file": info["path"], "MB": info["mb"], "max abs diff vs PyTorch": parity.get(name, {}).get("max_abs_diff"),
                 "check": parity.get(name, {}).get("tolerance"), "passed": parity.get(name, {}).get("passed")}
                for name, info in exported["files"].items()]  # fmt: skip
        sections.append(Section("Exported model", [Table(rows, caption=f"In {run / 'export'}; parity on {parity['source']}"),
                                                   Text(f"Model card: {run / 'export' / 'model_card.md'}")]))  # fmt: skip

    predicted = (stages.get("predict") or {}).get("outputs")
    if predicted and predicted.get("songs"):
        rows = [{"file": Path(r["path"]).name, "valence": r["valence"], "arousal": r["arousal"], "quadrant": r["quadrant"],
                 "mood": r["mood"]} for r in predicted["songs"]]  # fmt: skip
        images = [Image(p, f"{p.stem}: trajectory") for p in sorted((run / "predictions").glob("*.png"))]
        sections.append(Section("Predictions on sample songs", [Text(f"With {predicted['model']}."), Table(rows), *images]))

    recon = run / "reconstructions"
    if recon.exists():
        players = [Audio(p, p.stem.replace("_", " ")) for p in sorted(recon.glob("*.wav"))]
        sections.append(Section("Listening: spectrograms back to audio (Griffin-Lim)", [
            Text("Real test clips rebuilt from their log-mel, and generator output at the given (valence, arousal) "
                 "points. The phase is estimated, so expect a phasey but recognisable sound."), *players]))  # fmt: skip

    sections += _named_songs(config, run, split, features.get("store"))
    html_path, _ = write_report(run, title="moodscape run", sections=sections, subtitle=str(run))
    return html_path
