"""The GAN's generator: (z, labels) -> one normalised log-mel window.

One module per network, so that each reads as its architecture; the layers it shares with the
discriminator are in :mod:`moodscape.models.gan.blocks`.

Windows are ``(n_mels, frames)`` float32 in moodscape's normalised log-mel space (per-band z-scores,
so roughly N(0, 1) per band with a heavy low tail from quiet passages); labels are ``(batch, 2)`` =
(valence, arousal) on [-1, 1].

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
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import ParameterError, SettingError
from ..serialization import Pretrained
from .blocks import ATTENTIONS, GAN_METADATA_KEY, LABEL_DIM, Attention, FiLMNorm, UpBlock, check_labels, check_size

_MIN_CHANNELS = 8


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

    MODEL_TYPE, METADATA_KEY, WHAT = "moodscape-gan-generator", GAN_METADATA_KEY, "gan-generator"

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
        check_size(n_mels, frames, num_blocks, "Generator")
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
        self.label_embed = nn.Sequential(nn.Linear(LABEL_DIM, embed_dim), nn.SiLU(), nn.Linear(embed_dim, embed_dim))
        self.project = nn.Linear(z_dim + embed_dim, channels[0] * self.start[0] * self.start[1])
        self.project_norm = FiLMNorm(channels[0], style_dim)
        self.blocks = nn.ModuleList(
            UpBlock(channels[i], channels[i + 1], style_dim, attention) for i in range(num_blocks)
        )
        self.to_mel = nn.Conv2d(channels[-1], 1, 3, padding=1)

    @property
    def output_shape(self) -> tuple[int, int]:
        """(n_mels, frames) of one generated window."""
        return self.n_mels, self.frames

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ParameterError(f"Generator: z must be (batch, z_dim={self.z_dim}), got {tuple(z.shape)}")
        check_labels(labels, z.shape[0], "Generator")
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
