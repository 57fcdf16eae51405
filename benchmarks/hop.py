"""Quality against speed for the shipped kind of model: the real-music teacher's int8 ONNX export scored on
4q-dev's held-out songs with its evaluation windows every 1, 2 or 3 window lengths (a third of the windows is
a third of `moodscape predict`'s model time, as `--hop` would give).

It reads `make bench-quality`'s cached fold runs (the real-music teacher of each of the 5 artist-grouped
folds, seed 0) and their int8 exports, so run that first; every other setting is the benchmark's.

Usage: python benchmarks/hop.py [--data DIR] [--work DIR] [--factors 1 2 3]
"""

from __future__ import annotations

import argparse
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
from moodscape.features.windows import window_geometry

sys.path.insert(0, str(Path(__file__).parent))
from quality import PROFILES, REPO, THREADS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "4q-dev")
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "moodscape-bench" / "quality")
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 2, 3], help="evaluation hop in windows")
    args = parser.parse_args()
    runs = args.work / "real-music" / "teacher"
    if not (runs / "fold0" / "best").is_dir():
        raise SystemExit(f"{runs}/fold0/best not found: run `make bench-quality` (its real-music row) first")
    dataset = load_dataset(args.data / "labels.csv", layout="csv")
    base = load_config(REPO / "configs" / "demo.yaml", THREADS)
    base_store = FeatureStore(build_feature_store(dataset, args.work / "features", config=base, progress=False))
    groups = read_groups(args.data / "metadata.csv", id_column="Song", group_column="Artist")
    folds = cv.make_folds(base_store, groups, k=5, seed=0)  # the folds of bench-quality
    config = load_config(REPO / PROFILES["real-music"], list(THREADS))
    store = FeatureStore(build_feature_store(dataset, args.work / "features", config=config, progress=False))
    frames, hop = window_geometry(config, store)
    truth = base_store.labels([song for fold in folds for song in fold.test])
    print(f"{len(truth)} held-out songs, 5 folds; windows of {frames} frames\n")
    print("| evaluation hop | windows per 30 s clip | macro-F1 | valence sign | arousal sign | CCC valence | "
          "CCC arousal | seconds |\n|---|---|---|---|---|---|---|---|")  # fmt: skip
    for factor in args.factors:
        began = time.perf_counter()
        pooled = np.concatenate([cv.int8_held_out(runs / f"fold{fold.index}", cv.prepared_fold(store, fold), frames,
                                                  hop * factor) for fold in folds])  # fmt: skip
        s = cv.scores(truth, pooled)
        windows = len(range(0, 1875 - frames + 1, hop * factor)) + 1
        print(f"| {factor} x {hop} frames | {windows} | {s['macro_f1']:.3f} | {s['valence_sign']:.3f} | "
              f"{s['arousal_sign']:.3f} | {s['ccc_valence']:.3f} | {s['ccc_arousal']:.3f} | "
              f"{time.perf_counter() - began:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
