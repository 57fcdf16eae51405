"""Conditional GAN for normalised log-mel windows: its sizes (:data:`GAN_PRESETS`) and :func:`build_gan`.

Windows are ``(n_mels, frames)`` float32 in moodscape's normalised log-mel space (per-band z-scores,
so roughly N(0, 1) per band with a heavy low tail from quiet passages); labels are ``(batch, 2)`` =
(valence, arousal) on [-1, 1].

The networks are in :mod:`moodscape.models.gan.generator` (:class:`Generator`) and
:mod:`moodscape.models.gan.discriminator` (:class:`Discriminator`), the layers both are built from in
:mod:`moodscape.models.gan.blocks`, and the losses in :mod:`moodscape.models.gan.losses`.

Checkpoints
    :meth:`Generator.save_pretrained` / :meth:`Generator.from_pretrained` (and the same for the
    discriminator): ``model.safetensors`` + ``config.json`` with the constructor arguments, the kind
    and the moodscape version; the config is also kept in the safetensors metadata. Never pickles.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Literal

from ..registry import Registry
from .blocks import Attention
from .discriminator import Discriminator
from .generator import Generator

__all__ = ["GAN_PRESETS", "SONGS_FILE", "GanSize", "build_gan"]

logger = logging.getLogger(__name__)

SONGS_FILE = "songs.json"  # in a GAN run folder: the training songs it saw, whose labels generation draws from


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
