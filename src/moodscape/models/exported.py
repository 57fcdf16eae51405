"""Opening exported models (ONNX, TorchScript) with errors that say how to make a good file; apart from
:mod:`moodscape.models.loading` so that running an ONNX export imports no model code (and no torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import CheckpointError


def open_onnx(path: str | Path, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session for ``path`` (``threads`` intra-op threads, one inter-op), or a
    CheckpointError that says how to make a good file."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own unrelated types for bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path}: not a loadable ONNX model ({first}); re-export it with `moodscape export RUN --format onnx`"
        ) from exc


def load_torchscript(path: str | Path) -> Any:
    """A TorchScript export on the CPU in eval mode, or a CheckpointError that says how to make a good file."""
    import torch

    try:
        return torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as exc:  # noqa: BLE001 - TorchScript raises RuntimeError and its own kinds for bad files
        raise CheckpointError(
            f"{path}: not a loadable TorchScript module ({type(exc).__name__}); re-export it with "
            "`moodscape export RUN --format torchscript`"
        ) from exc
