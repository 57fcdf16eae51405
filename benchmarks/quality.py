"""Quality on real music: k-fold cross-validation on 4q-dev (folds grouped by artist, stratified by
quadrant, fixed seed), every row trained through the library's own trainers on the same folds.

Rows: the two cheap floors (an SVR on librosa descriptors; a ridge on pooled log-mel), the frozen musicnn
linear probe (a reference: a ridge on song summaries of the pretrained taggers, no training of musicnn), the
teacher and student of each profile (network alone and fused with the descriptor floor where the profile
fuses), the int8 ONNX export of each student and of a musicnn teacher (the models as they would ship), and
the teacher with and without GAN windows (a GAN trained on each fold's training songs only); with
--average, the equal-weight average of chosen rows' held-out values (an ensemble experiment).
Per row: quadrant accuracy, macro-F1, valence-sign and arousal-sign accuracy, CCC per dimension (mean
and spread over folds), the macro-F1 gain over the strongest floor on the same out-of-fold songs with
a paired bootstrap interval, and wall time. Held-out predictions are cached per fold in --work, so an
interrupted run continues where it stopped.

Usage: python benchmarks/quality.py [--data ../shared/data/4q-dev] [--rows floor ridge demo:teacher small-data ...]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from moodscape.config import load_config
from moodscape.data.dataset import load_dataset
from moodscape.data.folds import read_groups
from moodscape.experiments import crossval as cv
from moodscape.features.build import build_feature_store
from moodscape.features.store import FeatureStore

REPO = Path(__file__).resolve().parents[1]
FLOORS = {"floor": "descriptors", "ridge": "ridge"}
PROFILES = {"demo": "configs/demo.yaml", "small-data": "configs/small-data.yaml", "real-music": "configs/real-music.yaml"}
PROBE = "musicnn-probe"  # the frozen linear probe on musicnn song summaries, on the real-music profile's store
# Variants measured beside their profile: name -> (profile, --set overrides).
VARIANTS = {
    "real-music-transformer": ("real-music", ("teacher.head=transformer", "teacher.trainable=midend")),
    "real-music-fused": ("real-music", ("teacher.fuse_descriptors=true", "student.fuse_descriptors=true")),
    "real-music-long-student": ("real-music", ("student.epochs=20", "student.windows_per_song=8")),
}
THREADS = ("runtime.threads=2",)
METRICS = ("accuracy", "macro_f1", "valence_sign", "arousal_sign", "ccc_valence", "ccc_arousal")


def fold_rows(name: str, config, fold: cv.Fold, prepared, work: Path, gan_ratio: float) -> dict[str, np.ndarray]:
    """Held-out predictions of every row that one row name trains, for one fold."""
    if name in FLOORS:
        return {name: cv.floor_fold(FLOORS[name], prepared, config)}
    if name == PROBE:
        return {name: cv.probe_fold(prepared)}
    if name.endswith("+gan"):
        profile = name.removesuffix("+gan")
        held = cv.gan_teacher_fold(config, prepared, work / profile / "gan" / f"fold{fold.index}", ratio=gan_ratio)
        return {f"{profile} teacher + GAN windows": held["network"]}
    profile = name.removesuffix(":teacher")
    teacher_dir = work / profile / "teacher" / f"fold{fold.index}"
    arms = [("teacher", lambda: cv.teacher_fold(config, prepared, teacher_dir))]
    if not name.endswith(":teacher"):
        student_dir = work / profile / "student" / f"fold{fold.index}"
        arms.append(("student", lambda: cv.student_fold(config, prepared, teacher_dir, student_dir)))
    out = {}
    for model, train in arms:
        held = train()
        out[f"{profile} {model}" + (" (network alone)" if "fused" in held else "")] = held["network"]
        if "fused" in held:
            out[f"{profile} {model} + descriptor floor"] = held["fused"]
        if "int8" in held:
            out[f"{profile} {model}, int8 ONNX" + (" (network alone)" if "fused" in held else "")] = held["int8"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "4q-dev")
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "moodscape-bench" / "quality")
    parser.add_argument("--rows", nargs="+", default=["floor", "ridge", "musicnn-probe", "demo:teacher", "small-data",
                                                      "small-data+gan", "real-music"],
                        help="floor, ridge, musicnn-probe (frozen musicnn embeddings + ridge), a profile name (demo, "
                             "small-data, real-music, or a variant: real-music-transformer, real-music-fused, "
                             "real-music-long-student: teacher "
                             "and student), PROFILE:teacher (the teacher only) or PROFILE+gan (the teacher with GAN "
                             "windows)")  # fmt: skip
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gan-ratio", type=float, default=0.5, help="synthetic windows per real one (+gan rows)")
    parser.add_argument("--gan-epochs", type=int, default=3,
                        help="GAN epochs per fold (+gan rows; about a minute each on 2 cores)")  # fmt: skip
    parser.add_argument("--average", nargs="+", action="append", default=[], metavar="ROW",
                        help="also score the equal-weight average of these rows' held-out song values (row names as "
                             "the table prints them before relabelling, e.g. floor musicnn-probe 'real-music teacher, "
                             "int8 ONNX'); repeat for several averages. An experiment on cached predictions, not a "
                             "model moodscape trains")  # fmt: skip
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not (args.data / "labels.csv").exists():
        raise SystemExit(f"{args.data}/labels.csv not found: the benchmark needs 4q-dev (see ../shared/data/README.md)")

    base = load_config(REPO / "configs" / "demo.yaml", THREADS)
    dataset = load_dataset(args.data / "labels.csv", layout="csv")

    def store_for(config) -> FeatureStore:
        """The store of a profile's front end (profiles with other audio or features settings get their own)."""
        built = FeatureStore(build_feature_store(dataset, args.work / "features", config=config, progress=False))
        if built.song_ids != store.song_ids:
            raise SystemExit(f"{built.directory} holds other songs than {store.directory}; the folds need the same")
        return built

    store = FeatureStore(build_feature_store(dataset, args.work / "features", config=base, progress=False))
    groups = read_groups(args.data / "metadata.csv", id_column="Song", group_column="Artist")
    folds = cv.make_folds(store, groups, k=args.folds, seed=args.seed)
    cache = args.work / "predictions"
    cache.mkdir(parents=True, exist_ok=True)

    predictions: dict[str, dict[int, np.ndarray]] = {}
    seconds: dict[str, float] = {}
    for name in args.rows:
        profile = "real-music" if name == PROBE else name.removesuffix("+gan").removesuffix(":teacher")
        extra = [f"gan.epochs={args.gan_epochs}", "gan.monitor_windows=0"] if name.endswith("+gan") else []
        profile, variant = VARIANTS.get(profile, (profile, ()))
        config = base if name in FLOORS else load_config(REPO / PROFILES[profile], [*THREADS, *extra, *variant])
        row_store = store if name in FLOORS else store_for(config)
        for fold in folds:
            path = cache / f"{name}-fold{fold.index}.npz"
            if not path.exists():
                began = time.perf_counter()
                rows = fold_rows(name, config, fold, cv.prepared_fold(row_store, fold), args.work, args.gan_ratio)
                np.savez(path, seconds=time.perf_counter() - began, **{k: v for k, v in rows.items()})
            with np.load(path) as saved:
                for row in saved.files:
                    if row != "seconds":
                        predictions.setdefault(row, {})[fold.index] = saved[row]
                        seconds[row] = seconds.get(row, 0.0) + float(saved["seconds"])
            print(f"{name}: fold {fold.index + 1}/{len(folds)} done", flush=True)

    for members in args.average:
        missing = [m for m in members if m not in predictions]
        if missing:
            raise SystemExit(f"--average {' '.join(members)}: no row {', '.join(missing)} in this run; valid: "
                             f"{', '.join(predictions)}")  # fmt: skip
        name = "equal average of " + " + ".join(cv.ROW_LABELS.get(m, m) for m in members)
        predictions[name] = {f.index: np.clip(np.mean([predictions[m][f.index] for m in members], axis=0), -1.0, 1.0)
                             for f in folds}  # fmt: skip
        seconds[name] = sum(seconds[m] for m in members)

    order = [s for f in folds for s in f.test]
    truth = store.labels(order)
    pooled = {row: np.concatenate([p[f.index] for f in folds]) for row, p in predictions.items()}
    floors = [row for row in pooled if row in FLOORS]
    strongest = max(floors, key=lambda row: cv.scores(truth, pooled[row])["macro_f1"]) if floors else None
    results = {}
    for row, per_fold in predictions.items():
        fold_scores = [cv.scores(store.labels(f.test), per_fold[f.index]) for f in folds]
        entry = {m: (float(np.mean([s[m] for s in fold_scores])), float(np.std([s[m] for s in fold_scores])))
                 for m in METRICS}  # fmt: skip
        if strongest is not None and row != strongest:
            entry["gain_over_floor"] = cv.paired_gain(truth, pooled[row], pooled[strongest], seed=args.seed)
        entry["seconds"] = seconds[row]
        results[row] = entry

    print(f"\n{len(store.song_ids)} songs, {args.folds} folds grouped by artist (seed {args.seed}); floor: {strongest}")
    print("| model | accuracy | macro-F1 | valence sign | arousal sign | CCC valence | CCC arousal | macro-F1 vs floor "
          "[95% CI] | wall time |\n|---|---|---|---|---|---|---|---|---|")
    for row, entry in results.items():
        cells = " | ".join(f"{entry[m][0]:.3f} ± {entry[m][1]:.3f}" for m in METRICS)
        gain = entry.get("gain_over_floor")
        versus = f"{gain[0]:+.3f} [{gain[1]:+.3f}, {gain[2]:+.3f}]" if gain else "-"
        print(f"| {cv.ROW_LABELS.get(row, row)} | {cells} | {versus} | {entry['seconds'] / 60:.1f} min |")
    if args.out:
        summary = {"data": str(args.data), "songs": len(store.song_ids), "folds": args.folds, "seed": args.seed,
                   "floor": strongest, "rows": results}  # fmt: skip
        args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
