"""Corpus loaders: the real sample layouts, and every bad case on small files written here."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from moodscape.data.csvfile import load_csv
from moodscape.data.dataset import detect_layout, load_dataset
from moodscape.data.deam import load_deam
from moodscape.data.emomusic import load_emomusic
from moodscape.errors import DataError

AVERAGED = Path("DEAM_Annotations/annotations/annotations averaged per song")
DEAM_STATIC_1 = AVERAGED / "song_level/static_annotations_averaged_songs_1_2000.csv"
DEAM_STATIC_2 = AVERAGED / "song_level/static_annotations_averaged_songs_2000_2058.csv"
DEAM_DYNAMIC = AVERAGED / "dynamic (per second annotations)"
DEAM_HEADER = "song_id, valence_mean, valence_std, arousal_mean, arousal_std"


def write(path: Path, text: str, *, crlf: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", "\r\n" if crlf else "\n").encode())
    return path


def touch_audio(folder: Path, *ids: str, suffix: str = ".mp3") -> None:
    """Placeholder files: the loaders match names and never open the audio."""
    folder.mkdir(parents=True, exist_ok=True)
    for song_id in ids:
        (folder / f"{song_id}{suffix}").write_bytes(b"")


def make_deam(root: Path, rows: str, *, audio=("2", "3"), header: str = DEAM_HEADER) -> Path:
    write(root / DEAM_STATIC_1, f"{header}\n{rows}", crlf=True)
    touch_audio(root / "DEAM_audio/MEMD_audio", *audio)
    return root


# ------------------------------------------------------------------------------------------------
# The real sample data


@pytest.mark.shared_data
def test_deam_real_layout_counts_and_mapping(shared_data):
    ds = load_dataset(shared_data / "deam-mini")
    assert ds.layout == "deam" and ds.name == "deam-mini"
    assert ds.song_ids == ("2", "3", "4", "5", "7", "8", "10", "12", "13", "17")
    assert len(ds.static) == 1744 + 58
    assert len(ds.labels_without_audio) == 1744 + 58 - 10
    assert ds.audio_without_labels == ()
    song = ds.records[0]
    assert song.path.name == "2.mp3" and song.path.is_file()
    # DEAM song 2: valence_mean 3.1, valence_std 0.94, arousal_mean 3.0, arousal_std 0.63 on 1-9.
    assert song.valence == pytest.approx(-0.475)
    assert song.arousal == pytest.approx(-0.5)
    assert song.valence_std == pytest.approx(0.94 / 4)
    assert song.arousal_std == pytest.approx(0.63 / 4)
    assert song.dynamic is None and ds.dynamic == {}


@pytest.mark.shared_data
def test_deam_real_header_quirks(shared_data):
    ds = load_deam(shared_data / "deam-mini")
    # CRLF and ", " separators: clean names, clean values, no stray columns.
    assert set(ds.static["2"]) == {"valence_mean", "valence_std", "arousal_mean", "arousal_std"}
    # Second file: extra max/min columns, "valence_ max_mean" normalised.
    row = ds.static["2001"]
    assert row["valence_max_mean"] == 5.0 and row["valence_mean"] == 3.2 and row["arousal_min_std"] == 1.02
    assert list(ds.static_value_columns.items()) == [("valence_mean", "valence"), ("arousal_mean", "arousal")]
    # The header disagreement with emoMusic for ids <= 1000 is reported, not silently resolved.
    assert any("ids <= 1000" in w and "swapped" in w for w in ds.warnings)
    assert len(ds.groups["ids <= 1000"]) == 744 and len(ds.groups["ids > 1000"]) == 1744 + 58 - 744


@pytest.mark.shared_data
def test_deam_root_may_be_the_audio_folder(shared_data):
    audio = shared_data / "deam-mini/DEAM_audio/MEMD_audio"
    assert detect_layout(audio) == "deam"
    ds = load_dataset(audio)
    assert len(ds) == 10 and ds.records[0].valence == pytest.approx(-0.475)


@pytest.mark.shared_data
def test_emomusic_real_layout(shared_data):
    ds = load_dataset(shared_data / "emomusic-mini")
    assert ds.layout == "emomusic"
    assert ds.song_ids == ("2", "3", "4", "5", "7", "8", "10", "12", "13", "17")
    assert len(ds.labels_without_audio) == 744 - 10 and ds.audio_without_labels == ()
    song = ds.records[0]
    # emoMusic song 2: mean_arousal 3.1, mean_valence 3 (the same numbers DEAM calls valence, arousal).
    assert song.arousal == pytest.approx(-0.475) and song.valence == pytest.approx(-0.5)
    assert list(ds.static_value_columns) == ["mean_arousal", "mean_valence"]
    assert len(ds.dynamic) == 744
    times = song.dynamic.times
    assert times[0] == 15.0 and times[-1] == 45.0 and np.allclose(np.diff(times), 0.5)
    assert song.dynamic.valence.shape == song.dynamic.arousal.shape == (61,)
    assert song.dynamic.arousal[0] == pytest.approx(-0.109387732373192)
    assert all(r.dynamic is not None for r in ds.records)


# ------------------------------------------------------------------------------------------------
# Layout detection and the entry point


def test_detect_layout_and_unknown_layouts(tmp_path):
    (tmp_path / "nothing-here").mkdir()
    with pytest.raises(DataError, match="DEAM_audio.*clips_45seconds.*Valid layouts: auto, deam, emomusic, csv"):
        load_dataset(tmp_path / "nothing-here")
    with pytest.raises(DataError, match="valid layouts: auto, deam, emomusic, csv"):
        load_dataset(tmp_path, layout="mtg")
    with pytest.raises(DataError, match="no such file or folder"):
        load_dataset(tmp_path / "missing")
    assert detect_layout(write(tmp_path / "labels.csv", "path,quadrant\n")) == "csv"


def test_summary_log_line_counts_left_out_songs(tmp_path, caplog):
    root = make_deam(tmp_path / "deam", "2, 3, 1, 4, 1\n3, 5, 1, 5, 1\n5, 6, 1, 6, 1\n", audio=("2", "3", "99"))
    with caplog.at_level(logging.INFO, logger="moodscape.data"):
        ds = load_dataset(root)
    assert ds.song_ids == ("2", "3")
    assert ds.labels_without_audio == ("5",)
    assert [p.name for p in ds.audio_without_labels] == ["99.mp3"]
    summary = [r.getMessage() for r in caplog.records if "songs with audio and labels" in r.getMessage()]
    assert len(summary) == 1
    assert summary[0].startswith(
        "deam (deam): 2 songs with audio and labels; left out 1 with labels but no audio, 1 audio files without labels"
    )


# ------------------------------------------------------------------------------------------------
# DEAM bad cases


def test_deam_without_annotations_names_expected_path_and_fix(tmp_path):
    touch_audio(tmp_path / "deam/DEAM_audio/MEMD_audio", "2")
    with pytest.raises(DataError) as err:
        load_dataset(tmp_path / "deam")
    message = str(err.value)
    assert "static_annotations_averaged_songs_1_2000.csv" in message
    assert str(tmp_path / "deam" / "DEAM_Annotations") in message
    assert "Fix:" in message and "--annotations" in message


def test_deam_annotations_elsewhere(tmp_path):
    static = tmp_path / "elsewhere/song_level/static_annotations_averaged_songs_1_2000.csv"
    write(static, f"{DEAM_HEADER}\n2, 5, 1, 9, 1\n")
    touch_audio(tmp_path / "deam/DEAM_audio/MEMD_audio", "2")
    ds = load_dataset(tmp_path / "deam", annotations=tmp_path / "elsewhere")
    assert len(ds) == 1 and ds.records[0].arousal == 1.0
    with pytest.raises(DataError, match="no DEAM static annotations"):
        load_deam(tmp_path / "deam", annotations=tmp_path)


def test_deam_missing_column_names_file_column_and_found_columns(tmp_path):
    root = make_deam(tmp_path, "2, 3, 1, 1\n", header="song_id, valence_mean, valence_std, arousal_std")
    with pytest.raises(DataError) as err:
        load_deam(root)
    message = str(err.value)
    assert "static_annotations_averaged_songs_1_2000.csv" in message
    assert "'arousal_mean'" in message
    assert "columns found: 'song_id', 'valence_mean', 'valence_std', 'arousal_std'" in message


def test_deam_duplicate_ids(tmp_path):
    same = make_deam(tmp_path / "same", "2, 3, 1, 4, 1\n2, 3, 1, 4, 1\n3, 5, 1, 5, 1\n")
    ds = load_deam(same)
    assert ds.song_ids == ("2", "3")
    assert any("song 2 repeats" in w and "line 2" in w for w in ds.warnings)

    differ = make_deam(tmp_path / "differ", "2, 3, 1, 4, 1\n3, 5, 1, 5, 1\n2, 7, 1, 4, 1\n")
    with pytest.raises(DataError, match=r"song 2 at .*line 2 and at .*line 4"):
        load_deam(differ)


def test_deam_duplicate_across_the_two_files(tmp_path):
    root = make_deam(tmp_path, "2000, 3, 1, 4, 1\n")
    write(root / DEAM_STATIC_2, f"{DEAM_HEADER}\n2000, 6, 1, 4, 1\n")
    with pytest.raises(DataError, match="2000_2058.csv"):
        load_deam(root)


def test_deam_bad_rows_are_reported_and_skipped(tmp_path):
    root = make_deam(tmp_path, "2, abc, 1, 4, 1\n3, 5, 1, 5, 1\n4, 12, 1, 5, 1\n5, 5, 1\n", audio=("2", "3", "4", "5"))
    ds = load_deam(root)
    assert ds.song_ids == ("3",)
    text = "\n".join(ds.warnings)
    assert "_1_2000.csv, line 2: song 2: column 'valence_mean' = 'abc' is not a number" in text
    assert "line 4: song 4: column 'valence_mean' = 12 is outside the 1-9 scale" in text
    assert "line 5: song 5: 3 fields for 5 columns" in text
    # Their audio has no usable labels.
    assert sorted(p.name for p in ds.audio_without_labels) == ["2.mp3", "4.mp3", "5.mp3"]


def test_deam_dynamic_ragged_rows(tmp_path):
    root = make_deam(tmp_path, "2, 3, 1, 4, 1\n3, 5, 1, 5, 1\n4, 5, 1, 5, 1\n", audio=("2", "3", "4"))
    header = "song_id,sample_15000ms,sample_15500ms,sample_16000ms,sample_16500ms"
    write(root / DEAM_DYNAMIC / "arousal.csv", f"{header}\n2,0.1,0.2,0.3,0.4\n3,0.5,0.6,,\n4,0.1,,0.3,\n", crlf=True)
    write(root / DEAM_DYNAMIC / "valence.csv", f"{header}\n2,-0.1,-0.2,-0.3,-0.4\n3,0.0,0.1\n4,0,0,0,0\n", crlf=True)
    ds = load_deam(root)
    two, three, four = ds.records
    assert np.allclose(two.dynamic.times, [15.0, 15.5, 16.0, 16.5])
    assert np.allclose(two.dynamic.arousal, [0.1, 0.2, 0.3, 0.4])
    assert np.allclose(three.dynamic.times, [15.0, 15.5]) and np.allclose(three.dynamic.valence, [0.0, 0.1])
    # An empty value inside a curve is reported; that song keeps its static labels but gets no curves.
    assert four.dynamic is None and four.valence == 0.0
    assert any("arousal.csv, line 4: song 4" in w for w in ds.warnings)


# ------------------------------------------------------------------------------------------------
# emoMusic bad cases


def test_emomusic_missing_static_and_columns(tmp_path):
    touch_audio(tmp_path / "clips_45seconds", "2")
    with pytest.raises(DataError, match="static_annotations.csv"):
        load_emomusic(tmp_path)
    write(tmp_path / "annotations/static_annotations.csv", "song_id,mean_arousal,std_arousal\n2,3,1\n")
    with pytest.raises(DataError, match="'mean_valence'.*columns found: 'song_id', 'mean_arousal', 'std_arousal'"):
        load_dataset(tmp_path)


def test_emomusic_without_curves_and_unlabelled_audio(tmp_path):
    write(
        tmp_path / "annotations/static_annotations.csv",
        "song_id,mean_arousal,std_arousal,mean_valence,std_valence\n2,9,0,1,0\n3,5,1,5,1\n",
    )
    touch_audio(tmp_path / "clips_45seconds", "2", "7")
    ds = load_dataset(tmp_path)
    assert ds.layout == "emomusic" and ds.dynamic == {}
    assert ds.records[0].arousal == 1.0 and ds.records[0].valence == -1.0
    assert ds.labels_without_audio == ("3",) and [p.stem for p in ds.audio_without_labels] == ["7"]


# ------------------------------------------------------------------------------------------------
# Your own CSV


def test_csv_values_on_each_scale(tmp_path):
    touch_audio(tmp_path / "audio", "a", "b", suffix=".wav")
    csv = write(tmp_path / "labels.csv", "Path, Valence, Arousal\naudio/a.wav, 0.75, 0.25\naudio/b.wav, 0, 1\n")
    ds = load_dataset(csv, csv_scale="0-1")
    assert ds.layout == "csv" and ds.song_ids == ("a", "b")
    assert (ds.records[0].valence, ds.records[0].arousal) == (0.5, -0.5)
    assert (ds.records[1].valence, ds.records[1].arousal) == (-1.0, 1.0)
    assert ds.records[0].path == tmp_path / "audio/a.wav"
    assert load_csv(csv, scale="-1-1").records[0].valence == 0.75


def test_csv_out_of_scale_names_rows(tmp_path):
    touch_audio(tmp_path, "a", "b")
    csv = write(tmp_path / "labels.csv", "path,valence,arousal\na.mp3,5,5\nb.mp3,10,0\n")
    with pytest.raises(DataError, match=r"outside the 1-9 scale: line 3 \(valence=10, arousal=0\).*data.csv_scale"):
        load_csv(csv)
    with pytest.raises(DataError, match="valid scales: 1-9, 0-1, -1-1"):
        load_csv(csv, scale="0-100")


def test_csv_quadrants_ids_and_missing_audio(tmp_path):
    touch_audio(tmp_path / "clips", "x1", "x2", "x3", "x4", "stray")
    csv = write(
        tmp_path / "labels.csv",
        "song_id,path,quadrant\nq1,clips/x1.mp3,Q1\nq2,clips/x2.mp3,q2\nq3,clips/x3.mp3,3\nq4,clips/x4.mp3,4\n"
        "gone,clips/nothing.mp3,Q1\n",
    )
    ds = load_dataset(csv)
    centres = {r.song_id: (r.valence, r.arousal) for r in ds.records}
    assert centres == {"q1": (0.5, 0.5), "q2": (-0.5, 0.5), "q3": (-0.5, -0.5), "q4": (0.5, -0.5)}
    assert ds.labels_without_audio == ("gone",)
    assert [p.name for p in ds.audio_without_labels] == ["stray.mp3"]
    assert ds.static_scale == "quadrant"


def test_csv_bad_quadrant_and_bad_columns(tmp_path):
    touch_audio(tmp_path, "a")
    with pytest.raises(DataError, match=r"not a quadrant.*line 2 \(quadrant='Q5'\)"):
        load_csv(write(tmp_path / "q.csv", "path,quadrant\na.mp3,Q5\n"))
    with pytest.raises(DataError, match="expected path,valence,arousal or path,quadrant.*'path', 'mood'"):
        load_csv(write(tmp_path / "m.csv", "path,mood\na.mp3,happy\n"))
    with pytest.raises(DataError, match="missing column.*'path'"):
        load_csv(write(tmp_path / "f.csv", "file,valence,arousal\na.mp3,1,1\n"))


def test_csv_duplicates_and_non_numeric(tmp_path):
    touch_audio(tmp_path, "a", "b", "c")
    ds = load_csv(write(tmp_path / "ok.csv", "path,valence,arousal\na.mp3,5,5\na.mp3,5,5\nb.mp3,,5\nc.mp3,1,9\n"))
    assert ds.song_ids == ("a", "c")
    assert any("line 3" in w and "kept once" in w for w in ds.warnings)
    assert any("line 4: song b: valence='' is not a number" in w for w in ds.warnings)
    assert [p.name for p in ds.audio_without_labels] == ["b.mp3"]
    with pytest.raises(DataError, match="song a at .*line 2 and at line 3"):
        load_csv(write(tmp_path / "bad.csv", "path,valence,arousal\na.mp3,5,5\na.mp3,6,5\n"))
