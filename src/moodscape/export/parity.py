"""Do the exported files compute what the PyTorch model computes? Measured on real test songs.

fp32 ONNX must agree with PyTorch within 1e-3 on every window; int8 is reported by its largest
difference and by the change in song-level CCC on the same songs (target: a drop <= 0.02).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..audio.io import load_audio
from ..config import load_config
from ..data.splits_file import load_splits
from ..errors import AudioError, MoodscapeError
from ..features.store import FeatureStore
from ..features.windows import window_starts
from ..metrics.regression import ccc
from ..models.exported import open_onnx
from ..models.loading import load_model
from ..models.waveform import WaveformRegressor

log = logging.getLogger(__name__)

FP32_TOLERANCE = 1e-3
INT8_CCC_DROP = 0.02


@dataclass
class ParitySongs:
    """Waveform windows of real songs (all windows of each song, at the evaluation hop) and labels."""

    windows: np.ndarray  # (W, window_samples)
    song_of_window: np.ndarray  # (W,)
    labels: np.ndarray  # (S, 2)
    source: str

    def song_means(self, outputs: np.ndarray) -> np.ndarray:
        return np.stack([outputs[self.song_of_window == s].mean(axis=0) for s in range(len(self.labels))])


def real_song_windows(run_dir: Path, model: WaveformRegressor, *, max_songs: int = 40) -> ParitySongs | None:
    """Windows of the run's test songs (its validation songs when it has none, its training songs when it trained on
    every song: parity is the export agreeing with PyTorch, on real audio) decoded from their audio files; None when
    they cannot be read here."""
    try:
        config = load_config(run_dir / "config.yaml")
        store = FeatureStore(model.meta["store"])
        splits = load_splits(store.directory / "splits.json")
    except (MoodscapeError, OSError, KeyError) as exc:
        log.warning("parity on test songs skipped: the run's feature store is not readable here (%s)", exc)
        return None
    windows, owners, labels = [], [], []
    hop = model.eval_hop_samples
    which = "test" if splits.test else config.evaluate.split if getattr(splits, config.evaluate.split) else "train"
    songs = getattr(splits, which)
    for song in songs[:max_songs]:
        entry = store.entry(song)
        try:
            audio, _ = load_audio(
                entry.path, sample_rate=model.sample_rate, offset=config.audio.offset, duration=config.audio.duration,
                min_seconds=config.audio.min_seconds, short_policy=config.audio.short_policy,
            )  # fmt: skip
        except (AudioError, OSError) as exc:
            log.warning("parity: %s skipped (%s)", entry.path, exc)
            continue
        if audio.size < model.window_samples:
            audio = np.pad(audio, (0, model.window_samples - audio.size), mode="wrap")
        for start in window_starts(audio.size, model.window_samples, hop):
            windows.append(audio[start : start + model.window_samples])
            owners.append(len(labels))
        labels.append(store.labels([song])[0])
    if not labels:
        return None
    return ParitySongs(np.stack(windows).astype(np.float32), np.array(owners), np.stack(labels),
                       f"{len(labels)} {which} songs of {store.directory}")  # fmt: skip


def random_windows(model: WaveformRegressor, count: int = 16, seed: int = 0) -> np.ndarray:
    """Noise at a music-like level, for parity when no real songs are at hand."""
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal((count, model.window_samples))).astype(np.float32)


def _batched(fn, inputs: np.ndarray, batch: int = 32) -> np.ndarray:
    with torch.inference_mode():
        return np.concatenate([fn(inputs[i : i + batch]) for i in range(0, len(inputs), batch)])


def torch_outputs(model: WaveformRegressor, windows: np.ndarray) -> np.ndarray:
    return _batched(lambda x: model(torch.from_numpy(x)).numpy(), windows)


def onnx_outputs(path: Path, windows: np.ndarray, batch: int = 32) -> np.ndarray:
    session = open_onnx(path)
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: windows[i : i + batch]})[0] for i in range(0, len(windows), batch)])


def check_parity(model: WaveformRegressor, files: dict[str, Path], songs: ParitySongs | None) -> dict[str, Any]:
    """Compare each ONNX/TorchScript file with PyTorch; song-level CCC per file when songs are given."""
    windows = songs.windows if songs is not None else random_windows(model)
    reference = torch_outputs(model, windows)
    report: dict[str, Any] = {"windows": int(len(windows)), "source": songs.source if songs else "random noise windows"}
    if songs is not None:
        report["pytorch_ccc"] = _song_ccc(songs, reference)
    for name, path in files.items():
        if path.suffix == ".onnx" and "logmel" in path.name:
            with torch.inference_mode():  # in batches: one STFT of every window at once would take GBs
                logmel = np.concatenate([model.frontend(torch.from_numpy(windows[i : i + 32])).numpy()
                                         for i in range(0, len(windows), 32)])  # fmt: skip
            expected = _batched(lambda x: model.forward_logmel(torch.from_numpy(x)).numpy(), logmel)
            got = onnx_outputs(path, logmel)
        elif path.suffix == ".onnx":
            expected, got = reference, onnx_outputs(path, windows)
        else:
            loaded = load_model(path)
            expected, got = reference, _batched(lambda x: loaded(torch.from_numpy(x)).numpy(), windows)
        entry: dict[str, Any] = {"max_abs_diff": float(np.abs(got - expected).max())}
        if songs is not None:
            entry["ccc"] = _song_ccc(songs, got)
            entry["ccc_drop"] = {d: report["pytorch_ccc"][d] - entry["ccc"][d] for d in entry["ccc"]}
        if "int8" in name:
            entry["tolerance"] = f"song-level CCC drop <= {INT8_CCC_DROP}"
            entry["passed"] = bool(songs is None or max(entry["ccc_drop"].values()) <= INT8_CCC_DROP)
        else:
            entry["tolerance"] = f"max abs difference <= {FP32_TOLERANCE}"
            entry["passed"] = entry["max_abs_diff"] <= FP32_TOLERANCE
        report[name] = entry
    return report


def _song_ccc(songs: ParitySongs, outputs: np.ndarray) -> dict[str, float]:
    means = songs.song_means(outputs)
    return {d: ccc(songs.labels[:, i], means[:, i]) for i, d in enumerate(("valence", "arousal"))}
