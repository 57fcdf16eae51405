"""Which torch device a run or a predictor uses."""

from __future__ import annotations

import torch

from ..errors import ConfigError


def resolve_device(name: str, *, key: str = "runtime.device") -> torch.device:
    """'auto' picks CUDA when present; an unavailable device is an error naming ``key``, not a silent CPU run."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"{key}={name}: not a device ({exc}); use cpu, cuda, cuda:N or auto") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{key}={name} but CUDA is not available here; use {key}=cpu or auto")
    return device
