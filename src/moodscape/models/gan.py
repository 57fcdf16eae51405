"""Conditional GAN for normalised log-mel windows: a generator, a projection discriminator, losses.

Windows are ``(n_mels, frames)`` float32 in moodscape's normalised log-mel space (per-band z-scores,
so roughly N(0, 1) per band with a heavy low tail from quiet passages); labels are ``(batch, 2)`` =
(valence, arousal) on [-1, 1].

Generator (:class:`Generator`)
    * Labels -> a small MLP embedding ``e`` (Linear -> SiLU -> Linear). ``[z, e]`` is projected by one
      linear layer to a ``(C0, ceil(n_mels / 2^k), ceil(frames / 2^k))`` map.
    * ``k`` upsampling blocks: nearest x2 -> 3x3 conv -> GroupNorm (no affine) modulated by the label
      embedding (FiLM: ``(1 + gamma(e)) * h + beta(e)``, a continuous-label version of BigGAN's
      conditional batch norm) -> LeakyReLU(0.2) -> channel attention. Channels halve per block
      (never below 8). Conditioning enters at the input *and* in every block, so labels cannot be
      ignored by deep layers. With ``latent_film`` the FiLM layers read ``[z, e]`` (BigGAN feeds z
      beside the class embedding to its conditional norms), so z can set what the norms remove.
    * Why GroupNorm and not BatchNorm: it does not depend on the batch, so one window generates the
      same in train and eval mode, and an EMA copy needs no re-estimated running statistics.
    * Attention (``attention``): ``se`` (default) squeeze-and-excitation channel attention in every
      block; ``cbam`` adds CBAM's spatial attention (7x7 conv over channel mean/max maps) after it.
      SE is the default because it is cheap and reweights whole feature maps (timbre/texture
      channels); spatial attention over a spectrogram mixes time and frequency positions and costs
      more for little gain on 5 s windows, so it is an option rather than the default.
    * Sizes that are not multiples of ``2^k``: the generator makes the next multiple up
      (``ceil(n / 2^k) * 2^k``) and crops to ``(n_mels, frames)``, keeping the low mel bins and the
      first frames (the surplus high-bin rows / late frames are dropped). The crop is part of
      the network, so training learns through it.
    * Output range: no ``tanh`` to [-1, 1]: normalised log-mels are z-scores whose tails reach
      several standard deviations, so squashing to [-1, 1] would clip most of the dynamic range.
      Instead the output is soft-clamped with ``limit * tanh(x / limit)`` (``output_limit``, default
      6.0): near-identity on the bulk of the data (x = 3 -> 2.92), strictly inside (-6, 6), with a
      non-zero gradient everywhere. ``output_limit=None`` leaves the output linear (unbounded).
      Real windows fed to the discriminator may be clipped to the same range by the trainer.

Discriminator (:class:`Discriminator`)
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

Losses
    :func:`hinge_d_loss`, :func:`hinge_g_loss` (the default hinge GAN) and :func:`gradient_penalty`
    (WGAN-GP, unweighted; the trainer multiplies it by its lambda, typically 10).

Checkpoints
    :meth:`Generator.save_pretrained` / :meth:`Generator.from_pretrained` (and the same for the
    discriminator): ``model.safetensors`` + ``config.json`` with the constructor arguments, the kind
    and the moodscape version; the config is also kept in the safetensors metadata. Never pickles.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..errors import SettingError
from .registry import Registry
from .serialization import Pretrained

__all__ = [
    "ATTENTIONS",
    "GAN_PRESETS",
    "Discriminator",
    "GanSize",
    "Generator",
    "build_gan",
    "gradient_penalty",
    "hinge_d_loss",
    "hinge_g_loss",
]

logger = logging.getLogger(__name__)

Attention = Literal["se", "cbam"]
ATTENTIONS: tuple[str, ...] = ("se", "cbam")

_METADATA_KEY = "moodscape_gan_config"
SONGS_FILE = "songs.json"  # in a GAN run folder: the training songs it saw, whose labels generation draws from
_MIN_CHANNELS = 8
_LABEL_DIM = 2


# ------------------------------------------------------------------------------------------ presets


@dataclass(frozen=True)
class GanSize:
    """Sizes of a generator/discriminator pair.

    Attributes:
        z_dim: latent size.
        g_channels: generator channels after the projection (halved per block, at least 8).
        d_channels: discriminator channels of the first block (doubled per block, at most 8x).
        num_blocks: up/downsampling blocks ``k`` (each x2 / /2).
        embed_dim: width of the label embedding MLP in both networks.
    """

    z_dim: int
    g_channels: int
    d_channels: int
    num_blocks: int
    embed_dim: int

    def generator_kwargs(self) -> dict[str, int]:
        return {"z_dim": self.z_dim, "base_channels": self.g_channels, "num_blocks": self.num_blocks,
                "embed_dim": self.embed_dim}  # fmt: skip

    def discriminator_kwargs(self) -> dict[str, int]:
        return {"base_channels": self.d_channels, "num_blocks": self.num_blocks, "embed_dim": self.embed_dim}


GAN_PRESETS: Registry[GanSize] = Registry("GAN preset")
GAN_PRESETS.register("tiny", GanSize(z_dim=16, g_channels=32, d_channels=16, num_blocks=3, embed_dim=16))
# For 128 x 208 windows: tiny starts from 16 x 26 (0.45M G + 0.11M D parameters); default from 8 x 13
# (3.6M G + 1.8M D), sized for a few thousand training windows.
GAN_PRESETS.register("default", GanSize(z_dim=128, g_channels=128, d_channels=32, num_blocks=4, embed_dim=128))


# ------------------------------------------------------------------------------------- helpers


def _check_size(n_mels: int, frames: int, num_blocks: int, what: str) -> None:
    for name, value in (("n_mels", n_mels), ("frames", frames), ("num_blocks", num_blocks)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise SettingError(f"{what}: {name} must be a positive integer, got {value!r}")
    if min(n_mels, frames) < 2**num_blocks:
        raise SettingError(
            f"{what}: a ({n_mels}, {frames}) window is too small for num_blocks={num_blocks} (each block halves "
            f"it); use num_blocks <= {int(math.log2(min(n_mels, frames)))}"
        )


def _check_labels(labels: torch.Tensor, batch: int, what: str) -> None:
    if labels.ndim != 2 or labels.shape[1] != _LABEL_DIM or labels.shape[0] != batch:
        raise ValueError(
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


class _FiLMNorm(nn.Module):
    """GroupNorm without affine, then a label-dependent scale and shift: ``(1 + gamma(e)) * h + beta(e)``."""

    def __init__(self, channels: int, embed_dim: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(_groups(channels), channels, affine=False)
        self.film = nn.Linear(embed_dim, 2 * channels)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.film(embedding).chunk(2, dim=1)
        return (1 + gamma[:, :, None, None]) * self.norm(x) + beta[:, :, None, None]


class _UpBlock(nn.Module):
    """nearest x2 -> 3x3 conv -> FiLM GroupNorm -> LeakyReLU -> SE (-> spatial attention)."""

    def __init__(self, c_in: int, c_out: int, embed_dim: int, attention: str) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm = _FiLMNorm(c_out, embed_dim)
        self.se = SqueezeExcite(c_out)
        self.spatial = SpatialAttention() if attention == "cbam" else None

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        x = self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        x = F.leaky_relu(self.norm(x, embedding), 0.2)
        x = self.se(x)
        return x if self.spatial is None else self.spatial(x)


# -------------------------------------------------------------------------------------- generator


class Generator(Pretrained):
    """(z, labels) -> one normalised log-mel window. See the module docstring for the architecture.

    Args:
        n_mels, frames: size of the generated window.
        z_dim: latent size.
        base_channels: channels after the linear projection; halved per block, never below 8.
        num_blocks: upsampling blocks ``k``; the projection map is ``ceil(n / 2^k)`` on each axis.
        embed_dim: width of the label embedding.
        attention: ``se`` (channel attention) or ``cbam`` (channel + spatial), see :data:`ATTENTIONS`.
        output_limit: soft clamp ``limit * tanh(x / limit)`` of the output; ``None`` = linear output.
        latent_film: FiLM reads ``[z, label embedding]`` instead of the label embedding alone, as
            BigGAN's conditional batch norm reads a chunk of z beside the class embedding. Without it
            every GroupNorm removes the per-window mean and scale that z gave the projection, so z
            can only move texture, never a window's overall level or spectral balance: windows come
            out alike (measured on demo data: spread of band levels 0.16 of the real one).

    Shapes: ``z`` (batch, z_dim), ``labels`` (batch, 2) -> (batch, n_mels, frames), float32.
    """

    MODEL_TYPE, METADATA_KEY, WHAT = "moodscape-gan-generator", _METADATA_KEY, "gan-generator"

    def __init__(
        self,
        *,
        n_mels: int,
        frames: int,
        z_dim: int = 128,
        base_channels: int = 128,
        num_blocks: int = 4,
        embed_dim: int = 128,
        attention: Attention = "se",
        output_limit: float | None = 6.0,
        latent_film: bool = False,
    ) -> None:
        super().__init__()
        _check_size(n_mels, frames, num_blocks, "Generator")
        for name, value in (("z_dim", z_dim), ("base_channels", base_channels), ("embed_dim", embed_dim)):
            if not isinstance(value, int) or value < 1:
                raise SettingError(f"Generator: {name} must be a positive integer, got {value!r}")
        if attention not in ATTENTIONS:
            raise SettingError(f"Generator: unknown attention {attention!r}; valid: {', '.join(ATTENTIONS)}")
        if output_limit is not None and not output_limit > 0:
            raise SettingError(f"Generator: output_limit must be positive or None, got {output_limit!r}")
        self._init_args = dict(
            n_mels=n_mels, frames=frames, z_dim=z_dim, base_channels=base_channels, num_blocks=num_blocks,
            embed_dim=embed_dim, attention=attention,
            output_limit=None if output_limit is None else float(output_limit), latent_film=bool(latent_film),
        )  # fmt: skip
        self.latent_film = bool(latent_film)
        style_dim = embed_dim + (z_dim if latent_film else 0)
        self.n_mels, self.frames, self.z_dim = n_mels, frames, z_dim
        self.output_limit = self._init_args["output_limit"]
        scale = 2**num_blocks
        self.start = (math.ceil(n_mels / scale), math.ceil(frames / scale))
        channels = [max(base_channels >> i, _MIN_CHANNELS) for i in range(num_blocks + 1)]
        self.label_embed = nn.Sequential(nn.Linear(_LABEL_DIM, embed_dim), nn.SiLU(), nn.Linear(embed_dim, embed_dim))
        self.project = nn.Linear(z_dim + embed_dim, channels[0] * self.start[0] * self.start[1])
        self.project_norm = _FiLMNorm(channels[0], style_dim)
        self.blocks = nn.ModuleList(
            _UpBlock(channels[i], channels[i + 1], style_dim, attention) for i in range(num_blocks)
        )
        self.to_mel = nn.Conv2d(channels[-1], 1, 3, padding=1)

    @property
    def output_shape(self) -> tuple[int, int]:
        """(n_mels, frames) of one generated window."""
        return self.n_mels, self.frames

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"Generator: z must be (batch, z_dim={self.z_dim}), got {tuple(z.shape)}")
        _check_labels(labels, z.shape[0], "Generator")
        embedding = self.label_embed(labels.to(z.dtype))
        x = self.project(torch.cat([z, embedding], dim=1))
        x = x.view(z.shape[0], -1, *self.start)
        style = torch.cat([z, embedding], dim=1) if self.latent_film else embedding
        x = F.leaky_relu(self.project_norm(x, style), 0.2)
        for block in self.blocks:
            x = block(x, style)
        x = self.to_mel(x)[:, 0, : self.n_mels, : self.frames]  # crop the next-multiple-up size
        if self.output_limit is not None:
            x = self.output_limit * torch.tanh(x / self.output_limit)
        return x

    @torch.no_grad()
    def sample(self, labels: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Windows for ``labels`` (batch, 2) with z ~ N(0, I) drawn from ``generator``; no gradients."""
        param = next(self.parameters())
        z = torch.randn(labels.shape[0], self.z_dim, generator=generator, device=param.device, dtype=param.dtype)
        return self(z, labels.to(param.device))


