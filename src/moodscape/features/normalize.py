"""Normalisation statistics of a feature store, fitted on the training songs only.

Per-band mean/std rather than a per-clip z-score: loudness is an arousal cue, and a per-clip
z-score would erase it. Per-clip normalisation stays available as an option of the features config.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..files import write_json
from .store import FeatureStore

NORMALIZATION_FILE = "normalization.json"


@dataclass(frozen=True)
class Normalization:
    """Per-band statistics: ``mean`` and ``std`` of shape (n_mels,), in dB."""

    mean: np.ndarray
    std: np.ndarray
    songs: int
    splits_hash: str
    store_revision: str | None = None  # the store's features these were fitted on (settings.json "revision")

    def apply(self, logmel: np.ndarray) -> np.ndarray:
        """(n_mels, frames) dB -> z-scores per band, float32."""
        return ((logmel - self.mean[:, None]) / self.std[:, None]).astype(np.float32)


def normalize(logmel: np.ndarray, *, mode: str, stats: Normalization | None = None) -> np.ndarray:
    """Apply the configured normalisation to one clip or window, (n_mels, frames) dB -> float32.

    ``global`` uses the training-song statistics; ``per_clip`` z-scores each band of this input
    on its own (loses loudness); ``none`` leaves dB values as they are.
    """
    if mode == "global":
        if stats is None:
            raise DataError("features.normalization=global needs the training statistics (normalization.json)")
        return stats.apply(logmel)
    if mode == "per_clip":
        x = np.asarray(logmel, dtype=np.float32)
        return (x - x.mean(axis=1, keepdims=True)) / np.maximum(x.std(axis=1, keepdims=True), 1e-6)
    if mode == "none":
        return np.asarray(logmel, dtype=np.float32)
    raise DataError(f"unknown features.normalization '{mode}'; valid: global, per_clip, none")


def fit_normalization(store: FeatureStore, train_ids: Sequence[str], *, splits_hash: str) -> Normalization:
    """Statistics over every frame of the training songs, written to ``normalization.json``."""
    if not train_ids:
        raise DataError(f"{store.directory}: no training songs to fit normalisation statistics on")
    mean, std = store.band_statistics(train_ids)
    revision = store.settings.get("revision")
    result = Normalization(mean=mean, std=std, songs=len(train_ids), splits_hash=splits_hash, store_revision=revision)
    payload = {"mean": mean.tolist(), "std": std.tolist(), "songs": len(train_ids), "splits_hash": splits_hash,
               "store_revision": revision}  # fmt: skip
    write_json(store.directory / NORMALIZATION_FILE, payload, indent=None)
    return result


def load_normalization(store_dir: str | Path) -> Normalization:
    """Read ``normalization.json``; it exists once the store has been split."""
    path = Path(store_dir) / NORMALIZATION_FILE
    if not path.exists():
        raise DataError(f"{path} not found; run `moodscape split {store_dir}` first")
    payload = json.loads(path.read_text(encoding="utf-8"))
    return Normalization(
        mean=np.asarray(payload["mean"]), std=np.asarray(payload["std"]),
        songs=int(payload["songs"]), splits_hash=str(payload["splits_hash"]), store_revision=payload.get("store_revision"),
    )  # fmt: skip
