"""librosa's numba code is compiled once, under a lock, into moodscape's cache folder: processes started
together on an empty cache all work (numba issue 10128 broke the cache for good when two compiled at once)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from moodscape.audio import librosa_env
from moodscape.errors import MoodscapeError

from ..conftest import moodscape


def test_the_cache_folder_is_the_users_choice_else_moodscapes(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert librosa_env.numba_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert librosa_env.numba_cache_dir() == tmp_path / "xdg" / "moodscape" / "numba"


def test_a_lock_held_too_long_is_an_error_naming_it(monkeypatch, tmp_path):
    from filelock import FileLock

    monkeypatch.setattr(librosa_env, "LOCK_TIMEOUT_SECONDS", 0.5)
    with FileLock(tmp_path / librosa_env.LOCK_FILE):
        with pytest.raises(MoodscapeError, match="moodscape.lock, held by another process"):
            with librosa_env._cache_lock(tmp_path):
                pass


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_processes_on_an_empty_numba_cache_both_work_and_so_does_a_third(small_store, tmp_path):
    _, built, songs = small_store
    cache = tmp_path / "numba"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    stores = [Path(shutil.copytree(built, tmp_path / f"store{i}")) for i in range(3)]

    def floor(i: int) -> list[str]:
        return moodscape("baseline", "--kind", "descriptors", str(stores[i]), "--out", str(tmp_path / f"floor{i}"))

    together = [subprocess.Popen(floor(i), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for i in range(2)]  # fmt: skip
    outputs = [p.communicate(timeout=600) for p in together]
    for process, (_, err) in zip(together, outputs):
        assert process.returncode == 0, err[-3000:]
    compiled = ["once per machine and version" in err for _, err in outputs]
    assert sorted(compiled) == [False, True]  # one compiled, the other waited for it and read the cache
    assert "waiting for another process" in outputs[compiled.index(False)][1]

    third = subprocess.run(floor(2), env=env, capture_output=True, text=True, timeout=300)
    assert third.returncode == 0, third.stderr[-3000:]
    assert "compiling" not in third.stderr and "waiting" not in third.stderr
    listen = subprocess.run(moodscape("listen", str(tmp_path / "clip.wav"), "--store", str(stores[2]), "--song",
                                      str(songs[0]), "--seconds", "2", "--iterations", "2"),
                            env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert listen.returncode == 0, listen.stderr[-3000:]
    # Everything moodscape's librosa calls compile was compiled under the lock, before the marker.
    (marker,) = cache.glob("moodscape-ready-*.json")
    assert [p for p in cache.rglob("*.nb*") if p.stat().st_mtime_ns > marker.stat().st_mtime_ns] == []
