"""The teacher end to end on demo data, tiny preset, CPU: quality against the ridge floor,
determinism, a killed run that resumes to the same result; then the student distilled from it,
exported (ONNX fp32/int8, TorchScript) and used by `moodscape predict`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from safetensors.torch import load_file

from moodscape.cli import main
from moodscape.faults import CRASH_ENV, CRASH_EXIT_CODE

from ..conftest import write_tone

pytestmark = pytest.mark.slow


def settings(demo_root, out, *extra):
    features = demo_root.parent / "features"
    base = [f"data.root={demo_root}", f"store.out_dir={features}", f"teacher.out_dir={out}", "runtime.threads=1"]
    return [arg for item in [*base, *extra] for arg in ("--set", item)]


def read_metrics(run):
    metrics = json.loads((run / "evaluation" / "test" / "metrics.json").read_text())
    metrics.pop("files", None)
    return metrics


@pytest.fixture(scope="module")
def teacher_run(demo_run):
    """The tiny teacher of configs/demo.yaml: the session's demo pipeline run trained it."""
    return demo_run / "teacher"


def test_tiny_teacher_learns_and_is_reported_beside_the_floor(teacher_run):
    """Measured with configs/demo.yaml: test CCC 0.80 valence, 0.90 arousal; the ridge floor on the
    same 18 songs is 0.78 / 0.91, so the tiny teacher does not beat it on arousal yet (see the notes).
    """
    run = teacher_run
    metrics = read_metrics(run)
    assert metrics["split"] == "test" and metrics["songs"] == 18
    ccc = {d: metrics["metrics"][d]["ccc"] for d in ("valence", "arousal")}
    floor = {d: metrics["floor"]["metrics"][d]["ccc"] for d in ("valence", "arousal")}
    assert ccc["valence"] >= 0.5 and ccc["arousal"] >= 0.5, (ccc, floor)
    assert set(metrics["floor"]["comparison"]) == {"valence", "arousal"}
    assert "ridge floor" in (run / "evaluation" / "test" / "report.md").read_text().lower()
    for d in ("valence", "arousal"):
        m = metrics["metrics"][d]
        assert m["ccc_ci95_low"] <= m["ccc"] <= m["ccc_ci95_high"]
    for name in ("best/model.safetensors", "best/config.json", "best/moodscape.json", "last/training_state.json",
                 "history.csv", "config.yaml", "evaluation/test/report.html", "evaluation/test/predictions.csv"):  # fmt: skip
        assert (run / name).exists(), name


def short_run(demo_root, out):
    return ["-q", "train", "--config", "configs/demo.yaml",
            *settings(demo_root, out, "teacher.epochs=4", "teacher.patience=null", "evaluate.bootstrap=200")]  # fmt: skip


def test_deterministic_and_resume_after_kill_gives_the_same_result(demo_root, tmp_path, capsys):
    """A run killed after epoch 2 and resumed equals an uninterrupted one, weights and metrics: the resumed
    run draws everything afresh in a new process, so this also shows that one seed gives one result."""
    first, killed = tmp_path / "first", tmp_path / "killed"
    assert main(short_run(demo_root, first)) == 0
    printed = capsys.readouterr().out
    assert f"run folder: {first}" in printed and "report: " in printed and "report.html" in printed

    crash = {**os.environ, CRASH_ENV: "epoch 2 saved"}
    proc = subprocess.run([sys.executable, "-m", "moodscape.cli", *short_run(demo_root, killed)], env=crash)
    assert proc.returncode == CRASH_EXIT_CODE and (killed / "history.csv").read_text().count("\n") == 3
    assert main([*short_run(demo_root, killed), "--resume"]) == 0

    assert read_metrics(killed) == read_metrics(first)
    for name in ("best/model.safetensors", "last/model.safetensors"):
        a, b = load_file(str(first / name)), load_file(str(killed / name))
        assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a), name
    strip = lambda text: [line.rsplit(",", 1)[0] for line in text.splitlines()]  # drop the seconds column
    assert strip((killed / "history.csv").read_text()) == strip((first / "history.csv").read_text())


