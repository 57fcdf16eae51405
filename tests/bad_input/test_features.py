"""Bad input, gathered in one place: every case gives a message naming the file and the fix, and a
feature build completes for all the good files while errors.csv lists the bad ones.
"""

from __future__ import annotations

import csv
import logging

import numpy as np
import pytest
import soundfile as sf

from moodscape.cli import main

SR = 22050


def write_tone(path, seconds, *, rate=SR, channels=1, amplitude=0.3, fmt=None):
    t = np.arange(int(seconds * rate)) / rate
    y = amplitude * np.sin(2 * np.pi * 220 * t)
    y = np.stack([y, 0.5 * y], axis=1) if channels == 2 else y
    sf.write(path, y.astype(np.float32), rate, format=fmt)


@pytest.fixture
def messy_folder(tmp_path):
    """Two good clips, a good stereo 48 kHz WAV, and six kinds of bad file, listed in a CSV."""
    audio = tmp_path / "audio"
    audio.mkdir()
    write_tone(audio / "good1.wav", 8)
    write_tone(audio / "good2.mp3", 8, rate=44100, fmt="MP3")
    write_tone(audio / "stereo48k.wav", 8, rate=48000, channels=2)
    (audio / "zero_bytes.mp3").write_bytes(b"")
    write_tone(tmp_path / "full.mp3", 8, rate=44100, fmt="MP3")
    payload = (tmp_path / "full.mp3").read_bytes()
    (audio / "truncated.mp3").write_bytes(payload[: len(payload) // 2])
    (audio / "text.mp3").write_text("this is a text file, not audio\n")
    write_tone(audio / "one_second.wav", 1)
    write_tone(audio / "all_zero.wav", 8, amplitude=0.0)
    names = ["good1.wav", "good2.mp3", "stereo48k.wav", "zero_bytes.mp3", "truncated.mp3", "text.mp3",
             "one_second.wav", "all_zero.wav"]  # fmt: skip
    table = tmp_path / "songs.csv"
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "valence", "arousal"])
        for i, name in enumerate(names):
            writer.writerow([f"audio/{name}", 3 + i % 5, 7 - i % 4])
    return table


EXPECTED_ERRORS = {
    "zero_bytes": "empty file (0 bytes); re-copy or re-download it",
    "truncated": "truncated: the header promises 8.0 s",
    "text": "not a readable audio file",
    "one_second": "too short (1.00 s < audio.min_seconds=5); set audio.short_policy=pad or loop",
    "all_zero": "silent (8.0 s, peak 0.0e+00); nothing to analyse",
}


def test_feature_build_skips_bad_files_and_lists_them(messy_folder, tmp_path, capsys):
    assert main(["-q", "features", str(messy_folder), "--out", str(tmp_path / "features"), "--workers", "2"]) == 0
    store_dir = capsys.readouterr().out.strip()
    with open(f"{store_dir}/index.csv", newline="") as handle:
        status = {row["song_id"]: row["status"] for row in csv.DictReader(handle)}
    assert status == {"good1": "ok", "good2": "ok", "stereo48k": "ok", **{k: "error" for k in EXPECTED_ERRORS}}
    with open(f"{store_dir}/errors.csv", newline="") as handle:
        errors = {row["song_id"]: row for row in csv.DictReader(handle)}
    assert set(errors) == set(EXPECTED_ERRORS)
    for song_id, message in EXPECTED_ERRORS.items():
        assert message in errors[song_id]["error"], errors[song_id]["error"]
        assert errors[song_id]["path"] in errors[song_id]["error"], "the message names the file"


def test_short_clip_policies_keep_the_one_second_clip(messy_folder, tmp_path, capsys):
    for policy in ("pad", "loop"):
        out = tmp_path / policy
        assert main(["-q", "features", str(messy_folder), "--out", str(out), "--set", f"audio.short_policy={policy}"]) == 0
        store_dir = capsys.readouterr().out.strip()
        with open(f"{store_dir}/index.csv", newline="") as handle:
            frames = {row["song_id"]: int(row["frames"]) for row in csv.DictReader(handle)}
        assert frames["one_second"] == 1 + int(5 * SR) // 512


def run_check(root, caplog) -> tuple[int, str]:
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        code = main(["data", "check", str(root), "--no-probe"])
    return code, caplog.text


def test_annotation_csv_missing_a_column(tmp_path, caplog):
    table = tmp_path / "songs.csv"
    table.write_text("path,valence\naudio/a.wav,5\n")
    code, text = run_check(table, caplog)
    assert code == 2 and str(table) in text and "arousal" in text


def test_annotation_csv_with_duplicate_song_ids(tmp_path, caplog):
    root = tmp_path / "deam"
    audio = root / "DEAM_audio" / "MEMD_audio"
    audio.mkdir(parents=True)
    static = root / "DEAM_Annotations/annotations/annotations averaged per song/song_level"
    static.mkdir(parents=True)
    header = "song_id, valence_mean, valence_std, arousal_mean, arousal_std\r\n"
    (static / "static_annotations_averaged_songs_1_2000.csv").write_text(
        header + "2,3.1,0.9,3,0.6\r\n2,6.0,0.9,5,0.6\r\n", newline=""
    )
    code, text = run_check(root, caplog)
    assert code == 2 and "static_annotations_averaged_songs_1_2000.csv" in text and "2" in text


def test_deam_root_without_annotations(tmp_path, caplog):
    root = tmp_path / "deam"
    (root / "DEAM_audio" / "MEMD_audio").mkdir(parents=True)
    write_tone(root / "DEAM_audio" / "MEMD_audio" / "2.wav", 6)
    code, text = run_check(root, caplog)
    assert code == 2 and "static_annotations_averaged_songs_1_2000.csv" in text and str(root) in text
