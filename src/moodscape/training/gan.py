"""Conditional GAN training on windows of the training songs only.

Validation and test songs never reach the GAN: the windows come from ``splits.train`` alone, and
the song ids used are written to ``songs.json`` in the run folder so that this can be checked.
The epochs, per-epoch seeding, checkpoint folders and exact resume are the shared loop's
(:class:`~moodscape.training.loop.EpochLoop`); this module brings the two optimisers' steps.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..config import Config, config_to_dict
from ..errors import CheckpointError, ConfigError
from ..faults import crash_point
from ..features.prepare import PreparedData
from ..features.windows import SongFeatures, window_geometry
from ..files import write_json
from ..metrics.gan_quality import (
    band_statistics_embedding,
    condition_fidelity,
    diversity_ratio,
    matched_distances,
    split_halves,
)
from ..models.checkpoint import EMA_DIR, read_training_state, write_checkpoint
from ..models.ema import EMA
from ..models.floors.ridge import RidgeBaseline
from ..models.gan.build import SONGS_FILE, build_gan
from ..models.gan.discriminator import Discriminator
from ..models.gan.generator import Generator
from ..models.gan.losses import gradient_penalty, hinge_d_loss, hinge_g_loss
from ..version import __version__
from .augment import diff_augment
from .distributed import SINGLE, Cluster
from .loop import EpochLoop, begin_run

log = logging.getLogger(__name__)

GAN_UNSHARDABLE = ("gan train with distributed.strategy=fsdp: the GAN keeps a weight average of the generator "
                   "every step; train it with distributed.strategy=ddp (its models are small)")  # fmt: skip


def gan_meta(config: Config, prepared: PreparedData, frames: int) -> dict:
    """What generated windows need to be used or listened to: front end, normalisation, window."""
    store, stats = prepared.store, prepared.normalization
    return {
        "kind": "gan",
        "moodscape_version": __version__,
        "audio": store.audio.model_dump(mode="json"),
        "features": store.features.model_dump(mode="json"),
        "normalization": {"mean": stats.mean.tolist(), "std": stats.std.tolist(), "songs": stats.songs},
        "window_frames": frames,
        "store": str(store.directory),
        "config": config_to_dict(config),
    }


def _label_scale(labels: np.ndarray) -> float:
    """1 / the training labels' standard deviation (mean of valence's and arousal's); 1 when they are constant."""
    spread = float(np.std(labels, axis=0).mean())
    return 1.0 / spread if spread > 1e-6 else 1.0


def label_loss(predicted: torch.Tensor | None, labels: torch.Tensor, *, scale: float) -> torch.Tensor:
    """The label head's MSE in units of the training labels' variance (``scale`` = 1 / their std).

    Labels spread about 0.3 on [-1, 1], so a raw MSE (about 0.1 at chance) gives the generator a label
    signal too faint to follow (measured on windows whose level and tilt follow the labels: raw MSE
    at weight 1 taught the generator nothing in 1,000 steps; at weight ~10, i.e. about 1 in these
    units, it followed valence with r = 0.92). Zero when the discriminator has no label head.
    """
    if predicted is None:
        return torch.zeros((), device=labels.device)
    return F.mse_loss(predicted, labels) * scale**2