def test_resume_with_another_config_is_refused(demo_root, tmp_path, caplog):
    run = tmp_path / "run"
    assert main(short_run(demo_root, run)[:-2] + ["--set", "teacher.epochs=1", "--no-evaluate"]) == 0
    assert main([*short_run(demo_root, run), "--resume"]) == 2
    assert "differs from the configuration" in caplog.text


def test_distill_cli_writes_a_student_run_and_its_comparison(teacher_run, tmp_path, capsys):
    """The CLI path; distillation quality, export and prediction are checked on the full demo pipeline
    (tests/test_pipeline.py)."""
    run = teacher_run
    student = tmp_path / "student"
    assert main(["-q", "distill", str(run), "--out", str(student), "--set", "student.preset=tiny",
                 "--set", "student.epochs=1", "--set", "evaluate.bootstrap=100"]) == 0  # fmt: skip
    assert "retention" in capsys.readouterr().out
    comparison = json.loads((student / "comparison" / "comparison.json").read_text())
    assert comparison["songs"] == 18 and set(comparison["retention_percent"]) == {"valence", "arousal"}
    for name in ("best/model.safetensors", "best/moodscape.json", "last/training_state.json", "history.csv",
                 "evaluation/test/metrics.json", "comparison/report.html"):  # fmt: skip
        assert (student / name).exists(), name
    assert json.loads((student / "best" / "moodscape.json").read_text())["kind"] == "student"


def test_a_fused_teacher_is_evaluated_exported_and_predicted_fused(demo_root, tmp_path, capsys):
    """teacher.fuse_descriptors: the descriptor floor and weights chosen on validation songs, in best/fusion;
    evaluation, export and predict all use the fused song value, and the timeline shifts with it."""
    import numpy as np

    from moodscape import Predictor
    from moodscape.audio.descriptors import clip_descriptors
    from moodscape.audio.io import load_audio
    from moodscape.models.floors.fusion import WEIGHT_GRID, Fusion

    run = tmp_path / "fused"
    assert main(["-q", "train", "--config", "configs/demo.yaml",
                 *settings(demo_root, run, "teacher.epochs=2", "teacher.fuse_descriptors=true", "evaluate.bootstrap=50")]) == 0  # fmt: skip
    fusion = Fusion.load(run / "best" / "fusion")
    assert all(w in WEIGHT_GRID for w in fusion.weights) and 14 <= fusion.meta["weight_songs"] <= 20
    metrics = json.loads((run / "evaluation" / "test" / "metrics.json").read_text())
    assert metrics["fusion"]["weights"] == {"valence": fusion.weights[0], "arousal": fusion.weights[1]}
    assert set(metrics["fusion"]["network_alone"]["metrics"]) == {"valence", "arousal"}

    assert main(["-q", "export", str(run), "--format", "onnx"]) == 0
    assert (run / "export" / "fusion" / "fusion.json").exists()
    assert "Fusion" in (run / "export" / "model_card.md").read_text()
    song = demo_root / "DEAM_audio" / "MEMD_audio" / "2.mp3"
    fused = Predictor.load(run / "best").predict(song, timeline=True)
    at_rate = write_tone(tmp_path / "tone.wav", seconds=8.0, rate=22050)
    with pytest.MonkeyPatch.context() as patch:  # at the model's rate the descriptors come from the windows' decode
        patch.setattr("moodscape.audio.io.load_audio", lambda *a, **k: pytest.fail("the file was decoded twice"))
        Predictor.load(run / "best").predict(at_rate)
    exported = Predictor.load(run / "export" / "model.onnx").predict(song)
    assert (exported.valence, exported.arousal) == pytest.approx((fused.valence, fused.arousal), abs=1e-3)
    network = Predictor.load(run / "best")
    network.backend.fusion = None
    alone = network.predict(song, timeline=True)
    samples, rate = load_audio(song, sample_rate=22050, quality="HQ")  # the floor's audio, whatever the windows'
    expected = fusion.combine(np.array([alone.valence, alone.arousal]), clip_descriptors(samples, rate)[None])[0]
    assert (fused.valence, fused.arousal) == pytest.approx(tuple(expected), abs=1e-6)
    shift = fused.timeline[0]["valence"] - alone.timeline[0]["valence"]
    assert shift == pytest.approx(fused.valence - alone.valence, abs=1e-9)
