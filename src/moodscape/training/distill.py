"""Distillation: a MobileViT student learns from the labels and from a frozen teacher on the same
(augmented) crops, optionally matching the teacher's pooled embedding through a learned projection.

loss = alpha * L(student, labels) + (1 - alpha) * L(student, teacher) + feature_weight * MSE(P(e_s), e_t)

L is ``student.loss`` (mse, ccc or mse+ccc). There is no temperature: it softens class
probabilities, and a regressor has none.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import Config, config_to_dict, load_config
from ..data.unlabelled import unlabelled_audio
from ..errors import CheckpointError, ConfigError
from ..features.build import build_feature_store
from ..features.prepare import PreparedData
from ..features.store import FeatureStore
from ..features.windows import Batch, MixedWindows, UnlabelledWindows, fit_frames
from ..models.checkpoint import read_meta
from ..models.loading import REGRESSORS, load_model
from ..models.student.mobilevit import build_student
from ..models.teacher.musicnn_head import MusicnnRegressor
from .distributed import SINGLE, Cluster
from .loop import EMA_UNSHARDABLE, begin_run
from .musicnn_cache import PooledWindows, cache_obstacles
from .regressor import WindowRegressionTrainer

log = logging.getLogger(__name__)


class DistillTrainer(WindowRegressionTrainer):
    """The student trained against labels and a frozen teacher."""

    kind = "student"
    forward_methods = ("distill_outputs",)

    def __init__(
        self,
        prepared: PreparedData,
        config: Config,
        *,
        teacher_dir: str | Path,
        out_dir: str | Path,
        progress: bool = True,
        cluster: Cluster = SINGLE,
    ) -> None:
        teacher_dir = Path(teacher_dir)
        meta = read_meta(teacher_dir)
        features = prepared.store.features
        if meta.get("features") != features.model_dump(mode="json"):
            raise ConfigError(
                f"{teacher_dir} was trained on other front-end settings than features.* now; distil with the "
                "teacher run's own config (the default of `moodscape distill RUN`)"
            )
        super().__init__(
            prepared, config.student, config.runtime, seed=config.seed, run_config=config_to_dict(config),
            frames=int(meta["window_frames"]), hop=int(meta["eval_hop_frames"]), out_dir=out_dir, progress=progress,
            cluster=cluster,
        )  # fmt: skip
        self.teacher = load_model(teacher_dir, expect=REGRESSORS).to(self.device)
        for param in self.teacher.parameters():
            param.requires_grad_(False)
        self.teacher_dir = teacher_dir
        torch.manual_seed(config.seed)
        self.feature_weight = config.student.feature_weight
        teacher_dim = self.teacher.hidden_size if self.feature_weight > 0 else None
        self.model = build_student(config.student, n_mels=features.n_mels, frames=self.frames, teacher_dim=teacher_dim)
        self.alpha = config.student.alpha
        if config.student.transfer and config.student.transfer_ratio > 0:
            self._add_transfer(config)
        self.cache = self._teacher_cache()
        log.info(
            "student %s/%s: %d parameters, teacher %s (%d parameters), alpha %.2f, feature weight %.2f",
            config.student.kind, config.student.preset, sum(p.numel() for p in self.model.parameters()),
            teacher_dir, sum(p.numel() for p in self.teacher.parameters()), self.alpha, self.feature_weight,
        )  # fmt: skip

    def _add_transfer(self, config: Config) -> None:
        """Windows of unlabelled audio (every half window), drawn beside the labelled and generated ones."""
        stores = [build_feature_store(unlabelled_audio(root), config.store.out_dir, config=config,
                                      workers=config.store.workers, progress=self.progress)
                  for root in config.student.transfer]  # fmt: skip
        data = self.prepared
        transfer = [UnlabelledWindows(FeatureStore(s), normalization=data.normalization, mode=data.store.features.normalization,
                                      frames=self.frames, stride=self.frames // 2) for s in stores]  # fmt: skip
        sources = [(w, config.student.transfer_ratio * len(w) / sum(len(t) for t in transfer)) for w in transfer]
        if self.synthetic is not None:
            sources.append((self.synthetic, self.extra_ratio))
        self.synthetic, self.extra_ratio = MixedWindows(sources), self.extra_ratio + config.student.transfer_ratio
        log.info("transfer set: %d unlabelled windows from %s, %.2f per labelled window", sum(len(t) for t in transfer),
                 ", ".join(map(str, config.student.transfer)), config.student.transfer_ratio)  # fmt: skip

    def _teacher_cache(self) -> PooledWindows | None:
        """A musicnn teacher with the pooled head scores grid windows from its cached pooled features (see
        moodscape.training.musicnn_cache): the student then learns on those windows."""
        if not isinstance(self.teacher, MusicnnRegressor) or self.teacher.head_kind != "pooled":
            return None
        obstacles = cache_obstacles(self.cfg, self.cluster.world_size, teacher=False)
        if obstacles:
            log.info("musicnn teacher: it scores every window with the whole network (%s)", ", ".join(obstacles))
            return None
        return PooledWindows(self.teacher, self.prepared.store, self.network_songs, frames=self.frames, hop=self.hop,
                             device=self.device, progress=self.progress)  # fmt: skip

    def batches(self, epoch: int, rng: np.random.Generator) -> Iterator[Batch]:
        if self.cache is None:
            return super().batches(epoch, rng)
        return self._grid_batches(rng)

    def _grid_batches(self, rng: np.random.Generator) -> Iterator[TeacherBatch]:
        """Windows on the cache's grid, with the teacher's pooled features of each."""
        data, cache = self.train_data, self.cache
        order = rng.permutation(np.repeat(np.arange(len(data)), self.cfg.windows_per_song))
        for first in range(0, len(order), self.cfg.batch_size):
            inputs, pooled, targets = [], [], []
            for i in order[first : first + self.cfg.batch_size]:
                song = data.song_ids[i]
                k = int(rng.integers(len(cache.starts[song])))
                start = int(cache.starts[song][k])
                inputs.append(fit_frames(data.clips[i], self.frames)[:, start : start + self.frames])
                pooled.append(cache.rows[song][k])
                targets.append(data.labels[i])
            yield TeacherBatch(inputs=np.stack(inputs), targets=np.stack(targets),
                               pooled=np.stack(pooled).astype(np.float32))  # fmt: skip

    def loss(self, batch: Batch) -> torch.Tensor:
        inputs, targets = self.augmented(batch)
        self.teacher.eval()
        with torch.no_grad():
            if isinstance(batch, TeacherBatch):  # the clean window's cached features
                teacher_embedding = self.teacher.embed_pooled(torch.from_numpy(batch.pooled).to(self.device))
            else:
                teacher_embedding = self.teacher.embed(inputs)
            teacher_out = self.teacher.regress(teacher_embedding)
        out, projected = self.net.distill_outputs(inputs)
        out, targets, teacher_out = self.cluster.gather(out, targets, teacher_out)
        labelled = torch.isfinite(targets).all(dim=1)  # unlabelled transfer windows: the teacher alone scores them
        label_loss = self.criterion(out[labelled], targets[labelled]) if labelled.sum() > 1 else out.sum() * 0.0
        loss = self.alpha * label_loss + (1.0 - self.alpha) * self.criterion(out, teacher_out)
        if projected is not None:
            matched = torch.nn.functional.mse_loss(projected, teacher_embedding)
            loss = loss + self.feature_weight * matched
        return loss

    def checkpoint_meta(self) -> dict[str, Any]:
        return {**super().checkpoint_meta(), "teacher": str(self.teacher_dir)}


@dataclass(frozen=True)
class TeacherBatch(Batch):
    """A batch of grid windows with the teacher's cached pooled features of each (batch, 1506)."""

    pooled: np.ndarray


