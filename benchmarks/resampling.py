"""Does `moodscape predict` see what the model learnt from? The real-music teacher of each of bench-quality's
5 artist-grouped folds, as its int8 ONNX export, scored on the fold's held-out songs three ways: on the feature
store's log-mel windows (bench-quality's int8 rows), and through `Predictor` on the audio files with windows
resampled by soxr HQ and by soxr LQ (the quality a store in `fast` mode resamples with).

It reads `make bench-quality`'s cached fold runs, their int8 exports and predictions, so run that first.

Usage: python benchmarks/resampling.py [--data DIR] [--work DIR]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from moodscape import Predictor
from moodscape.config import load_config
from moodscape.data.dataset import load_dataset
from moodscape.data.folds import read_groups
from moodscape.experiments import crossval as cv
from moodscape.features.build import build_feature_store
from moodscape.features.store import FeatureStore

sys.path.insert(0, str(Path(__file__).parent))
from quality import METRICS, REPO, THREADS  # noqa: E402

ROW = "real-music teacher, int8 ONNX"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "4q-dev")
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "moodscape-bench" / "quality")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    runs = args.work / "real-music" / "teacher"
    if not (runs / "fold0" / "int8" / "model-logmel.int8.onnx").is_file():
        raise SystemExit(f"{runs}/fold0/int8 not found: run `make bench-quality` (its real-music row) first")
    dataset = load_dataset(args.data / "labels.csv", layout="csv")
    base = load_config(REPO / "configs" / "demo.yaml", THREADS)
    store = FeatureStore(build_feature_store(dataset, args.work / "features", config=base, progress=False))
    folds = cv.make_folds(store, read_groups(args.data / "metadata.csv", id_column="Song", group_column="Artist"),
                          k=5, seed=0)  # fmt: skip
    rows: dict[str, dict[int, np.ndarray]] = {"the feature store": {}, "predict, HQ": {}, "predict, LQ": {}}
    for fold in folds:
        with np.load(args.work / "predictions" / f"real-music-fold{fold.index}.npz") as saved:
            rows["the feature store"][fold.index] = saved[ROW]
        predictor = Predictor.load(runs / f"fold{fold.index}" / "int8" / "model-logmel.int8.onnx")
        paths = [store.entry(song).path for song in fold.test]
        for quality in ("HQ", "LQ"):
            predictor.resampler = quality
            rows[f"predict, {quality}"][fold.index] = np.array([[p.valence, p.arousal]
                                                                for p in map(predictor.predict, paths)])  # fmt: skip
        print(f"fold {fold.index + 1}/{len(folds)} done", flush=True)
    print("\n| windows from | " + " | ".join(METRICS) + " | mean abs. change from the store, per fold |")
    print("|---|" + "---|" * (len(METRICS) + 1))
    for name, per_fold in rows.items():
        scores = [cv.scores(store.labels(f.test), per_fold[f.index]) for f in folds]
        change = [np.abs(per_fold[f.index] - rows["the feature store"][f.index]).mean() for f in folds]
        cells = " | ".join(f"{np.mean([s[m] for s in scores]):.3f}" for m in METRICS)
        print(f"| {name} | {cells} | {min(change):.3f} to {max(change):.3f} |")


if __name__ == "__main__":
    main()
