"""Bad input to `moodscape predict`, gathered in one place: damaged audio, bad options, bad models and bad
destinations are reported clearly (exit 2 before any work for options and models), and the good files of
the same call still complete and are written."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from moodscape import Predictor
from moodscape.cli import build_parser, main
from moodscape.inference import predictor as predictor_module

from ..conftest import write_tiny_checkpoint, write_tone


@pytest.fixture(scope="module")
def real_clips(shared_data, tmp_path_factory):
    """A real DEAM clip and the same clip cut after 10 kB, as a broken download would leave it."""
    folder = tmp_path_factory.mktemp("real")
    good = folder / "good.mp3"
    shutil.copy(shared_data / "deam-mini" / "DEAM_audio" / "MEMD_audio" / "2.mp3", good)
    (folder / "cut.mp3").write_bytes(good.read_bytes()[:10240])
    return good, folder / "cut.mp3"


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.shared_data
def test_a_truncated_real_mp3_is_skipped_the_same_way_every_time(tiny_run, real_clips, tmp_path, capsys):
    good, cut = real_clips
    outputs = []
    for attempt in range(3):
        out = tmp_path / f"r{attempt}.csv"
        assert main(["-q", "predict", str(good), str(cut), "--model", str(tiny_run), "--out", str(out)]) == 0
        assert "truncated: the header promises 45.0 s" in capsys.readouterr().err
        rows = _rows(out)
        assert [r["path"] for r in rows] == [str(good)]
        outputs.append(rows)
    assert outputs[0] == outputs[1] == outputs[2]
    # A feature build rejects the same file for the same reason.
    table = tmp_path / "songs.csv"
    table.write_text(f"path,valence,arousal\n{good},5,5\n{cut},5,5\n")
    assert main(["-q", "features", str(table), "--out", str(tmp_path / "features"), "--workers", "1"]) == 0
    store = capsys.readouterr().out.strip()
    errors = _rows(f"{store}/errors.csv")
    assert [e["song_id"] for e in errors] == ["cut"] and "truncated" in errors[0]["error"]


@pytest.fixture
def songs(tmp_path):
    folder = tmp_path / "songs"
    folder.mkdir()
    write_tone(folder / "a.wav", seconds=4.0)
    write_tone(folder / "b.wav", seconds=3.0, seed=1)
    return folder


@pytest.fixture
def no_decoding(monkeypatch):
    """Fails the test if any audio is decoded."""

    def refuse(*args, **kwargs):
        raise AssertionError("audio was decoded before the options were checked")

    monkeypatch.setattr(predictor_module, "stream_windows", refuse)


@pytest.mark.parametrize("out, message", [
    ("res.txt", "must end in .csv or .json"),
    ("/sys/moodscape-test/x.json", "cannot write"),
    ("{file}/x.csv", "cannot write"),
])  # fmt: skip
def test_the_destination_is_checked_before_any_decoding(tiny_run, songs, tmp_path, caplog, no_decoding, out, message):
    (tmp_path / "file").write_text("not a folder")
    target = out.format(file=tmp_path / "file")
    assert main(["predict", str(songs), "--model", str(tiny_run), "--out", target]) == 2
    assert message in caplog.text and target.split("/")[-1] in caplog.text


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_an_interrupted_batch_keeps_the_songs_already_done(tiny_run, songs, tmp_path, monkeypatch, suffix):
    original = Predictor.predict
    calls = []

    def flaky(self, path, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, path, **kwargs)

    monkeypatch.setattr(Predictor, "predict", flaky)
    out = tmp_path / f"moods{suffix}"
    assert main(["-q", "predict", str(songs), "--model", str(tiny_run), "--out", str(out), "--timeline"]) == 130
    done = _rows(out) if suffix == ".csv" else json.loads(out.read_text())
    assert [r["path"].rsplit("/", 1)[-1] for r in done] == ["a.wav"]
    if suffix == ".json":
        assert done[0]["timeline"], "the JSON is whole after every song"
    else:
        assert {r["path"] for r in _rows(tmp_path / "moods_timeline.csv")} == {str(songs / "a.wav")}


def test_json_output_is_the_list_it_always_was(tiny_run, songs, tmp_path):
    out = tmp_path / "moods.json"
    assert main(["-q", "predict", str(songs), "--model", str(tiny_run), "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert [r["path"].rsplit("/", 1)[-1] for r in results] == ["a.wav", "b.wav"]
    assert out.read_text() == json.dumps(results, indent=2) + "\n"


def test_garbage_models_are_checkpoint_errors_not_tracebacks(tiny_run, songs, tmp_path, caplog, no_decoding):
    import onnx
    from onnx import TensorProto, helper

    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07this is not a model" * 20)
    assert main(["predict", str(songs), "--model", str(garbage)]) == 2
    assert f"{garbage}: not a loadable ONNX model" in caplog.text

    foreign = tmp_path / "foreign.onnx"
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])  # fmt: skip
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(foreign))
    caplog.clear()
    assert main(["predict", str(songs), "--model", str(foreign)]) == 2
    assert "without moodscape's metadata" in caplog.text

    corrupt = tmp_path / "corrupt"
    shutil.copytree(tiny_run / "best", corrupt)
    (corrupt / "moodscape.json").write_text('{"audio": {"sample_rate": 16000,')
    caplog.clear()
    assert main(["predict", str(songs), "--model", str(corrupt)]) == 2
    assert f"{corrupt / 'moodscape.json'}: not a readable JSON config" in caplog.text


def test_clips_shorter_than_min_seconds_follow_the_models_policy(tiny_run, tmp_path, capsys):
    clips = tmp_path / "clips"
    clips.mkdir()
    write_tone(clips / "blip.wav", seconds=0.3)
    write_tone(clips / "short.wav", seconds=1.0)
    out = tmp_path / "skip.csv"
    assert main(["-q", "predict", str(clips), "--model", str(tiny_run), "--out", str(out)]) == 0
    assert "blip.wav: too short (0.30 s < audio.min_seconds=0.5)" in capsys.readouterr().err
    (row,) = _rows(out)
    assert row["path"].endswith("short.wav") and "shorter than one 2.0 s window" in row["warning"]

    padded = tmp_path / "padded"
    shutil.copytree(tiny_run / "best", padded)
    meta = json.loads((padded / "moodscape.json").read_text())
    meta["audio"]["short_policy"] = "pad"
    (padded / "moodscape.json").write_text(json.dumps(meta))
    out = tmp_path / "pad.csv"
    assert main(["-q", "predict", str(clips / "blip.wav"), "--model", str(padded), "--out", str(out)]) == 0
    (row,) = _rows(out)
    assert "shorter than the model's audio.min_seconds" in row["warning"] and "padded with silence" in row["warning"]


def test_plots_of_inputs_sharing_a_stem_do_not_overwrite_each_other(tiny_run, tmp_path):
    import soundfile as sf

    clips = tmp_path / "clips"
    (clips / "sub").mkdir(parents=True)
    write_tone(clips / "clip.flac", seconds=2.5)
    write_tone(clips / "tone.wav", seconds=2.5)
    data, rate = sf.read(clips / "clip.flac")
    sf.write(clips / "clip.ogg", data, rate)
    write_tone(clips / "sub" / "tone.wav", seconds=2.5, seed=3)
    plots = tmp_path / "plots"
    assert main(["-q", "predict", str(clips), "--model", str(tiny_run), "--plot", str(plots)]) == 0
    assert sorted(p.name for p in plots.iterdir()) == ["clip.flac.png", "clip.ogg.png", "tone.wav-2.png", "tone.wav.png"]


@pytest.mark.parametrize("option, value, message", [
    ("--threads", "-1", "must be 1 or more"),
    ("--batch-size", "0", "must be 1 or more"),
    ("--hop", "0", "must be a positive number"),
    ("--hop", "nan", "must be a positive number"),
])  # fmt: skip
def test_bad_numbers_are_refused_with_a_message(tiny_run, songs, capsys, option, value, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", str(songs), "--model", str(tiny_run), option, value])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_the_library_refuses_the_same_numbers(tiny_run):
    from moodscape.errors import ConfigError

    for options in ({"threads": -1}, {"batch_size": 0}, {"hop_seconds": 0.0}):
        with pytest.raises(ConfigError, match="positive"):
            Predictor.load(tiny_run, **options)


def test_a_missing_local_path_is_not_found_at_once(songs, tmp_path, monkeypatch, caplog, no_decoding):
    def no_hub(*args, **kwargs):
        raise AssertionError("a path-like --model went to the Hub")

    monkeypatch.setattr("moodscape.models.pretrained.hub.resolve_pretrained", no_hub)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo").mkdir()
    for missing in ("demo/run/export", "demo/run", "./model.onnx", "model.onnx", str(tmp_path / "nowhere")):
        caplog.clear()
        assert main(["predict", str(songs), "--model", missing]) == 2
        assert f"--model {missing}: not found" in caplog.text and "=none" not in caplog.text


def test_a_hub_name_gets_no_random_weights_advice(songs, monkeypatch, caplog):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["predict", str(songs), "--model", "moodscape-tests/no-such-model"]) == 2
    assert "Hugging Face" in caplog.text and "=none" not in caplog.text


def test_a_run_folder_prefers_its_student(tmp_path):
    pipeline_run = tmp_path / "run"
    write_tiny_checkpoint(pipeline_run / "teacher" / "best", kind="teacher")
    write_tiny_checkpoint(pipeline_run / "student" / "best")
    assert "student/best" in Predictor.load(pipeline_run).backend.description
    assert "teacher/best" in Predictor.load(pipeline_run / "teacher").backend.description
    shutil.rmtree(pipeline_run / "student")
    assert "teacher/best" in Predictor.load(pipeline_run).backend.description


def test_quiet_and_verbose_work_after_the_subcommand(tiny_run, songs, capsys):
    parser = build_parser()
    assert parser.parse_args(["predict", "x.mp3", "--model", "m", "-q"]).quiet
    assert parser.parse_args(["-q", "predict", "x.mp3", "--model", "m"]).quiet
    assert parser.parse_args(["-v", "data", "check", "d"]).verbose and parser.parse_args(["data", "check", "d", "-v"]).verbose
    assert not parser.parse_args(["predict", "x.mp3", "--model", "m"]).quiet
    assert main(["predict", str(songs), "--model", str(tiny_run), "-q"]) == 0
    assert "predict:" not in capsys.readouterr().err, "no progress bar with -q"