# ---------------------------------------------------------------------------------- discriminator


class Discriminator(Pretrained):
    """Spectral-normalised projection discriminator: (window, labels) -> (batch,) raw scores.

    Args:
        n_mels, frames: size of the windows it judges (checked on every call).
        base_channels: channels of the first block; doubled per block, at most 8x.
        num_blocks: downsampling blocks (each halves both axes, rounding down).
        embed_dim: width of the hidden layer of the label embedding MLP.

    Shapes: ``x`` (batch, n_mels, frames) or (batch, 1, n_mels, frames), ``labels`` (batch, 2) -> (batch,).
    """

    MODEL_TYPE, METADATA_KEY, WHAT = "moodscape-gan-discriminator", _METADATA_KEY, "gan-discriminator"

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
        _check_size(n_mels, frames, num_blocks, "Discriminator")
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
            spectral_norm(nn.Linear(_LABEL_DIM, embed_dim)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Linear(embed_dim, self.feature_dim)),
        )
        self.regress = nn.Linear(self.feature_dim, _LABEL_DIM) if aux_labels else None

    def phi(self, x: torch.Tensor) -> torch.Tensor:
        """Features ``phi(x)``: (batch, feature_dim), global sum (or mean) over the downsampled map."""
        return self._pool(self._feature_map(x))

    def _pool(self, feature_map: torch.Tensor) -> torch.Tensor:
        return feature_map.sum(dim=(2, 3)) if self.pooling == "sum" else feature_map.mean(dim=(2, 3))

    def _feature_map(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3:
            x = x.unsqueeze(1)
        if x.ndim != 4 or x.shape[1] != 1 or tuple(x.shape[2:]) != (self.n_mels, self.frames):
            raise ValueError(
                f"Discriminator: x must be (batch, {self.n_mels}, {self.frames}) or (batch, 1, {self.n_mels}, "
                f"{self.frames}), got {tuple(x.shape)}"
            )
        feature_map = self.features(x)
        if self.batch_std is None:
            return feature_map
        return self.batch_std(torch.cat([feature_map, _minibatch_std(feature_map)], dim=1))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.scores_and_labels(x, labels)[0]

    def scores_and_labels(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(scores (batch,), predicted labels (batch, 2) or None without aux_labels)`` from one pass."""
        feature_map = self._feature_map(x)
        features = self._pool(feature_map)
        _check_labels(labels, features.shape[0], "Discriminator")
        projection = (self.label_embed(labels.to(features.dtype) * self.label_scale) * features).sum(dim=1)
        # The regression head reads the mean, not the sum: its scale must not depend on the window size.
        predicted = None if self.regress is None else torch.tanh(self.regress(feature_map.mean(dim=(2, 3))))
        return self.out(features).squeeze(1) + projection, predicted


def _minibatch_std(feature_map: torch.Tensor, group: int = 4) -> torch.Tensor:
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


def build_gan(
    preset: str = "default",
    *,
    n_mels: int,
    frames: int,
    attention: Attention = "se",
    output_limit: float | None = 6.0,
    aux_labels: bool = False,
    pooling: Literal["sum", "mean"] = "sum",
    minibatch_std: bool = False,
    latent_film: bool = False,
    label_scale: float = 1.0,
) -> tuple[Generator, Discriminator]:
    """A generator/discriminator pair of a :data:`GAN_PRESETS` size for ``(n_mels, frames)`` windows.

    Raises:
        UnknownNameError: unknown preset (lists the valid names).
    """
    size = GAN_PRESETS.get(preset)
    generator = Generator(
        n_mels=n_mels, frames=frames, attention=attention, output_limit=output_limit, latent_film=latent_film,
        **size.generator_kwargs(),
    )
    discriminator = Discriminator(n_mels=n_mels, frames=frames, aux_labels=aux_labels, pooling=pooling,
                                  minibatch_std=minibatch_std, label_scale=label_scale,
                                  **size.discriminator_kwargs())
    logger.info(
        "GAN %s (%s): generator %.2fM, discriminator %.2fM parameters", preset, asdict(size),
        sum(p.numel() for p in generator.parameters()) / 1e6,
        sum(p.numel() for p in discriminator.parameters()) / 1e6,
    )  # fmt: skip
    return generator, discriminator


# -------------------------------------------------------------------------------------------- losses


def hinge_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Discriminator hinge loss: ``mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))``; a scalar."""
    return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()


def hinge_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Generator hinge loss: ``-mean(D(fake))``; a scalar."""
    return -fake_scores.mean()


def gradient_penalty(
    discriminator: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    labels: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017): ``mean((||grad_x D(x_hat, y)||_2 - 1)^2)``, unweighted.

    ``x_hat = eps * real + (1 - eps) * fake`` with one ``eps ~ U[0, 1]`` per sample (from
    ``generator``); ``fake`` is detached. The graph is kept (``create_graph``), so the result can be
    multiplied by lambda and back-propagated into the discriminator. Compute it in float32 (outside
    autocast). Shapes: ``real``/``fake`` (batch, n_mels, frames) or with a channel axis, ``labels`` (batch, 2).
    """
    if real.shape != fake.shape:
        raise ValueError(f"gradient_penalty: real {tuple(real.shape)} and fake {tuple(fake.shape)} differ in shape")
    eps_shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    eps = torch.rand(eps_shape, generator=generator, device=real.device, dtype=real.dtype)
    mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = discriminator(mixed, labels)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    norms = grad.flatten(1).norm(2, dim=1)
    return ((norms - 1.0) ** 2).mean()
