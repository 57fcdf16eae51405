"""Files written whole or not at all. Every file moodscape writes for another process or a later run to
read (stores, caches, checkpoints, tables, reports, markers) goes through :func:`atomic_path`: the bytes
go to a temporary file in the same folder, are flushed to disk, and only then take the final name, so a
reader sees the old file or the new one, never half of one, even after a crash or a kill.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "write_json", "write_text"]


@contextmanager
def atomic_path(path: str | Path, *, keep_suffix: bool = True) -> Iterator[Path]:
    """A temporary path beside ``path`` for the caller to write; on success it is synced to disk and renamed
    onto ``path``, on an error removed. The temporary name is hidden and ends with ``path``'s suffix, because
    numpy's ``save`` and ``savez`` append their own otherwise; ``keep_suffix=False`` ends it in ``.tmp`` so
    that a leftover of a killed process is never taken for a finished file (audio files that a folder scan
    would pick up)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ending = path.suffix if keep_suffix else ""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{ending}")
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    return Path(path)


def write_json(path: str | Path, payload: Any, *, indent: int | None = 2, **dumps: Any) -> Path:
    """Write ``payload`` as JSON with a final newline to ``path`` atomically (``dumps``: json.dumps options)."""
    return write_text(path, json.dumps(payload, indent=indent, **dumps) + "\n")
