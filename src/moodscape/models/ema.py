"""Exponential moving average of a model's weights: the GAN's generator and, optionally, the regressors.

Averaged weights move less from batch to batch than the live ones, so the model that is validated,
kept as ``best/`` and used for generation is steadier (Polyak averaging; Karras et al.; BigGAN).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ..errors import SettingError

__all__ = ["EMA"]


class EMA:
    """An eval-mode copy of a model whose weights follow the live ones as an exponential moving average.

    ``ema.model`` is a frozen eval-mode copy; after each optimiser step call :meth:`update`:
    ``p_ema <- decay * p_ema + (1 - decay) * p`` for parameters, buffers copied as they are.

    Args:
        model: the model to follow (copied once here; ``model`` itself is never changed).
        decay: weight of the old average, in [0, 1); 0.999 is usual for GAN generators, 0.99-0.999 for
            regressors (the average spans about 1 / (1 - decay) optimiser steps).
    """

    def __init__(self, model: nn.Module, *, decay: float = 0.999) -> None:
        if not 0.0 <= decay < 1.0:
            raise SettingError(f"EMA decay must be in [0, 1), got {decay!r}")
        self.decay = float(decay)
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average one step towards ``model`` (same architecture as the copy).

        The decay warms up as min(decay, (1 + n) / (10 + n)) after n updates, so that a short
        training run does not leave the average next to the random initial weights.
        """
        decay = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        params = dict(model.named_parameters())
        ema_params = dict(self.model.named_parameters())
        if params.keys() != ema_params.keys():
            raise ValueError("EMA.update: the model's parameters differ from those of the EMA copy")
        for name, ema_p in ema_params.items():
            ema_p.lerp_(params[name].detach().to(ema_p.dtype), 1.0 - decay)
        buffers = dict(model.named_buffers())
        for name, ema_b in self.model.named_buffers():
            ema_b.copy_(buffers[name])
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        """For resuming: the averaged weights, the decay and the update count."""
        return {"model": self.model.state_dict(), "decay": self.decay, "updates": self.updates}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["model"], strict=True)
        self.decay = float(state["decay"])
        self.updates = int(state["updates"])