class GanMonitor:
    """Is the generator learning? A per-epoch check that needs no teacher.

    Fixed real training windows are drawn once and split in halves a and b; after each epoch the EMA
    generator makes one window for each label of half b (fixed latents), and we record the Frechet
    distance in per-band log-mel statistics between half a and them, beside the distance between
    half a and half b itself (the scale a perfect generator approaches: equal set sizes, equal
    small-sample bias), and the fidelity of the labels: CCC between
    them and what a ridge fitted on the real windows' band statistics predicts for the generated ones,
    and the diversity of the generated windows relative to the real ones (:func:`diversity_ratio`).
    """

    def __init__(self, songs: SongFeatures, *, frames: int, windows: int, seed: int) -> None:
        if windows < 8:
            raise ConfigError(f"gan.monitor_windows={windows}: use 0 (no monitoring) or at least 8 windows")
        rng = np.random.default_rng([seed, 2])
        per_song = -(-windows // len(songs))
        batches = list(songs.random_batches(rng, frames=frames, windows_per_song=per_song, batch_size=256))
        real = np.concatenate([b.inputs for b in batches])[:windows]
        self.labels = np.concatenate([b.targets for b in batches])[:windows]
        self.embedding = band_statistics_embedding(real)
        # Generated windows are made for the labels of one half (b) and compared with the other half (a),
        # exactly as half b of the real windows is: same sizes, so the same small-sample bias on both sides.
        self.split_seed = [seed, 3]
        _, self.b = split_halves(len(real), seed=self.split_seed)
        self.ridge = RidgeBaseline(seed=seed).fit(self.embedding, self.labels)
        self.seed = seed

    @torch.no_grad()
    def __call__(self, generator: Generator) -> dict[str, float]:
        device = next(generator.parameters()).device
        latents = torch.Generator().manual_seed(self.seed)
        labels = torch.from_numpy(self.labels[self.b])
        z = torch.randn(len(labels), generator.z_dim, generator=latents)
        windows = np.concatenate([
            generator(z[i : i + 64].to(device), labels[i : i + 64].to(device)).float().cpu().numpy()
            for i in range(0, len(labels), 64)
        ])  # fmt: skip
        embedding = band_statistics_embedding(windows)
        fidelity = condition_fidelity(self.labels[self.b], self.ridge.predict(embedding))
        distances = matched_distances(self.embedding, embedding, seed=self.split_seed)
        return {
            "fd_band": distances["real_vs_synthetic"],
            "fd_band_real": distances["real_vs_real"],
            "diversity": diversity_ratio(self.embedding[self.b], embedding),
            "fidelity_valence": fidelity["valence"],
            "fidelity_arousal": fidelity["arousal"],
        }


class GanTrainer(EpochLoop):
    """Hinge (or WGAN-GP) training of the conditional generator against a projection discriminator.

    The shared loop runs the epochs; this class brings the two optimisers' steps, the monitor, and the
    folders: ``generator/`` (the EMA weights, rewritten every epoch: a GAN has no validation score to
    choose by) and ``last/`` (everything, for resuming).
    """

    rng_stream = (1,)

    def __init__(
        self,
        prepared: PreparedData,
        config: Config,
        *,
        out_dir: str | Path,
        progress: bool = True,
        cluster: Cluster = SINGLE,
    ) -> None:
        super().__init__(epochs=config.gan.epochs, patience=None, device=config.runtime.device,
                         threads=config.runtime.threads, seed=config.seed, out_dir=out_dir, progress=progress,
                         cluster=cluster)  # fmt: skip
        if cluster.sharded:
            raise ConfigError(GAN_UNSHARDABLE)
        self.config, self.cfg, self.prepared = config, config.gan, prepared
        store = prepared.store
        self.frames, _ = window_geometry(config, store)
        self.songs = SongFeatures(
            store, prepared.splits.train, normalization=prepared.normalization, mode=store.features.normalization
        )
        self.label_scale = _label_scale(self.songs.labels)
        torch.manual_seed(config.seed)
        self.generator, self.discriminator = build_gan(
            self.cfg.preset,
            n_mels=store.features.n_mels,
            frames=self.frames,
            attention=self.cfg.attention,
            output_limit=self.cfg.output_limit,
            aux_labels=self.cfg.aux_weight > 0,
            pooling=self.cfg.d_pooling,
            minibatch_std=self.cfg.minibatch_std,
            latent_film=self.cfg.latent_film,
            label_scale=self.label_scale if self.cfg.scale_labels else 1.0,
        )
        # channels_last: oneDNN's convolutions on few channels run ~1.5x faster in that layout on CPU.
        self.generator.to(self.device, memory_format=torch.channels_last)
        self.discriminator.to(self.device, memory_format=torch.channels_last)
        # What the steps call: the models themselves, or their data-parallel wrappers (same weights).
        self.g_net = cluster.wrap(self.generator)
        self.d_net = cluster.wrap(self.discriminator, forward_methods=("scores_and_labels",))
        self.ema = EMA(self.generator, decay=self.cfg.ema_decay)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=self.cfg.lr_g, betas=tuple(self.cfg.betas))
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=self.cfg.lr_d, betas=tuple(self.cfg.betas))
        self.monitor = (
            GanMonitor(self.songs, frames=self.frames, windows=self.cfg.monitor_windows, seed=config.seed)
            if self.cfg.monitor_windows else None
        )  # fmt: skip

    def start(self) -> None:
        """The song ids the GAN learns from, written first so that a reader can check them at any time."""
        if not self.cluster.is_main:
            return
        write_json(self.out_dir / SONGS_FILE, {"train_songs": list(self.songs.song_ids),
                                               "splits_hash": self.prepared.splits.songs_hash}, indent=None)

    def end_epoch(self) -> dict[str, float]:
        if self.monitor is None:
            return {}
        record = self.monitor(self.ema.model)
        log.info(
            "GAN band-statistics FD %.2f (real vs real %.2f), diversity %.2f of real, ridge fidelity valence %.3f "
            "arousal %.3f", record["fd_band"], record["fd_band_real"], record["diversity"],
            record["fidelity_valence"], record["fidelity_arousal"],
        )  # fmt: skip
        return record

    def log_epoch(self, record: dict[str, float], improved: bool) -> None:
        log.info(
            "GAN epoch %d/%d  D %.4f  G %.4f  D(real) %.3f  D(fake) %.3f  label loss real %.4f fake %.4f",
            record["epoch"], self.epochs, record["d_loss"], record["g_loss"], record["d_real"], record["d_fake"],
            record["aux_real"], record["aux_fake"],
        )  # fmt: skip

    def train_epoch(self, epoch: int, rng: np.random.Generator) -> dict[str, float]:
        self.generator.train()
        self.discriminator.train()
        sums = {"d_loss": 0.0, "g_loss": 0.0, "d_real": 0.0, "d_fake": 0.0, "aux_real": 0.0, "aux_fake": 0.0}
        aux = self.cfg.aux_weight
        batches = self.songs.random_batches(
            rng, frames=self.frames, windows_per_song=self.cfg.windows_per_song, batch_size=self.cfg.batch_size,
            rank=self.cluster.rank, world=self.cluster.world_size,
        )
        total = -(-len(self.songs) * self.cfg.windows_per_song // self.cfg.batch_size)
        count = 0
        for batch in tqdm(batches, total=total, desc=f"GAN epoch {epoch + 1}", leave=False, disable=not self.progress):
            real = torch.from_numpy(batch.inputs).to(self.device)
            labels = torch.from_numpy(batch.targets).to(self.device)
            for _ in range(self.cfg.d_steps):
                z = torch.randn(len(real), self.generator.z_dim, device=self.device)
                fake = self.generator(z, labels).detach()
                seen_real, seen_fake = self._augment(real), self._augment(fake)
                real_scores, real_labels = self.d_net.scores_and_labels(seen_real, labels)
                fake_scores = self.d_net(seen_fake, labels)
                if self.cfg.loss == "hinge":
                    d_loss = hinge_d_loss(real_scores, fake_scores)
                else:
                    d_loss = fake_scores.mean() - real_scores.mean()
                    penalty = gradient_penalty(self.discriminator, seen_real, seen_fake, labels)
                    d_loss = d_loss + self.cfg.gp_weight * penalty
                aux_real = label_loss(real_labels, labels, scale=self.label_scale)
                d_loss = d_loss + aux * aux_real
                self.opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                self.opt_d.step()
            z = torch.randn(len(real), self.generator.z_dim, device=self.device)
            fake_scores_g, fake_labels = self.d_net.scores_and_labels(self._augment(self.g_net(z, labels)), labels)
            aux_fake = label_loss(fake_labels, labels, scale=self.label_scale)
            g_loss = hinge_g_loss(fake_scores_g) + aux * aux_fake
            self.opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            self.opt_g.step()
            self.ema.update(self.generator)
            for key, value in (("d_loss", d_loss), ("g_loss", g_loss), ("d_real", real_scores.mean()),
                               ("d_fake", fake_scores.mean()), ("aux_real", aux_real), ("aux_fake", aux_fake)):  # fmt: skip
                sums[key] += float(value.detach())
            count += 1
            crash_point(f"epoch {epoch + 1} batch {count}", self.cluster.rank)
        return {key: value / max(count, 1) for key, value in sums.items()}

    def _augment(self, windows: torch.Tensor) -> torch.Tensor:
        return diff_augment(windows, self.cfg.diff_augment) if self.cfg.diff_augment else windows

    def _meta(self, epoch: int) -> dict:
        return {**gan_meta(self.config, self.prepared, self.frames), "epoch": epoch}

    def save_model(self, record: dict[str, float], improved: bool) -> None:
        write_checkpoint(self.out_dir / "generator", self.ema.model, meta=self._meta(record["epoch"]))

    def save_last(self, directory: Path, state: dict[str, Any]) -> None:
        saved = {key: state[key] for key in ("epoch", "history", "world_size") if key in state}
        write_checkpoint(directory, None, meta=self._meta(state["epoch"]), ema=self.ema.model,
                         parts={"generator": self.generator, "discriminator": self.discriminator},
                         optimizers={"optimizer_g": self.opt_g, "optimizer_d": self.opt_d},
                         training_state={**saved, "ema_updates": self.ema.updates})  # fmt: skip

    def load_last(self, directory: Path) -> dict[str, Any]:
        saved = {"generator": Generator.from_pretrained(directory / "generator"),
                 "discriminator": Discriminator.from_pretrained(directory / "discriminator")}  # fmt: skip
        for name, model in saved.items():
            ours = getattr(self, name).init_args
            differ = sorted(k for k in ours.keys() | model.init_args.keys() if ours.get(k) != model.init_args.get(k))
            if differ:
                raise CheckpointError(
                    f"{directory / name} was built with other settings ({', '.join(differ)}: saved "
                    f"{[model.init_args.get(k) for k in differ]}, now {[ours.get(k) for k in differ]}), e.g. by an "
                    "older moodscape with other defaults; set them back in the config or start a new run"
                )
        state = read_training_state(directory, {"optimizer_g": self.opt_g, "optimizer_d": self.opt_d})
        self.generator.load_state_dict(saved["generator"].state_dict())
        self.discriminator.load_state_dict(saved["discriminator"].state_dict())
        self.ema.model.load_state_dict(Generator.from_pretrained(directory / EMA_DIR).state_dict())
        self.ema.updates = state["ema_updates"]
        return state


def train_gan(
    config: Config,
    *,
    out_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    prepared: PreparedData | None = None,
) -> Path:
    """Train the GAN on the training songs of ``prepared`` (prepared from ``config`` when not given) only;
    leave generator/ and last/ in ``out_dir``."""
    out_dir = Path(out_dir)
    config, cluster, prepared = begin_run(config, out_dir, resume=resume, progress=progress, prepared=prepared,
                                          unshardable=GAN_UNSHARDABLE)
    GanTrainer(prepared, config, out_dir=out_dir, progress=progress, cluster=cluster).fit(resume=resume)
    return out_dir
