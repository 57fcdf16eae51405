"""Sharded feature builds: `features --shard K/N` builds a part of the songs (resumable like any build), and
`moodscape merge` joins the shard stores into the bytes of one unsharded build."""

from __future__ import annotations

import json

import pytest

from moodscape.cli import main
from moodscape.data.demo import generate_demo_dataset
from moodscape.errors import ConfigError
from moodscape.features.merge import merge_stores
from moodscape.features.store import FEATURES_FILE, INDEX_COLUMNS, JOURNAL_FILE, SETTINGS_FILE

pytestmark = pytest.mark.slow

FILES = ("features.f16", "index.csv", "errors.csv", "settings.json", "config.yaml")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A small demo dataset (one unreadable clip among them), its unsharded store and three shard stores."""
    root = tmp_path_factory.mktemp("fshards")
    data = root / "data"
    generate_demo_dataset(data, songs=14, seconds=6.0, seed=3, progress=False)
    (next((data / "DEAM_audio" / "MEMD_audio").glob("*.mp3"))).write_bytes(b"not audio")
    out = root / "stores"
    args = ["-q", "features", str(data), "--out", str(out), "--workers", "1", "--set", "features.n_mels=32"]
    assert main(args) == 0
    whole = next(p for p in out.iterdir() if ".shard-" not in p.name)
    for k in (1, 2, 3):
        assert main([*args, "--shard", f"{k}/3"]) == 0
    shards = sorted(out.glob("*.shard-*-of-3"))
    return {"args": args, "whole": whole, "shards": shards, "root": root}


def test_shards_split_the_songs_and_merge_into_the_bytes_of_one_build(built):
    shards = built["shards"]
    assert len(shards) == 3
    songs = [set(line.split(",")[0] for line in (s / "index.csv").read_text().splitlines()[1:]) for s in shards]
    assert not (songs[0] & songs[1] or songs[0] & songs[2] or songs[1] & songs[2])
    assert sum(map(len, songs)) == 14 and all(songs)
    merged_root = built["root"] / "merged"
    assert main(["-q", "merge", str(merged_root), *map(str, reversed(shards))]) == 0
    merged = merged_root / built["whole"].name
    for name in FILES:
        assert (merged / name).read_bytes() == (built["whole"] / name).read_bytes(), name


def test_a_killed_shard_resumes_to_the_same_store(built, tmp_path):
    """The state a kill leaves (journal of the clips written so far, torn bytes after them, settings not
    complete); the build resumes from it like any build."""
    import shutil

    shard = built["shards"][0]
    killed = tmp_path / "stores" / shard.name
    shutil.copytree(shard, killed)
    rows = (killed / "index.csv").read_text().splitlines()
    ok = [r for r in rows[1:] if ",ok," in r]
    first = ok[0].split(",")
    frames, n_mels = int(first[INDEX_COLUMNS.index("frames")]), 32
    (killed / JOURNAL_FILE).write_text("\n".join([rows[0], ok[0], "torn,li"]) + "\n")
    (killed / "index.csv").unlink()
    with (killed / FEATURES_FILE).open("r+b") as data:
        data.truncate(frames * n_mels * 2 + 100)
    settings = json.loads((killed / SETTINGS_FILE).read_text())
    (killed / SETTINGS_FILE).write_text(json.dumps({**settings, "complete": False}))
    args = [a if a != str(built["root"] / "stores") else str(tmp_path / "stores") for a in built["args"]]
    assert main([*args, "--shard", "1/3"]) == 0
    for name in FILES[:4]:
        assert (killed / name).read_bytes() == (shard / name).read_bytes(), name


def test_merge_refuses_missing_repeated_and_foreign_shards(built, tmp_path):
    shards = built["shards"]
    with pytest.raises(ConfigError, match=r"missing \[3\]"):
        merge_stores(shards[:2], tmp_path / "m")
    with pytest.raises(ConfigError, match=r"repeated \[1\]"):
        merge_stores([shards[0], *shards], tmp_path / "m")
    with pytest.raises(ConfigError, match="not a shard"):
        merge_stores([built["whole"], *shards[1:]], tmp_path / "m")
    other = tmp_path / "other"
    assert main([*built["args"][:-2], "--set", "features.n_mels=24", "--out", str(other), "--shard", "3/3"]) == 0
    with pytest.raises(ConfigError, match="another features"):
        merge_stores([*shards[:2], next(other.iterdir())], tmp_path / "m")
