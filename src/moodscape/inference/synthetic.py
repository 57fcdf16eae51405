"""Labelled synthetic windows from a trained generator, written as a feature store.

Windows are stored in dB (the generator's normalised output with the training statistics undone
exactly), so a synthetic store reads like a real one; ``settings.json`` marks it ``synthetic``.
Labels are drawn from a KDE over the training songs' labels by default: the seed drew them
uniformly over the whole square, which matches no real dataset.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from scipy.stats import gaussian_kde
from tqdm.auto import tqdm

from ..audio.inverse import denormalize
from ..errors import CheckpointError, ConfigError
from ..features.store import FeatureStore, StoreEntry
from ..features.writer import StoreWriter
from ..models.checkpoint import write_folder
from ..models.gan.build import SONGS_FILE
from ..models.gan.generator import Generator
from ..models.loading import load_model
from ..version import __version__

log = logging.getLogger(__name__)

LABEL_SOURCES = ("kde", "uniform", "grid")


def draw_labels(
    train_labels: np.ndarray, n: int, *, source: str, rng: np.random.Generator, grid: Sequence[tuple[float, float]] = ()
) -> np.ndarray:
    """(n, 2) labels on [-1, 1]: a KDE over the training labels, uniform over the plane, or a grid cycled."""
    if source == "kde":
        if len(train_labels) < 3:
            raise ConfigError(f"a KDE of training labels needs at least 3 songs, got {len(train_labels)}")
        kde = gaussian_kde(np.asarray(train_labels, dtype=np.float64).T)
        return np.clip(kde.resample(n, seed=rng).T, -1.0, 1.0).astype(np.float32)
    if source == "uniform":
        return rng.uniform(-1.0, 1.0, size=(n, 2)).astype(np.float32)
    if source == "grid":
        if not grid:
            raise ConfigError("labels=grid needs points (--point V,A, repeatable)")
        points = np.asarray(grid, dtype=np.float32)
        if np.abs(points).max() > 1.0:
            raise ConfigError("grid points must lie on the [-1, 1] plane")
        return points[np.arange(n) % len(points)]
    raise ConfigError(f"unknown label source '{source}'; valid: {', '.join(LABEL_SOURCES)}")


def _gan_training_songs(gan_dir: Path, store: FeatureStore) -> list[str]:
    """The songs the GAN was trained on (its songs.json), whose labels the generated ones follow."""
    path = gan_dir / SONGS_FILE
    if not path.exists():
        raise CheckpointError(f"{path} not found: {gan_dir} is not a finished GAN run; train it with `moodscape gan train`")
    songs = json.loads(path.read_text(encoding="utf-8"))["train_songs"]
    missing = [s for s in songs if s not in set(store.song_ids)]
    if missing:
        raise CheckpointError(f"{path}: {len(missing)} training song(s) no longer in {store.directory}, e.g. {missing[:3]}")
    return list(songs)


def generate_synthetic_store(
    gan_dir: str | Path,
    out_dir: str | Path,
    *,
    n: int,
    labels: str = "kde",
    grid: Sequence[tuple[float, float]] = (),
    seed: int = 0,
    chunk: int = 256,
    progress: bool = True,
) -> Path:
    """Write ``n`` generated windows with their labels to ``out_dir`` (replaced atomically when done)."""
    generator_dir = Path(gan_dir) / "generator"
    meta_path = generator_dir / "moodscape.json"
    if not meta_path.exists():
        raise CheckpointError(f"{meta_path} not found; train a GAN first with `moodscape gan train`")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    store = FeatureStore(meta["store"])
    train_songs = _gan_training_songs(Path(gan_dir), store)
    rng = np.random.default_rng(seed)
    drawn = draw_labels(store.labels(train_songs), n, source=labels, rng=rng, grid=grid)
    generator = load_model(generator_dir, expect=(Generator,))
    torch_rng = torch.Generator().manual_seed(seed)
    mean, std = np.asarray(meta["normalization"]["mean"]), np.asarray(meta["normalization"]["std"])

    settings = {
        **{k: store.settings[k] for k in ("audio", "features", "hash", "dtype")},
        "dataset": f"{store.settings['dataset']}-synthetic",
        "synthetic": True,
        "generator": str(generator_dir),
        "labels": labels,
        "seed": seed,
        "train_songs": len(train_songs),
        "moodscape_version": __version__,
    }

    def write(tmp: Path) -> None:
        writer = StoreWriter(tmp, store.features.n_mels)
        writer.begin(settings)
        entries = []
        offset = 0
        with writer.data_path.open("wb") as data:
            for first in tqdm(range(0, n, chunk), desc="generate", unit="chunk", disable=not progress):
                batch = torch.from_numpy(drawn[first : first + chunk])
                windows = denormalize(generator.sample(batch, generator=torch_rng).numpy(), mean=mean, std=std)
                for i, window in enumerate(windows.astype(np.float16)):
                    data.write(window.tobytes())
                    valence, arousal = (float(x) for x in batch[i])
                    entries.append(StoreEntry(f"synthetic-{first + i:06d}", "", valence, arousal, None, None,
                                              offset, window.shape[1], "ok"))  # fmt: skip
                    offset += window.size
        writer.finish(entries)

    out_dir = write_folder(out_dir, write)  # staged beside it and swapped in whole
    log.info("wrote %d synthetic windows (labels: %s) to %s", n, labels, out_dir)
    return out_dir
