"""ONNX export with the log-mel front end and normalisation inside the graph, and int8 quantisation.

The waveform model takes ``(batch, window_samples)`` float32 mono audio at the model's sample
rate and returns ``(batch, 2)`` (valence, arousal) on [-1, 1]; an app needs no DSP code. The
log-mel variant takes ``(batch, n_mels, frames)`` dB log-mel. The batch axis is dynamic. What an
app needs to feed the model is stored in the ONNX metadata (``moodscape.*`` keys).
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import torch

from ..errors import ExportError
from ..models.waveform import LogmelRegressor, WaveformRegressor

log = logging.getLogger(__name__)

OPSET = 18  # the first opset with ONNX's STFT and DFT as torch's exporter emits them


def model_metadata(model: WaveformRegressor, *, input_kind: str) -> dict[str, str]:
    """String metadata for the ONNX file: input spec and front-end settings."""
    meta = model.meta
    spec: dict[str, Any] = {
        "input": input_kind,
        "sample_rate": model.sample_rate,
        "window_samples": model.window_samples,
        "window_frames": model.frames,
        "hop_samples": model.eval_hop_samples,
        "n_mels": model.frontend.n_mels,
        "outputs": ["valence", "arousal"],
        "output_range": [-1.0, 1.0],
        "kind": meta.get("kind"),
    }
    return {"moodscape.spec": json.dumps(spec), "moodscape.features": json.dumps(meta.get("features", {})),
            "moodscape.audio": json.dumps(meta.get("audio", {})), "moodscape.version": str(meta.get("moodscape_version"))}  # fmt: skip


def export_onnx(model: WaveformRegressor, path: str | Path, *, input_kind: str = "waveform") -> Path:
    """Write ``path`` (.onnx) for ``input_kind`` 'waveform' or 'logmel'; a single self-contained file."""
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module: torch.nn.Module
    if input_kind == "waveform":
        module, example, name = model, torch.zeros(2, model.window_samples), "waveform"
    elif input_kind == "logmel":
        module, example, name = LogmelRegressor(model), torch.zeros(2, model.frontend.n_mels, model.frames), "logmel"
    else:
        raise ExportError(f"unknown ONNX input {input_kind!r}; valid: waveform, logmel")
    module.eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module, (example,), None, input_names=[name], output_names=["valence_arousal"],
                dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},), opset_version=OPSET,
                dynamo=True, verbose=False,
            )  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - the exporter raises many types; all are reported with the model
        raise ExportError(f"ONNX export of {input_kind} model failed: {type(exc).__name__}: {exc}") from exc
    program.save(str(path), external_data=False)
    proto = onnx.load(str(path))
    for key, value in model_metadata(model, input_kind=input_kind).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    log.info("wrote %s (%.2f MB)", path, path.stat().st_size / 1e6)
    return path


def quantize_int8(source: str | Path, target: str | Path) -> Path:
    """Dynamic int8 quantisation of the network's weights (activations quantised on the fly), metadata kept.

    Only nodes that read the regressor's own weights are quantised: the front end's mel filterbank
    in int8 would shift the dB values that every later layer depends on.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source, target = Path(source), Path(target)
    original = onnx.load(str(source))
    keep_float = [node.name for node in original.graph.node if not any(i.startswith("regressor.") for i in node.input)]
    logging.getLogger("root").setLevel(logging.ERROR)  # onnxruntime's "consider pre-processing" hint
    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, nodes_to_exclude=keep_float)
    quantized = onnx.load(str(target))
    del quantized.metadata_props[:]
    quantized.metadata_props.extend(original.metadata_props)
    entry = quantized.metadata_props.add()
    entry.key, entry.value = "moodscape.quantization", "dynamic int8 (onnxruntime quantize_dynamic, QInt8 weights)"
    onnx.save(quantized, str(target))
    log.info("wrote %s (%.2f MB)", target, target.stat().st_size / 1e6)
    return target


def read_spec(path: str | Path) -> dict[str, Any]:
    """The ``moodscape.spec`` metadata of an exported ONNX model."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    props = session.get_modelmeta().custom_metadata_map
    if "moodscape.spec" not in props:
        raise ExportError(f"{path}: not a moodscape ONNX export (no moodscape.spec metadata); export it with "
                          "`moodscape export RUN_DIR --format onnx`")  # fmt: skip
    return json.loads(props["moodscape.spec"])
