"""AdamW parameter groups for every regressor: backbone and head at their own learning rates, and no
weight decay on biases, norm weights and the tensors named in ``no_decay`` (tokens, position tables)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn


def parameter_groups(model: nn.Module, *, in_head: Callable[[str], bool], lr_backbone: float, lr_head: float,
                     weight_decay: float = 0.0, no_decay: tuple[str, ...] = ()) -> list[dict[str, Any]]:  # fmt: skip
    """Groups of the trainable parameters, each with a ``name`` (``backbone``, ``backbone_no_decay``,
    ``head``, ``head_no_decay``) for logging; empty groups are left out. ``in_head(name)`` tells head
    parameters from backbone ones. Use as ``torch.optim.AdamW(parameter_groups(model, ...))``."""
    groups: dict[str, list[nn.Parameter]] = {"backbone": [], "backbone_no_decay": [], "head": [], "head_no_decay": []}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        part = "head" if in_head(name) else "backbone"
        groups[part + ("_no_decay" if param.ndim <= 1 or name.endswith(no_decay) else "")].append(param)
    rates = {"backbone": lr_backbone, "head": lr_head}
    return [
        {"name": name, "params": params, "lr": rates[name.split("_")[0]],
         "weight_decay": 0.0 if name.endswith("no_decay") else weight_decay}
        for name, params in groups.items() if params
    ]  # fmt: skip
