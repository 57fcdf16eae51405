"""musicnn's tags of whole songs: `moodscape predict --tags` adds each tagger's top five to the table and the
JSON (read back on --resume and merged across shards), and the taggers tell real songs apart."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from moodscape.cli import main
from moodscape.inference.outputs import format_tags, parse_tags, read_predictions
from moodscape.inference.tags import Tagger, top_tags

from ..conftest import write_tone


def test_top_tags_and_the_table_cell_round_trip():
    probabilities = np.array([0.1, 0.7, 0.3])
    assert top_tags(probabilities, ["a", "b", "c"], k=2) == [("b", pytest.approx(0.7)), ("c", pytest.approx(0.3))]
    tags = [{"tag": "classic rock", "probability": 0.61, "source": "MSD_musicnn"},
            {"tag": "no vocals", "probability": 0.2, "source": "MTT_musicnn"}]  # fmt: skip
    cell = format_tags(tags)
    assert cell == "MSD_musicnn: classic rock 0.61; MTT_musicnn: no vocals 0.20" and parse_tags(cell) == tags


@pytest.mark.shared_data
def test_real_songs_get_different_sensible_tags(shared_data):
    clips = shared_data / "deam-mini" / "DEAM_audio" / "MEMD_audio"
    tagger = Tagger()
    first, second = tagger(clips / "2.mp3"), tagger(clips / "3.mp3")
    for tags in (first, second):
        assert [t["source"] for t in tags] == ["MSD_musicnn"] * 5 + ["MTT_musicnn"] * 5
        for source in ("MSD_musicnn", "MTT_musicnn"):
            p = [t["probability"] for t in tags if t["source"] == source]
            assert p == sorted(p, reverse=True) and 0 < p[-1] <= p[0] < 1
    assert [t["tag"] for t in first] != [t["tag"] for t in second]


def test_predict_tags_in_csv_json_resume_and_the_console(tiny_run, tmp_path, capsys):
    songs = tmp_path / "songs"
    songs.mkdir()
    write_tone(songs / "a.wav", seconds=4.0)
    write_tone(songs / "b.wav", seconds=4.0, seed=3)
    table = tmp_path / "moods.csv"
    assert main(["-q", "predict", str(songs), "--model", str(tiny_run), "--tags", "--out", str(table)]) == 0
    with table.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 and all(r["tags"].startswith("MSD_musicnn: ") and "; MTT_musicnn: " in r["tags"] for r in rows)
    again = read_predictions(table, timeline=False)
    assert [len(s.tags) for s in again] == [10, 10]
    assert main(["-q", "predict", str(songs), "--model", str(tiny_run), "--tags", "--out", str(table), "--resume"]) == 0
    assert read_predictions(table, timeline=False) == again  # both were done: kept, tags and all
    out = tmp_path / "moods.json"
    assert main(["-q", "predict", str(songs / "a.wav"), "--model", str(tiny_run), "--tags", "--out", str(out)]) == 0
    (song,) = json.loads(out.read_text())
    assert len(song["tags"]) == 10 and set(song["tags"][0]) == {"tag", "probability", "source"}
    assert main(["-q", "predict", str(songs / "a.wav"), "--model", str(tiny_run), "--out", str(tmp_path / "x.json")]) == 0
    assert "tags" not in json.loads((tmp_path / "x.json").read_text())[0]  # only when asked
    capsys.readouterr()
    assert main(["-q", "predict", str(songs / "a.wav"), "--model", str(tiny_run), "--tags"]) == 0
    assert "tags: MSD_musicnn: " in capsys.readouterr().out
