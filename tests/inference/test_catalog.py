"""The shipped default model and `moodscape models`: a fresh install predicts with no --model."""

from __future__ import annotations

import csv
import json

import pytest

from moodscape import Predictor
from moodscape.cli import main
from moodscape.inference.catalog import default_model_dir, find_models, shipped_model_dir
from moodscape.models.floors.fusion import Fusion

from ..conftest import write_tiny_checkpoint, write_tone


def test_the_shipped_model_is_a_small_int8_onnx_on_musicnn_with_a_card():
    folder = default_model_dir()
    info = json.loads((folder / "model.json").read_text())
    onnx = folder / info["onnx"]
    assert onnx.suffix == ".onnx" and "int8" in onnx.name and onnx.stat().st_size < 5e6
    assert not (folder / "fusion").exists(), "it needs no descriptor floor, so predicting never starts librosa"
    card = (folder / "model_card.md").read_text()
    for text in ("research use", "quadrant centres", "Cross-validated", "grouped by artist", "Limits",
                 "Jordi Pons and Xavier Serra", "ISC", "LICENSE-musicnn.txt", "log10(1 + 10000 mel)"):  # fmt: skip
        assert text in card, text
    assert 0 < info["cross_validation"]["macro_f1"][0] < 1


def test_the_shipped_model_convolves_only_musicnns_live_filters():
    """Exported from a model in eval mode, the network holds MSD_musicnn's live front-end filters only (see
    musicnn.DEAD_FILTER): four times fewer operations, the same predictions."""
    import onnx

    folder = default_model_dir()
    model = onnx.load(folder / json.loads((folder / "model.json").read_text())["onnx"])
    graph = onnx.shape_inference.infer_shapes(model).graph
    shapes = {i.name: tuple(i.dims) for i in graph.initializer}
    shapes |= {v.name: tuple(d.dim_value for d in v.type.tensor_type.shape.dim) for v in graph.value_info}
    filters = [shapes[node.input[1]][0] for node in graph.node if node.op_type == "Conv"]
    assert filters[:5] == [23, 14, 3, 7, 17]


def test_predict_without_a_model_uses_the_shipped_one(tmp_path, capsys):
    song = write_tone(tmp_path / "song.wav", seconds=12.0)
    predictor = Predictor.default()
    assert predictor.resampler == "LQ"  # its store was built in `fast` mode: windows are resampled the same way
    result = predictor.predict(song, timeline=True)
    assert -1 <= result.valence <= 1 and -1 <= result.arousal <= 1 and result.timeline
    out = tmp_path / "moods.csv"
    assert main(["-q", "predict", str(song), "--out", str(out)]) == 0
    (row,) = csv.DictReader(out.open())
    assert float(row["valence"]) == pytest.approx(result.valence, abs=1e-4)


def test_models_lists_the_shipped_model_and_local_ones(tmp_path, capsys):
    write_tiny_checkpoint(tmp_path / "runs" / "a" / "best")
    write_tiny_checkpoint(tmp_path / "runs" / "a" / "last")  # a training state, not a model to list
    (tmp_path / "runs" / "b" / "export").mkdir(parents=True)
    (tmp_path / "runs" / "b" / "export" / "model.onnx").write_bytes(b"onnx")
    found = find_models([tmp_path])
    assert [m.path.relative_to(tmp_path).as_posix() for m in found] == ["runs/a/best", "runs/b/export"]
    assert main(["models", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "(default)" in out and "runs/a/best" in out and "runs/b/export" in out and "3 model(s)" in out


def test_the_shipped_model_is_listed_once_even_when_found_on_disk(capsys):
    folder = default_model_dir()
    assert main(["models", str(folder.parent)]) == 0
    out = capsys.readouterr().out
    assert out.count(str(folder)) == 1 and "(default)" in out


def test_the_shipped_model_predicts_by_its_name(tmp_path):
    info = json.loads((default_model_dir() / "model.json").read_text())
    assert shipped_model_dir(info["name"]) == default_model_dir()
    song = write_tone(tmp_path / "song.wav", seconds=12.0)
    out = tmp_path / "moods.csv"
    assert main(["-q", "predict", str(song), "--model", info["name"], "--out", str(out)]) == 0
    (row,) = csv.DictReader(out.open())
    assert -1 <= float(row["valence"]) <= 1 and -1 <= float(row["arousal"]) <= 1
    assert shipped_model_dir("moodscape-4q-nothing") is None