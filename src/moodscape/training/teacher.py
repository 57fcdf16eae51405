"""Teacher training: random windows of the training songs, song-level validation, best by CCC."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from ..config import Config, config_to_dict
from ..features.prepare import PreparedData
from ..features.windows import Batch, window_geometry
from ..models.loading import load_regressor
from ..models.musicnn import check_musicnn_store
from ..models.teacher import TeacherRegressor
from ..models.teacher_build import build_teacher
from ..models.teacher_musicnn import MusicnnRegressor
from .distributed import SINGLE, Cluster
from .loop import EMA_UNSHARDABLE, begin_run
from .regressor import WindowRegressionTrainer

log = logging.getLogger(__name__)


class TeacherTrainer(WindowRegressionTrainer):
    """The ViT regressor on normalised log-mel windows."""

    kind = "teacher"

    def __init__(
        self,
        prepared: PreparedData,
        config: Config,
        *,
        out_dir: str | Path,
        progress: bool = True,
        cluster: Cluster = SINGLE,
    ) -> None:
        if config.teacher.kind == "musicnn":
            check_musicnn_store(prepared.store)
        frames, hop = window_geometry(config, prepared.store)
        super().__init__(prepared, config.teacher, config.runtime, seed=config.seed, run_config=config_to_dict(config),
                         frames=frames, hop=hop, out_dir=out_dir, progress=progress, cluster=cluster)  # fmt: skip
        torch.manual_seed(config.seed)
        self.model = build_teacher(config.teacher, n_mels=prepared.store.features.n_mels, frames=self.frames)
        t = config.teacher
        size = f"{t.pretrained}, {t.head} head" if t.kind == "musicnn" else t.preset
        log.info(
            "teacher %s (%s): %d parameters (%d trainable), window %d frames, %d train / %d val songs",
            t.kind, size, sum(p.numel() for p in self.model.parameters()),
            sum(p.numel() for p in self.model.parameters() if p.requires_grad), self.frames,
            len(self.train_data), len(self.val_data),
        )  # fmt: skip

    def loss(self, batch: Batch) -> torch.Tensor:
        inputs, targets = self.augmented(batch)
        return self.criterion(*self.cluster.gather(self.net(inputs), targets))


def train_teacher(
    config: Config,
    *,
    out_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    prepared: PreparedData | None = None,
) -> Path:
    """Train on ``prepared`` (prepared from ``config`` when not given) and leave best/, last/, history.csv
    and config.yaml in ``out_dir``."""
    out_dir = Path(out_dir)
    config, cluster, prepared = begin_run(config, out_dir, resume=resume, progress=progress, prepared=prepared,
                                          unshardable=EMA_UNSHARDABLE if config.teacher.ema_decay else None)  # fmt: skip
    trainer = TeacherTrainer(prepared, config, out_dir=out_dir, progress=progress, cluster=cluster)
    trainer.fit(resume=resume)
    if config.teacher.fuse_descriptors and cluster.is_main:
        trainer.fuse()
    return out_dir


def load_teacher(directory: str | Path) -> TeacherRegressor | MusicnnRegressor:
    """A trained teacher (any kind) from a checkpoint folder (best/ or last/)."""
    return load_regressor(directory)
