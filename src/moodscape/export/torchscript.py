"""TorchScript export of the waveform model (traced), with its input spec as an extra file."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from ..errors import ExportError
from ..models.waveform import WaveformRegressor
from .onnx import model_metadata


def export_torchscript(model: WaveformRegressor, path: str | Path) -> Path:
    """Write a traced TorchScript module: (batch, window_samples) -> (batch, 2); spec in ``moodscape.json``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(2, model.window_samples)
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(model.eval(), example, check_trace=False)
            spec = {k: json.loads(v) if k != "moodscape.version" else v
                    for k, v in model_metadata(model, input_kind="waveform").items()}  # fmt: skip
            torch.jit.save(traced, str(path), _extra_files={"moodscape.json": json.dumps(spec)})
    except Exception as exc:  # noqa: BLE001 - tracing raises many types; all are reported with the model
        raise ExportError(f"TorchScript export failed: {type(exc).__name__}: {exc}") from exc
    return path
