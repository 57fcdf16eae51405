"""Teacher training: random windows of the training songs, song-level validation, best by CCC."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..config import Config, config_to_dict, load_config, save_config
from ..errors import ConfigError
from ..eval.metrics import ccc, ccc_loss, mse
from ..models.teacher import TeacherRegressor, build_teacher
from ..audio.store import FeatureStore
from ..prepare import PreparedData, prepare_data
from .augment import Augmenter
from .loop import Trainer
from .windows import Batch, SongFeatures, SyntheticWindows, song_windows, window_frames

log = logging.getLogger(__name__)


def loss_function(name: str):
    """'mse', 'ccc' (1 - mean CCC over dimensions) or 'mse+ccc'."""
    if name == "mse":
        return torch.nn.functional.mse_loss
    if name == "ccc":
        return ccc_loss
    return lambda pred, target: torch.nn.functional.mse_loss(pred, target) + ccc_loss(pred, target)


@torch.inference_mode()
def predict_songs(
    model: torch.nn.Module, data: SongFeatures, *, frames: int, hop: int, device: torch.device, batch_size: int = 64
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Song-level predictions (N, 2), the mean over windows covering each clip, and the windows' own."""
    model.eval()
    songs, per_window = [], []
    for clip in data.clips:
        windows = torch.from_numpy(song_windows(clip, frames, hop))
        outputs = [model(windows[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(windows), batch_size)]
        predictions = torch.cat(outputs).numpy()
        per_window.append(predictions)
        songs.append(predictions.mean(axis=0))
    return np.stack(songs), per_window


def song_and_window_metrics(truth: np.ndarray, songs: np.ndarray, windows: list[np.ndarray], prefix: str) -> dict:
    """CCC per dimension at song level, mean CCC, window-level CCC and MSE."""
    window_truth = np.concatenate([np.repeat(t[None], len(w), axis=0) for t, w in zip(truth, windows)])
    window_pred = np.concatenate(windows)
    out = {f"{prefix}_ccc_{name}": ccc(truth[:, i], songs[:, i]) for i, name in enumerate(("valence", "arousal"))}
    out[f"{prefix}_ccc_mean"] = (out[f"{prefix}_ccc_valence"] + out[f"{prefix}_ccc_arousal"]) / 2
    out[f"{prefix}_window_ccc_mean"] = float(np.mean([ccc(window_truth[:, i], window_pred[:, i]) for i in range(2)]))
    out[f"{prefix}_loss"] = float(np.mean([mse(truth[:, i], songs[:, i]) for i in range(2)]))
    return out


class TeacherTrainer(Trainer):
    """The ViT regressor on normalised log-mel windows."""

    def __init__(self, prepared: PreparedData, config: Config, *, out_dir: str | Path, progress: bool = True) -> None:
        super().__init__(config.train, seed=config.seed, out_dir=out_dir, progress=progress)
        self.config, self.prepared = config, prepared
        store, splits, stats = prepared.store, prepared.splits, prepared.normalization
        audio, features = store.audio, store.features
        self.frames = window_frames(
            config.train.window_seconds,
            sample_rate=audio.sample_rate,
            hop_length=features.hop_length,
            multiple=config.model.patch_size[1],
        )
        self.hop = max(1, round(config.train.eval_hop_seconds * audio.sample_rate / features.hop_length))
        torch.manual_seed(config.seed)
        self.model = build_teacher(config.model, n_mels=features.n_mels, frames=self.frames)
        mode = features.normalization
        self.train_data = SongFeatures(store, splits.train, normalization=stats, mode=mode)
        self.val_data = SongFeatures(store, splits.val, normalization=stats, mode=mode)
        self.synthetic = None
        if config.train.synthetic_ratio > 0:
            if config.train.synthetic_dir is None:
                raise ConfigError("train.synthetic_ratio > 0 needs train.synthetic_dir (from `moodscape gan generate`)")
            self.synthetic = SyntheticWindows(
                FeatureStore(config.train.synthetic_dir), normalization=stats, mode=mode, frames=self.frames
            )
        aug = config.train.augment
        band_std = torch.from_numpy(stats.std) if mode == "global" else None if mode == "per_clip" else torch.ones(features.n_mels)
        self.augment = Augmenter(
            time_masks=aug.time_masks, time_mask_frames=aug.time_mask_frames, freq_masks=aug.freq_masks,
            freq_mask_bins=aug.freq_mask_bins, gain_db=aug.gain_db, mixup_alpha=aug.mixup_alpha, band_std=band_std,
        ).to(self.device)  # fmt: skip
        self.criterion = loss_function(config.train.loss)
        log.info(
            "teacher %s/%s: %d parameters (%d trainable), window %d frames, %d train / %d val songs",
            config.model.kind, config.model.preset, sum(p.numel() for p in self.model.parameters()),
            sum(p.numel() for p in self.model.parameters() if p.requires_grad), self.frames,
            len(self.train_data), len(self.val_data),
        )  # fmt: skip

    def parameter_groups(self) -> list[dict[str, Any]]:
        return self.model.parameter_groups(
            lr_backbone=self.cfg.lr_backbone, lr_head=self.cfg.lr_head, weight_decay=self.cfg.weight_decay
        )

    def batches_per_epoch(self) -> int:
        real = len(self.train_data) * self.cfg.windows_per_song
        extra = int(round(self.cfg.synthetic_ratio * real)) if self.synthetic is not None else 0
        return -(-(real + extra) // self.cfg.batch_size)

    def batches(self, epoch: int, rng: np.random.Generator) -> Iterator[Batch]:
        self.augment.train()
        return self.train_data.random_batches(
            rng,
            frames=self.frames,
            windows_per_song=self.cfg.windows_per_song,
            batch_size=self.cfg.batch_size,
            synthetic=self.synthetic,
            synthetic_ratio=self.cfg.synthetic_ratio,
        )

    def loss(self, batch: Batch) -> torch.Tensor:
        inputs = torch.from_numpy(batch.inputs).to(self.device)
        targets = torch.from_numpy(batch.targets).to(self.device)
        inputs, targets = self.augment(inputs, targets)
        return self.criterion(self.model(inputs), targets)

    def validate(self) -> dict[str, float]:
        songs, windows = predict_songs(self.model, self.val_data, frames=self.frames, hop=self.hop, device=self.device)
        return song_and_window_metrics(self.val_data.labels, songs, windows, "val")

    def checkpoint_meta(self) -> dict[str, Any]:
        store, stats = self.prepared.store, self.prepared.normalization
        return {
            "kind": "teacher",
            "moodscape_version": __version__,
            "audio": store.audio.model_dump(mode="json"),
            "features": store.features.model_dump(mode="json"),
            "normalization": {"mean": stats.mean.tolist(), "std": stats.std.tolist(), "songs": stats.songs},
            "window_frames": self.frames,
            "eval_hop_frames": self.hop,
            "store": str(store.directory),
            "config": config_to_dict(self.config),
        }


def train_teacher(config: Config, *, out_dir: str | Path, resume: bool = False, progress: bool = True) -> Path:
    """Prepare the data, train, and leave best/, last/, history.csv and config.yaml in ``out_dir``."""
    out_dir = Path(out_dir)
    saved = out_dir / "config.yaml"
    if resume and saved.exists() and load_config(saved) != config:
        raise ConfigError(
            f"{saved} differs from the configuration given now; resume with the same --config and --set "
            "options (or start a new run folder)"
        )
    prepared = prepare_data(config, progress=progress)
    save_config(config, out_dir)
    TeacherTrainer(prepared, config, out_dir=out_dir, progress=progress).fit(resume=resume)
    return out_dir


def load_teacher(directory: str | Path) -> TeacherRegressor:
    """A trained teacher from a checkpoint folder (best/ or last/)."""
    return TeacherRegressor.from_pretrained(directory)
