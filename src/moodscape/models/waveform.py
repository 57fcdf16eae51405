"""A trained regressor with its front end: raw mono waveform windows in, (valence, arousal) out.

The one module that export (ONNX, TorchScript) and prediction share, built from a checkpoint folder
and its ``moodscape.json``, so an exported model computes exactly the features it was trained on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..audio.frontend import LogMel
from ..config import AudioConfig, FeaturesConfig
from ..errors import CheckpointError
from .checkpoint import read_meta
from .loading import REGRESSORS, load_model


class Normalize(nn.Module):
    """dB log-mel (batch, n_mels, frames) -> the model's input: training-set z-scores per band, or as is."""

    def __init__(self, mode: str, mean: list[float] | None, std: list[float] | None, n_mels: int) -> None:
        super().__init__()
        if mode == "per_clip":
            raise CheckpointError(
                "features.normalization=per_clip needs the whole clip's statistics, which a window-by-window model "
                "cannot know; train with features.normalization=global (the default) to export or predict"
            )
        if mode == "global" and (mean is None or std is None):
            raise CheckpointError("the checkpoint's moodscape.json lacks its normalisation statistics")
        mean_t = torch.tensor(mean if mode == "global" else [0.0] * n_mels, dtype=torch.float32)
        std_t = torch.tensor(std if mode == "global" else [1.0] * n_mels, dtype=torch.float32)
        self.register_buffer("mean", mean_t[None, :, None])
        self.register_buffer("std", std_t[None, :, None])

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        return (logmel - self.mean) / self.std


class WaveformRegressor(nn.Module):
    """(batch, window_samples) float32 at ``sample_rate`` -> (batch, 2) (valence, arousal) on [-1, 1].

    ``forward_logmel`` takes dB log-mel windows (batch, n_mels, frames) instead, as librosa's
    ``power_to_db(melspectrogram(...))`` with the saved front-end settings would give.
    """

    def __init__(self, regressor: nn.Module, frontend: LogMel, normalize: Normalize, *, frames: int,
                 meta: dict[str, Any]) -> None:  # fmt: skip
        super().__init__()
        self.regressor, self.frontend, self.normalize = regressor, frontend, normalize
        self.frames = int(frames)
        self.window_samples = (self.frames - 1) * frontend.hop_length
        self.sample_rate = frontend.sample_rate
        self.meta = meta

    @classmethod
    def from_checkpoint(cls, folder: str | Path) -> WaveformRegressor:
        """Build from a checkpoint folder (RUN/best) in eval mode on the CPU."""
        folder = Path(folder)
        meta = read_meta(folder)
        try:
            audio, features = AudioConfig(**meta["audio"]), FeaturesConfig(**meta["features"])
            norm = meta.get("normalization") or {}
            frames = int(meta["window_frames"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{folder}/moodscape.json is incomplete ({exc}); re-train or re-save the run") from exc
        normalize = Normalize(features.normalization, norm.get("mean"), norm.get("std"), features.n_mels)
        model = cls(load_model(folder, expect=REGRESSORS), LogMel.from_config(features, audio), normalize, frames=frames, meta=meta)
        return model.eval()

    @property
    def eval_hop_samples(self) -> int:
        """The hop between windows used in evaluation, in samples."""
        return int(self.meta.get("eval_hop_frames", self.frames // 2)) * self.frontend.hop_length

    def forward_logmel(self, logmel: torch.Tensor) -> torch.Tensor:
        return self.regressor(self.normalize(logmel))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.forward_logmel(self.frontend(waveform))


class LogmelRegressor(nn.Module):
    """The export variant that takes dB log-mel windows: (batch, n_mels, frames) -> (batch, 2)."""

    def __init__(self, model: WaveformRegressor) -> None:
        super().__init__()
        self.model = model

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        return self.model.forward_logmel(logmel)
