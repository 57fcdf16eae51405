"""Inference in a bounded pool: a fixed number of worker threads and a queue limit, so that a burst of
requests is answered at once (503 with Retry-After) instead of piling up memory and latency."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class Busy(Exception):
    """Every worker is busy and the queue is full."""


class InferencePool:
    """``workers`` threads run predictions; at most ``queue`` more jobs wait. A job that times out for
    its request keeps its slot until its thread finishes, so the count never under-reports the load."""

    def __init__(self, *, workers: int, queue: int) -> None:
        self.capacity = workers + queue
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="moodscape-predict")
        self._lock = threading.Lock()
        self._pending = 0

    @property
    def pending(self) -> int:
        """Jobs running or waiting."""
        return self._pending

    def _release(self, _future: object) -> None:
        with self._lock:
            self._pending -= 1

    async def run(self, job: Callable[[], T], *, timeout: float) -> T:
        """``job()`` on a worker; Busy when the pool is full, TimeoutError after ``timeout`` seconds."""
        with self._lock:
            if self._pending >= self.capacity:
                raise Busy
            self._pending += 1
        future = self._executor.submit(job)
        future.add_done_callback(self._release)
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout=timeout)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
