"""Sharded prediction: `predict --shard K/N` on parts of a library, resumable, joined by `moodscape merge`
into the table one unsharded run writes."""

from __future__ import annotations

import json
import logging
import shutil

import pytest

from moodscape.cli import main
from moodscape.data.shards import parse_shard, shard_files, shard_of
from moodscape.errors import ConfigError
from moodscape.inference.shards import merge_predictions

from ..conftest import write_tiny_checkpoint, write_tone


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """A tiny model and 10 short clips in nested folders."""
    root = tmp_path_factory.mktemp("shards")
    write_tiny_checkpoint(root / "model" / "best")
    for i in range(10):
        folder = root / "songs" / ("rock" if i % 2 else "jazz")
        folder.mkdir(parents=True, exist_ok=True)
        write_tone(folder / f"song{i}.wav", seconds=2.5 + 0.1 * i, rate=16000, seed=i)
    return root


def predict(library, out, *extra):
    argv = ["-q", "predict", str(library / "songs"), "--model", str(library / "model"), "--out", str(out), *extra]
    return main(argv)


def test_shards_are_disjoint_cover_everything_and_do_not_depend_on_the_mount_point(library, tmp_path):
    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/3", "4/3", "a/b", "3"):
        with pytest.raises(ConfigError, match="--shard"):
            parse_shard(bad)
    keys = [f"rock/song{i}.wav" for i in range(200)]
    parts = [shard_files([(k, k) for k in keys], k, 3) for k in (1, 2, 3)]
    assert sorted(sum(parts, [])) == sorted(keys) and all(40 < len(p) < 90 for p in parts)
    assert shard_of("rock/song1.wav", 3) == shard_of("rock/song1.wav", 3)  # a fixed hash, not Python's
    moved = tmp_path / "elsewhere"
    shutil.copytree(library / "songs", moved)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert predict(library, a, "--shard", "1/3") == 0
    assert main(["-q", "predict", str(moved), "--model", str(library / "model"), "--out", str(b), "--shard", "1/3"]) == 0
    names = lambda path: [line.split(",")[0].rsplit("/", 1)[-1] for line in path.read_text().splitlines()[1:]]
    assert names(a) == names(b) and names(a)


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_three_shards_merged_equal_one_unsharded_run(library, tmp_path, suffix):
    whole = tmp_path / f"whole{suffix}"
    assert predict(library, whole, "--timeline") == 0
    shards = [tmp_path / f"part{k}{suffix}" for k in (1, 2, 3)]
    for k, out in enumerate(shards, start=1):
        assert predict(library, out, "--timeline", "--shard", f"{k}/3") == 0
        assert json.loads((out.parent / (out.name + ".shard.json")).read_text())["shard"] == [k, 3]
    merged = tmp_path / f"merged{suffix}"
    assert main(["-q", "merge", str(merged), *map(str, reversed(shards))]) == 0
    assert merged.read_bytes() == whole.read_bytes()
    if suffix == ".csv":
        assert (tmp_path / "merged_timeline.csv").read_bytes() == (tmp_path / "whole_timeline.csv").read_bytes()


def test_a_killed_shard_resumes_without_redoing_its_finished_files(library, tmp_path, caplog):
    full = tmp_path / "full.csv"
    assert predict(library, full, "--timeline", "--shard", "2/3") == 0
    rows = full.read_text().splitlines(keepends=True)
    assert len(rows) >= 3
    killed = tmp_path / "killed.csv"
    shutil.copy(full.parent / "full.csv.shard.json", killed.parent / "killed.csv.shard.json")
    killed.write_text("".join(rows[:2]) + rows[2][:10])  # one song complete, the next cut off mid-line
    done = rows[1].split(",")[0]
    points = [line for line in (tmp_path / "full_timeline.csv").read_text().splitlines(keepends=True)]
    (tmp_path / "killed_timeline.csv").write_text("".join(p for p in points if p.startswith(("path,", done))))
    caplog.set_level(logging.INFO)
    argv = ["predict", str(library / "songs"), "--model", str(library / "model"), "--out", str(killed), "--timeline"]
    assert main([*argv, "--shard", "2/3", "--resume"]) == 0
    assert "1 files done earlier" in caplog.text
    assert killed.read_bytes() == full.read_bytes()
    assert (tmp_path / "killed_timeline.csv").read_bytes() == (tmp_path / "full_timeline.csv").read_bytes()
    caplog.clear()
    assert main([*argv, "--shard", "1/3", "--resume"]) == 2  # another shard into the same table: refused
    assert "started with another shard" in caplog.text


def test_merge_refuses_what_does_not_belong_together(library, tmp_path):
    parts = {}
    for k in (1, 2):
        parts[k] = tmp_path / f"p{k}.csv"
        assert predict(library, parts[k], "--shard", f"{k}/2") == 0
    other = tmp_path / "other.csv"
    assert predict(library, other, "--timeline", "--shard", "2/2") == 0
    with pytest.raises(ConfigError, match="missing \\[2\\]"):
        merge_predictions([parts[1]], tmp_path / "m.csv")
    with pytest.raises(ConfigError, match="repeated \\[1\\]"):
        merge_predictions([parts[1], parts[1], parts[2]], tmp_path / "m.csv")
    with pytest.raises(ConfigError, match="another settings"):
        merge_predictions([parts[1], other], tmp_path / "m.csv")
    lone = tmp_path / "lone.csv"
    lone.write_text(parts[1].read_text())
    with pytest.raises(ConfigError, match="no lone.csv.shard.json"):
        merge_predictions([lone, parts[2]], tmp_path / "m.csv")
    assert main(["merge", str(tmp_path / "m.csv"), str(parts[1])]) == 2
