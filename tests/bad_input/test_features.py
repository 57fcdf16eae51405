"""Bad input to the data side, gathered in one place: every case gives a message naming the file and
the fix; a feature build completes for all the good files while errors.csv lists the bad ones; a
store follows its dataset's changes; data check decodes and says in its exit status what it found.
"""

from __future__ import annotations

import csv
import json
import logging
import os

import pytest

from moodscape.cli import main

from ..conftest import write_tone as _write_tone

SR = 22050


def write_tone(path, seconds, *, amplitude=0.3, **options):
    """The shared test signal (conftest), at a level comparable to a 0.3 sine."""
    return _write_tone(path, seconds=seconds, amplitude=amplitude / 0.3, **options)


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


# --- the store follows the dataset: edited labels, replaced audio, removed rows --------------------------------


def _index(store_dir) -> dict[str, dict[str, str]]:
    with open(f"{store_dir}/index.csv", newline="") as handle:
        return {row["song_id"]: row for row in csv.DictReader(handle)}


def _write_table(table, rows) -> None:
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "valence", "arousal"])
        writer.writerows(rows)


@pytest.fixture
def small_csv(tmp_path):
    """Five clips (one of them a truncated MP3) listed in a CSV."""
    audio = tmp_path / "audio"
    audio.mkdir()
    for i in range(4):
        write_tone(audio / f"s{i}.wav", 6, amplitude=0.1 + 0.05 * i)
    write_tone(tmp_path / "full.mp3", 6, rate=44100, fmt="MP3")
    (audio / "s4.mp3").write_bytes((tmp_path / "full.mp3").read_bytes()[:3000])
    table = tmp_path / "songs.csv"
    rows = [[f"audio/s{i}.wav", 3 + i, 7 - i] for i in range(4)] + [["audio/s4.mp3", 5, 5]]
    _write_table(table, rows)
    return table, rows


def _features(table, out, capsys, *extra) -> str:
    assert main(["-q", "features", str(table), "--out", str(out), "--workers", "1", *extra]) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_store_follows_edited_labels_replaced_audio_and_removed_rows(small_csv, tmp_path, capsys):
    table, rows = small_csv
    out = tmp_path / "features"
    store = _features(table, out, capsys)
    assert {k: r["status"] for k, r in _index(store).items()} == {"s0": "ok", "s1": "ok", "s2": "ok", "s3": "ok",
                                                                   "s4": "error"}  # fmt: skip
    data_before = (tmp_path / store / "features.f16").read_bytes()
    assert main(["-q", "split", store, "--set", "split.train=0.5", "--set", "split.val=0.25", "--set", "split.test=0.25"]) == 0

    # An edited label reaches index.csv (which training reads); the audio is not recomputed.
    rows[1][1] = 8
    _write_table(table, rows)
    assert _features(table, out, capsys) == store
    assert float(_index(store)["s1"]["valence"]) == pytest.approx(0.75)
    assert (tmp_path / store / "features.f16").read_bytes() == data_before

    # A fixed MP3 is computed; a replaced WAV is recomputed.
    (tmp_path / "audio" / "s4.mp3").write_bytes((tmp_path / "full.mp3").read_bytes())
    write_tone(tmp_path / "audio" / "s0.wav", 7, amplitude=0.3)
    _features(table, out, capsys)
    index = _index(store)
    assert index["s4"]["status"] == "ok" and int(index["s0"]["frames"]) == 1 + int(7 * SR) // 512

    # A removed row leaves the store, and its bytes leave features.f16.
    _write_table(table, rows[1:])
    _features(table, out, capsys)
    assert set(_index(store)) == {"s1", "s2", "s3", "s4"}
    # The result equals a fresh build of the same data, byte for byte.
    fresh = _features(table, tmp_path / "fresh", capsys)
    assert (tmp_path / store / "features.f16").read_bytes() == (tmp_path / fresh / "features.f16").read_bytes()
    assert _index(store) == _index(fresh)

    # The split drawn for five songs refuses four, naming the change; --force redraws.
    assert main(["-q", "split", store]) == 2
    assert main(["-q", "split", store, "--force"]) == 0
    assert set(json.loads((tmp_path / store / "splits.json").read_text())["test"]) <= {"s1", "s2", "s3", "s4"}


def test_same_bytes_with_a_new_time_is_no_change_and_force_recomputes(small_csv, tmp_path, capsys, caplog):
    table, _ = small_csv
    out = tmp_path / "features"
    store = _features(table, out, capsys)
    settings = json.loads((tmp_path / store / "settings.json").read_text())
    path = tmp_path / "audio" / "s2.wav"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # same bytes, rewritten later
    with caplog.at_level(logging.INFO, logger="moodscape"):
        _features(table, out, capsys)
    assert "1 files touched, same bytes" in caplog.text and "changed audio" not in caplog.text
    assert json.loads((tmp_path / store / "settings.json").read_text())["revision"] == settings["revision"]
    data = (tmp_path / store / "features.f16").read_bytes()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="moodscape"):
        _features(table, out, capsys, "--force")
    assert "--force: recomputing every song" in caplog.text and "4 songs, 1 errors" in caplog.text
    assert (tmp_path / store / "features.f16").read_bytes() == data


