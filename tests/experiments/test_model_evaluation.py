"""`moodscape evaluate --model MODEL DATA`: any model scored on labelled files through the prediction path, with
the quadrant scores and their intervals, seen and new artists apart, unreadable files left out, and the timelines
against time-continuous curves where the data has them."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from moodscape.cli import main
from moodscape.data.records import DynamicLabels
from moodscape.eval.scoring import curve_agreement, macro_f1, quadrant_scores

from ..conftest import assert_self_contained, write_tone


def _labelled_folder(root, quadrants):
    """Tones labelled by quadrant (paths relative to labels.csv), a metadata.csv with one artist per two songs, and
    a training metadata that knows the first artist only."""
    root.mkdir(parents=True)
    with (root / "labels.csv").open("w", newline="") as labels, (root / "metadata.csv").open("w", newline="") as meta:
        lw, mw = csv.writer(labels), csv.writer(meta)
        lw.writerow(["path", "quadrant"])
        mw.writerow(["Song", "Artist"])
        for i, q in enumerate(quadrants):
            write_tone(root / f"s{i}.wav", seconds=4.0 + i, rate=16000, seed=i)
            lw.writerow([f"s{i}.wav", f"Q{q}"])
            mw.writerow([f"s{i}", f"artist{i // 2}"])
    (root / "train.csv").write_text("Song,Artist\nx1,artist0\nx2,somebody else\n")
    return root


def test_a_model_is_scored_on_labelled_files_with_seen_and_new_artists_apart(exported_tiny, tmp_path, capsys):
    run, _ = exported_tiny
    data = _labelled_folder(tmp_path / "data", [1, 2, 3, 4, 1, 3])
    (data / "s5.wav").write_bytes(b"not audio at all")  # reported and left out, the rest is scored
    out = tmp_path / "evaluation"
    code = main(["-q", "evaluate", "--model", str(run / "export"), str(data / "labels.csv"), "--out", str(out),
                 "--metadata", str(data / "metadata.csv"), "--train-metadata", str(data / "train.csv"),
                 "--bootstrap", "50"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "5 songs of labels" in printed and "macro-F1" in printed and "1 file(s) left out" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    scores = metrics["quadrant_scores"]
    assert set(scores) == {"all", "Artist seen in training", "new Artist"}
    assert scores["all"]["songs"] == 5 and scores["Artist seen in training"]["songs"] == 2
    assert scores["new Artist"]["songs"] == 3
    for entry in scores.values():
        for key in ("macro_f1", "accuracy", "valence_sign", "arousal_sign", "ccc_valence", "ccc_arousal"):
            assert set(entry[key]) == {"value", "ci95_low", "ci95_high"}
    (failed,) = metrics["failed"]
    assert failed["path"].endswith("s5.wav")
    rows = list(csv.DictReader((out / "errors.csv").open()))
    assert [r["path"] for r in rows] == [failed["path"]]
    predicted = {r["song_id"]: r for r in csv.DictReader((out / "predictions.csv").open())}
    assert set(predicted) == {"s0", "s1", "s2", "s3", "s4"}
    html = (out / "report.html").read_text()
    assert_self_contained(html)
    assert "Quadrant scores" in html and "new Artist" in html and "Files left out" in html


def test_the_prediction_path_is_the_one_predict_uses(exported_tiny, tmp_path):
    from moodscape import Predictor

    run, _ = exported_tiny
    data = _labelled_folder(tmp_path / "data", [1, 4])
    out = tmp_path / "evaluation"
    assert main(["-q", "evaluate", "--model", str(run / "export"), str(data / "labels.csv"), "--out", str(out),
                 "--bootstrap", "0"]) == 0  # fmt: skip
    predicted = {r["song_id"]: r for r in csv.DictReader((out / "predictions.csv").open())}
    direct = Predictor.load(run / "export").predict(data / "s1.wav")
    assert float(predicted["s1"]["valence_pred"]) == pytest.approx(direct.valence, abs=1e-6)


def test_half_a_group_setting_and_a_split_with_a_model_are_named(exported_tiny, tmp_path, caplog):
    run, _ = exported_tiny
    data = _labelled_folder(tmp_path / "data", [1, 2])
    assert main(["evaluate", "--model", str(run), str(data / "labels.csv"), "--metadata", str(data / "metadata.csv")]) == 2
    assert "--metadata and --train-metadata go together" in caplog.text
    assert main(["evaluate", "--model", str(run), str(data / "labels.csv"), "--split", "val"]) == 2
    assert "PATH is the labelled data" in caplog.text


def test_timelines_are_compared_with_the_annotated_curves(exported_tiny, shared_data, tmp_path, capsys):
    run, _ = exported_tiny
    out = tmp_path / "emomusic"
    assert main(["-q", "evaluate", "--model", str(run / "export"), str(shared_data / "emomusic-mini"), "--out",
                 str(out), "--bootstrap", "20"]) == 0  # fmt: skip
    assert "timelines vs curves" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["songs"] == 10 and metrics["timelines"]["songs"] == 10
    per_song = json.loads((out / "timelines.json").read_text())["per_song"]
    assert len(per_song) == 10 and all(np.isfinite(r["rmse_arousal"]) for r in per_song)
    assert "Timelines against the annotated curves" in (out / "report.html").read_text()


def test_quadrant_scores_and_their_intervals():
    truth = np.array([[0.5, 0.5], [-0.5, 0.5], [-0.5, -0.5], [0.5, -0.5]] * 5)
    predicted = truth.copy()
    predicted[0] = [-0.1, 0.2]  # one Q1 song called Q2: valence wrong, arousal right
    scores = quadrant_scores(truth, predicted, bootstrap=200, seed=0)
    assert scores["accuracy"]["value"] == pytest.approx(19 / 20)
    assert scores["valence_sign"]["value"] == pytest.approx(19 / 20) and scores["arousal_sign"]["value"] == 1.0
    assert scores["macro_f1"]["value"] == pytest.approx(macro_f1(np.repeat([[1, 2, 3, 4]], 5, 0).ravel(),
                                                                 np.r_[2, np.repeat([[1, 2, 3, 4]], 5, 0).ravel()[1:]]))  # fmt: skip
    low, high = scores["macro_f1"]["ci95_low"], scores["macro_f1"]["ci95_high"]
    assert low < scores["macro_f1"]["value"] <= high <= 1.0
    assert np.isnan(quadrant_scores(truth, predicted, bootstrap=0)["accuracy"]["ci95_low"])  # no bootstrap, no bounds


def test_curve_agreement_interpolates_the_timeline_at_the_annotation_times():
    times = np.arange(15.0, 45.0, 0.5)
    curve = DynamicLabels(times=times, valence=np.sin(times / 3), arousal=np.linspace(-0.5, 0.5, times.size))
    window_times = np.arange(1.5, 45.0, 3.0)
    following = np.stack([np.sin(window_times / 3), np.linspace(-0.5, 0.5, window_times.size)], axis=1)
    flat = np.zeros_like(following)
    found = curve_agreement({"a": curve, "b": curve}, {"a": (window_times, following), "b": (window_times, flat)})
    rows = {r["song_id"]: r for r in found["per_song"]}
    assert rows["a"]["pearson_valence"] > 0.95 and rows["a"]["rmse_valence"] < 0.1
    assert np.isnan(rows["b"]["pearson_arousal"]) and rows["b"]["rmse_arousal"] > 0.2  # a flat prediction has no r
    assert found["songs"] == 2 and found["arousal"]["songs_with_r"] == 1
