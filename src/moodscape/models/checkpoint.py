"""Checkpoint folders: weights as safetensors, everything else as JSON; never pickles.

A folder holds ``model.safetensors`` + ``config.json`` (the model's own, Hugging Face style),
``moodscape.json`` (front-end settings, normalisation, window size, resolved config, metrics,
package version: what it takes to use the model on new audio), any further networks in subfolders of
their own (the weight average in ``ema/``; a GAN's ``generator/`` and ``discriminator/``) and, for
resuming, ``training_state.safetensors`` (every optimiser's tensors, prefixed with its name) +
``training_state.json`` (each optimiser's other state under its name, and the loop's own state).
Every trainer resumes from this one format.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping
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
    optimizer: torch.optim.Optimizer | dict[str, Any], prefix: str = "optimizer"
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimiser's state (or a state dict of its shape: parameters by index) into flat tensors named
    ``prefix.index.key`` (for safetensors) and JSON-able metadata."""
    state = optimizer if isinstance(optimizer, dict) else optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for index, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def optimizer_from_files(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any], prefix: str = "optimizer"
) -> None:
    """Inverse of :func:`optimizer_to_files`."""
    optimizer.load_state_dict(optimizer_state_from_files(tensors, meta, prefix))


def optimizer_state_from_files(
    tensors: dict[str, torch.Tensor], meta: dict[str, Any], prefix: str = "optimizer"
) -> dict[str, Any]:
    """The optimiser state dict that :func:`optimizer_to_files` split."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith(prefix + "."):
            index, key = name[len(prefix) + 1 :].split(".", 1)
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
    parts: Mapping[str, Any] | None = None,
    optimizers: Mapping[str, torch.optim.Optimizer | dict[str, Any]] | None = None,
    training_state: dict[str, Any] | None = None,
    ema: Any = None,
) -> Path:
    """A checkpoint folder: the model's own files (``model`` may be None when the networks are all ``parts``),
    ``moodscape.json``, each of ``parts`` in the subfolder of its name, the optional weight average ``ema``
    (a model of the same kind) in ``ema/``, and, with ``optimizers`` (name -> optimiser or its state dict),
    the training state to resume from."""

    def write(folder: Path) -> None:
        if model is not None:
            model.save_pretrained(folder)
        write_meta(folder, meta)
        for name, part in {**(parts or {}), **({EMA_DIR: ema} if ema is not None else {})}.items():
            part.save_pretrained(folder / name)
        if optimizers:
            tensors, payload = {}, dict(training_state or {})
            for name, optimizer in optimizers.items():
                named, payload[name] = optimizer_to_files(optimizer, prefix=name)
                tensors.update(named)
            save_file(tensors, str(folder / STATE_TENSORS))
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
    optimizers: Mapping[str, torch.optim.Optimizer | Callable[[dict[str, Any]], None]],
) -> dict[str, Any]:
    """Restore each optimiser of ``optimizers`` (name -> optimiser, or a function that takes its saved state
    dict, e.g. to keep one shard of it) from a checkpoint folder; return the rest of the training state."""
    directory = recover(directory)
    if not (directory / STATE_FILE).exists() or not (directory / STATE_TENSORS).exists():
        raise CheckpointError(f"{directory} holds no training state; it cannot be resumed (start without --resume)")
    state = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
    tensors = load_file(str(directory / STATE_TENSORS))
    strays = sorted({name.split(".", 1)[0] for name in tensors} - set(optimizers))
    missing = sorted(name for name in optimizers if name not in state)
    if strays or missing:
        raise CheckpointError(
            f"{directory}: its training state holds optimisers {sorted(set(state) & set(optimizers)) + strays}, this "
            f"trainer has {sorted(optimizers)} (written by another kind of run or an older moodscape); start "
            "without --resume"
        )
    for name, optimizer in optimizers.items():
        saved = optimizer_state_from_files(tensors, state.pop(name), name)
        (optimizer.load_state_dict if isinstance(optimizer, torch.optim.Optimizer) else optimizer)(saved)
    return state
