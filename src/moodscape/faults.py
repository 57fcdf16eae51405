"""Crash injection for tests: a process dies at a named step, as under ``kill -9`` or a segmentation fault.

Tests set ``MOODSCAPE_CRASH_AT`` to a step name and check that the work done before it is kept and
that whoever waits for the process notices. Steps are named where :func:`crash_point` is called:
``"epoch 3 best"`` (best/ written, last/ not yet), ``"epoch 3 saved"``, ``"epoch 3 batch 2"`` in the
trainers; ``"<stage> <item>"`` in the worker processes of :mod:`moodscape.parallel`, for example
``"descriptors song 7"``. ``MOODSCAPE_CRASH_RANK`` limits it to one process of a distributed run;
``MOODSCAPE_CRASH_SIGNAL`` (``SIGSEGV``, ``SIGKILL``, ...) makes the process die by that signal instead
of exiting with status 137.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "MOODSCAPE_CRASH_AT"
CRASH_RANK_ENV = "MOODSCAPE_CRASH_RANK"
CRASH_SIGNAL_ENV = "MOODSCAPE_CRASH_SIGNAL"
CRASH_EXIT_CODE = 137


def crash_point(step: str, rank: int = 0) -> None:
    """Die at once (no clean-up, no flush) when ``MOODSCAPE_CRASH_AT`` names ``step``."""
    if os.environ.get(CRASH_ENV) != step or os.environ.get(CRASH_RANK_ENV, str(rank)) != str(rank):
        return
    name = os.environ.get(CRASH_SIGNAL_ENV)
    if name:
        os.kill(os.getpid(), signal.Signals[name])  # faulthandler, where enabled, prints the stack first
    os._exit(CRASH_EXIT_CODE)
