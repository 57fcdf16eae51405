"""The musicnn teacher through the command line: `moodscape train --config configs/real-music.yaml` builds a
store with musicnn's input, trains the pretrained tagger's head and evaluates it; a student is distilled from it
with a transfer set of unlabelled audio; a store with other settings is refused by name."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from moodscape.models.floors.fusion import Fusion
from moodscape.models.loading import REGRESSORS, load_model
from moodscape.models.teacher.musicnn_head import MusicnnRegressor

from ..conftest import REPO, moodscape

pytestmark = pytest.mark.slow


def test_the_musicnn_teacher_trains_from_the_real_music_profile(small_store, tmp_path):
    data, _, _ = small_store
    sets = [f"data.root={data}", f"store.out_dir={tmp_path / 'features'}", f"teacher.out_dir={tmp_path / 'teacher'}",
            "teacher.epochs=2", "teacher.windows_per_song=2", "teacher.precise_bn=16", "evaluate.floors=[]"]  # fmt: skip
    done = subprocess.run(moodscape("train", "--config", str(REPO / "configs/real-music.yaml"),
                                    *[a for s in sets for a in ("--set", s)]),
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "musicnn's pooled features of 10 songs' windows (every 47 frames)" in done.stderr  # the cached path
    model = load_model(tmp_path / "teacher" / "best", expect=REGRESSORS)
    assert isinstance(model, MusicnnRegressor) and model.frames == 188 and model.head_kind == "pooled"
    assert [t.name for t in model.taggers] == ["MSD_musicnn", "MTT_musicnn"]
    meta = json.loads((tmp_path / "teacher" / "best" / "moodscape.json").read_text())
    assert meta["epoch"] == 2, "the profile keeps its last epoch"
    trained = Fusion.load(tmp_path / "teacher" / "best" / "fusion")  # the profile fuses the floor, equal weights
    assert trained.probe is None and trained.meta["rule"] == "equal" and trained.floor.sample_rate == 22050
    assert meta["features"]["compression"] == "logc" and meta["audio"]["sample_rate"] == 16000
    assert (tmp_path / "teacher" / "evaluation" / "test" / "metrics.json").exists()
    _fuse_with_the_probe(tmp_path / "teacher", data)

    cached = subprocess.run(moodscape("distill", str(tmp_path / "teacher"), "--out", str(tmp_path / "cached-student"),
                                      "--set", "student.epochs=1", "--set", "student.preset=tiny"),
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert cached.returncode == 0, cached.stderr[-3000:]
    assert "musicnn's pooled features of 8 songs' windows read from" in cached.stderr  # the teacher's
    assert "computed once" not in cached.stderr

    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    for song in sorted((data / "DEAM_audio" / "MEMD_audio").glob("*.mp3"))[:3]:
        (unlabelled / f"x{song.name}").write_bytes(song.read_bytes())
    done = subprocess.run(moodscape("distill", str(tmp_path / "teacher"), "--set", "student.epochs=1",
                                    "--set", "student.preset=tiny", "--set", f"student.transfer=[{unlabelled}]",
                                    "--set", "student.transfer_ratio=2", "--set", "student.precise_bn=32"),
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "transfer set: 9 unlabelled windows from" in done.stderr  # 3 songs of 6 s: windows every 1.5 s
    assert "scores every window with the whole network (extra windows)" in done.stderr
    assert (tmp_path / "teacher" / "student" / "best" / "model.safetensors").exists()

    exported = subprocess.run(moodscape("-q", "export", str(tmp_path / "teacher" / "student"), "--format", "onnx"),
                              capture_output=True, text=True, timeout=600)  # fmt: skip
    assert exported.returncode == 0, exported.stderr[-3000:]
    card = (tmp_path / "teacher" / "student" / "export" / "model_card.md").read_text()
    assert "musicnn weights (MSD_musicnn, MTT_musicnn) by Jordi Pons and Xavier Serra" in card
    assert "log10(1 + 10000 mel)" in card and "power in dB" not in card


def test_a_store_without_musicnns_input_is_refused_with_the_settings(small_store, tmp_path):
    data, store, _ = small_store
    done = subprocess.run(moodscape("-q", "train", "--set", f"data.root={data}", "--set", f"store.out_dir={store.parent}",
                                    "--set", "teacher.kind=musicnn", "--set", "teacher.pretrained=MSD_musicnn",
                                    "--set", f"teacher.out_dir={tmp_path / 'teacher'}"),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 2 and "audio.sample_rate=22050 (needs 16000)" in done.stderr
    assert "features.compression='db' (needs 'logc')" in done.stderr and "configs/real-music.yaml" in done.stderr


def _fuse_with_the_probe(run, data):
    """`moodscape fuse`: the floor and the probe fitted on the run's songs; evaluate and predict use the equal
    average, whose song value is the mean of the three members' on the same samples."""
    from moodscape import Predictor
    from moodscape.audio.descriptors import clip_descriptors
    from moodscape.audio.io import load_audio
    from moodscape.features.store import FeatureStore
    from moodscape.models.floors.probe import Summariser, store_summaries

    fused = subprocess.run(moodscape("fuse", str(run)), capture_output=True, text=True, timeout=600)
    assert fused.returncode == 0, fused.stderr[-3000:]
    assert "equal-weight fusion of network, floor, probe" in fused.stdout
    fusion = Fusion.load(run / "best" / "fusion")
    assert fusion.probe is not None and fusion.meta["rule"] == "equal"
    evaluated = subprocess.run(moodscape("-q", "evaluate", str(run)), capture_output=True, text=True, timeout=600)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    metrics = json.loads((run / "evaluation" / "test" / "metrics.json").read_text())
    assert set(metrics["fusion"]["members"]) == {"network", "floor", "probe"}

    song = sorted((data / "DEAM_audio" / "MEMD_audio").glob("*.mp3"))[0]
    predicted = Predictor.load(run / "best").predict(song)
    network = Predictor.load(run / "best")
    network.backend.fusion = None
    alone = network.predict(song)
    # Each member reads the audio as it learnt from it: the floor at the profile's descriptor rate, as it was
    # cross-validated (bench-quality's floor), the probe at musicnn's rate resampled as the store was.
    assert fusion.floor.sample_rate == 22050
    samples, rate = load_audio(song, sample_rate=22050, quality="HQ")
    heard, _ = load_audio(song, sample_rate=16000, quality=fusion.probe.resampler)  # as the store resampled it
    assert fusion.probe.resampler == "LQ"  # the profile's store is built in `fast` mode
    members = [np.array([alone.valence, alone.arousal]), fusion.floor.predict(clip_descriptors(samples, rate))[0],
               fusion.probe.predict(Summariser()(heard))[0]]  # fmt: skip
    expected = np.clip(np.mean(members, axis=0), -1, 1)
    stored = store_summaries(FeatureStore(fusion.meta["store"]), [song.stem], progress=False)[0]
    np.testing.assert_allclose(Summariser()(heard), stored, atol=5e-3)  # what the probe learnt from (float16 mels)
    assert (predicted.valence, predicted.arousal) == pytest.approx(tuple(expected), abs=1e-6)

    again = subprocess.run(moodscape("fuse", str(run), "--no-probe"), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "replacing the fusion" in again.stderr
    assert Fusion.load(run / "best" / "fusion").probe is None
    shutil.rmtree(run / "best" / "fusion")  # the rest of the test distils from the network alone
