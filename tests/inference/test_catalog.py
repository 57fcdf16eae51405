"""The shipped default model and `moodscape models`: a fresh install predicts with no --model."""

from __future__ import annotations

import csv
import json

import pytest

from moodscape import Predictor
from moodscape.cli import main
from moodscape.inference.catalog import default_model_dir, find_models, shipped_model_dir
from moodscape.models.floors.fusion import Fusion

from ..conftest import REPO, write_tiny_checkpoint, write_tone


def test_the_shipped_model_is_a_small_int8_onnx_on_musicnn_with_a_card():
    folder = default_model_dir()
    info = json.loads((folder / "model.json").read_text())
    onnx = folder / info["onnx"]
    assert onnx.suffix == ".onnx" and "int8" in onnx.name and onnx.stat().st_size < 8e6
    card = (folder / "model_card.md").read_text()
    for text in ("research use", "quadrant centres", "Quality on songs no model saw: 4q-holdout", "new Artist",
                 "Cross-validated on 4q-dev", "grouped by artist", "Limits", "Jordi Pons and Xavier Serra", "ISC",
                 "LICENSE-musicnn.txt", "log10(1 + 10000 mel)", "22,050 Hz"):  # fmt: skip
        assert text in card, text
    assert 0 < info["cross_validation"]["macro_f1"][0] < 1 and 0 < info["holdout"]["all"]["macro_f1"]["value"] < 1
    assert card.index("4q-holdout") < card.index("Cross-validated"), "the card leads with the holdout"


def test_the_shipped_model_is_the_recipe_that_was_measured():
    """What ships is what bench-quality cross-validated and scored on the holdout: the profile's network (its front
    end and windows), fused as the profile fuses, each member reading the audio as in the cross-validation; and the
    numbers its card quotes are the benchmark's."""
    import onnx

    from moodscape.config import load_config

    folder = default_model_dir()
    info = json.loads((folder / "model.json").read_text())
    profile = load_config(REPO / "configs" / "real-music.yaml")
    quality = json.loads((REPO / "benchmarks" / "quality-results.json").read_text())
    row = quality["rows"][info["row"]]
    assert info["cross_validation"]["macro_f1"] == row["macro_f1"]
    assert info["holdout"]["all"]["macro_f1"] == row["holdout"]["scores"]["all"]["macro_f1"]
    fusion = Fusion.find(folder)
    assert profile.teacher.fuse_descriptors and profile.teacher.fusion_rule == "equal"
    assert fusion is not None and fusion.probe is None and fusion.meta["rule"] == "equal"
    assert fusion.weights.tolist() == [0.5, 0.5] and fusion.floor_weights.tolist() == [0.5, 0.5]
    assert fusion.floor.sample_rate == profile.baseline.descriptor_sample_rate == 22050
    props = {p.key: p.value for p in onnx.load(folder / info["onnx"]).metadata_props}
    features, audio = json.loads(props["moodscape.features"]), json.loads(props["moodscape.audio"])
    assert features == profile.features.model_dump(mode="json") and audio == profile.audio.model_dump(mode="json")
    spec = json.loads(props["moodscape.spec"])
    hop = profile.features.hop_length
    assert abs(spec["window_samples"] - profile.windows.seconds * profile.audio.sample_rate) <= hop  # whole frames
    assert abs(spec["hop_samples"] - profile.windows.eval_hop_seconds * profile.audio.sample_rate) <= hop
    checks, folds = info["checks"], row["fold_checks"]
    assert checks["epoch"] == profile.teacher.epochs and set(folds["epoch"]) == {profile.teacher.epochs}


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
    assert filters[:5] == [23, 14, 3, 7, 17]  # MSD_musicnn's live filters


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


def test_a_fresh_process_predicts_files_side_by_side_with_the_shipped_fusion(tmp_path):
    """Two files at once in a new process: both threads reach librosa's first import together."""
    import subprocess

    from ..conftest import moodscape

    songs = [write_tone(tmp_path / f"song{i}.wav", seconds=8.0 + i, seed=i) for i in range(3)]
    out = tmp_path / "moods.csv"
    done = subprocess.run(moodscape("-q", "predict", *map(str, songs), "--out", str(out)), capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert [row["path"] for row in csv.DictReader(out.open())] == [str(s) for s in songs]


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