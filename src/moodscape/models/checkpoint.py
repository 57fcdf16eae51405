"""Checkpoint folders: weights as safetensors, everything else as JSON; never pickles.

A folder holds ``model.safetensors`` + ``config.json`` (the model's own, Hugging Face style),
``moodscape.json`` (front-end settings, normalisation, window size, resolved config, metrics,
package version: what it takes to use the model on new audio) and, for resuming,
``training_state.safetensors`` (optimiser tensors) + ``training_state.json`` (the rest), and, when
training keeps a weight average, the average's own model files in ``ema/``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ..errors import CheckpointError
from ..files import write_json
from .serialization import read_json

META_FILE = "moodscape.json"
STATE_TENSORS = "training_state.safetensors"
STATE_FILE = "training_state.json"
EMA_DIR = "ema"


def optimizer_to_files(
    optimizer: torch.optim.Optimizer | dict[str, Any],
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimiser's state (or a state dict of its shape: parameters by index) into flat tensors (for
    safetensors) and JSON-able metadata."""
    state = optimizer if isinstance(optimizer, dict) else optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for index, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def optimizer_from_files(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> None:
    """Inverse of :func:`optimizer_to_files`."""
    optimizer.load_state_dict(optimizer_state_from_files(tensors, meta))


def optimizer_state_from_files(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    """The optimiser state dict that :func:`optimizer_to_files` split."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optimizer."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for name, value in meta["scalars"].items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def write_folder(directory: str | Path, write: Callable[[Path], None]) -> Path:
    """Let ``write`` fill a fresh folder, then swap it in: a half-written folder never replaces a good one."""
    directory = Path(directory)
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    old = directory.with_name(directory.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if directory.exists():
        os.replace(directory, old)
    os.replace(tmp, directory)
    shutil.rmtree(old, ignore_errors=True)
    return directory


def write_meta(directory: Path, meta: dict[str, Any]) -> None:
    """``moodscape.json``: what it takes to use the model on new audio."""
    write_json(directory / META_FILE, meta, sort_keys=True)


def write_checkpoint(
    directory: str | Path,
    model: Any,
    *,
    meta: dict[str, Any],
    optimizer: torch.optim.Optimizer | dict[str, Any] | None = None,
    training_state: dict[str, Any] | None = None,
    ema: Any = None,
) -> Path:
    """A checkpoint folder: the model's own files, ``moodscape.json``, the optional training state and
    the optional weight average ``ema`` (a model of the same kind) in ``ema/``."""

    def write(folder: Path) -> None:
        model.save_pretrained(folder)
        write_meta(folder, meta)
        if ema is not None:
            ema.save_pretrained(folder / EMA_DIR)
        if optimizer is not None:
            tensors, optimizer_meta = optimizer_to_files(optimizer)
            save_file(tensors, str(folder / STATE_TENSORS))
            payload = {**(training_state or {}), "optimizer": optimizer_meta}
            write_json(folder / STATE_FILE, payload)

    return write_folder(directory, write)


def recover(directory: str | Path) -> Path:
    """Finish a swap that a kill interrupted: the previous complete folder comes back."""
    directory = Path(directory)
    old = directory.with_name(directory.name + ".old")
    if not directory.exists() and old.exists():
        os.replace(old, directory)
    return directory


def read_meta(directory: str | Path) -> dict[str, Any]:
    """The ``moodscape.json`` of a checkpoint folder."""
    path = recover(directory) / META_FILE
    if not path.exists():
        raise CheckpointError(f"{path} not found: {directory} is not a moodscape checkpoint folder")
    return read_json(path)


def read_training_state(
    directory: str | Path,
    optimizer: torch.optim.Optimizer,
    *,
    load: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Restore the optimiser from a checkpoint folder and return the rest of the training state. ``load``
    restores the optimiser's state dict instead of ``optimizer.load_state_dict`` (e.g. into sharded weights)."""
    directory = recover(directory)
    if not (directory / STATE_FILE).exists() or not (directory / STATE_TENSORS).exists():
        raise CheckpointError(f"{directory} holds no training state; it cannot be resumed (start without --resume)")
    state = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
    saved = optimizer_state_from_files(load_file(str(directory / STATE_TENSORS)), state.pop("optimizer"))
    (load or optimizer.load_state_dict)(saved)
    return state
