"""Quality on real music: k-fold cross-validation on 4q-dev (folds grouped by artist, stratified by
quadrant, fixed seed), every row trained through the library's own trainers on the same folds.

Rows: the two cheap floors (an SVR on librosa descriptors; a ridge on pooled log-mel), the frozen musicnn
linear probe (a reference: a ridge on song summaries of the pretrained taggers, no training of musicnn), the
teacher and student of each profile (network alone and fused with the descriptor floor where the profile
fuses), the int8 ONNX export of each student and of a musicnn teacher (the models as they would ship), and
the teacher with and without GAN windows (a GAN trained on each fold's training songs only); with
--average, the equal-weight average of chosen rows' held-out values (an ensemble experiment, labelled as chosen on
out-of-fold predictions). A profile that keeps its last epoch (select=last) trains each fold on all of the fold's
training songs, as it ships. With --holdout, each shippable profile is also trained on all of --data exactly as it
ships (scripts/train_recipe.sh) and its export scored once on the holdout folder through `moodscape evaluate`,
overall, on artists the model heard and on new artists; the JSON keeps each fold model's checks (the epoch it kept,
its fit on its own training songs, its quadrant shares there) for the packaging step to hold the shipped model to.
Per row: quadrant accuracy, macro-F1, valence-sign and arousal-sign accuracy, CCC per dimension (mean
and spread over folds), the macro-F1 gain over the strongest floor on the same out-of-fold songs with
a paired bootstrap interval, and wall time. Held-out predictions are cached per fold in --work, so an
interrupted run continues where it stopped.

Usage: python benchmarks/quality.py [--data ../shared/data/4q-dev] [--rows floor ridge demo:teacher small-data ...]
       [--holdout ../shared/data/4q-holdout]
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
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
BIN = Path(sys.executable).parent  # the environment's moodscape command
FLOORS = {"floor": "descriptors", "ridge": "ridge"}
PROFILES = {"demo": "configs/demo.yaml", "small-data": "configs/small-data.yaml", "real-music": "configs/real-music.yaml"}
PROBE = "musicnn-probe"  # the frozen linear probe on musicnn song summaries, on the real-music profile's store
# Variants measured beside their profile: name -> (profile, --set overrides).
VARIANTS = {
    "real-music-transformer": ("real-music", ("teacher.head=transformer", "teacher.trainable=head")),
    "real-music-msd": ("real-music", ("teacher.pretrained=MSD_musicnn",)),
    "real-music-long-student": ("real-music", ("student.epochs=20", "student.windows_per_song=8")),
}
SHIPPABLE = ("real-music",)  # the profiles whose model ships: --holdout trains them as shipped and scores them
THREADS = ("runtime.threads=2",)
METRICS = ("accuracy", "macro_f1", "valence_sign", "arousal_sign", "ccc_valence", "ccc_arousal")
# Rows made from out-of-fold predictions after looking at them (averages of rows) say so: their scores are
# optimistic, having been picked on the folds they are reported on.
OOF_NOTE = " (chosen on out-of-fold predictions)"


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
        if "int8_fused" in held:
            out[f"{profile} {model}, int8 ONNX + descriptor floor"] = held["int8_fused"]
        if "checks" in held:
            out[f"checks:{profile} {model}"] = held["checks"]
    return out


def shipped_row(name: str) -> str:
    """The row of a profile that is its model as it ships: the int8 export, fused when the profile fuses."""
    profile, variant = VARIANTS.get(name, (name, ()))
    config = load_config(REPO / PROFILES[profile], [*THREADS, *variant])
    fused = config.teacher.fuse_descriptors
    return f"{name} teacher, int8 ONNX" + (" + descriptor floor" if fused else "")


def holdout_scores(name: str, data: Path, holdout: Path, work: Path, stores: list[Path]) -> dict:
    """Train profile ``name`` on every clip of ``data`` exactly as it ships (scripts/train_recipe.sh), then score its
    export once on ``holdout`` through `moodscape evaluate --model`, overall and on artists new to ``data``."""
    profile, variant = VARIANTS.get(name, (name, ()))
    if variant:
        raise SystemExit(f"--holdout trains profiles as they ship; {name} is a variant of {profile}")
    run = work / "ship" / name
    if not (run / "export" / "model-logmel.int8.onnx").exists():
        subprocess.run(["bash", str(REPO / "scripts" / "train_recipe.sh"), str(BIN), str(data / "labels.csv"), str(run),
                        str(REPO / PROFILES[profile]), *map(str, stores)], check=True)  # fmt: skip
    out = run / "holdout"
    subprocess.run([str(BIN / "moodscape"), "-q", "evaluate", "--model", str(run / "export"), str(holdout / "labels.csv"),
                    "--metadata", str(holdout / "metadata.csv"), "--train-metadata", str(data / "metadata.csv"),
                    "--out", str(out)], check=True)  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    return {"songs": metrics["songs"], "scores": metrics["quadrant_scores"], "report": str(out / "report.html"),
            "command": f"bash scripts/train_recipe.sh .venv/bin {data / 'labels.csv'} RUN {PROFILES[profile]}; "
                       f"moodscape evaluate --model RUN/export {holdout / 'labels.csv'} --metadata "
                       f"{holdout / 'metadata.csv'} --train-metadata {data / 'metadata.csv'}"}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "4q-dev")
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "moodscape-bench" / "quality")
    parser.add_argument("--rows", nargs="+", default=["floor", "ridge", "musicnn-probe", "demo:teacher", "small-data",
                                                      "small-data+gan", "real-music"],
                        help="floor, ridge, musicnn-probe (frozen musicnn embeddings + ridge), a profile name (demo, "
                             "small-data, real-music, or a variant: real-music-transformer, real-music-msd, "
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
    parser.add_argument("--holdout", type=Path, help="also train each profile row on all of --data exactly as it "
                        "ships and score it once on this labelled folder (4q-holdout) with `moodscape evaluate`, "
                        "overall and on artists new to --data; nothing is chosen on it")  # fmt: skip
    parser.add_argument("--out", type=Path, help="also write the results as JSON here (rows already in the file and "
                        "not run now are kept)")  # fmt: skip
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
    checks: dict[str, list[dict]] = {}  # per model, each fold model's model_checks (crossval.model_checks)
    holdout: dict[str, dict] = {}
    for name in args.rows:
        profile = "real-music" if name == PROBE else name.removesuffix("+gan").removesuffix(":teacher")
        extra = [f"gan.epochs={args.gan_epochs}", "gan.monitor_windows=0"] if name.endswith("+gan") else []
        profile, variant = VARIANTS.get(profile, (profile, ()))
        config = base if name in FLOORS else load_config(REPO / PROFILES[profile], [*THREADS, *extra, *variant])
        row_store = store if name in FLOORS else store_for(config)
        merge = name not in FLOORS and config.teacher.select == "last"  # nothing is chosen on validation songs
        for fold in folds:
            path = cache / f"{name}-fold{fold.index}.npz"
            if not path.exists():
                began = time.perf_counter()
                rows = fold_rows(name, config, fold, cv.prepared_fold(row_store, fold, merge_validation=merge),
                                 args.work, args.gan_ratio)  # fmt: skip
                np.savez(path, seconds=time.perf_counter() - began,
                         **{k: np.array(json.dumps(v)) if k.startswith("checks:") else v for k, v in rows.items()})  # fmt: skip
            with np.load(path) as saved:
                for row in saved.files:
                    if row.startswith("checks:"):
                        checks.setdefault(row.removeprefix("checks:"), []).append(json.loads(str(saved[row])))
                    elif row != "seconds":
                        predictions.setdefault(row, {})[fold.index] = saved[row]
                        seconds[row] = seconds.get(row, 0.0) + float(saved["seconds"])
            print(f"{name}: fold {fold.index + 1}/{len(folds)} done", flush=True)
        if args.holdout and name.removesuffix(":teacher") in SHIPPABLE:
            row = shipped_row(name.removesuffix(":teacher"))
            holdout[row] = holdout_scores(name.removesuffix(":teacher"), args.data, args.holdout, args.work,
                                          [row_store.directory])  # fmt: skip
            print(f"{name}: trained on all of {args.data.name} and scored on {args.holdout.name}", flush=True)

    for members in args.average:
        missing = [m for m in members if m not in predictions]
        if missing:
            raise SystemExit(f"--average {' '.join(members)}: no row {', '.join(missing)} in this run; valid: "
                             f"{', '.join(predictions)}")  # fmt: skip
        name = "equal average of " + " + ".join(cv.ROW_LABELS.get(m, m) for m in members) + OOF_NOTE
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
        model = row.split(",")[0].removesuffix(" (network alone)").removesuffix(" + descriptor floor")
        if model in checks:
            entry["fold_checks"] = {key: [c[key] for c in checks[model]] for key in checks[model][0]}
        if row in holdout:
            entry["holdout"] = holdout[row]
        results[row] = entry

    print(f"\n{len(store.song_ids)} songs, {args.folds} folds grouped by artist (seed {args.seed}); floor: {strongest}")
    print("| model | accuracy | macro-F1 | valence sign | arousal sign | CCC valence | CCC arousal | macro-F1 vs floor "
          "[95% CI] | wall time |\n|---|---|---|---|---|---|---|---|---|")
    for row, entry in results.items():
        cells = " | ".join(f"{entry[m][0]:.3f} ± {entry[m][1]:.3f}" for m in METRICS)
        gain = entry.get("gain_over_floor")
        versus = f"{gain[0]:+.3f} [{gain[1]:+.3f}, {gain[2]:+.3f}]" if gain else "-"
        print(f"| {cv.ROW_LABELS.get(row, row)} | {cells} | {versus} | {entry['seconds'] / 60:.1f} min |")
    if holdout:
        print(f"\nTrained on all {len(store.song_ids)} songs of {args.data.name} as shipped, scored once on "
              f"{args.holdout.name} (`moodscape evaluate --model`), 95% bootstrap intervals:")
        print("| model | songs | macro-F1 | accuracy | valence sign | arousal sign |\n|---|---|---|---|---|---|")
        for row, found in holdout.items():
            for subset, scores in found["scores"].items():
                cells = " | ".join(f"{scores[k]['value']:.3f} [{scores[k]['ci95_low']:.3f}, {scores[k]['ci95_high']:.3f}]"
                                   for k in ("macro_f1", "accuracy", "valence_sign", "arousal_sign"))  # fmt: skip
                print(f"| {cv.ROW_LABELS.get(row, row)}: {subset} | {scores['songs']} | {cells} |")
    if args.out:
        kept = json.loads(args.out.read_text(encoding="utf-8"))["rows"] if args.out.exists() else {}
        summary = {"data": str(args.data), "songs": len(store.song_ids), "folds": args.folds, "seed": args.seed,
                   "floor": strongest, "holdout": str(args.holdout) if args.holdout else None,
                   "rows": {**kept, **results}}  # fmt: skip
        args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
