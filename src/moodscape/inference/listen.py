"""Listen to spectrograms: real clips from a feature store and generator output at chosen
(valence, arousal) points, turned into WAV files with an exact dB inverse, the mel inverse and
Griffin-Lim. The result is an approximation of the sound (phase is estimated), good enough to hear
what a spectrogram or a generator encodes.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch

from ..audio.inverse import denormalize, logmel_to_audio, write_wav
from ..config import FeaturesConfig
from ..errors import CheckpointError, ConfigError
from ..features.store import FeatureStore
from ..models.gan.generator import Generator
from ..models.loading import load_model

log = logging.getLogger(__name__)

# The seed notebook's listening presets: (valence, arousal) on [-1, 1].
PRESET_POINTS = ((-0.8, -0.6), (0.8, 0.7), (-0.3, 0.8), (0.5, -0.5), (0.0, 0.0))


def _to_wav(logmel_db: np.ndarray, path: Path, *, sample_rate: int, features: FeaturesConfig, n_iter: int) -> Path:
    audio = logmel_to_audio(
        logmel_db, sample_rate=sample_rate, n_fft=features.n_fft, hop_length=features.hop_length,
        fmin=features.fmin, fmax=features.fmax, power=features.power, n_iter=n_iter,
    )  # fmt: skip
    return write_wav(path, audio, sample_rate)


def listen_to_clip(
    store_dir: str | Path, song_id: str, out: str | Path, *, start: float = 0.0, seconds: float | None = 10.0, n_iter: int = 32
) -> Path:
    """WAV of a stored clip's log-mel (dB, before normalisation) from ``start`` for ``seconds``."""
    store = FeatureStore(store_dir)
    frames_per_second = store.audio.sample_rate / store.features.hop_length
    logmel = np.asarray(store.get(song_id), dtype=np.float32)
    first = int(round(start * frames_per_second))
    last = logmel.shape[1] if seconds is None else first + int(round(seconds * frames_per_second))
    if first >= logmel.shape[1]:
        raise ConfigError(f"--start {start} s is past the end of song {song_id} ({logmel.shape[1] / frames_per_second:.1f} s)")
    return _to_wav(logmel[:, first:last], Path(out), sample_rate=store.audio.sample_rate,
                   features=store.features, n_iter=n_iter)  # fmt: skip


def listen_to_generator(
    generator_dir: str | Path,
    out_dir: str | Path,
    *,
    points: tuple[tuple[float, float], ...] = PRESET_POINTS,
    seed: int = 0,
    n_iter: int = 32,
) -> list[Path]:
    """One WAV per (valence, arousal) point from a trained generator folder (``gan train``'s generator/)."""
    generator_dir = Path(generator_dir)
    meta_path = generator_dir / "moodscape.json"
    if not meta_path.exists():
        raise CheckpointError(f"{meta_path} not found: give the generator/ folder written by `moodscape gan train`")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    for valence, arousal in points:
        if not (-1.0 <= valence <= 1.0 and -1.0 <= arousal <= 1.0):
            raise ConfigError(f"point ({valence}, {arousal}) is off the [-1, 1] plane")
    generator = load_model(generator_dir, expect=(Generator,))
    features = FeaturesConfig.model_validate(meta["features"])
    mean = np.asarray(meta["normalization"]["mean"])
    std = np.asarray(meta["normalization"]["std"])
    labels = torch.tensor(points, dtype=torch.float32)
    windows = generator.sample(labels, generator=torch.Generator().manual_seed(seed)).numpy()
    out_dir = Path(out_dir)
    paths = []
    for (valence, arousal), window in zip(points, windows):
        name = f"generated_v{valence:+.2f}_a{arousal:+.2f}.wav"
        paths.append(_to_wav(denormalize(window, mean=mean, std=std), out_dir / name,
                             sample_rate=meta["audio"]["sample_rate"], features=features, n_iter=n_iter))  # fmt: skip
    log.info("wrote %d generated clips to %s", len(paths), out_dir)
    return paths
