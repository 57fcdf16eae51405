"""`moodscape run`: the demo profile end to end, skipping work already done, --from, and a run killed
during the teacher stage that resumes to the same metrics. Plus the pieces: hashes and peak memory."""

from __future__ import annotations

import json
import math
import os
import subprocess
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from moodscape.config import hash_view, legacy_views, load_config
from moodscape.faults import CRASH_ENV, CRASH_EXIT_CODE
from moodscape.pipeline import STAGE_LIST, PeakMemory, resolve_run_config, run_pipeline, stage_hash

from .conftest import REPO, assert_self_contained, demo_cli, demo_settings


def test_a_stage_hash_changes_with_its_sections_and_everything_before_it():
    base = load_config("configs/demo.yaml")
    changed = load_config("configs/demo.yaml", ["teacher.preset=small"])

    def digests(config):
        out, digest = {}, ""
        for stage in STAGE_LIST:
            digest = stage_hash(digest, hash_view(resolve_run_config(config)), stage.sections)
            out[stage.name] = digest
        return out

    a, b = digests(base), digests(changed)
    assert [a[s] == b[s] for s in ("features", "split", "gan", "generate", "teacher", "distill")] == [
        True, True, True, True, False, False]  # fmt: skip


def test_a_run_folder_made_before_the_sections_were_renamed_keeps_its_stage_hashes():
    """The hashes the pipeline recorded before the rename for tests/fixtures/legacy_config.yaml (computed with that
    code); today's legacy view of the same file gives them, so such a run folder is not redone."""
    recorded = ["1bb051eeb8a63f9f", "4f9ddf4e50181bfa", "2aea3a53d0572089", "2eb1558c2c6009f4", "d84c41bd2af39835",
                "526e14a02c541526", "79a6026bff12eba7", "95decf4eb57f3ee9", "ebf51e4a0ef11a71"]  # fmt: skip
    trees = legacy_views(hash_view(resolve_run_config(load_config("tests/fixtures/legacy_config.yaml"))))
    chains = []
    for tree in trees:
        digest, digests = "", []
        for stage in STAGE_LIST:
            digest = stage_hash(digest, tree, stage.legacy_sections)
            digests.append(digest)
        chains.append(digests)
    assert recorded in chains


def test_peak_memory_sees_an_allocation():
    with PeakMemory() as before:
        pass
    with PeakMemory() as during:
        block = np.ones(300 * 2**20 // 8)
        time.sleep(0.1)
        del block
    assert during.peak - before.peak > 200 * 2**20


def test_unknown_stage_is_refused(tmp_path):
    with pytest.raises(Exception, match="unknown stage"):
        run_pipeline(load_config("configs/demo.yaml", [f"pipeline.out_dir={tmp_path}"]), start="teachers")


cli, settings = demo_cli, demo_settings


def finite_in(value, low, high):
    return isinstance(value, float) and math.isfinite(value) and low <= value <= high


# The whole demo pipeline runs in the set-up of the first of these (about 5 minutes on 2 cores, 10 on a
# host measured 2x slower); the suite-wide 600 s timeout is a guard against hangs, not a speed test.
PIPELINE_TIMEOUT = pytest.mark.timeout(1500)


@pytest.mark.slow
@PIPELINE_TIMEOUT
def test_demo_profile_runs_every_stage_and_measures_what_it_claims(demo_run):
    run = demo_run
    summary = json.loads((run / "summary.json").read_text())
    assert [s["status"] for s in summary["stages"].values()] == ["ran"] * 9
    assert all(s["peak_memory_mb"] > 50 for s in summary["stages"].values()) and summary["peak_memory_mb"] < 3 * 1024
    assert (run / "config.yaml").exists() and load_config(run / "config.yaml").teacher.out_dir == run / "teacher"
    report = (run / "report.html").read_text()
    for heading in ("GAN quality", "Teacher and student", "Quadrants", "Error analysis", "Size and latency",
                    "Exported model", "Predictions on sample songs", "Listening", "Named songs"):  # fmt: skip
        assert heading in report, heading
    assert report.count("<audio") >= 4
    assert_self_contained(report)

    evaluate = summary["stages"]["evaluate"]["outputs"]
    for model in ("teacher", "student"):
        for d in ("valence", "arousal"):
            m = evaluate[model][d]
            assert finite_in(m["ccc"], -1, 1) and m["ccc_ci95_low"] <= m["ccc"] <= m["ccc_ci95_high"]
            assert finite_in(m["rmse"], 0, 2)
    # The student keeps >= 90% of the teacher (measured: 97% valence, 101% arousal on these songs).
    assert min(evaluate["comparison"]["retention_percent"].values()) >= 90, evaluate["comparison"]
    gan = evaluate["gan"]
    for space in ("frechet_teacher_embedding", "frechet_band_statistics"):
        assert finite_in(gan[space]["real_vs_synthetic"], 0, 1e6) and finite_in(gan[space]["real_vs_real"], 0, 1e6)
    assert len(evaluate["reconstructions"]) == 4

    export = summary["stages"]["export"]["outputs"]
    parity = export["parity"]
    assert parity["source"].startswith("18 test songs")
    assert parity["onnx_waveform"]["max_abs_diff"] <= 1e-3 and parity["onnx_logmel"]["max_abs_diff"] <= 1e-3
    for name in ("onnx_waveform_int8", "onnx_logmel_int8"):
        assert max(parity[name]["ccc_drop"].values()) <= 0.02, parity[name]
        assert export["files"][name]["mb"] < 5
    songs = summary["stages"]["predict"]["outputs"]["songs"]
    assert len(songs) == 3 and all(finite_in(s["valence"], -1, 1) and finite_in(s["arousal"], -1, 1) for s in songs)
    assert (run / "predictions" / "predictions_timeline.csv").exists()


@pytest.mark.slow
@PIPELINE_TIMEOUT
def test_a_second_run_skips_everything_and_from_redoes_the_tail(demo_run, demo_root):
    out = subprocess.run(cli(*settings(demo_root, demo_run)), check=True, capture_output=True, text=True).stdout
    assert "features   up to date" in out and out.count("skipped (done earlier)") == 8
    out = subprocess.run(cli(*settings(demo_root, demo_run), "--from", "predict"), check=True, capture_output=True,
                         text=True).stdout  # fmt: skip
    assert out.count("skipped (done earlier)") == 7 and "predict    ran" in out


@pytest.mark.slow
@PIPELINE_TIMEOUT
def test_the_readme_prediction_examples_run_as_written(demo_run, demo_root, tmp_path, monkeypatch):
    """README's `moodscape predict ... --model demo/run/export/...` and `Predictor.load("demo/run")`, run from
    a folder where demo/run is this test's demo run, on songs/ holding two demo songs."""
    from moodscape import Predictor
    from moodscape.cli import main

    from .test_readme import COMMANDS

    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "run").symlink_to(demo_run)
    (tmp_path / "songs").mkdir()
    for name in ("1.mp3", "2.mp3"):
        (tmp_path / "songs" / name).symlink_to(demo_root / "DEAM_audio" / "MEMD_audio" / name)
    monkeypatch.chdir(tmp_path)
    (example,) = [argv for argv in COMMANDS if argv[0] == "predict" and "--model" in argv]
    assert main(["-q", *example]) == 0
    rows = (tmp_path / "moods.csv").read_text().splitlines()
    assert len(rows) == 3 and (tmp_path / "moods_timeline.csv").exists()
    readme = (REPO / "README.md").read_text()
    assert 'Predictor.load("demo/run")' in readme
    song = Predictor.load("demo/run").predict("songs/1.mp3", timeline=True)
    assert "student/best" in Predictor.load("demo/run").backend.description and song.timeline


