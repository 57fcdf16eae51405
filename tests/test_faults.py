"""The crash hook: a process dies at the named step only, with status 137 or by the signal asked for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from moodscape.faults import CRASH_ENV, CRASH_EXIT_CODE, CRASH_SIGNAL_ENV

CODE = "from moodscape.faults import crash_point as at; at('epoch 1 saved'); at('epoch 2 best'); print('on')"


def _run(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CODE], env={**os.environ, **env}, capture_output=True, text=True)


def test_the_process_dies_like_a_killed_one_only_at_the_named_step():
    died = _run(**{CRASH_ENV: "epoch 2 best"})
    assert died.returncode == CRASH_EXIT_CODE and "on" not in died.stdout
    lived = _run(**{CRASH_ENV: "epoch 3 best"})
    assert lived.returncode == 0 and "on" in lived.stdout


def test_a_named_signal_kills_the_process_by_that_signal():
    for name in ("SIGSEGV", "SIGKILL"):
        died = _run(**{CRASH_ENV: "epoch 1 saved", CRASH_SIGNAL_ENV: name})
        assert died.returncode == -signal.Signals[name] and "on" not in died.stdout
