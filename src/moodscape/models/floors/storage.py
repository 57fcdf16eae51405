"""The cheap models' files: numpy arrays as safetensors beside a JSON of their settings, no pickle."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ...errors import CheckpointError
from ...files import atomic_path, write_json
from ..configfile import read_json

T = TypeVar("T")


def save_arrays(folder: str | Path, weights_file: str, config_file: str, arrays: dict[str, np.ndarray],
                payload: dict[str, Any]) -> Path:  # fmt: skip
    """``arrays`` into ``folder/weights_file`` and ``payload`` into ``folder/config_file``."""
    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / weights_file) as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp))
    write_json(folder / config_file, payload)
    return folder


def load_arrays(folder: str | Path, weights_file: str, config_file: str, build: Callable[[dict[str, Any], dict], T], *,
                what: str, fix: str) -> T:  # fmt: skip
    """``build(payload, arrays)`` from what :func:`save_arrays` wrote; a file that does not read is a CheckpointError
    naming ``what`` it should have been and the ``fix``."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    folder = Path(folder)
    payload = read_json(folder / config_file)
    try:
        return build(payload, dict(load_file(str(folder / weights_file))))
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as exc:
        raise CheckpointError(f"{folder}: not a readable {what} ({exc}); {fix}") from exc
