"""The on-disk feature store: every whole clip's log-mel in one float16 file, and reading it.

Layout of a store folder (named ``<dataset>-<settings hash>``):

- ``features.f16``: raw float16, each clip a C-ordered (n_mels, frames) block, one after another;
- ``index.csv``: song_id, path, labels, offset (in values), frames, status, and the audio file's
  size, modification time and content hash, one row per song;
- ``errors.csv``: song_id, path, error, for every file that could not be used;
- ``settings.json``: dataset, audio and feature settings, their hash, ``complete``, the
  ``revision`` of the features (a hash of every song's id, audio content and status, which
  statistics fitted on the store record) and ``labels_revision`` (a hash of the labels);
- ``config.yaml``: the resolved configuration that built it.

Building is in :mod:`moodscape.features.build` (resuming, updating) and
:mod:`moodscape.features.extract` (the log-mel of each clip, in worker processes); everything that
only reads a store needs this module alone.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import AudioConfig, FeaturesConfig
from ..errors import DataError

FEATURES_FILE = "features.f16"
INDEX_FILE = "index.csv"
ERRORS_FILE = "errors.csv"
JOURNAL_FILE = "journal.csv"
SETTINGS_FILE = "settings.json"
INDEX_COLUMNS = ("song_id", "path", "valence", "arousal", "valence_std", "arousal_std", "offset", "frames", "status",
                 "audio_size", "audio_mtime_ns", "audio_sha256")
LABEL_FIELDS = ("valence", "arousal", "valence_std", "arousal_std")
STORE_FILES = (FEATURES_FILE, INDEX_FILE, ERRORS_FILE, JOURNAL_FILE)
ERROR_COLUMNS = ("song_id", "path", "error")


def _fmt(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _parse(value: str) -> float | None:
    return float(value) if value != "" else None


@dataclass(frozen=True)
class StoreEntry:
    """One row of ``index.csv``: labels on [-1, 1]; ``offset`` counts float16 values."""

    song_id: str
    path: str
    valence: float | None
    arousal: float | None
    valence_std: float | None
    arousal_std: float | None
    offset: int
    frames: int
    status: str
    audio_size: int | None = None
    audio_mtime_ns: int | None = None
    audio_sha256: str = ""

    def row(self) -> list[str]:
        return [
            self.song_id, self.path, _fmt(self.valence), _fmt(self.arousal),
            _fmt(self.valence_std), _fmt(self.arousal_std), str(self.offset), str(self.frames), self.status,
            _int(self.audio_size), _int(self.audio_mtime_ns), self.audio_sha256,
        ]  # fmt: skip

    @classmethod
    def from_row(cls, row: dict[str, str]) -> StoreEntry:
        return cls(
            song_id=row["song_id"], path=row["path"], valence=_parse(row["valence"]), arousal=_parse(row["arousal"]),
            valence_std=_parse(row["valence_std"]), arousal_std=_parse(row["arousal_std"]),
            offset=int(row["offset"]), frames=int(row["frames"]), status=row["status"],
            audio_size=_parse_int(row.get("audio_size") or ""), audio_mtime_ns=_parse_int(row.get("audio_mtime_ns") or ""),
            audio_sha256=row.get("audio_sha256") or "",
        )  # fmt: skip

    @property
    def fingerprint(self) -> tuple[str, int | None, int | None]:
        return (self.path, self.audio_size, self.audio_mtime_ns)


def _int(value: int | None) -> str:
    return "" if value is None else str(int(value))


def _parse_int(value: str) -> int | None:
    return int(value) if value != "" else None


def store_revision(entries: Sequence[StoreEntry]) -> str:
    """A short hash of what the features were computed from (ids, audio content, status), not the labels."""
    payload = json.dumps([[e.song_id, e.audio_sha256, e.status] for e in entries])
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def labels_revision(entries: Sequence[StoreEntry]) -> str:
    """A short hash of every song's labels."""
    payload = json.dumps([[e.song_id, *(_fmt(getattr(e, name)) for name in LABEL_FIELDS)] for e in entries])
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


class FeatureStore:
    """Read access to a built store. ``get`` reads one clip's (n_mels, frames) float16 array from disk.

    Reads, not a memory map: mapped pages count against the process for as long as the store is
    open (about 0.9 GB for DEAM once every clip has been touched), on top of the float32 copies the
    trainers keep; a read leaves them in the page cache only.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        settings_path = self.directory / SETTINGS_FILE
        index_path = self.directory / INDEX_FILE
        if not settings_path.exists() or not index_path.exists():
            raise DataError(
                f"{self.directory}: not a finished feature store (no {SETTINGS_FILE} or {INDEX_FILE}); "
                "build it with `moodscape features ROOT --out DIR`"
            )
        try:
            self.settings = json.loads(settings_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise DataError(f"{settings_path}: not readable JSON ({exc}); rebuild with `moodscape features --force`") from exc
        if not self.settings.get("complete"):
            raise DataError(
                f"{self.directory}: an unfinished feature build (settings.json says complete: false); run "
                "`moodscape features` again to finish it"
            )
        with index_path.open(newline="", encoding="utf-8") as handle:
            self.entries = tuple(StoreEntry.from_row(row) for row in csv.DictReader(handle))
        self.n_mels = int(self.settings["features"]["n_mels"])
        self._by_id = {e.song_id: e for e in self.entries if e.status == "ok"}
        self._data_path = self.directory / FEATURES_FILE

    @property
    def audio(self) -> AudioConfig:
        return AudioConfig.model_validate(self.settings["audio"])

    @property
    def features(self) -> FeaturesConfig:
        return FeaturesConfig.model_validate(self.settings["features"])

    @property
    def song_ids(self) -> list[str]:
        """Songs with usable features, in store order."""
        return list(self._by_id)

    def entry(self, song_id: str) -> StoreEntry:
        try:
            return self._by_id[song_id]
        except KeyError:
            raise DataError(f"song '{song_id}' has no features in {self.directory}") from None

    def get(self, song_id: str) -> np.ndarray:
        entry = self.entry(song_id)
        count = entry.frames * self.n_mels
        block = np.fromfile(self._data_path, dtype=np.float16, count=count, offset=entry.offset * 2)
        if block.size != count:
            raise DataError(
                f"{self._data_path}: song '{song_id}' is cut short ({block.size} of {count} values); the store is "
                "damaged, rebuild it with `moodscape features`"
            )
        return block.reshape(self.n_mels, entry.frames)

    def labels(self, song_ids: Sequence[str]) -> np.ndarray:
        """(N, 2) array of (valence, arousal) on [-1, 1]."""
        rows = [self.entry(s) for s in song_ids]
        missing = [e.song_id for e in rows if e.valence is None or e.arousal is None]
        if missing:
            raise DataError(f"{self.directory}: songs without labels: {', '.join(missing[:10])}")
        return np.array([[e.valence, e.arousal] for e in rows], dtype=np.float64)

    def band_statistics(self, song_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per-band mean and std (n_mels,) over every frame of the given songs, in float64."""
        total = np.zeros(self.n_mels)
        squares = np.zeros(self.n_mels)
        count = 0
        for song_id in song_ids:
            block = self.get(song_id).astype(np.float64)
            total += block.sum(axis=1)
            squares += np.square(block).sum(axis=1)
            count += block.shape[1]
        if count == 0:
            raise DataError(f"{self.directory}: no frames to compute statistics from")
        mean = total / count
        std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
        return mean, np.maximum(std, 1e-6)
