"""The GAN's discriminator: (window, labels) -> one raw score per window.

One module per network, so that each reads as its architecture; the layers it shares with the
generator are in :mod:`moodscape.models.gan.blocks`.

``k`` blocks of spectral-normalised convolutions (3x3 stride 1, then 4x4 stride 2, LeakyReLU 0.2;
channels double per block up to 8x base), global sum or mean pooling (``pooling``) to ``phi(x)``,
optionally after ProGAN's minibatch standard-deviation channel (``minibatch_std``), then the projection
discriminator of Miyato & Koyama (2018) for continuous labels:
``D(x, y) = w . phi(x) + b + <embed(y), phi(x)>`` with ``embed`` a learned 2-layer MLP of the 2-D
label times ``label_scale``. Every convolution and linear layer (embedding included) is
spectral-normalised (``torch.nn.utils.parametrizations.spectral_norm``). Returns ``(batch,)`` raw
scores. Why ``label_scale``: a spectral-normalised embedding moves by at most as much as its input,
and real labels sit close together (DEAM's spread about 0.3 on [-1, 1], unlike one-hot classes
that are sqrt(2) apart), so the label term could hardly tell two songs' labels apart; the trainer
passes 1 / (the training labels' standard deviation).
Optionally (``aux_labels``) a linear head (not spectral-normalised: it is a regressor, not part of
the critic) on the mean-pooled features also regresses (valence, arousal) through tanh, as in
AC-GAN with continuous labels: trained on real windows, it gives the generator a direct signal
for its labels.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ...errors import ParameterError, SettingError
from ..serialization import Pretrained
from .blocks import GAN_METADATA_KEY, LABEL_DIM, check_labels, check_size, minibatch_std_channel


class Discriminator(Pretrained):
    """Spectral-normalised projection discriminator: (window, labels) -> (batch,) raw scores.

    Args:
        n_mels, frames: size of the windows it judges (checked on every call).
        base_channels: channels of the first block; doubled per block, at most 8x.
        num_blocks: downsampling blocks (each halves both axes, rounding down).
        embed_dim: width of the hidden layer of the label embedding MLP.

    Shapes: ``x`` (batch, n_mels, frames) or (batch, 1, n_mels, frames), ``labels`` (batch, 2) -> (batch,).
    """

    MODEL_TYPE, METADATA_KEY, WHAT = "moodscape-gan-discriminator", GAN_METADATA_KEY, "gan-discriminator"

    def __init__(
        self,
        *,
        n_mels: int,
        frames: int,
        base_channels: int = 64,
        num_blocks: int = 4,
        embed_dim: int = 128,
        aux_labels: bool = False,
        pooling: Literal["sum", "mean"] = "sum",
        minibatch_std: bool = False,
        label_scale: float = 1.0,
    ) -> None:
        super().__init__()
        check_size(n_mels, frames, num_blocks, "Discriminator")
        if not label_scale > 0:
            raise SettingError(f"Discriminator: label_scale must be positive, got {label_scale!r}")
        if pooling not in ("sum", "mean"):
            raise SettingError(f"Discriminator: pooling must be 'sum' or 'mean', got {pooling!r}")
        for name, value in (("base_channels", base_channels), ("embed_dim", embed_dim)):
            if not isinstance(value, int) or value < 1:
                raise SettingError(f"Discriminator: {name} must be a positive integer, got {value!r}")
        self._init_args = dict(
            n_mels=n_mels, frames=frames, base_channels=base_channels, num_blocks=num_blocks, embed_dim=embed_dim,
            aux_labels=bool(aux_labels), pooling=pooling, minibatch_std=bool(minibatch_std),
            label_scale=float(label_scale),
        )  # fmt: skip
        self.label_scale = float(label_scale)
        self.pooling = pooling
        self.n_mels, self.frames = n_mels, frames
        channels = [1] + [base_channels * min(2**i, 8) for i in range(num_blocks)]
        layers: list[nn.Module] = []
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            layers += [
                spectral_norm(nn.Conv2d(c_in, c_out, 3, padding=1)),
                nn.LeakyReLU(0.2),
                spectral_norm(nn.Conv2d(c_out, c_out, 4, stride=2, padding=1)),
                nn.LeakyReLU(0.2),
            ]
        self.features = nn.Sequential(*layers)
        self.feature_dim = channels[-1]
        self.batch_std = (
            nn.Sequential(spectral_norm(nn.Conv2d(channels[-1] + 1, channels[-1], 3, padding=1)), nn.LeakyReLU(0.2))
            if minibatch_std else None
        )  # fmt: skip
        self.out = spectral_norm(nn.Linear(self.feature_dim, 1))
        self.label_embed = nn.Sequential(
            spectral_norm(nn.Linear(LABEL_DIM, embed_dim)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Linear(embed_dim, self.feature_dim)),
        )
        self.regress = nn.Linear(self.feature_dim, LABEL_DIM) if aux_labels else None

    def phi(self, x: torch.Tensor) -> torch.Tensor:
        """Features ``phi(x)``: (batch, feature_dim), global sum (or mean) over the downsampled map."""
        return self._pool(self._feature_map(x))

    def _pool(self, feature_map: torch.Tensor) -> torch.Tensor:
        return feature_map.sum(dim=(2, 3)) if self.pooling == "sum" else feature_map.mean(dim=(2, 3))

    def _feature_map(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3:
            x = x.unsqueeze(1)
        if x.ndim != 4 or x.shape[1] != 1 or tuple(x.shape[2:]) != (self.n_mels, self.frames):
            raise ParameterError(
                f"Discriminator: x must be (batch, {self.n_mels}, {self.frames}) or (batch, 1, {self.n_mels}, "
                f"{self.frames}), got {tuple(x.shape)}"
            )
        feature_map = self.features(x)
        if self.batch_std is None:
            return feature_map
        return self.batch_std(torch.cat([feature_map, minibatch_std_channel(feature_map)], dim=1))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.scores_and_labels(x, labels)[0]

    def scores_and_labels(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(scores (batch,), predicted labels (batch, 2) or None without aux_labels)`` from one pass."""
        feature_map = self._feature_map(x)
        features = self._pool(feature_map)
        check_labels(labels, features.shape[0], "Discriminator")
        projection = (self.label_embed(labels.to(features.dtype) * self.label_scale) * features).sum(dim=1)
        # The regression head reads the mean, not the sum: its scale must not depend on the window size.
        predicted = None if self.regress is None else torch.tanh(self.regress(feature_map.mean(dim=(2, 3))))
        return self.out(features).squeeze(1) + projection, predicted
