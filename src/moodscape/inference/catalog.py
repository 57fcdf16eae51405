"""The models moodscape can predict with: those shipped inside the package, and trained ones on disk.

The default model lives in ``moodscape/default_model/``: an int8 ONNX network (with its fusion, the
descriptor floor and weights, when it has one), ``model.json`` (name, training data, holdout and cross-validated
scores) and ``model_card.md``. ``moodscape predict`` and ``Predictor.default()`` use it when no model is named; a
shipped model can also be named (``--model moodscape-4q-musicnn``). Further shipped models go into folders of
:data:`SHIPPED_DIRS`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import CheckpointError
from ..models.floors.fusion import FUSION_DIR, FUSION_FILE

DEFAULT_DIR = "default_model"
SHIPPED_DIRS = (DEFAULT_DIR,)  # the default first
MODEL_INFO = "model.json"
META_FILE = "moodscape.json"
ONNX_NAMES = ("model-logmel.int8.onnx", "model-logmel.onnx", "model.int8.onnx", "model.onnx")
_SKIP = {".git", ".venv", "__pycache__", "node_modules", "last"}


def default_model_dir() -> Path:
    """The folder of the shipped model; a CheckpointError when this installation lacks it."""
    folder = Path(str(resources.files("moodscape") / DEFAULT_DIR))
    if not (folder / MODEL_INFO).is_file() or not any((folder / n).is_file() for n in ONNX_NAMES):
        raise CheckpointError(
            f"{folder}: this installation of moodscape has no shipped default model (reinstall the package, or "
            "name a model with --model RUN_DIR | MODEL.onnx | HUB_NAME)"
        )
    return folder


@dataclass(frozen=True)
class ModelInfo:
    """One model as `moodscape models` lists it."""

    name: str
    path: Path
    kind: str
    form: str
    fused: bool
    mb: float
    summary: str = ""


def _size_mb(paths) -> float:
    return sum(p.stat().st_size for p in paths if p.is_file()) / 1e6


def _describe_shipped(folder: Path, *, default: bool) -> ModelInfo:
    info = json.loads((folder / MODEL_INFO).read_text(encoding="utf-8"))
    onnx = next(folder / n for n in ONNX_NAMES if (folder / n).is_file())
    return ModelInfo(name=f"{info['name']} (default)" if default else info["name"], path=folder,
                     kind=info.get("kind", "student"), form=onnx.name, fused=(folder / FUSION_DIR / FUSION_FILE).is_file(),
                     mb=_size_mb(folder.rglob("*")), summary=info.get("summary", ""))  # fmt: skip


def shipped_model() -> ModelInfo:
    """The default model, as `moodscape models` lists it."""
    return _describe_shipped(default_model_dir(), default=True)


def _shipped_folders() -> list[Path]:
    root = Path(str(resources.files("moodscape")))
    return [root / d for d in SHIPPED_DIRS if (root / d / MODEL_INFO).is_file() and any((root / d / n).is_file()
                                                                                          for n in ONNX_NAMES)]  # fmt: skip


def shipped_models() -> list[ModelInfo]:
    """Every model inside this installation of the package, the default first."""
    return [_describe_shipped(folder, default=folder.name == DEFAULT_DIR) for folder in _shipped_folders()]


def shipped_info(name: str) -> ModelInfo | None:
    """The shipped model called ``name`` as `moodscape models` lists it, or None."""
    folder = shipped_model_dir(name)
    return None if folder is None else _describe_shipped(folder, default=folder.name == DEFAULT_DIR)


def shipped_model_dir(name: str) -> Path | None:
    """The folder of the shipped model called ``name`` (as `moodscape models` lists it), or None."""
    for folder in _shipped_folders():
        if json.loads((folder / MODEL_INFO).read_text(encoding="utf-8")).get("name") == name:
            return folder
    return None


def describe_folder(folder: Path) -> ModelInfo | None:
    """A checkpoint folder (``moodscape.json``) or a folder of exported ONNX files; None for anything else."""
    fused = (folder / FUSION_DIR / FUSION_FILE).is_file()
    if (folder / META_FILE).is_file():
        try:
            kind = json.loads((folder / META_FILE).read_text(encoding="utf-8")).get("kind", "model")
        except (OSError, ValueError):
            kind = "unreadable moodscape.json"
        return ModelInfo(name=folder.name, path=folder, kind=kind, form="PyTorch checkpoint", fused=fused,
                         mb=_size_mb(folder.glob("*.safetensors")))  # fmt: skip
    onnx = [folder / n for n in ONNX_NAMES if (folder / n).is_file()]
    if onnx:
        kind = "model"
        if (folder / "export.json").is_file():
            try:
                kind = json.loads((folder / "export.json").read_text(encoding="utf-8")).get("kind") or kind
            except (OSError, ValueError):
                kind = "unreadable export.json"
        return ModelInfo(name=folder.name, path=folder, kind=kind, form=", ".join(p.name for p in onnx), fused=fused,
                         mb=_size_mb(onnx))  # fmt: skip
    return None


def find_models(roots: list[Path], *, max_depth: int = 5) -> list[ModelInfo]:
    """Checkpoint and export folders under ``roots`` (``last/`` training states are not models)."""
    found = []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            raise CheckpointError(f"{root}: not a folder to search for models")
        depth0 = len(root.resolve().parts)
        for current, dirs, _ in os.walk(root):
            here = Path(current)
            dirs[:] = sorted(d for d in dirs if d not in _SKIP and not d.startswith("."))
            if len(here.resolve().parts) - depth0 >= max_depth:
                dirs[:] = []
            info = describe_folder(here)
            if info is not None:
                found.append(info)
    return found