def test_fmax_above_nyquist_fails_before_a_store_exists(small_csv, tmp_path, caplog):
    table, _ = small_csv
    out = tmp_path / "features"
    assert main(["features", str(table), "--out", str(out), "--set", "features.fmax=16000"]) == 2
    assert "Nyquist" in caplog.text and "--set features.fmax=16000" in caplog.text
    assert not out.exists() or not any(out.iterdir())


def test_an_unfinished_store_is_not_taken_for_a_store(tmp_path, caplog):
    store = tmp_path / "toy-0123456789"
    store.mkdir()
    (store / "settings.json").write_text(json.dumps({"complete": False, "features": {"n_mels": 128}}))
    (store / "index.csv").write_text("song_id\n")
    assert main(["split", str(store)]) == 2
    assert "unfinished feature build" in caplog.text


# --- data check decodes, counts paths outside the folder, and says so in its exit status ----------------------


def test_data_check_finds_a_truncated_mp3_and_exits_non_zero(small_csv, tmp_path, capsys):
    table, _ = small_csv
    assert main(["-q", "data", "check", str(table), "--json", str(tmp_path / "check.json")]) == 1
    out = capsys.readouterr().out
    assert "truncated" in out and "Check: problems found" in out
    report = json.loads((tmp_path / "check.json").read_text())
    assert [p["song_id"] for p in report["audio_problems"]] == ["s4"] and not report["ok"]
    (tmp_path / "audio" / "s4.mp3").write_bytes((tmp_path / "full.mp3").read_bytes())
    assert main(["-q", "data", "check", str(table)]) == 0


def test_data_check_counts_audio_paths_outside_the_csv_folder(tmp_path, capsys):
    inside, outside = tmp_path / "set", tmp_path / "elsewhere"
    inside.mkdir()
    outside.mkdir()
    write_tone(inside / "a.wav", 6)
    write_tone(outside / "b.wav", 6)
    _write_table(inside / "songs.csv", [["a.wav", 3, 3], ["../elsewhere/b.wav", 6, 6]])
    assert main(["-q", "data", "check", str(inside / "songs.csv"), "--json", str(tmp_path / "c.json")]) == 0
    assert "1 audio path(s) lie outside the CSV's folder" in capsys.readouterr().out
    assert json.loads((tmp_path / "c.json").read_text())["audio_outside_root"] == 1


# --- configuration and CSV messages say where the problem is ------------------------------------------------


def test_a_bad_override_is_blamed_on_the_override_not_the_file(caplog):
    assert main(["split", "nowhere", "--config", "configs/demo.yaml", "--set", "split.seed=abc"]) == 2
    assert "from --set split.seed=abc (applied to configs/demo.yaml)" in caplog.text
    assert "invalid configuration in configs/demo.yaml" not in caplog.text


def test_a_semicolon_csv_gets_a_hint(tmp_path, caplog):
    table = tmp_path / "songs.csv"
    table.write_text("path;valence;arousal\na.wav;5;5\n")
    code, text = run_check(table, caplog)
    assert code == 2 and "split by ';'" in text and "commas" in text


def test_the_run_report_says_what_ran_of_the_gan():
    from moodscape.config import load_config
    from moodscape.eval.run_report import gan_note

    off = gan_note(load_config("configs/demo.yaml", ["pipeline.gan=false"]))
    assert "No GAN was trained" in off and "saw training songs only" not in off
    assert "not used for training" in gan_note(load_config("configs/demo.yaml"))
    used = gan_note(load_config("configs/demo.yaml", ["teacher.synthetic_ratio=0.5"]))
    assert "saw training songs only" in used and "0.5" in used


def test_a_store_with_no_usable_song_cannot_be_split(tmp_path, caplog):
    (tmp_path / "audio").mkdir()
    write_tone(tmp_path / "audio" / "silent.wav", 8, amplitude=0.0)
    (tmp_path / "songs.csv").write_text("path,valence,arousal\naudio/silent.wav,3,7\n")
    assert main(["-q", "features", str(tmp_path / "songs.csv"), "--out", str(tmp_path / "features")]) == 0
    (store,) = (tmp_path / "features").iterdir()
    assert main(["-q", "split", str(store)]) == 2
    assert "holds no usable song" in caplog.text and "errors.csv" in caplog.text
