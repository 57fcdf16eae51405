"""Export: ONNX with the front end in the graph (waveform and log-mel inputs), int8, TorchScript,
parity with PyTorch, metadata and the model card. The model is a tiny untrained student."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from moodscape.cli import main
from moodscape.errors import CheckpointError, ExportError
from moodscape.export.onnx import read_spec
from moodscape.export.run import export_run
from moodscape.models.waveform import WaveformRegressor


@pytest.fixture
def exported(exported_tiny):
    return exported_tiny


def test_every_file_is_written_and_matches_pytorch(exported):
    run, summary = exported
    out = run / "export"
    for name in ("model.onnx", "model-logmel.onnx", "model.int8.onnx", "model.torchscript.pt", "model_card.md",
                 "export.json"):  # fmt: skip
        assert (out / name).is_file(), name
    parity = summary["parity"]
    assert parity["source"] == "random noise windows"  # no test songs for this run: said, not hidden
    for name in ("onnx_waveform", "onnx_logmel", "torchscript"):
        assert parity[name]["max_abs_diff"] <= 1e-3 and parity[name]["passed"], (name, parity[name])
    assert json.loads((out / "export.json").read_text())["files"]["onnx_waveform_int8"]["mb"] > 0


def test_onnx_takes_raw_audio_of_the_window_length_with_any_batch(exported):
    run, _ = exported
    model = WaveformRegressor.from_checkpoint(run / "best")
    spec = read_spec(run / "export" / "model.onnx")
    assert spec["input"] == "waveform" and spec["sample_rate"] == 16000 and spec["window_samples"] == model.window_samples
    session = ort.InferenceSession(str(run / "export" / "model.onnx"), providers=["CPUExecutionProvider"])
    x = (0.1 * np.random.default_rng(1).standard_normal((5, model.window_samples))).astype(np.float32)
    got = session.run(None, {"waveform": x})[0]
    with torch.inference_mode():
        expected = model(torch.from_numpy(x)).numpy()
    assert got.shape == (5, 2)
    np.testing.assert_allclose(got, expected, atol=1e-3)
    # int8: close, not equal (the tolerance the card states is a song-level CCC drop; here the raw gap)
    q = ort.InferenceSession(str(run / "export" / "model.int8.onnx"), providers=["CPUExecutionProvider"])
    assert np.abs(q.run(None, {"waveform": x})[0] - expected).max() < 0.1


def test_torchscript_carries_its_input_spec(exported):
    run, _ = exported
    files = {"moodscape.json": ""}
    loaded = torch.jit.load(str(run / "export" / "model.torchscript.pt"), _extra_files=files)
    spec = json.loads(files["moodscape.json"])["moodscape.spec"]
    assert loaded(torch.zeros(3, spec["window_samples"])).shape == (3, 2)


def test_model_card_states_input_sizes_and_parity(exported):
    run, _ = exported
    card = (run / "export" / "model_card.md").read_text()
    for text in ("16000 Hz", "model.int8.onnx", "Parity with PyTorch", "## Limits", "Not evaluated yet"):
        assert text in card, text


def test_cli_export_and_clear_errors(exported, tmp_path, capsys):
    run, _ = exported
    assert main(["-q", "export", str(run), "--format", "torchscript", "--out", str(tmp_path / "ts")]) == 0
    assert "model.torchscript.pt" in capsys.readouterr().out
    with pytest.raises(ExportError, match="add --format onnx"):
        export_run(run, formats=["torchscript"], quantize="int8")
    with pytest.raises(CheckpointError, match="neither a run folder"):
        export_run(tmp_path, formats=["onnx"])


def test_int8_quantisation_leaves_the_process_logging_alone(exported, tmp_path):
    """onnxruntime's hint is quieted for the call only: the root logger's level was once left at ERROR,
    which hid every later warning of the process (e.g. a config's old section names)."""
    import logging

    from moodscape.export.onnx import quantize_int8

    run, _ = exported
    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.INFO)
    try:
        quantize_int8(run / "export" / "model-logmel.onnx", tmp_path / "again.int8.onnx")
        assert root.level == logging.INFO
    finally:
        root.setLevel(before)
