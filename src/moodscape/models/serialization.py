"""What every moodscape model checkpoint shares: a JSON config with the constructor arguments and a
format version, readable from ``config.json`` or from the safetensors metadata. Never pickles.

:class:`Pretrained` is the one ``save_pretrained`` / ``from_pretrained`` of the teacher, the student,
the generator and the discriminator.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import CheckpointError
from ..files import atomic_path, write_text
from ..version import __version__
from .configfile import listing, read_json

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def save_folder(model: nn.Module, directory: str | os.PathLike[str], *, model_type: str, kind: str, metadata_key: str) -> Path:
    """Write ``model.safetensors`` + ``config.json`` (Hugging Face style) for a model with ``init_args``.

    The config payload (constructor arguments, kind, versions) is also kept in the safetensors
    metadata, so the weights file alone rebuilds the model.
    """
    import transformers

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload = {
        "model_type": model_type,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "moodscape_version": __version__,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__.split("+")[0],
        "args": model.init_args,
    }
    text = json.dumps(payload, indent=2, sort_keys=True)
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in model.state_dict().items()}
    with atomic_path(directory / WEIGHTS_NAME) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt", metadata_key: text})
    write_text(directory / CONFIG_NAME, text + "\n")
    return directory


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


def metadata_payload(path: Path, key: str) -> dict[str, Any] | None:
    """The JSON config that :func:`save_folder` keeps under ``key`` in a safetensors file's metadata; None
    when the file holds none."""
    text = safetensors_metadata(path).get(key)
    if text is None:
        return None
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise CheckpointError(f"{path}: the config in the safetensors metadata is not valid JSON ({exc})") from exc
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path}: the config in the safetensors metadata is not a JSON object")
    return payload


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


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, on the CPU; a CheckpointError naming the file when it is broken."""
    safetensors_metadata(path)  # a broken header fails here, with the download hint
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{path}: cannot read the weights ({str(exc).splitlines()[0]}); re-download or re-save the checkpoint"
        ) from exc


class Pretrained(nn.Module):
    """``save_pretrained`` / ``from_pretrained`` for a model rebuilt from JSON-able constructor arguments.

    Subclasses set ``MODEL_TYPE`` (``config.json``'s model_type), ``METADATA_KEY`` (where the same
    config sits in the safetensors metadata), ``WHAT`` (the name used in messages) and, in their
    constructor, ``self._init_args``.
    """

    MODEL_TYPE: ClassVar[str] = ""
    METADATA_KEY: ClassVar[str] = ""
    WHAT: ClassVar[str] = "model"
    _init_args: dict[str, Any]

    @property
    def init_args(self) -> dict[str, Any]:
        """The constructor arguments (JSON-able); ``type(self)(**init_args)`` rebuilds the model."""
        return dict(self._init_args)

    @property
    def checkpoint_kind(self) -> str:
        """The ``kind`` written beside the arguments (the backbone family where a class has several)."""
        return str(getattr(self, "kind", self.WHAT))

    def save_pretrained(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``model.safetensors`` + ``config.json`` into ``directory`` (created if needed); returns it.

        ``config.json`` holds the constructor arguments, the kind and the moodscape, transformers and
        torch versions; the same payload is kept in the safetensors metadata, so the weights file alone
        also rebuilds the model.
        """
        return save_folder(self, directory, model_type=self.MODEL_TYPE, kind=self.checkpoint_kind,
                           metadata_key=self.METADATA_KEY)  # fmt: skip

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> Any:
        """Rebuild a model saved by :meth:`save_pretrained`: a folder, or its ``model.safetensors``.

        Exactly the saved model (same arguments, strict weight loading), in eval mode.

        Raises:
            CheckpointError: the path is missing, holds another kind of model, or its files are broken.
        """
        path = Path(path).expanduser()
        weights, payload = cls.read_checkpoint(path)
        if payload.get("model_type") != cls.MODEL_TYPE:
            raise CheckpointError(
                f"{path}: holds a {payload.get('model_type')!r} checkpoint, not a moodscape {cls.WHAT}; "
                "load it with the class for that kind"
            )
        model = cls.from_payload(payload, path)
        load_exact(model, read_weights(weights), path)
        return model.to(device).eval()

    @classmethod
    def read_checkpoint(cls, path: Path) -> tuple[Path, dict[str, Any]]:
        """The weights file and the config payload of a checkpoint folder or bare weights file."""
        if path.is_dir():
            weights = path / WEIGHTS_NAME
            if not weights.is_file():
                raise CheckpointError(
                    f"{path}: no {WEIGHTS_NAME} (found {listing(path)}); expected a {cls.WHAT} folder written by save_pretrained"
                )
        elif path.is_file():
            weights = path
        else:
            raise CheckpointError(f"{cls.WHAT} checkpoint not found: {path}")
        config_file = weights.parent / CONFIG_NAME
        if config_file.is_file():
            return weights, read_json(config_file)
        payload = metadata_payload(weights, cls.METADATA_KEY)
        if payload is None:
            raise CheckpointError(f"{weights}: no {CONFIG_NAME} beside it and no moodscape {cls.WHAT} config in its metadata")
        return weights, payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any], where: Path, **overrides: Any) -> Any:
        """A freshly initialised model with the saved constructor arguments (``overrides`` replace some)."""
        args = constructor_args(payload, where, cls.WHAT)
        try:
            return cls(**{**args, **overrides})
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{where}: cannot rebuild the {cls.WHAT} from its config ({str(exc).splitlines()[0]})") from exc


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


def to_jsonable(obj: Any) -> Any:
    """A copy of ``obj`` that ``json.dumps(..., allow_nan=False)`` accepts.

    NaN and infinities -> None; numpy scalars and arrays -> Python numbers and lists; tuples -> lists;
    Paths -> str; mapping keys -> str.
    """
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj
