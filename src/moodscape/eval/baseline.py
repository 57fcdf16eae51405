"""The cheap floors on a split feature store: fitted on the training songs, scored on the test songs.

Two kinds: ``ridge`` (ridge regression on pooled log-mel mean/std, alpha chosen on the validation
songs) and ``descriptors`` (an RBF SVR per dimension on librosa descriptors of the audio: timbre,
spectral shape, dynamics, rhythm, tonality; C and gamma by cross-validation on the training songs).
A learned model earns its cost only by beating the strongest of them.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio.descriptors import store_descriptors
from ..config import Config, save_config
from ..data.splits import Splits
from ..data.splits_file import load_splits
from ..errors import ConfigError, DataError
from ..features.store import FeatureStore
from ..files import write_json
from ..metrics.regression import regression_metrics
from ..models.floors.descriptors import DescriptorFloor
from ..models.floors.ridge import RidgeBaseline, pooled_stats
from .quadrant_analysis import analyse_quadrants

DIMENSIONS = ("valence", "arousal")
FLOOR_KINDS = ("ridge", "descriptors")
FLOOR_NAMES = {"ridge": "ridge floor", "descriptors": "descriptor floor"}
FLOOR_MODELS = {"ridge": "ridge on pooled log-mel mean/std",
                "descriptors": "RBF SVR on librosa descriptors (timbre, spectral, dynamics, rhythm, tonal)"}  # fmt: skip


@dataclass(frozen=True)
class BaselineResult:
    """Test-split metrics per dimension, quadrant scores, the fitted settings, and where the outputs went."""

    kind: str
    metrics: dict[str, dict[str, float]]
    quadrants: dict[str, float]
    settings: dict
    songs: dict[str, int]
    out_dir: Path


class Floor:
    """A fitted floor of one kind on one store: ``predict(song_ids)`` -> (N, 2) on [-1, 1]."""

    def __init__(self, kind: str, store: FeatureStore, model, *, workers: int | None, progress: bool,
                 descriptor_rate: int | None = None) -> None:  # fmt: skip
        self.kind, self.store, self.model = kind, store, model
        self.workers, self.progress, self.descriptor_rate = workers, progress, descriptor_rate

    def inputs(self, song_ids: Sequence[str]) -> np.ndarray:
        return floor_inputs(self.kind, self.store, song_ids, workers=self.workers, progress=self.progress,
                            descriptor_rate=self.descriptor_rate)  # fmt: skip

    def predict(self, song_ids: Sequence[str]) -> np.ndarray:
        return self.model.predict(self.inputs(song_ids))

    @property
    def settings(self) -> dict:
        if self.kind == "ridge":
            return {"alpha": float(self.model.alpha_)}
        return {"svr": self.model.params_}


def floor_inputs(kind: str, store: FeatureStore, song_ids: Sequence[str], *, workers: int | None = None,
                 progress: bool = True, descriptor_rate: int | None = None) -> np.ndarray:  # fmt: skip
    """What a floor of ``kind`` reads per song: pooled log-mel statistics, or the audio's descriptors (decoded at
    ``descriptor_rate``, default the store's rate)."""
    if kind == "ridge":
        return np.stack([pooled_stats(store.get(song_id)) for song_id in song_ids])
    if kind == "descriptors":
        return store_descriptors(store, song_ids, sample_rate=descriptor_rate, workers=workers, progress=progress)
    raise ConfigError(f"unknown floor kind '{kind}'; valid: {', '.join(FLOOR_KINDS)}")


def fit_floor(store: FeatureStore, splits: Splits, *, kind: str = "ridge", alphas: Sequence[float] = (0.1, 1.0, 10.0, 100.0, 1000.0),
              seed: int = 0, workers: int | None = None, progress: bool = True, descriptor_rate: int | None = None,
              songs: Sequence[str] | None = None) -> Floor:  # fmt: skip
    """A floor fitted on the training songs, or on ``songs`` (the ridge's alpha chosen on the validation songs);
    the descriptor floor reads audio decoded at ``descriptor_rate`` (default: the store's rate)."""
    train = tuple(songs) if songs is not None else splits.train
    if kind == "ridge":
        model = RidgeBaseline(seed=seed)
        val = (floor_inputs(kind, store, splits.val), store.labels(splits.val)) if splits.val else (None, None)
        model.fit(floor_inputs(kind, store, train), store.labels(train), *val, alphas=list(alphas))
    elif kind == "descriptors":
        x = floor_inputs(kind, store, train, workers=workers, progress=progress, descriptor_rate=descriptor_rate)
        model = DescriptorFloor(seed=seed, sample_rate=descriptor_rate).fit(x, store.labels(train))
    else:
        raise ConfigError(f"unknown floor kind '{kind}'; valid: {', '.join(FLOOR_KINDS)}")
    return Floor(kind, store, model, workers=workers, progress=progress, descriptor_rate=descriptor_rate)


