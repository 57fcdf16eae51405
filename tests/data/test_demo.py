"""The demo-data generator: DEAM's layout and CSV quirks, determinism, audio, and learnability."""

from __future__ import annotations

import csv
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from moodscape.data.demo import (
    ANNOTATIONS_DIR,
    DYNAMIC_DIR,
    STATIC_FILES,
    DemoSummary,
    _draw_song_ids,
    generate_demo_dataset,
)
from moodscape.data.demo_synth import render_song
from moodscape.errors import ConfigError
from moodscape.metrics.regression import ccc

SECONDS = 16.5  # past DEAM's 15 s start, so the dynamic files hold 15000..16500 ms


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> DemoSummary:
    root = tmp_path_factory.mktemp("demo")
    return generate_demo_dataset(root, songs=12, seconds=SECONDS, seed=7, workers=2, progress=False)


def _read_static(summary: DemoSummary) -> dict[int, dict[str, float]]:
    rows = {}
    for name in STATIC_FILES:
        with open(summary.annotations_dir / name, newline="") as handle:
            for row in csv.DictReader(handle, skipinitialspace=True):
                # "valence_ max_mean" as shipped; read it the way a loader would
                rows[int(row["song_id"])] = {k.replace(" ", ""): float(v) for k, v in row.items() if k != "song_id"}
    return rows


def _read_dynamic(summary: DemoSummary, name: str) -> tuple[list[str], dict[int, np.ndarray]]:
    with open(summary.annotations_dir / DYNAMIC_DIR / f"{name}.csv", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    return header, {int(row[0]): np.array(row[1:], dtype=float) for row in rows}


def test_writes_deam_layout(demo):
    assert demo.songs == 12 and demo.audio_dir == demo.root / "DEAM_audio" / "MEMD_audio"
    assert sorted(p.name for p in demo.audio_dir.iterdir()) == sorted(f"{i}.mp3" for i in demo.song_ids)
    annotations = demo.root / "DEAM_Annotations" / "annotations" / "annotations averaged per song"
    assert annotations == demo.annotations_dir
    for path in (
        "song_level/static_annotations_averaged_songs_1_2000.csv",
        "song_level/static_annotations_averaged_songs_2000_2058.csv",
        "dynamic (per second annotations)/arousal.csv",
        "dynamic (per second annotations)/valence.csv",
    ):
        assert (annotations / path).is_file(), path
    assert not list(demo.root.rglob("*.part")), "temporary files left behind"


def test_song_ids_fill_both_static_files(demo):
    ids = demo.song_ids
    assert list(ids) == sorted(set(ids)) and min(ids) >= 1
    high = [i for i in ids if i > 2000]
    assert len(high) >= 1 and all(i <= 2000 for i in ids[: len(ids) - len(high)])
    static = _read_static(demo)
    assert sorted(static) == list(ids)


@pytest.mark.parametrize(("songs", "high"), [(1, 0), (9, 0), (10, 1), (60, 3), (1802, 90)])
def test_song_id_mix(songs, high):
    ids = _draw_song_ids(songs, np.random.default_rng(0))
    assert len(set(ids)) == songs and sum(i > 2000 for i in ids) == high
    assert max((i for i in ids if i <= 2000), default=1) <= 2000


def test_static_csvs_keep_deam_quirks(demo):
    low, high = (demo.annotations_dir / name for name in STATIC_FILES)
    for path in (low, high):
        raw = path.read_bytes()
        assert raw.endswith(b"\r\n") and raw.count(b"\n") == raw.count(b"\r\n"), f"{path.name}: not CRLF throughout"
        assert b", " not in raw.split(b"\r\n", 1)[1], "only the header has spaces after commas"
    assert low.read_bytes().split(b"\r\n")[0] == b"song_id, valence_mean, valence_std, arousal_mean, arousal_std"
    header = high.read_bytes().split(b"\r\n")[0].decode().split(", ")
    assert len(header) == 13 and header[3] == "valence_ max_mean" and header[-1] == "arousal_min_std"
    # DEAM's number style: "4" and "1.5" in the first file, "5.0" in the second.
    for line in low.read_text().splitlines()[1:]:
        assert all(not cell.endswith(".0") for cell in line.split(","))
    for line in high.read_text().splitlines()[1:]:
        assert all("." in cell for cell in line.split(",")[1:])


@pytest.mark.shared_data
def test_static_headers_match_the_real_files(demo, shared_data):
    real = shared_data / "deam-mini" / ANNOTATIONS_DIR
    for name in STATIC_FILES:
        first_line = (real / name).read_bytes().split(b"\r\n")[0]
        assert (demo.annotations_dir / name).read_bytes().split(b"\r\n")[0] == first_line


def test_static_labels_summarise_the_dynamic_curves(demo):
    static = _read_static(demo)
    for name in ("valence", "arousal"):
        _, curves = _read_dynamic(demo, name)
        for song_id, row in static.items():
            mean = row[f"{name}_mean"]
            assert 1.0 <= mean <= 9.0 and round(mean, 1) == mean
            assert 0.3 <= row[f"{name}_std"] <= 3.0
            # rounded to one decimal on 1-9, from a curve written with four decimals on -1..1
            assert mean == pytest.approx(4 * curves[song_id].mean() + 5, abs=0.051)
            if song_id > 2000:
                assert row[f"{name}_min_mean"] <= mean <= row[f"{name}_max_mean"]
    values = np.array([[row["valence_mean"], row["arousal_mean"]] for row in static.values()])
    assert values.std(axis=0).min() > 0.5, "labels should spread, not sit on 5"


def test_dynamic_csvs_follow_deam_columns(demo):
    expected = ["song_id"] + [f"sample_{ms}ms" for ms in range(15000, 16501, 500)]
    for name in ("arousal", "valence"):
        header, curves = _read_dynamic(demo, name)
        assert header == expected
        assert list(curves) == list(demo.song_ids)
        stacked = np.stack(list(curves.values()))
        assert np.all(np.abs(stacked) <= 1.0)


def test_audio_is_mono_mp3_of_the_requested_length(demo):
    for song_id in demo.song_ids:
        path = demo.audio_dir / f"{song_id}.mp3"
        info = sf.info(path)
        assert info.format == "MP3" and info.samplerate == 44100 and info.channels == 1
        assert abs(info.duration - SECONDS) <= 0.1, f"{path.name}: {info.duration:.3f} s"
        audio, rate = sf.read(path, dtype="float32")
        assert np.abs(audio).max() < 0.99, f"{path.name}: clipped"
        seconds = len(audio) // rate
        rms = np.sqrt(np.mean(audio[: seconds * rate].reshape(seconds, rate) ** 2, axis=1))
        assert rms.min() > 1e-3, f"{path.name}: a silent second"


def test_same_seed_same_files_whatever_the_workers(tmp_path):
    runs = [
        generate_demo_dataset(tmp_path / str(workers), songs=4, seconds=3.0, seed=11, workers=workers, progress=False)
        for workers in (1, 2)
    ]
    files = sorted(p.relative_to(runs[0].root) for p in runs[0].root.rglob("*") if p.is_file())
    assert len(files) == 4 + 4
    for relative in files:
        assert (runs[0].root / relative).read_bytes() == (runs[1].root / relative).read_bytes(), relative
    other = generate_demo_dataset(tmp_path / "other", songs=4, seconds=3.0, seed=12, workers=1, progress=False)
    static = STATIC_FILES[0]
    assert (other.annotations_dir / static).read_bytes() != (runs[0].annotations_dir / static).read_bytes()


def test_short_clips_are_annotated_from_zero(tmp_path):
    summary = generate_demo_dataset(tmp_path, songs=2, seconds=3.0, seed=0, workers=1, progress=False)
    header, _ = _read_dynamic(summary, "arousal")
    assert header == ["song_id", "sample_0ms", "sample_500ms", "sample_1000ms", "sample_1500ms",
                      "sample_2000ms", "sample_2500ms", "sample_3000ms"]  # fmt: skip
    # fewer than 10 songs: no 2001+ ids, the second static file holds only its header
    assert len((summary.annotations_dir / STATIC_FILES[1]).read_bytes().split(b"\r\n")) == 2


def test_rerun_clears_partial_files_and_warns_about_foreign_audio(tmp_path, caplog):
    audio_dir = tmp_path / "DEAM_audio" / "MEMD_audio"
    audio_dir.mkdir(parents=True)
    (audio_dir / ".5.mp3.4242.0badf00d.tmp").write_bytes(b"interrupted")
    (audio_dir / "999.mp3").write_bytes(b"not ours")
    with caplog.at_level("WARNING", logger="moodscape.data.demo"):
        generate_demo_dataset(tmp_path, songs=1, seconds=1.0, seed=0, workers=1, progress=False)
    assert not (audio_dir / ".5.mp3.4242.0badf00d.tmp").exists()
    assert "999.mp3" in caplog.text


def test_render_song_checks_its_curves():
    with pytest.raises(ValueError, match="equal"):
        render_song(np.zeros(4), np.zeros(5), seconds=1.0)


def test_project_loader_reads_the_demo(demo):
    from moodscape.data.dataset import load_dataset

    dataset = load_dataset(demo.root)
    assert dataset.layout == "deam" and not dataset.warnings
    assert sorted(int(r.song_id) for r in dataset.records) == list(demo.song_ids)
    assert all(r.path is not None and r.dynamic is not None for r in dataset.records)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"songs": 0}, "songs=0"),
        ({"seconds": 0.5}, "seconds=0.5"),
        ({"seconds": float("nan")}, "seconds=nan"),
        ({"seed": -1}, "seed=-1"),
        ({"sample_rate": 44000}, "44100"),
        ({"workers": 0}, "workers=0"),
    ],
)
def test_rejects_bad_options(tmp_path, options, fragment):
    with pytest.raises(ConfigError, match=fragment):
        generate_demo_dataset(tmp_path, progress=False, **options)
    assert not any(tmp_path.iterdir()), "nothing is written before the options are checked"


