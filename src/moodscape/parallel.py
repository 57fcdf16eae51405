"""Worker processes that never wait forever on one that died.

``multiprocessing.Pool`` replaces a worker that dies (a segmentation fault in a C extension, the kernel's
out-of-memory killer) and then waits forever for the tasks that worker held. ``ProcessPoolExecutor``
notices at once and fails every unfinished task (``BrokenProcessPool``), but cannot say which task killed
it. :func:`ordered_map` adds that: after a break, every task that was unfinished runs again alone, in a
process of its own, in input order; one that dies there too is a :class:`~moodscape.errors.WorkerCrashed` naming
the stage, the item and the signal, and the map stops. Every item before it has been yielded by then, so the
caller keeps all the work that precedes the bad item, however the pool's timing fell. When each of them
works alone, their results are kept and the map goes on with a fresh pool.
"""

from __future__ import annotations

import faulthandler
import logging
import multiprocessing as mp
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from multiprocessing.connection import wait
from typing import Any, TypeVar

from .errors import WorkerCrashed
from .faults import crash_point

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# Tasks handed to the pool ahead of the one the caller waits for, per worker: enough that a slow item
# does not leave the other workers idle, few enough that the tasks re-run after a crash stay few.
AHEAD_PER_WORKER = 2
# Pool breaks whose tasks all worked alone before the map gives up: a crash that only happens when
# items run side by side is not one bad input, and retrying it forever would hide it.
MAX_BREAKS = 3


def start_method(preferred: str = "fork") -> str:
    """``preferred`` where this platform has it, else spawn (macOS and Windows have no safe fork)."""
    return preferred if preferred in mp.get_all_start_methods() else "spawn"


def ordered_map(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    stage: str,
    labels: Sequence[str] | None = None,
    files: Sequence[str] | None = None,
    workers: int,
    method: str = "fork",
    initializer: Callable[..., Any] | None = None,
    initargs: tuple = (),
    hint: str = "",
) -> Iterator[R]:
    """``fn(item)`` for every item, computed in ``workers`` processes, yielded in input order.

    ``stage`` and ``labels`` (one per item, e.g. ``"song 7"``) name the work in errors and in the crash
    hook (``MOODSCAPE_CRASH_AT="<stage> <label>"``); ``files``, where items come from files, name the
    file in a crash error, and ``hint`` ends it with what the user can do. ``fn``, the items and the
    results must pickle; ``fn`` should turn bad input into a result, since an exception it raises ends
    the map. Raises :class:`~moodscape.errors.WorkerCrashed` as described in the module docstring.
    """
    labels = list(labels) if labels is not None else [f"item {i + 1}" for i in range(len(items))]
    if len(labels) != len(items) or (files is not None and len(files) != len(items)):
        raise ValueError(f"{len(items)} items need as many labels and files")
    names = [f"{label} ({file})" for label, file in zip(labels, files)] if files is not None else labels
    context = mp.get_context(start_method(method))
    task = partial(_labelled_call, fn, stage)
    jobs = list(zip(labels, items))
    futures: dict[int, Future] = {}
    cursor = 0  # next item to yield
    breaks = 0
    while cursor < len(jobs):
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                   initargs=(initializer, initargs))  # fmt: skip
        try:
            for result in _drain(pool, task, jobs, futures, cursor, workers * AHEAD_PER_WORKER):
                cursor += 1
                yield result
        except BrokenProcessPool:
            breaks += 1
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if cursor < len(jobs):
            # Tasks still queued were failed with the one that died: all of them run alone, so that the
            # one that kills its process is found (at most AHEAD_PER_WORKER * workers of them).
            unfinished = sorted(i for i, f in futures.items() if not _succeeded(f))
            log.warning("%s: a worker process died while %s were unfinished; running them again one per process",
                        stage, ", ".join(labels[i] for i in unfinished))  # fmt: skip
            for index, result in _run_alone(task, jobs, names, unfinished, context, initializer, initargs, stage, hint):
                futures[index] = _done(result)
                while cursor in futures and _succeeded(futures[cursor]):  # handed over now, before a later crash
                    yield futures.pop(cursor).result()
                    cursor += 1
            if breaks >= MAX_BREAKS:
                raise WorkerCrashed(
                    f"{stage}: worker processes died {breaks} times while items ran side by side, though each "
                    f"worked alone; run with one worker (--workers 1) and report the problem. {hint}".strip()
                )


def _drain(pool, task, jobs, futures: dict[int, Future], cursor: int, ahead: int) -> Iterator:
    """Results from ``cursor`` on, keeping up to ``ahead`` tasks in the pool; raises BrokenProcessPool."""
    submitted = max(futures, default=cursor - 1) + 1
    while cursor < len(jobs):
        while submitted < len(jobs) and submitted - cursor < ahead:
            futures[submitted] = pool.submit(task, jobs[submitted])
            submitted += 1
        result = futures[cursor].result()
        del futures[cursor]
        cursor += 1
        yield result


def _run_alone(task, jobs, names, indices, context, initializer, initargs, stage, hint) -> Iterator[tuple[int, Any]]:
    """Each job of ``indices`` in a fresh process of its own, one at a time; a death is a WorkerCrashed."""
    for index in indices:
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=_alone, args=(sender, task, jobs[index], initializer, initargs), daemon=True)
        process.start()
        sender.close()
        outcome = _receive(process, receiver)
        process.join()
        if outcome is None:
            raise WorkerCrashed(
                f"{stage}: the worker process for {names[index]} died ({_how(process.exitcode)}), again when it "
                f"ran alone. {hint}".strip()
            )
        ok, value = outcome
        if not ok:
            raise value
        yield index, value


def _receive(process, receiver) -> tuple[bool, Any] | None:
    """What the process sent, or None when it died first."""
    try:
        wait([receiver, process.sentinel])
        return receiver.recv() if receiver.poll() else None
    except (EOFError, OSError):
        return None
    finally:
        receiver.close()


def _how(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit status {exitcode}"


def _succeeded(future: Future) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None


def _done(result) -> Future:
    future: Future = Future()
    future.set_result(result)
    return future


def _start_worker(initializer, initargs) -> None:
    """A segmentation fault in a worker prints the Python stack it happened in, for the bug report."""
    try:
        faulthandler.enable(file=sys.__stderr__)
    except (AttributeError, OSError, ValueError):  # no file descriptor behind stderr: go without the stack
        pass
    if initializer is not None:
        initializer(*initargs)


def _labelled_call(fn, stage: str, job: tuple[str, Any]):
    label, item = job
    crash_point(f"{stage} {label}")
    return fn(item)


def _alone(sender, task, job, initializer, initargs) -> None:
    try:
        _start_worker(initializer, initargs)
        outcome = (True, task(job))
    except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
        outcome = (False, exc)
    sender.send(outcome)
    sender.close()