@pytest.mark.slow
def test_killed_during_the_teacher_it_resumes_to_the_same_result(demo_root, tmp_path):
    """A pipeline killed inside the teacher stage continues from the trainer's last/ and ends where an
    uninterrupted run of the same configuration ends: weights, history and metrics. (A short teacher
    of the demo profile, so that both runs fit in the suite; the mechanism is the same at any length.)"""
    lean = ("pipeline.gan=false", "pipeline.distill=false", "pipeline.export=false", "pipeline.predict_songs=0",
            "pipeline.reconstructions=0", "pipeline.gan_evaluate=false", "teacher.epochs=4", "teacher.patience=null",
            "evaluate.bootstrap=50", "evaluate.floors=[]", f"store.out_dir={tmp_path / 'features'}")  # fmt: skip
    full, run = tmp_path / "full", tmp_path / "run"
    subprocess.run(cli(*settings(demo_root, full, *lean)), check=True, capture_output=True, text=True)
    crash = {**os.environ, CRASH_ENV: "epoch 3 best"}  # best/ of epoch 3 written, last/ still at epoch 2
    killed = subprocess.run(cli(*settings(demo_root, run, *lean)), env=crash, capture_output=True, text=True)
    assert killed.returncode == CRASH_EXIT_CODE, killed.stderr[-2000:]
    assert (run / "teacher" / "history.csv").read_text().count("\n") == 3  # header + 2 saved epochs
    assert json.loads((run / "stages" / "teacher.json").read_text())["status"] == "running"

    out = subprocess.run(cli(*settings(demo_root, run, *lean)), check=True, capture_output=True, text=True).stdout
    assert "features   up to date" in out and "teacher    ran" in out
    for name in ("best", "last"):
        a, b = (load_file(str(r / "teacher" / name / "model.safetensors")) for r in (run, full))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name  # the very same teacher
    strip = lambda text: [line.rsplit(",", 1)[0] for line in text.splitlines()]  # drop the seconds column
    assert strip((run / "teacher" / "history.csv").read_text()) == strip((full / "teacher" / "history.csv").read_text())
    resumed, uninterrupted = (json.loads((r / "teacher" / "evaluation" / "test" / "metrics.json").read_text())
                              for r in (run, full))  # fmt: skip
    assert resumed["metrics"] == uninterrupted["metrics"] and resumed["quadrants"] == uninterrupted["quadrants"]
