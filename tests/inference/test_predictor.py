"""Predictor and `moodscape predict`: every model kind, files and folders, timelines, bad files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from moodscape import Predictor
from moodscape.cli import main
from moodscape.errors import AudioError, CheckpointError
from moodscape.features.windows import window_starts

from ..conftest import write_tone


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("songs")
    write_tone(folder / "a.wav", seconds=5.0, rate=44100, channels=2)
    (folder / "sub").mkdir()
    write_tone(folder / "sub" / "b.flac", seconds=3.3, rate=16000, seed=1)
    write_tone(folder / "c.wav", seconds=1.0, rate=22050, seed=2)  # shorter than one window
    return folder


def test_one_song_gives_values_quadrant_mood_and_timeline(tiny_run, songs):
    result = Predictor.load(tiny_run).predict(songs / "a.wav", timeline=True)
    assert -1 <= result.valence <= 1 and -1 <= result.arousal <= 1
    assert result.valence_1_9 == pytest.approx(4 * result.valence + 5)
    assert result.quadrant in {"Q1", "Q2", "Q3", "Q4"} and result.mood
    predictor = Predictor.load(tiny_run)
    expected = len(window_starts(round(5.0 * 16000), predictor.window, predictor.hop))
    assert result.seconds == pytest.approx(5.0, abs=0.01) and result.windows == len(result.timeline) == expected
    times = [p["time"] for p in result.timeline]
    assert times == sorted(times) and times[0] == pytest.approx(1.0, abs=0.02)
    assert np.mean([p["valence"] for p in result.timeline]) == pytest.approx(result.valence)


def test_onnx_and_pytorch_predict_the_same(exported_tiny, songs):
    run, _ = exported_tiny
    torch_result = Predictor.load(run / "best").predict(songs / "sub" / "b.flac")
    onnx_result = Predictor.load(run / "export" / "model.onnx").predict(songs / "sub" / "b.flac")
    assert onnx_result.valence == pytest.approx(torch_result.valence, abs=1e-3)
    assert onnx_result.arousal == pytest.approx(torch_result.arousal, abs=1e-3)
    logmel_result = Predictor.load(run / "export" / "model-logmel.onnx").predict(songs / "sub" / "b.flac")
    assert logmel_result.valence == pytest.approx(torch_result.valence, abs=1e-3)
    assert "model-logmel.int8.onnx" in Predictor.load(run / "export").backend.description  # a folder: its first choice


def test_unknown_model_and_bad_audio_are_clear_errors(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError, match="--model"):
        Predictor.load("moodscape-tests/no-such-model")
    with pytest.raises(CheckpointError, match="no model found"):
        Predictor.load(tmp_path)
    (tmp_path / "bad.mp3").write_bytes(b"\x00" * 500)
    with pytest.raises(AudioError):
        Predictor.load(tiny_run).predict(tmp_path / "bad.mp3")


def test_cli_on_a_folder_with_json_and_plots(tiny_run, songs, tmp_path, capsys):
    out = tmp_path / "p.json"
    assert main(["-q", "predict", str(songs), "--model", str(tiny_run), "--timeline", "--out", str(out),
                 "--plot", str(tmp_path / "plots")]) == 0  # fmt: skip
    results = json.loads(out.read_text())
    assert sorted(r["path"].rsplit("/", 1)[-1] for r in results) == ["a.wav", "b.flac", "c.wav"]
    assert all(r["timeline"] for r in results)
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["a.png", "b.png", "c.png"]
    assert "3 of 3 files predicted" in capsys.readouterr().err


def test_cli_exit_code_is_non_zero_only_when_every_file_fails(tiny_run, songs, tmp_path, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF" + b"\x00" * 100)
    csv_out = tmp_path / "p.csv"
    assert main(["-q", "predict", str(songs / "a.wav"), str(bad), "--model", str(tiny_run), "--out", str(csv_out),
                 "--timeline"]) == 0  # fmt: skip
    assert csv_out.read_text().count("\n") == 2 and (tmp_path / "p_timeline.csv").exists()
    assert "skipped" in capsys.readouterr().err
    assert main(["-q", "predict", str(bad), "--model", str(tiny_run)]) == 1


def test_a_device_that_is_not_there_or_for_an_onnx_model_is_refused(tiny_run, exported_tiny):
    import torch

    from moodscape.errors import ConfigError

    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="--device=cuda but CUDA is not available here"):
            Predictor.load(tiny_run, device="cuda")
    with pytest.raises(ConfigError, match="exported ONNX models .* run on the CPU"):
        Predictor.load(exported_tiny[0] / "export" / "model.onnx", device="meta")
    with pytest.raises(ConfigError, match="not a device"):
        Predictor.load(tiny_run, device="gpu0")


def test_files_side_by_side_give_the_same_results_in_order(exported_tiny, songs, tmp_path):
    run, _ = exported_tiny
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really")
    paths = [songs / "a.wav", bad, songs / "sub" / "b.flac", songs / "c.wav"] * 3
    alone = list(Predictor.load(run / "export" / "model-logmel.onnx").predict_many(paths, progress=False))
    together = Predictor.load(run / "export" / "model-logmel.onnx", threads=2, files_at_once=2)
    assert together.backend.files_at_once == 2 and together.backend.threads == 1
    side_by_side = list(together.predict_many(paths, progress=False))
    assert [p for p, _, _ in side_by_side] == paths
    for (_, expected, error), (_, got, got_error) in zip(alone, side_by_side):
        assert (expected is None) == (got is None) and (error is None) == (got_error is None)
        if got is not None:
            assert (got.valence, got.arousal) == pytest.approx((expected.valence, expected.arousal), abs=1e-6)
    stopped = together.predict_many(paths, progress=False)
    next(stopped)
    stopped.close()  # a consumer that stops early: the pool ends without predicting the rest
    assert Predictor.load(run / "best", files_at_once=4).backend.files_at_once == 1  # PyTorch: one at a time