def floor_predictions(store: FeatureStore, splits: Splits, song_ids: Sequence[str], *, kinds: Sequence[str],
                      config: Config, progress: bool = True) -> dict[str, np.ndarray]:  # fmt: skip
    """Each floor's (N, 2) predictions of ``song_ids``, by display name, for an evaluation to set beside."""
    out = {}
    for kind in kinds:
        floor = fit_floor(store, splits, kind=kind, alphas=config.baseline.alphas, seed=config.seed,
                          workers=config.store.workers, progress=progress,
                          descriptor_rate=config.baseline.descriptor_sample_rate)  # fmt: skip
        out[FLOOR_NAMES[kind]] = floor.predict(song_ids)
    return out


def run_baseline(store_dir: str | Path, *, out_dir: str | Path | None, config: Config, kind: str = "ridge",
                 progress: bool = True) -> BaselineResult:  # fmt: skip
    """Fit and score a floor; write metrics.json, predictions.csv and config.yaml to ``out_dir``."""
    store = FeatureStore(store_dir)
    splits_path = store.directory / "splits.json"
    if not splits_path.exists():
        raise DataError(f"{splits_path} not found; run `moodscape split {store.directory}` first")
    splits = load_splits(splits_path)
    out = Path(out_dir) if out_dir is not None else Path("runs") / f"baseline-{kind}-{store.directory.name}"

    floor = fit_floor(store, splits, kind=kind, alphas=config.baseline.alphas, seed=config.seed,
                      workers=config.store.workers, progress=progress)  # fmt: skip
    truth = store.labels(splits.test)
    predicted = floor.predict(splits.test)
    metrics = regression_metrics(truth, predicted, names=DIMENSIONS)
    quads = analyse_quadrants(truth, predicted, threshold=config.evaluate.quadrant_threshold)
    quadrants = {"accuracy": float(quads.accuracy), "macro_f1": float(quads.macro_f1)}

    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out)
    songs = {"train": len(splits.train), "val": len(splits.val), "test": len(splits.test)}
    payload = {"kind": kind, "model": FLOOR_MODELS[kind], "split": "test", "settings": floor.settings,
               "songs": songs, "store": str(store.directory), "metrics": metrics, "quadrants": quadrants}  # fmt: skip
    write_json(out / "metrics.json", payload)
    with (out / "predictions.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["song_id", "split", "valence", "arousal", "valence_pred", "arousal_pred"])
        for song_id, (tv, ta), (pv, pa) in zip(splits.test, truth, predicted):
            writer.writerow([song_id, "test", f"{tv:.4f}", f"{ta:.4f}", f"{pv:.4f}", f"{pa:.4f}"])
    return BaselineResult(kind=kind, metrics=metrics, quadrants=quadrants, settings=floor.settings, songs=songs,
                          out_dir=out)  # fmt: skip


def format_baseline(result: BaselineResult) -> str:
    """A short terminal summary."""
    songs = result.songs
    lines = [
        f"{FLOOR_NAMES[result.kind]}: {FLOOR_MODELS[result.kind]}",
        f"  fitted on {songs['train']} train songs ({songs['val']} val), scored on {songs['test']} test songs; "
        f"settings {result.settings}",
        f"{'':10} {'CCC':>7} {'Pearson':>8} {'R2':>7} {'RMSE':>7} {'MAE':>7}",
    ]
    for name in DIMENSIONS:
        m = result.metrics[name]
        lines.append(f"{name:10} {m['ccc']:7.3f} {m['pearson']:8.3f} {m['r2']:7.3f} {m['rmse']:7.3f} {m['mae']:7.3f}")
    lines.append(f"quadrants: accuracy {result.quadrants['accuracy']:.3f}, macro-F1 {result.quadrants['macro_f1']:.3f}")
    lines.append(f"written to {result.out_dir}")
    return "\n".join(lines)
