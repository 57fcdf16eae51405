"""The layers and checks the GAN's two networks are built from: attention, FiLM normalisation, the
generator's upsampling block, the minibatch standard deviation, and the shape checks of both.

Apart from :mod:`moodscape.models.gan.generator` and :mod:`moodscape.models.gan.discriminator` so that
each network reads as its architecture, and so that what both share lives in one place.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import ParameterError, SettingError

Attention = Literal["se", "cbam"]
ATTENTIONS: tuple[str, ...] = ("se", "cbam")

GAN_METADATA_KEY = "moodscape_gan_config"  # where both networks keep their config in the safetensors metadata
LABEL_DIM = 2


def check_size(n_mels: int, frames: int, num_blocks: int, what: str) -> None:
    for name, value in (("n_mels", n_mels), ("frames", frames), ("num_blocks", num_blocks)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise SettingError(f"{what}: {name} must be a positive integer, got {value!r}")
    if min(n_mels, frames) < 2**num_blocks:
        raise SettingError(
            f"{what}: a ({n_mels}, {frames}) window is too small for num_blocks={num_blocks} (each block halves "
            f"it); use num_blocks <= {int(math.log2(min(n_mels, frames)))}"
        )


def check_labels(labels: torch.Tensor, batch: int, what: str) -> None:
    if labels.ndim != 2 or labels.shape[1] != LABEL_DIM or labels.shape[0] != batch:
        raise ParameterError(
            f"{what}: labels must be (batch={batch}, 2) = (valence, arousal) on [-1, 1], got {tuple(labels.shape)}"
        )


def _groups(channels: int) -> int:
    return math.gcd(channels, 8)


class SqueezeExcite(nn.Module):
    """Channel attention (Hu et al. 2018): global average -> MLP -> sigmoid gate per channel."""

    def __init__(self, channels: int, *, reduction: int = 8) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.fc = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.fc(x.mean(dim=(2, 3))))
        return x * gate[:, :, None, None]


class SpatialAttention(nn.Module):
    """CBAM's spatial attention (Woo et al. 2018): 7x7 conv over channel mean/max maps -> sigmoid gate."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(maps))


class FiLMNorm(nn.Module):
    """GroupNorm without affine, then a label-dependent scale and shift: ``(1 + gamma(e)) * h + beta(e)``."""

    def __init__(self, channels: int, embed_dim: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(_groups(channels), channels, affine=False)
        self.film = nn.Linear(embed_dim, 2 * channels)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.film(embedding).chunk(2, dim=1)
        return (1 + gamma[:, :, None, None]) * self.norm(x) + beta[:, :, None, None]


class UpBlock(nn.Module):
    """nearest x2 -> 3x3 conv -> FiLM GroupNorm -> LeakyReLU -> SE (-> spatial attention)."""

    def __init__(self, c_in: int, c_out: int, embed_dim: int, attention: str) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm = FiLMNorm(c_out, embed_dim)
        self.se = SqueezeExcite(c_out)
        self.spatial = SpatialAttention() if attention == "cbam" else None

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        x = self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        x = F.leaky_relu(self.norm(x, embedding), 0.2)
        x = self.se(x)
        return x if self.spatial is None else self.spatial(x)


def minibatch_std_channel(feature_map: torch.Tensor, group: int = 4) -> torch.Tensor:
    """ProGAN's minibatch standard deviation as one extra channel: within groups of up to ``group``
    samples, the standard deviation of every feature across the group, averaged to one number per
    group and broadcast over the map. A generator that makes every window alike is then easy to spot.
    Groups are the largest size up to ``group`` that divides the batch; a batch of prime size above
    it (a short last batch) gets groups of one, whose channel is a constant, the same for real and
    generated windows since the trainer scores equal-sized batches of both.
    """
    batch, _, height, width = feature_map.shape
    size = min(group, batch)
    while batch % size:
        size -= 1
    grouped = feature_map.view(size, batch // size, *feature_map.shape[1:])
    std = (grouped - grouped.mean(dim=0)).pow(2).mean(dim=0).add(1e-8).sqrt().mean(dim=(1, 2, 3))
    return std.repeat(size).view(batch, 1, 1, 1).expand(batch, 1, height, width)
