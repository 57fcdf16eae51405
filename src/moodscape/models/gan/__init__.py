"""The conditional GAN that makes labelled synthetic log-mel windows.

``generator`` and ``discriminator``: the two networks; ``blocks``: the layers they are built from;
``losses``: hinge and WGAN-GP; ``build``: size presets and :func:`build_gan`.
"""

from .build import GAN_PRESETS, build_gan
from .discriminator import Discriminator
from .generator import Generator
from .losses import gradient_penalty, hinge_d_loss, hinge_g_loss

__all__ = ["GAN_PRESETS", "Discriminator", "Generator", "build_gan", "gradient_penalty", "hinge_d_loss", "hinge_g_loss"]
