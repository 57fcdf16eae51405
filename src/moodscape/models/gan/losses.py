"""The GAN's losses: :func:`hinge_d_loss`, :func:`hinge_g_loss` (the default hinge GAN) and
:func:`gradient_penalty` (WGAN-GP, unweighted; the trainer multiplies it by its lambda, typically 10).

Apart from the networks because the trainer, not the models, decides which loss to use.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import ParameterError


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
        raise ParameterError(f"gradient_penalty: real {tuple(real.shape)} and fake {tuple(fake.shape)} differ in shape")
    eps_shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    eps = torch.rand(eps_shape, generator=generator, device=real.device, dtype=real.dtype)
    mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = discriminator(mixed, labels)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    norms = grad.flatten(1).norm(2, dim=1)
    return ((norms - 1.0) ** 2).mean()
