"""The one way a feature store's files are written: by a build (and its compaction), by a merge of shard
stores, and for generated windows.

The order keeps a store safe to read at every moment: ``settings.json`` says "not complete" before any
other file changes; the clip bytes and the tables follow, each swapped in whole; ``settings.json`` with
the store's revisions is written last, so a reader that finds ``complete`` finds every file that goes
with it. The file layout is described in :mod:`moodscape.features.store`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..files import atomic_path, write_json
from .store import (
    ERROR_COLUMNS,
    ERRORS_FILE,
    FEATURES_FILE,
    INDEX_COLUMNS,
    INDEX_FILE,
    JOURNAL_FILE,
    SETTINGS_FILE,
    StoreEntry,
    labels_revision,
    store_revision,
)

_CHUNK_BYTES = 1 << 24  # copying clips between data files reads at most this much at a time


def write_rows(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A CSV table with its header, swapped in whole."""
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def read_errors(path: Path) -> dict[str, str]:
    """song_id -> reason, from a store's ``errors.csv`` (empty when there is none)."""
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["song_id"]: row["error"] for row in csv.DictReader(handle)}


class StoreWriter:
    """Writes the files of the store in ``directory`` (see the module docstring for the order)."""

    def __init__(self, directory: str | Path, n_mels: int) -> None:
        self.directory, self.n_mels = Path(directory), int(n_mels)
        self.settings: dict[str, Any] = {}

    @property
    def data_path(self) -> Path:
        return self.directory / FEATURES_FILE

    def begin(self, settings: dict[str, Any]) -> None:
        """Create the folder and mark the store unfinished with these settings."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.settings = {k: v for k, v in settings.items() if k not in ("complete", "revision", "labels_revision")}
        write_json(self.directory / SETTINGS_FILE, {**self.settings, "complete": False}, sort_keys=True)

    def copy_clips(self, clips: Iterable[tuple[Path, StoreEntry]]) -> list[StoreEntry]:
        """A fresh data file holding each clip's bytes, read from the data file named beside its entry (this
        store's own file too, when compacting it), in the order given; returns the entries at their new
        offsets. The old data file stays in place until the new one is complete."""
        moved: list[StoreEntry] = []
        offset, sources = 0, {}
        try:
            with atomic_path(self.data_path) as tmp, tmp.open("wb") as target:
                for source_path, entry in clips:
                    if entry.status == "ok":
                        if source_path not in sources:
                            sources[source_path] = source_path.open("rb")
                        source = sources[source_path]
                        source.seek(entry.offset * 2)
                        remaining = entry.frames * self.n_mels * 2
                        while remaining:
                            chunk = source.read(min(remaining, _CHUNK_BYTES))
                            if not chunk:
                                raise OSError(f"{source_path} ends inside song {entry.song_id}")
                            target.write(chunk)
                            remaining -= len(chunk)
                    moved.append(replace(entry, offset=offset))
                    offset += entry.frames * self.n_mels if entry.status == "ok" else 0
        finally:
            for handle in sources.values():
                handle.close()
        return moved

    def write_errors(self, entries: Sequence[StoreEntry], errors: dict[str, str]) -> None:
        """``errors.csv``: every entry that is not ``ok``, with its reason."""
        rows = [[e.song_id, e.path, errors.get(e.song_id, "")] for e in entries if e.status != "ok"]
        write_rows(self.directory / ERRORS_FILE, ERROR_COLUMNS, rows)

    def finish(self, entries: Sequence[StoreEntry], errors: dict[str, str] | None = None) -> None:
        """Errors, index, then the settings that say the store is complete (with its revisions); the journal
        of an appending build is removed once the index holds its rows."""
        self.write_errors(entries, errors or {})
        write_rows(self.directory / INDEX_FILE, INDEX_COLUMNS, (e.row() for e in entries))
        (self.directory / JOURNAL_FILE).unlink(missing_ok=True)
        revisions = {"revision": store_revision(entries), "labels_revision": labels_revision(entries)}
        write_json(self.directory / SETTINGS_FILE, {**self.settings, "complete": True, **revisions}, sort_keys=True)
