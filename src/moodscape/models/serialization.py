"""What every moodscape model checkpoint shares: a JSON config with the constructor arguments and a
format version, readable from ``config.json`` or from the safetensors metadata. Never pickles.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from torch import nn

from .. import __version__
from ..errors import CheckpointError

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"


def read_json(path: Path) -> dict[str, Any]:
    """A checkpoint's JSON config as a dict, or a CheckpointError naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(
            f"{path}: not a readable JSON config ({str(exc).splitlines()[0]}); re-download or re-save the checkpoint"
        ) from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def safetensors_metadata(path: Path) -> dict[str, str]:
    """The string metadata of a safetensors file."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{path}: not a valid safetensors file ({str(exc).splitlines()[0]}); the download may be incomplete — "
            "re-download it or re-save the checkpoint"
        ) from exc


def constructor_args(payload: dict[str, Any], where: Path, what: str) -> dict[str, Any]:
    """The saved constructor arguments, after checking that this version can read the format."""
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{where}: {what} checkpoint format {version!r} is not supported by moodscape {__version__} "
            f"(reads format <= {FORMAT_VERSION}); upgrade moodscape"
        )
    args = payload.get("args")
    if not isinstance(args, dict):
        raise CheckpointError(f"{where}: config.json has no 'args' with the {what}'s constructor arguments")
    return args


def load_exact(model: nn.Module, state: dict[str, torch.Tensor], where: Path) -> None:
    """Load every tensor strictly, naming what is missing, unexpected or of the wrong shape."""
    target = model.state_dict()
    missing = sorted(set(target) - set(state))
    unexpected = sorted(set(state) - set(target))
    wrong = sorted(k for k in set(target) & set(state) if target[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"{where}: weights do not match the saved config (missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}, wrong shapes {wrong[:5]}); the checkpoint may be corrupt or from an "
            "incompatible moodscape/transformers version"
        )
    model.load_state_dict(state, strict=True)
