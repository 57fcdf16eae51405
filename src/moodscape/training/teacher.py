"""Teacher training: random windows of the training songs, song-level validation, best by CCC."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ..config import Config, config_to_dict
from ..features.prepare import PreparedData
from ..features.windows import Batch, window_geometry
from ..models.pretrained.musicnn import check_musicnn_store
from ..models.teacher.build import build_teacher
from ..models.teacher.musicnn_head import MusicnnRegressor
from .distributed import SINGLE, Cluster
from .loop import EMA_UNSHARDABLE, begin_run
from .musicnn_cache import PooledWindows, cache_obstacles, cached_song_values
from .regressor import WindowRegressionTrainer, recompute_batchnorm, song_and_window_metrics

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
        self.cache = self._pooled_cache()

    def _pooled_cache(self) -> PooledWindows | None:
        """musicnn's pooled features of grid windows, when everything below them is frozen (musicnn_cache)."""
        if not isinstance(self.model, MusicnnRegressor) or not self.model.frozen_pooling:
            return None
        obstacles = cache_obstacles(self.cfg, self.cluster.world_size, teacher=True)
        if obstacles:
            log.info("musicnn teacher: every window runs through the whole network (%s)", ", ".join(obstacles))
            return None
        songs = [*self.network_songs, *self.prepared.splits.val]
        return PooledWindows(self.model.to(self.device), self.prepared.store, songs, frames=self.frames, hop=self.hop,
                             device=self.device, progress=self.progress)  # fmt: skip

    def batches(self, epoch: int, rng: np.random.Generator) -> Iterator[Batch]:
        if self.cache is None:
            return super().batches(epoch, rng)
        return self._cached_batches(rng, self.cfg.windows_per_song)

    def _cached_batches(self, rng: np.random.Generator, per_song: int) -> Iterator[Batch]:
        songs, labels = self.train_data.song_ids, self.train_data.labels
        order = rng.permutation(np.repeat(np.arange(len(songs)), per_song))
        for first in range(0, len(order), self.cfg.batch_size):
            chunk = order[first : first + self.cfg.batch_size]
            rows = np.stack([self.cache.random_rows(songs[i], rng, 1)[0] for i in chunk]).astype(np.float32)
            yield Batch(inputs=rows, targets=labels[chunk])

    def loss(self, batch: Batch) -> torch.Tensor:
        if self.cache is not None:
            inputs, targets = (torch.from_numpy(a).to(self.device) for a in (batch.inputs, batch.targets))
            return self.criterion(self.model.regress(self.model.embed_pooled(inputs)), targets)
        inputs, targets = self.augmented(batch)
        return self.criterion(*self.cluster.gather(self.net(inputs), targets))

    def validate(self, model: torch.nn.Module) -> dict[str, float]:
        if self.cache is None:
            return super().validate(model)
        if self.cfg.precise_bn:
            rng = np.random.default_rng([self.seed, 11])
            batches = (torch.from_numpy(b.inputs).to(self.device) for b in self._cached_batches(rng, 1))
            recompute_batchnorm(model, batches, forward=lambda x: model.regress(model.embed_pooled(x)))
        songs, windows = cached_song_values(model, self.cache, self.prepared.store, self.val_data.song_ids, self.hop,
                                            self.device)  # fmt: skip
        return song_and_window_metrics(self.val_data.labels, songs, windows, "val")


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
