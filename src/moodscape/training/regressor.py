"""What the teacher and the student trainers share: windows of the training songs (plus optional
synthetic ones), augmentation, song-level validation and the checkpoint's front-end metadata.
Subclasses build their model and define the loss of a batch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..audio.descriptors import descriptor_names, store_descriptors
from ..config import RuntimeConfig, TrainingConfig
from ..data.quadrants import quadrant
from ..errors import ConfigError
from ..features.prepare import PreparedData
from ..features.store import FeatureStore
from ..features.windows import Batch, SongFeatures, SyntheticWindows
from ..metrics.regression import ccc, ccc_loss, mse
from ..models.floors.descriptors import DescriptorFloor
from ..models.floors.fusion import FUSION_DIR, Fusion, choose_weights
from ..models.loading import REGRESSORS, load_model
from ..models.predict import predict_songs
from ..version import __version__
from .augment import Augmenter
from .distributed import SINGLE, Cluster
from .fusion import equal_fusion
from .loop import Trainer

log = logging.getLogger(__name__)


def loss_function(name: str):
    """'mse', 'ccc' (1 - mean CCC over dimensions) or 'mse+ccc'."""
    if name == "mse":
        return torch.nn.functional.mse_loss
    if name == "ccc":
        return ccc_loss
    return lambda pred, target: torch.nn.functional.mse_loss(pred, target) + ccc_loss(pred, target)


def calibration_songs(song_ids, labels: np.ndarray, *, share: float, seed: int) -> tuple[str, ...]:
    """A seeded share of the songs in each quadrant, held back from the network to choose fusion weights."""
    quads = quadrant(labels[:, 0], labels[:, 1])
    rng = np.random.default_rng([seed, 7])
    picked: list[str] = []
    for q in (1, 2, 3, 4):
        members = [s for s, k in zip(song_ids, quads) if k == q]
        picked += [str(s) for s in rng.permutation(members)[: int(round(share * len(members)))]]
    if len(picked) < 8:
        raise ConfigError(
            f"fusion_share={share} holds back {len(picked)} of {len(song_ids)} training songs to choose the fusion "
            "weights; at least 8 are needed (raise the share, add songs, or set fuse_descriptors=false)"
        )
    return tuple(sorted(picked))


def song_and_window_metrics(truth: np.ndarray, songs: np.ndarray, windows: list[np.ndarray], prefix: str) -> dict:
    """CCC per dimension at song level, mean CCC, window-level CCC and MSE."""
    window_truth = np.concatenate([np.repeat(t[None], len(w), axis=0) for t, w in zip(truth, windows)])
    window_pred = np.concatenate(windows)
    out = {f"{prefix}_ccc_{name}": ccc(truth[:, i], songs[:, i]) for i, name in enumerate(("valence", "arousal"))}
    out[f"{prefix}_ccc_mean"] = (out[f"{prefix}_ccc_valence"] + out[f"{prefix}_ccc_arousal"]) / 2
    out[f"{prefix}_window_ccc_mean"] = float(np.mean([ccc(window_truth[:, i], window_pred[:, i]) for i in range(2)]))
    out[f"{prefix}_loss"] = float(np.mean([mse(truth[:, i], songs[:, i]) for i in range(2)]))
    return out


def recompute_batchnorm(model: torch.nn.Module, batches: Iterable[torch.Tensor], forward=None) -> None:
    """Batch-norm running statistics recomputed as plain averages over ``batches`` (precise BN): the moving
    averages training keeps lag behind weights that move. Layers a model keeps frozen (in eval mode during
    training) keep theirs; nothing else changes. ``forward`` runs a batch (default: the model itself)."""
    model.train()  # the model's own train() leaves its frozen layers in eval mode
    layers = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.training]
    if not layers:
        model.eval()
        return
    momenta = [m.momentum for m in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # a cumulative average over every batch
    with torch.no_grad():
        for inputs in batches:
            (forward or model)(inputs)
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum
    model.eval()


class WindowRegressionTrainer(Trainer):
    """A regressor on normalised log-mel windows of ``frames`` frames, validated per song every ``hop``."""

    kind = "regressor"

    def __init__(
        self,
        prepared: PreparedData,
        train: TrainingConfig,
        runtime: RuntimeConfig,
        *,
        seed: int,
        run_config: dict[str, Any],
        frames: int,
        hop: int,
        out_dir: str | Path,
        progress: bool = True,
        cluster: Cluster = SINGLE,
    ) -> None:
        super().__init__(train, runtime, seed=seed, out_dir=out_dir, progress=progress, cluster=cluster)
        self.run_config, self.prepared, self.frames, self.hop = run_config, prepared, frames, hop
        # The descriptor floor of a fusion decodes audio at this rate (None: the store's), at training and prediction.
        self.descriptor_rate = (run_config.get("baseline") or {}).get("descriptor_sample_rate")
        store, splits, stats = prepared.store, prepared.splits, prepared.normalization
        mode = store.features.normalization
        # With fusion, a share of the training songs is kept from the network: the fusion weights are chosen
        # on songs it neither learnt from nor was selected on (validation CCC is inflated by early stopping).
        self.fusion_songs = (
            calibration_songs(splits.train, store.labels(splits.train), share=train.fusion_share, seed=seed)
            if train.fuse_descriptors and train.fusion_rule == "weighted" else ()
        )  # fmt: skip
        self.network_songs = tuple(s for s in splits.train if s not in set(self.fusion_songs))
        self.train_data = SongFeatures(store, self.network_songs, normalization=stats, mode=mode)
        self.val_data = SongFeatures(store, splits.val, normalization=stats, mode=mode)
        self.synthetic, self.extra_ratio = None, train.synthetic_ratio
        if train.synthetic_ratio > 0:
            if train.synthetic_dir is None:
                raise ConfigError("synthetic_ratio > 0 needs synthetic_dir (a store from `moodscape gan generate`)")
            self.synthetic = SyntheticWindows(
                FeatureStore(train.synthetic_dir), normalization=stats, mode=mode, frames=self.frames
            )
        aug = train.augment
        n_mels = store.features.n_mels
        band_std = torch.from_numpy(stats.std) if mode == "global" else None if mode == "per_clip" else torch.ones(n_mels)
        self.augment = Augmenter(
            time_masks=aug.time_masks, time_mask_frames=aug.time_mask_frames, freq_masks=aug.freq_masks,
            freq_mask_bins=aug.freq_mask_bins, gain_db=aug.gain_db, mixup_alpha=aug.mixup_alpha, band_std=band_std,
        ).to(self.device)  # fmt: skip
        self.criterion = loss_function(train.loss)

    def parameter_groups(self) -> list[dict[str, Any]]:
        """The model's own groups: backbone and head at their learning rates, no decay on norms and biases."""
        return self.model.parameter_groups(
            lr_backbone=self.cfg.lr_backbone, lr_head=self.cfg.lr_head, weight_decay=self.cfg.weight_decay
        )

    def batches_per_epoch(self) -> int:
        real = len(self.train_data) * self.cfg.windows_per_song
        extra = int(round(self.extra_ratio * real)) if self.synthetic is not None else 0
        return -(-(real + extra) // self.cfg.batch_size)

    def batches(self, epoch: int, rng: np.random.Generator) -> Iterator[Batch]:
        self.augment.train()
        return self.train_data.random_batches(
            rng,
            frames=self.frames,
            windows_per_song=self.cfg.windows_per_song,
            batch_size=self.cfg.batch_size,
            synthetic=self.synthetic,
            synthetic_ratio=self.extra_ratio,
            rank=self.cluster.rank,
            world=self.cluster.world_size,
        )

    def augmented(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch on the device, augmented (masks, gain, mixup) as configured."""
        inputs = torch.from_numpy(batch.inputs).to(self.device)
        targets = torch.from_numpy(batch.targets).to(self.device)
        return self.augment(inputs, targets)

    def has_validation(self) -> bool:
        return len(self.val_data) > 0

    def validate(self, model: torch.nn.Module) -> dict[str, float]:
        if self.cfg.precise_bn:
            recompute_batchnorm(model, self._clean_windows(self.cfg.precise_bn))
        songs, windows = predict_songs(model, self.val_data, frames=self.frames, hop=self.hop, device=self.device)
        return song_and_window_metrics(self.val_data.labels, songs, windows, "val")

    def _clean_windows(self, count: int) -> Iterator[torch.Tensor]:
        """``count`` random windows of the training songs, not augmented, the same ones every epoch."""
        rng = np.random.default_rng([self.seed, 11])
        per_song = max(1, -(-count // max(len(self.train_data), 1)))
        left = count
        for batch in self.train_data.random_batches(rng, frames=self.frames, windows_per_song=per_song,
                                                    batch_size=self.cfg.batch_size):  # fmt: skip
            if left <= 0:
                return
            yield torch.from_numpy(batch.inputs[:left]).to(self.device)
            left -= len(batch.inputs)

    def fuse(self) -> Fusion:
        """With the weighted rule, choose the fusion weights on the held-back training songs (the network's and an
        unbiased floor's predictions of them), then fit the floor on every training song; with the equal rule, fit
        the floor on every training song and give both the same weight. Saved in ``best/fusion``."""
        store, splits = self.prepared.store, self.prepared.splits
        if self.cfg.fusion_rule == "equal":
            fusion = equal_fusion(store, splits.train, descriptor_rate=self.descriptor_rate, seed=self.seed, probe=False,
                                  progress=self.progress)  # fmt: skip
            fusion.save(self.out_dir / "best" / FUSION_DIR)
            log.info("equal-weight fusion with the descriptor floor, fitted on %d training songs", len(splits.train))
            return fusion
        held = self.fusion_songs
        model = load_model(self.out_dir / "best", expect=REGRESSORS).to(self.device)
        data = SongFeatures(store, held, normalization=self.prepared.normalization, mode=store.features.normalization)
        network, _ = predict_songs(model, data, frames=self.frames, hop=self.hop, device=self.device)

        rate = self.descriptor_rate

        def floor_on(song_ids) -> DescriptorFloor:
            x = store_descriptors(store, song_ids, sample_rate=rate, progress=self.progress)
            return DescriptorFloor(seed=self.seed, sample_rate=rate).fit(x, store.labels(song_ids),
                                                                         names=descriptor_names())  # fmt: skip

        floor_held = floor_on(self.network_songs).predict(store_descriptors(store, held, sample_rate=rate,
                                                                            progress=self.progress))  # fmt: skip
        truth = data.labels
        weights = choose_weights(network, floor_held, truth)
        fused = np.asarray(weights) * network + (1 - np.asarray(weights)) * floor_held
        held_ccc = {name: {d: ccc(truth[:, i], values[:, i]) for i, d in enumerate(("valence", "arousal"))}
                    for name, values in (("network", network), ("floor", floor_held), ("fused", fused))}  # fmt: skip
        fusion = Fusion(weights, floor_on(splits.train), meta={"weight_songs": len(held), "weight_songs_ccc": held_ccc})
        fusion.save(self.out_dir / "best" / FUSION_DIR)
        log.info("fusion with the descriptor floor: network weight valence %.2f, arousal %.2f (CCC on %d held-back "
                 "songs %s)", *weights, len(held), held_ccc)  # fmt: skip
        return fusion

    def checkpoint_meta(self) -> dict[str, Any]:
        store, stats = self.prepared.store, self.prepared.normalization
        return {
            "kind": self.kind,
            "moodscape_version": __version__,
            "audio": store.audio.model_dump(mode="json"),
            "features": store.features.model_dump(mode="json"),
            "normalization": {"mean": stats.mean.tolist(), "std": stats.std.tolist(), "songs": stats.songs},
            "network_songs": len(self.network_songs),
            "fusion_songs": list(self.fusion_songs),
            "window_frames": self.frames,
            "eval_hop_frames": self.hop,
            "store": str(store.directory),
            "config": self.run_config,
        }
