"""Reading a located teacher checkpoint: a moodscape teacher folder or file, or a Hugging Face ViT/AST
checkpoint, safetensors only (a pickle is refused with a hint)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import CheckpointError
from ..serialization import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    listing,
    metadata_payload,
    read_json,
    safetensors_metadata,
)
from .kinds import CHECKPOINT_TYPE, KIND_BY_HF_TYPE, METADATA_KEY

_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


# ----------------------------------------------------------------------------- reading a source


@dataclass
class Source:
    """A located checkpoint: which format it is and where its weights are."""

    path: Path
    weights: Path  # the folder's model.safetensors, or the bare .safetensors file
    moodscape: dict[str, Any] | None = None  # our config.json payload
    hf_type: str | None = None  # Hugging Face model_type
    hf_folder: Path | None = None  # folder for transformers' from_pretrained


def pickle_hint(folder: Path) -> str:
    found = sorted(p.name for p in folder.iterdir() if p.suffix in _PICKLE_SUFFIXES) if folder.is_dir() else []
    if not found:
        return ""
    return (
        f" It holds {', '.join(found)}: pickled weights are never loaded (unpickling can run arbitrary code); "
        "convert them to model.safetensors (e.g. load them once in a trusted environment and call "
        "save_pretrained(..., safe_serialization=True))."
    )


def _classify_config(config: dict[str, Any], where: Path) -> tuple[dict[str, Any] | None, str | None]:
    model_type = config.get("model_type")
    if model_type == CHECKPOINT_TYPE:
        return config, None
    if model_type in KIND_BY_HF_TYPE:
        return None, model_type
    raise CheckpointError(
        f"{where}: model_type {model_type!r} is not supported; moodscape loads moodscape teacher folders, ViT "
        "('vit', e.g. google/vit-base-patch16-224-in21k) and AST ('audio-spectrogram-transformer', e.g. "
        "MIT/ast-finetuned-audioset-10-10-0.4593) checkpoints"
    )


def read_source(path: Path) -> Source:
    """Identify the checkpoint at an existing local path; clear errors for anything unusable."""
    if path.is_dir():
        config_file = path / CONFIG_NAME
        if not config_file.is_file():
            raise CheckpointError(
                f"{path}: no {CONFIG_NAME} (found {listing(path)}); expected a checkpoint folder with "
                f"{CONFIG_NAME} + {WEIGHTS_NAME} (a moodscape teacher or a Hugging Face ViT/AST checkpoint)"
            )
        moodscape, hf_type = _classify_config(read_json(config_file), config_file)
        weights = path / WEIGHTS_NAME
        sharded = (path / (WEIGHTS_NAME + ".index.json")).is_file()
        if not weights.is_file() and not (hf_type is not None and sharded):
            raise CheckpointError(f"{path}: no {WEIGHTS_NAME} next to {CONFIG_NAME}.{pickle_hint(path)}")
        if weights.is_file():
            safetensors_metadata(weights)  # garbage in the file fails here, clearly
        return Source(path, weights, moodscape=moodscape, hf_type=hf_type, hf_folder=path)

    if path.suffix in _PICKLE_SUFFIXES:
        raise CheckpointError(
            f"{path}: pickled checkpoints are never loaded (unpickling can run arbitrary code); convert it to "
            ".safetensors or point teacher.pretrained at a folder with config.json + model.safetensors"
        )
    if path.suffix != ".safetensors":
        raise CheckpointError(
            f"{path}: not a checkpoint moodscape can read; expected a folder with {CONFIG_NAME} + {WEIGHTS_NAME} "
            "or a .safetensors file"
        )
    payload = metadata_payload(path, METADATA_KEY)
    if payload is not None:
        return Source(path, path, moodscape=payload)
    beside = path.parent / CONFIG_NAME
    if not beside.is_file():
        raise CheckpointError(
            f"{path}: a bare .safetensors file without the model's {CONFIG_NAME}; put the checkpoint's "
            f"{CONFIG_NAME} next to it, or point teacher.pretrained at the checkpoint folder"
        )
    moodscape, hf_type = _classify_config(read_json(beside), beside)
    return Source(path, path, moodscape=moodscape, hf_type=hf_type, hf_folder=path.parent)
