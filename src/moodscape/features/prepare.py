"""Data preparation shared by every training command: dataset -> feature store -> split -> statistics."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..data.dataset import load_dataset
from ..data.splits import Splits
from ..data.splits_file import load_or_create_splits
from ..errors import ConfigError, DataError
from .build import build_feature_store
from .normalize import NORMALIZATION_FILE, Normalization, fit_normalization, load_normalization
from .store import ERRORS_FILE, FeatureStore

log = logging.getLogger(__name__)

SPLITS_FILE = "splits.json"


@dataclass(frozen=True)
class PreparedData:
    """A built, split feature store with its training-song statistics."""

    store: FeatureStore
    splits: Splits
    normalization: Normalization


def split_store(store: FeatureStore, config: Config, *, force: bool = False) -> PreparedData:
    """Draw (or reuse) the song-level split and fit normalisation on its training songs only."""
    if not store.song_ids:
        raise DataError(f"{store.directory} holds no usable song: every file was skipped (the reasons are in "
                        f"its {ERRORS_FILE}); fix or replace the audio, or change the audio settings, and build it "
                        "again")  # fmt: skip
    splits = load_or_create_splits(
        store.directory / SPLITS_FILE,
        store.song_ids,
        store.labels(store.song_ids),
        config.split,
        threshold=config.evaluate.quadrant_threshold,
        force=force,
    )
    stats_path = store.directory / NORMALIZATION_FILE
    stats = load_normalization(store.directory) if stats_path.exists() else None
    stale = stats is None or stats.store_revision != store.settings.get("revision")
    if stale or stats.splits_hash != splits.songs_hash or stats.songs != len(splits.train) or force:
        stats = fit_normalization(store, splits.train, splits_hash=splits.songs_hash)
    return PreparedData(store=store, splits=splits, normalization=stats)


def prepare_data(config: Config, *, progress: bool = True) -> PreparedData:
    """Everything a trainer needs from ``data.root``; each step is a no-op when already done."""
    if config.data.root is None:
        raise ConfigError("data.root is not set: give the dataset folder in the config or with --set data.root=PATH")
    dataset = load_dataset(
        config.data.root, layout=config.data.layout, csv_scale=config.data.csv_scale, annotations=config.data.annotations
    )
    store_dir = build_feature_store(
        dataset, Path(config.store.out_dir), config=config, workers=config.store.workers, progress=progress
    )
    return split_store(FeatureStore(store_dir), config)
