"""Teacher training: random windows of the training songs, song-level validation, best by CCC."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from ..config import Config, save_config
from ..features.prepare import PreparedData, prepare_data
from ..features.windows import Batch, window_frames
from ..models.teacher import TeacherRegressor
from ..models.teacher_build import build_teacher
from .loop import check_resume_config
from .regressor import WindowRegressionTrainer

log = logging.getLogger(__name__)


class TeacherTrainer(WindowRegressionTrainer):
    """The ViT regressor on normalised log-mel windows."""

    kind = "teacher"

    def __init__(self, prepared: PreparedData, config: Config, *, out_dir: str | Path, progress: bool = True) -> None:
        audio, features = prepared.store.audio, prepared.store.features
        frames = window_frames(
            config.train.window_seconds,
            sample_rate=audio.sample_rate,
            hop_length=features.hop_length,
            multiple=config.model.patch_size[1],
        )
        hop = max(1, round(config.train.eval_hop_seconds * audio.sample_rate / features.hop_length))
        super().__init__(prepared, config, config.train, frames=frames, hop=hop, out_dir=out_dir, progress=progress)
        torch.manual_seed(config.seed)
        self.model = build_teacher(config.model, n_mels=features.n_mels, frames=self.frames)
        log.info(
            "teacher %s/%s: %d parameters (%d trainable), window %d frames, %d train / %d val songs",
            config.model.kind, config.model.preset, sum(p.numel() for p in self.model.parameters()),
            sum(p.numel() for p in self.model.parameters() if p.requires_grad), self.frames,
            len(self.train_data), len(self.val_data),
        )  # fmt: skip

    def loss(self, batch: Batch) -> torch.Tensor:
        inputs, targets = self.augmented(batch)
        return self.criterion(self.model(inputs), targets)


def train_teacher(config: Config, *, out_dir: str | Path, resume: bool = False, progress: bool = True) -> Path:
    """Prepare the data, train, and leave best/, last/, history.csv and config.yaml in ``out_dir``."""
    out_dir = Path(out_dir)
    check_resume_config(out_dir, config, resume)
    prepared = prepare_data(config, progress=progress)
    save_config(config, out_dir)
    trainer = TeacherTrainer(prepared, config, out_dir=out_dir, progress=progress)
    trainer.fit(resume=resume)
    if config.train.fuse_descriptors:
        trainer.fuse()
    return out_dir


def load_teacher(directory: str | Path) -> TeacherRegressor:
    """A trained teacher from a checkpoint folder (best/ or last/)."""
    return TeacherRegressor.from_pretrained(directory)
