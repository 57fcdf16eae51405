"""Reading a checkpoint's JSON files, apart from :mod:`moodscape.models.serialization` so that what only reads
JSON (the floors, a fusion on the prediction path) does not import torch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import CheckpointError


def listing(folder: Path, most: int = 10) -> str:
    """The first names in ``folder``, for an error that says what was found instead."""
    return ", ".join(sorted(p.name for p in folder.iterdir())[:most]) or "nothing"


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
