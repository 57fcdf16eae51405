"""librosa, imported so that processes side by side cannot break numba's cache of its compiled code.

librosa compiles gufuncs with numba's ``@guvectorize(cache=True)`` when ``librosa.core``,
``librosa.util.utils`` and ``librosa.beat`` are imported, and caches the machine code on disk. When two
processes compile them at the same moment, the two cache files of one gufunc can come from different
processes and no longer match (numba issue 10128; numba 0.68.1, the newest release on 2026-12-04, still
has it): from then on every process that loads them dies with a segmentation fault. Measured on 2 cores
with a fresh cache, two processes making their first chroma and beat calls at once: 1 broken cache in 6
tries (5 in 6 on the machine of the report).

Keeping librosa's numba code out of moodscape's work cannot avoid it: the descriptors need ``librosa.beat``
and ``librosa.onset`` and Griffin-Lim needs ``librosa.core``, whose imports compile gufuncs whether or not
they are called. So moodscape points numba at a cache folder of its own (``NUMBA_CACHE_DIR``, unless the
user set one; inherited by worker processes) and fills it once under a file lock: the first process to
need librosa's numba code imports those modules holding the lock (about 20 s, once per machine and
version), others wait for it, then a marker file records that the cache is complete for these versions,
this CPU and librosa's source files. While the marker holds, processes import without the lock and only
read the cache (about 2.5 s). Plain ``@jit`` functions that librosa compiles on first call (Griffin-Lim's
overlap-add and window sum) are called once under the lock too: two processes adding different signatures
of one function at once can leave numba's index naming the other's code.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import platform
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from ..errors import MoodscapeError
from ..files import write_text

log = logging.getLogger(__name__)

# The librosa modules moodscape uses whose import compiles gufuncs (see the module docstring).
NUMBA_MODULES = ("librosa.core", "librosa.util.utils", "librosa.beat", "librosa.onset", "librosa.feature",
                 "librosa.decompose")  # fmt: skip
LOCK_FILE = "moodscape.lock"
# The first compilation takes about 20 s on 2 cores; a lock held ten minutes belongs to a stuck process.
LOCK_TIMEOUT_SECONDS = 600
_ready: list[bool] = []
_importing = threading.RLock()


def numba_cache_dir() -> Path:
    """``NUMBA_CACHE_DIR`` where the user set it, else ``$XDG_CACHE_HOME/moodscape/numba`` (~/.cache/...)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "moodscape" / "numba"


def load_librosa(*, compiled: bool = True) -> ModuleType:
    """The ``librosa`` module, its numba code compiled into moodscape's cache safely (module docstring).

    ``compiled=False`` is for ``librosa.filters`` alone, whose import compiles nothing: it only points
    numba at the cache folder, without the lock.
    """
    if _ready:  # this process, or the parent it was forked from
        return sys.modules["librosa"]
    with _importing:  # threads of one process (files predicted side by side) import it once, not half each
        return _load_librosa(compiled=compiled)


def _load_librosa(*, compiled: bool) -> ModuleType:
    if _ready:
        return sys.modules["librosa"]
    folder = _point_numba_at(numba_cache_dir())
    import librosa

    if not compiled:
        importlib.import_module("librosa.filters")
        return librosa
    marker = folder / f"moodscape-ready-{_fingerprint()}.json"
    if marker.exists():
        _import_numba_modules()
    else:
        with _cache_lock(folder):
            fresh = not marker.exists()
            if fresh:
                log.info("compiling librosa's numba code into %s (once per machine and version, about 20 s)", folder)
            _import_numba_modules()
            if fresh:
                _compile_on_first_call(librosa)
                write_text(marker, json.dumps({"modules": NUMBA_MODULES, "pid": os.getpid()}))
    _ready.append(True)
    return librosa


def _import_numba_modules() -> None:
    for name in NUMBA_MODULES:
        importlib.import_module(name)


def _compile_on_first_call(librosa: ModuleType) -> None:
    """Griffin-Lim (moodscape.audio.inverse) on both float widths: its @jit helpers compile on first call."""
    import numpy as np

    for dtype in (np.float32, np.float64):
        librosa.griffinlim(np.ones((129, 8), dtype=dtype), n_iter=1, n_fft=256, hop_length=64, random_state=0)


def _point_numba_at(folder: Path) -> Path:
    """Makes numba cache into ``folder`` (the environment, for child processes too; numba's config where
    numba is already imported) and returns it; an unwritable folder gives way to one in the temp folder."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fallback = Path(tempfile.gettempdir()) / f"moodscape-numba-{os.getuid() if hasattr(os, 'getuid') else 0}"
        log.warning("cannot create numba's cache folder %s (%s); using %s. Set NUMBA_CACHE_DIR to a writable "
                    "folder to choose another.", folder, exc, fallback)  # fmt: skip
        folder = fallback
        folder.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    config = sys.modules.get("numba.core.config")
    if config is not None and config.CACHE_DIR != str(folder):
        if any(name in sys.modules for name in NUMBA_MODULES):
            log.debug("librosa was imported before moodscape could point numba at %s", folder)
        config.CACHE_DIR = str(folder)
    return folder


def _fingerprint() -> str:
    """What numba's cache depends on: the versions, this CPU and the stamps of librosa's source files."""
    from importlib.metadata import version

    import librosa
    import llvmlite.binding

    package = Path(librosa.__file__).parent
    files = sorted(package.rglob("*.py"))
    stamps = [(str(p.relative_to(package)), p.stat().st_mtime_ns, p.stat().st_size) for p in files]
    facts = [sys.version, platform.machine(), llvmlite.binding.get_host_cpu_name(), stamps,
             *(version(name) for name in ("numba", "llvmlite", "librosa", "numpy"))]  # fmt: skip
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:16]


@contextmanager
def _cache_lock(folder: Path) -> Iterator[None]:
    """The folder's lock, held while numba compiles; waiting is logged, and a stuck holder is an error."""
    from filelock import FileLock, Timeout

    lock = FileLock(folder / LOCK_FILE)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("waiting for another process to finish compiling librosa's numba code in %s", folder)
        try:
            lock.acquire(timeout=LOCK_TIMEOUT_SECONDS)
        except Timeout:
            raise MoodscapeError(
                f"waited {LOCK_TIMEOUT_SECONDS} s for {lock.lock_file}, held by another process compiling librosa's "
                "numba code (that takes under a minute). Stop the stuck process, or set NUMBA_CACHE_DIR to another "
                "folder."
            ) from None
    try:
        yield
    finally:
        lock.release()
