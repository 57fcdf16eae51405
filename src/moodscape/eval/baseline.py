"""The ridge floor on a split feature store: fitted on train songs, alpha chosen on val, scored on test."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio.store import FeatureStore
from ..config import Config, save_config
from ..data.splits import Splits, load_splits
from ..errors import DataError
from ..models.ridge import RidgeBaseline, pooled_stats
from .metrics import regression_metrics

DIMENSIONS = ("valence", "arousal")


@dataclass(frozen=True)
class BaselineResult:
    """Test-split metrics per dimension, the chosen alpha, and where the outputs went."""

    metrics: dict[str, dict[str, float]]
    alpha: float
    songs: dict[str, int]
    out_dir: Path


def fit_floor(store: FeatureStore, splits: Splits, *, alphas: list[float], seed: int) -> RidgeBaseline:
    """The ridge floor fitted on the training songs, alpha chosen on the validation songs."""
    model = RidgeBaseline(seed=seed)
    val = (pooled_matrix(store, splits.val), store.labels(splits.val)) if splits.val else (None, None)
    model.fit(pooled_matrix(store, splits.train), store.labels(splits.train), *val, alphas=alphas)
    return model


def pooled_matrix(store: FeatureStore, song_ids: tuple[str, ...]) -> np.ndarray:
    """(N, 2 * n_mels) pooled statistics of the given songs."""
    return np.stack([pooled_stats(store.get(song_id)) for song_id in song_ids])


def run_baseline(store_dir: str | Path, *, out_dir: str | Path | None, config: Config) -> BaselineResult:
    """Fit and score the ridge floor; write metrics.json, predictions.csv and config.yaml to ``out_dir``."""
    store = FeatureStore(store_dir)
    splits_path = store.directory / "splits.json"
    if not splits_path.exists():
        raise DataError(f"{splits_path} not found; run `moodscape split {store.directory}` first")
    splits = load_splits(splits_path)
    out = Path(out_dir) if out_dir is not None else Path("runs") / f"baseline-{store.directory.name}"

    model = fit_floor(store, splits, alphas=config.baseline.alphas, seed=config.seed)
    truth = store.labels(splits.test)
    predicted = model.predict(pooled_matrix(store, splits.test))
    metrics = regression_metrics(truth, predicted, names=DIMENSIONS)

    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out)
    songs = {"train": len(splits.train), "val": len(splits.val), "test": len(splits.test)}
    payload = {"model": "ridge on pooled log-mel mean/std", "split": "test", "alpha": model.alpha_,
               "songs": songs, "store": str(store.directory), "metrics": metrics}  # fmt: skip
    (out / "metrics.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    with (out / "predictions.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["song_id", "split", "valence", "arousal", "valence_pred", "arousal_pred"])
        for song_id, (tv, ta), (pv, pa) in zip(splits.test, truth, predicted):
            writer.writerow([song_id, "test", f"{tv:.4f}", f"{ta:.4f}", f"{pv:.4f}", f"{pa:.4f}"])
    return BaselineResult(metrics=metrics, alpha=float(model.alpha_), songs=songs, out_dir=out)


def format_baseline(result: BaselineResult) -> str:
    """A short terminal summary."""
    songs = result.songs
    lines = [
        f"ridge floor (alpha {result.alpha:g}; {songs['train']} train / {songs['val']} val / {songs['test']} test songs)",
        f"{'':10} {'CCC':>7} {'Pearson':>8} {'R2':>7} {'RMSE':>7} {'MAE':>7}",
    ]
    for name in DIMENSIONS:
        m = result.metrics[name]
        lines.append(f"{name:10} {m['ccc']:7.3f} {m['pearson']:8.3f} {m['r2']:7.3f} {m['rmse']:7.3f} {m['mae']:7.3f}")
    lines.append(f"written to {result.out_dir}")
    return "\n".join(lines)