def _pooled_logmel(path: Path) -> np.ndarray:
    audio, rate = librosa.load(path, sr=22050)
    mel = librosa.feature.melspectrogram(y=audio, sr=rate, n_fft=2048, hop_length=512, n_mels=128, fmin=20, fmax=8000)
    logmel = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
    return np.concatenate([logmel.mean(axis=1), logmel.std(axis=1)])


def test_learnable_but_not_trivial(tmp_path):
    """Ridge on pooled log-mel statistics, 5-fold out-of-fold predictions: clearly learnable, clearly imperfect."""
    summary = generate_demo_dataset(tmp_path, songs=60, seconds=12.0, seed=0, workers=2, progress=False)
    static = _read_static(summary)
    features = np.stack([_pooled_logmel(summary.audio_dir / f"{i}.mp3") for i in summary.song_ids])
    labels = np.array([[static[i]["valence_mean"], static[i]["arousal_mean"]] for i in summary.song_ids])
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-1, 5, 25)))
    predicted = cross_val_predict(model, features, labels, cv=KFold(5, shuffle=True, random_state=0))
    scores = {name: ccc(labels[:, k], predicted[:, k]) for k, name in enumerate(("valence", "arousal"))}
    for name, score in scores.items():
        assert 0.5 < score < 0.95, f"{name} CCC {score:.3f} outside (0.5, 0.95): {scores}"
