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
from ..models.exported import open_onnx
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
    # The exporter's helpers log every folded constant and rewrite rule, and warn that torchvision
    # (which moodscape never uses) is absent; keep the user's terminal for what matters.
    for chatty in ("onnx_ir", "onnxscript"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
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
    """Dynamic int8 quantisation of the network's matrix products (weights int8, activations on the fly).

    Measured choices (BENCHMARKS.md): convolutions stay float32, since ONNX Runtime's ConvInteger runs
    about 3x slower than its float convolution on CPUs; the front end (STFT, mel filterbank, dB,
    normalisation) stays float32, since an int8 filterbank would shift the dB values every later
    layer depends on. The exporter stores transposed weights as Constant nodes; they are made
    initializers first so that the quantiser sees them.
    """
    import tempfile

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source, target = Path(source), Path(target)
    model = onnx.load(str(source))
    _constants_to_initializers(model)
    keep_float = _front_end_nodes(model)
    # onnxruntime logs a "consider pre-processing" hint on the root logger: quiet it for this call only
    # (setting the root level for good once hid every later warning of the process).
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with tempfile.TemporaryDirectory(prefix="moodscape-quant-") as tmp:
            staged = Path(tmp) / "staged.onnx"
            onnx.save(model, str(staged))
            quantize_dynamic(str(staged), str(target), weight_type=QuantType.QInt8, nodes_to_exclude=keep_float,
                             op_types_to_quantize=["MatMul", "Gemm"])  # fmt: skip
    finally:
        root.setLevel(level)
    quantized = onnx.load(str(target))
    del quantized.metadata_props[:]
    quantized.metadata_props.extend(model.metadata_props)
    entry = quantized.metadata_props.add()
    entry.key, entry.value = "moodscape.quantization", "dynamic int8 MatMul/Gemm weights (onnxruntime quantize_dynamic)"
    onnx.save(quantized, str(target))
    log.info("wrote %s (%.2f MB)", target, target.stat().st_size / 1e6)
    return target


def _constants_to_initializers(model) -> None:
    from onnx import numpy_helper

    graph = model.graph
    kept = []
    for node in graph.node:
        value = next((a for a in node.attribute if a.name == "value"), None) if node.op_type == "Constant" else None
        if value is not None and value.t.dims and numpy_helper.to_array(value.t).size > 1:
            tensor = numpy_helper.from_array(numpy_helper.to_array(value.t), name=node.output[0])
            graph.initializer.append(tensor)
        else:
            kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)


def _front_end_nodes(model) -> list[str]:
    """Names of the nodes that compute the normalised log-mel: the normalisation and everything before it."""
    producer = {out: node for node in model.graph.node for out in node.output}
    marker = next((n for n in model.graph.node if any(i.endswith("normalize.std") for i in n.input)), None)
    if marker is None:
        raise ExportError("cannot find the normalisation node in the exported graph; the export layout changed")
    seen: dict[str, object] = {}
    stack = [marker]
    while stack:
        node = stack.pop()
        if node.name in seen:
            continue
        seen[node.name] = node
        stack.extend(producer[i] for i in node.input if i in producer)
    return list(seen)


def read_spec(path: str | Path) -> dict[str, Any]:
    """The ``moodscape.spec`` metadata of an exported ONNX model."""
    props = open_onnx(path).get_modelmeta().custom_metadata_map
    if "moodscape.spec" not in props:
        raise ExportError(f"{path}: not a moodscape ONNX export (no moodscape.spec metadata); export it with "
                          "`moodscape export RUN_DIR --format onnx`")  # fmt: skip
    return json.loads(props["moodscape.spec"])
