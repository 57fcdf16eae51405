"""The data check: counts, label statistics, unreadable audio, and the static-vs-curve header test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from moodscape.data.check import check_dataset, format_check
from moodscape.data.csvfile import load_csv
from moodscape.data.dataset import load_dataset

SONG_LEVEL = Path("DEAM_Annotations/annotations/annotations averaged per song/song_level")
DYNAMIC = Path("DEAM_Annotations/annotations/annotations averaged per song/dynamic (per second annotations)")


def write_wav(path: Path, rng: np.random.Generator, seconds: float = 1.0, rate: int = 8000) -> None:
    sf.write(path, (0.1 * rng.standard_normal(int(seconds * rate))).astype(np.float32), rate)


def write_curves(path: Path, curves: dict[str, np.ndarray]) -> None:
    n = len(next(iter(curves.values())))
    header = "song_id," + ",".join(f"sample_{15000 + 500 * i}ms" for i in range(n))
    rows = [f"{k}," + ",".join(f"{v:.4f}" for v in c) for k, c in curves.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")


def make_deam_with_curves(root: Path, rng: np.random.Generator, *, swap_upto: int) -> Path:
    """Static means derived from the curves, with the two columns swapped for ids <= swap_upto."""
    ids = [str(i) for i in (*range(2, 32), *range(1001, 1031))]
    arousal = {i: np.clip(rng.uniform(-0.8, 0.8) + 0.05 * rng.standard_normal(8), -1, 1) for i in ids}
    valence = {i: np.clip(rng.uniform(-0.8, 0.8) + 0.05 * rng.standard_normal(8), -1, 1) for i in ids}
    write_curves(root / DYNAMIC / "arousal.csv", arousal)
    write_curves(root / DYNAMIC / "valence.csv", valence)
    lines = ["song_id, valence_mean, valence_std, arousal_mean, arousal_std"]
    for i in ids:
        v, a = 5 + 4 * valence[i].mean(), 5 + 4 * arousal[i].mean()
        if int(i) <= swap_upto:
            v, a = a, v
        lines.append(f"{i}, {v:.2f}, 1, {a:.2f}, 1")
    (root / SONG_LEVEL).mkdir(parents=True)
    (root / SONG_LEVEL / "static_annotations_averaged_songs_1_2000.csv").write_text("\r\n".join(lines) + "\r\n")
    (root / "DEAM_audio/MEMD_audio").mkdir(parents=True)
    for i in ids[:3]:
        write_wav(root / "DEAM_audio/MEMD_audio" / f"{i}.wav", rng)
    return root


@pytest.mark.shared_data
def test_check_emomusic_first_column_tracks_arousal(shared_data):
    report = check_dataset(load_dataset(shared_data / "emomusic-mini"))
    assert report.n_songs == 10 and len(report.labels_without_audio) == 734
    assert report.audio_problems == () and report.audio_summary.n_files == 10
    assert 44.0 < report.audio_summary.min_seconds <= report.audio_summary.max_seconds < 46.0
    (corr,) = report.correlations
    assert corr.n_songs == 744 and corr.columns == ("mean_arousal", "mean_valence")
    assert corr.curves == ("valence", "arousal")
    r_first_valence, r_first_arousal = corr.r[0]
    assert r_first_arousal > 0.9 and r_first_valence < 0.7  # README: 0.96 and 0.58
    assert corr.swapped == () and report.ok
    text = format_check(report)
    assert "mean_arousal" in text and "744 songs with both" in text and "Check: OK" in text
    json.dumps(report.to_dict(), allow_nan=False)


@pytest.mark.shared_data
def test_check_deam_sample(shared_data):
    report = check_dataset(load_dataset(shared_data / "deam-mini"))
    assert report.n_songs == 10 and len(report.labels_without_audio) == 1792
    assert report.correlations == () and not report.has_static_and_dynamic
    stats = report.label_stats["valence"]
    assert stats.n == 10 and -1 <= stats.min <= stats.mean <= stats.max <= 1
    assert sum(report.quadrants.values()) == 10
    assert "cannot be checked" in format_check(report)
    data = report.to_dict()
    assert data["n_labels_without_audio"] == 1792 and data["label_stats_1_9"]["valence"]["min"] == pytest.approx(3.1)


def test_check_flags_a_swapped_header_per_group(tmp_path, rng):
    ds = load_dataset(make_deam_with_curves(tmp_path / "deam", rng, swap_upto=1000))
    report = check_dataset(ds)
    by_group = {c.group: c for c in report.correlations}
    assert set(by_group) == {"all annotated songs", "ids <= 1000", "ids > 1000"}
    assert by_group["ids <= 1000"].swapped == ("valence_mean", "arousal_mean")
    assert by_group["ids > 1000"].swapped == ()
    assert by_group["ids <= 1000"].n_songs == 30
    assert not report.ok
    text = format_check(report)
    assert "LOOKS SWAPPED" in text and "Check: problems found" in text
    json.dumps(report.to_dict(), allow_nan=False)

    # The loader says so too, with the numbers, but reads the labels as the header names them.
    assert any("looks swapped for the 30 songs with ids <= 1000" in w for w in ds.warnings)
    assert ds.records[0].valence == pytest.approx((ds.static["2"]["valence_mean"] - 5) / 4)

    clean_ds = load_dataset(make_deam_with_curves(tmp_path / "clean", rng, swap_upto=0))
    assert not any("looks swapped" in w for w in clean_ds.warnings)
    clean = check_dataset(clean_ds, probe=False)
    assert clean.swapped_columns == [] and clean.ok


def test_check_lists_unreadable_and_missing_audio(tmp_path, rng):
    write_wav(tmp_path / "good.wav", rng)
    (tmp_path / "empty.mp3").write_bytes(b"")
    (tmp_path / "text.wav").write_text("not audio at all\n")
    (tmp_path / "later.wav").write_bytes(b"")
    (tmp_path / "labels.csv").write_text(
        "path,valence,arousal\ngood.wav,9,9\nempty.mp3,1,1\ntext.wav,1,9\nlater.wav,5,5\n"
    )
    ds = load_csv(tmp_path / "labels.csv")
    (tmp_path / "later.wav").unlink()  # gone between loading and checking
    report = check_dataset(ds)
    reasons = {p.song_id: p.reason for p in report.audio_problems}
    assert set(reasons) == {"empty", "text", "later"}
    assert "empty file" in reasons["empty"] and "not a readable audio file" in reasons["text"]
    assert reasons["later"] == "file not found"
    assert report.audio_summary.n_files == 1 and report.audio_summary.sample_rates == {8000: 1}
    assert not report.ok and "3 of 4 file(s) missing or unreadable" in format_check(report)
    # Without probing only existence is checked.
    assert [p.song_id for p in check_dataset(ds, probe=False).audio_problems] == ["later"]


def test_label_statistics_and_quadrants(tmp_path):
    for name in "abcd":
        (tmp_path / f"{name}.mp3").write_bytes(b"")
    (tmp_path / "labels.csv").write_text("path,valence,arousal\na.mp3,9,9\nb.mp3,1,9\nc.mp3,1,1\nd.mp3,5,1\n")
    report = check_dataset(load_csv(tmp_path / "labels.csv"), probe=False)
    valence = report.label_stats["valence"]
    assert (valence.mean, valence.min, valence.max) == (-0.25, -1.0, 1.0)
    assert valence.std == pytest.approx(np.std([1, -1, -1, 0]))
    assert valence.on_scale("1-9") == pytest.approx({"mean": 4.0, "std": 4 * valence.std, "min": 1.0, "max": 9.0})
    assert report.quadrants == {"Q1": 1, "Q2": 1, "Q3": 1, "Q4": 1} and report.on_axis == 1


def test_check_counts_left_out_songs(tmp_path):
    (tmp_path / "a.mp3").write_bytes(b"")
    (tmp_path / "orphan.mp3").write_bytes(b"")
    (tmp_path / "labels.csv").write_text("path,quadrant\na.mp3,Q1\nmissing.mp3,Q2\n")
    report = check_dataset(load_csv(tmp_path / "labels.csv"), probe=False)
    assert report.n_songs == 1
    assert report.labels_without_audio == ("missing",)
    assert [Path(p).name for p in report.audio_without_labels] == ["orphan.mp3"]
    text = format_check(report)
    assert "labels without audio:          1  (ids missing)" in text