def distill_config(
    run_dir: str | Path, config_path: str | Path | None, overrides: list[str], *, values: dict | None = None
) -> Config:
    """The teacher run's saved config (or ``config_path``) with ``--set`` overrides and flag ``values`` (see
    :func:`~moodscape.config.load_config`), checked against the run."""
    run_dir = Path(run_dir)
    saved = run_dir / "config.yaml"
    if not saved.exists():
        raise CheckpointError(f"{run_dir} is not a teacher run folder (no config.yaml); train one with `moodscape train`")
    config = load_config(config_path or saved, overrides, values=values)
    if config_path is None:
        # How many processes trained the teacher says nothing about the student's run: only the command's own
        # --devices/--num-nodes/--strategy (or --set distributed.*) set them.
        given = [o for o in overrides if o.split("=", 1)[0].strip().startswith("distributed.")]
        flags = {k: v for k, v in (values or {}).items() if k.startswith("distributed.")}
        config = config.model_copy(update={"distributed": load_config(None, given, values=flags).distributed})
    teacher = load_config(saved)
    for name in ("data", "audio", "features", "split", "store", "windows"):
        if getattr(config, name) != getattr(teacher, name):
            raise ConfigError(
                f"{name}.* differs from the teacher run {run_dir}; the student must see the same songs, split and "
                f"front end as its teacher (leave {name}.* as in {saved})"
            )
    return config


def distill(
    run_dir: str | Path,
    config: Config,
    *,
    out_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    prepared: PreparedData | None = None,
) -> Path:
    """Distil ``run_dir/best`` into a student on ``prepared`` (prepared from ``config`` when not given);
    writes best/, last/, history.csv, config.yaml to ``out_dir`` (default ``student.out_dir``, else
    ``run_dir/student``)."""
    run_dir = Path(run_dir)
    teacher_dir = run_dir / "best"
    if not (teacher_dir / "model.safetensors").exists():
        raise CheckpointError(f"{teacher_dir} holds no trained teacher; finish `moodscape train` for {run_dir} first")
    teacher_meta = read_meta(teacher_dir)
    if teacher_meta.get("kind") != "teacher":
        raise CheckpointError(f"{teacher_dir} is a {teacher_meta.get('kind')} checkpoint; distil from a teacher run")
    teacher_windows = load_config(run_dir / "config.yaml").windows
    if config.windows != teacher_windows:
        raise ConfigError(f"windows.* ({config.windows}) differs from the teacher run {run_dir} ({teacher_windows}); "
                          "the student learns on the teacher's windows: leave windows.* as the teacher had them")  # fmt: skip
    out = Path(out_dir or config.student.out_dir or run_dir / "student")
    config, cluster, prepared = begin_run(config, out, resume=resume, progress=progress, prepared=prepared,
                                          unshardable=EMA_UNSHARDABLE if config.student.ema_decay else None)  # fmt: skip
    trainer = DistillTrainer(prepared, config, teacher_dir=teacher_dir, out_dir=out, progress=progress, cluster=cluster)
    trainer.fit(resume=resume)
    if config.student.fuse_descriptors and cluster.is_main:
        trainer.fuse()
    return out
