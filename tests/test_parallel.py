"""Worker pools that notice a dead worker: the item that kills its process is named with the signal, an
item that worked alone is kept, and nothing waits forever. Each test has a timeout: on a pool that waits
for a dead worker's tasks (multiprocessing.Pool) it would hang."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from moodscape.audio.descriptors import DESCRIPTOR_FILE
from moodscape.errors import WorkerCrashed
from moodscape.faults import CRASH_ENV, CRASH_SIGNAL_ENV
from moodscape.parallel import MAX_BREAKS, ordered_map

from .conftest import moodscape

pytestmark = pytest.mark.timeout(60)


def square(x: int) -> int:
    time.sleep(0.01)
    return x * x


def die_on(job: tuple[int, str]) -> int:
    """Dies with SIGSEGV on 5; with a marker path, only while the marker file does not exist yet."""
    x, marker = job
    if x == 5 and not (marker and Path(marker).exists()):
        if marker:
            Path(marker).touch()
        os.kill(os.getpid(), signal.SIGSEGV)
    return x * x


def die_beside_others(job: tuple[int, str]) -> int:
    """Dies whenever another live process runs a task at the same moment (a file per task), never alone."""
    x, folder = job
    mine = Path(folder) / f"{os.getpid()}-{x}"
    mine.touch()
    time.sleep(0.2)
    others = [p for p in Path(folder).iterdir() if p != mine and _alive(int(p.name.split("-")[0]))]
    mine.unlink()
    if others:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("workers", [1, 3])
def test_results_come_in_input_order(workers):
    items = list(range(20))
    assert list(ordered_map(square, items, stage="squares", workers=workers)) == [x * x for x in items]


def test_the_item_that_kills_its_worker_is_named_with_the_signal():
    jobs = [(x, "") for x in range(12)]
    got = []
    start = time.monotonic()
    with pytest.raises(WorkerCrashed) as caught:
        for result in ordered_map(die_on, jobs, stage="squares", labels=[f"song {x}" for x, _ in jobs], workers=2,
                                  hint="Remove the file."):  # fmt: skip
            got.append(result)
    message = str(caught.value)
    assert "squares" in message and "song 5" in message and "SIGSEGV" in message
    assert message.endswith("Remove the file.")
    assert got == [x * x for x in range(5)]  # everything before the crash reached the caller
    assert time.monotonic() - start < 20


def slow_first_then_die(x: int) -> int:
    """Item 0 outlasts the others, so item 2 kills its worker while item 0 is still unfinished."""
    if x == 0:
        time.sleep(1.0)
    if x == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


def test_items_unfinished_when_a_later_one_kills_the_pool_still_reach_the_caller():
    got = []
    with pytest.raises(WorkerCrashed, match="item 3 died"):
        for result in ordered_map(slow_first_then_die, list(range(8)), stage="slow", workers=2):
            got.append(result)
    assert got == [0, 1]  # item 0 ran again alone; it and item 1 precede the bad item, so the caller has them


def test_an_item_that_works_alone_is_kept_and_the_map_goes_on(tmp_path):
    jobs = [(x, str(tmp_path / "crashed-once")) for x in range(12)]
    assert list(ordered_map(die_on, jobs, stage="squares", workers=2)) == [x * x for x in range(12)]
    assert (tmp_path / "crashed-once").exists()


def test_crashes_only_side_by_side_end_after_a_few_pools(tmp_path):
    jobs = [(x, str(tmp_path)) for x in range(40)]
    with pytest.raises(WorkerCrashed, match=f"died {MAX_BREAKS} times while items ran side by side"):
        list(ordered_map(die_beside_others, jobs, stage="pairs", workers=2))


@pytest.mark.parametrize("name", ["SIGSEGV", "SIGKILL"])
def test_the_crash_hook_kills_a_worker_by_its_stage_and_label(monkeypatch, name):
    monkeypatch.setenv(CRASH_ENV, "squares song 3")
    monkeypatch.setenv(CRASH_SIGNAL_ENV, name)
    with pytest.raises(WorkerCrashed, match=f"song 3 died \\(killed by {name}\\)"):
        list(ordered_map(square, list(range(6)), stage="squares", labels=[f"song {x}" for x in range(6)], workers=2))


def test_an_exception_in_the_function_reaches_the_caller():
    with pytest.raises(ValueError, match="math domain error"):
        list(ordered_map(math.sqrt, [1, 4, -1, 9], stage="roots", workers=2))


def test_an_exception_in_the_initializer_reaches_the_caller():
    with pytest.raises(ValueError, match="math domain error"):
        list(ordered_map(square, [1, 2], stage="squares", workers=2, initializer=math.sqrt, initargs=(-1,)))


# --- every pool of moodscape, driven through the command line -----------------------------------------------

BOUND_SECONDS = 60  # the crash must be an error well within this; on a pool that waits, the test times out


def _crashing(step: str, name: str) -> dict[str, str]:
    return {**os.environ, CRASH_ENV: step, CRASH_SIGNAL_ENV: name}


def _run(args, env=None, timeout=2 * BOUND_SECONDS) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    done = subprocess.run(moodscape(*args), env=env, capture_output=True, text=True, timeout=timeout)
    return done, time.monotonic() - start


def _store_songs(store: Path) -> list[str]:
    with (store / "index.csv").open(newline="") as handle:
        return [row["song_id"] for row in csv.DictReader(handle)]


@pytest.mark.slow
@pytest.mark.timeout(4 * BOUND_SECONDS)
def test_features_a_dead_worker_is_an_error_naming_the_song_and_the_rest_resumes(small_store, tmp_path):
    data, _, songs = small_store
    victim = songs[6]
    args = ["features", str(data), "--out", str(tmp_path / "features"), "--workers", "2"]
    crashed, seconds = _run(args, env=_crashing(f"features song {victim}", "SIGSEGV"))
    assert crashed.returncode != 0 and seconds < BOUND_SECONDS
    assert f"features: the worker process for song {victim} (" in crashed.stderr and f"{victim}.mp3)" in crashed.stderr
    assert "killed by SIGSEGV" in crashed.stderr and "Traceback" not in crashed.stderr.split("Fatal Python error")[0]
    resumed, _ = _run(args)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming" in resumed.stderr  # the songs finished before the crash were kept
    assert sorted(_store_songs(Path(resumed.stdout.strip()))) == sorted(str(s) for s in songs)


@pytest.mark.slow
@pytest.mark.timeout(4 * BOUND_SECONDS)
def test_descriptors_a_dead_worker_is_an_error_and_finished_songs_stay_cached(small_store, tmp_path):
    _, built, _ = small_store
    store = Path(shutil.copytree(built, tmp_path / "store"))
    train = json.loads((store / "splits.json").read_text())["train"]
    victim = train[3]
    args = ["baseline", "--kind", "descriptors", str(store), "--out", str(tmp_path / "floor")]
    crashed, seconds = _run(args, env=_crashing(f"descriptors song {victim}", "SIGKILL"))
    assert crashed.returncode != 0 and seconds < BOUND_SECONDS
    assert f"descriptors: the worker process for song {victim} (" in crashed.stderr
    assert "killed by SIGKILL" in crashed.stderr and "Traceback" not in crashed.stderr
    with np.load(store / DESCRIPTOR_FILE) as cached:
        kept = {str(i) for i in cached["ids"]}
    assert kept == {str(s) for s in train[:3]}  # every song before the bad one, however the pool's timing fell
    again, _ = _run(args)
    assert again.returncode == 0, again.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.timeout(4 * BOUND_SECONDS)
def test_demo_data_a_dead_worker_is_an_error(small_store, tmp_path):
    _, _, songs = small_store
    args = ["demo-data", str(tmp_path / "data"), "--songs", "12", "--seconds", "6", "--seed", "1", "--workers", "2"]
    crashed, seconds = _run(args, env=_crashing(f"demo-data song {songs[4]}", "SIGSEGV"))
    assert crashed.returncode != 0 and seconds < BOUND_SECONDS
    assert f"demo-data: the worker process for song {songs[4]} died (killed by SIGSEGV)" in crashed.stderr
    assert not list((tmp_path / "data").rglob("*.csv"))  # labels are written only once every clip is
