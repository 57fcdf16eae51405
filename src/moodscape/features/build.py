"""Building the feature store (layout in :mod:`moodscape.features.store`) and keeping it up to date.

Building streams each clip to disk as soon as it is computed (memory stays flat) and appends a
line to ``journal.csv`` only after the clip's bytes are flushed, so a killed build resumes where it
stopped: clips in the journal are never recomputed, and the result equals an uninterrupted build.

Building again brings the store up to date with the dataset: new songs and songs whose audio
changed are computed, songs that left the dataset are dropped (their bytes removed), and changed
labels are rewritten without touching the audio. A file counts as unchanged when its path, size and
modification time match; when only the time differs (a copy, a regenerated file) its content hash
decides.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import time
from dataclasses import replace
from pathlib import Path

from tqdm.auto import tqdm

from ..config import AudioConfig, Config, FeaturesConfig, save_config, settings_hash
from ..data.dataset import Dataset
from ..data.shards import shard_files
from ..errors import ConfigError
from ..version import __version__
from .extract import extract_logmels, prepare_frontend
from .store import (
    ERRORS_FILE,
    FEATURES_FILE,
    INDEX_COLUMNS,
    INDEX_FILE,
    JOURNAL_FILE,
    LABEL_FIELDS,
    SETTINGS_FILE,
    STORE_FILES,
    StoreEntry,
)
from .writer import StoreWriter, read_errors, write_rows

log = logging.getLogger("moodscape.features.store")  # the CLI prints this name with each line: the store's, as before

SYNC_SECONDS = 2.0


def audio_fingerprint(path: str | Path) -> tuple[str, int, int]:
    """(path, size in bytes, modification time in ns): the quick test that a song's audio is unchanged."""
    stat = os.stat(path)
    return (str(path), int(stat.st_size), int(stat.st_mtime_ns))


def content_hash(path: str | Path) -> str:
    """SHA-256 of a file's bytes (first 16 hex digits): the sure test, read only when the quick one fails."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def song_key(dataset: Dataset, record) -> str:
    """A song's shard key: its audio path relative to the dataset's folder (the same on every machine)."""
    path, root = Path(record.path), Path(dataset.root)
    root = root.parent if root.is_file() else root  # a CSV layout's root is its label file
    return str(path.relative_to(root)) if path.is_relative_to(root) else path.name


def store_name(dataset_name: str, audio: AudioConfig, features: FeaturesConfig) -> str:
    """Folder name for a dataset under given front-end settings."""
    return f"{dataset_name}-{settings_hash(audio, features)}"


def _read_journal(path: Path, data_bytes: int, n_mels: int) -> list[StoreEntry]:
    """Finished rows of a journal. A torn last line, or a row whose bytes never fully reached
    ``features.f16`` (killed mid-write), ends the list: that song is simply done again.
    """
    entries: list[StoreEntry] = []
    end = 0
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            try:
                entry = StoreEntry.from_row(row)
            except (KeyError, TypeError, ValueError):
                break
            if entry.status not in ("ok", "error") or (entry.status == "ok" and entry.offset != end):
                break
            stop = end + entry.frames * n_mels
            if stop * 2 > data_bytes:
                break
            end = stop
            entries.append(entry)
    return entries


def build_feature_store(
    dataset: Dataset,
    out_dir: str | Path,
    *,
    config: Config,
    workers: int | None = None,
    progress: bool = True,
    force: bool = False,
    shard: tuple[int, int] | None = None,
) -> Path:
    """Compute and store the log-mel of every song in ``dataset``; returns the store folder.

    Resumes an interrupted build, brings a finished store up to date with the dataset (see the
    module docstring), and returns at once when nothing changed. ``force`` recomputes every song.
    Files that cannot be used are listed in ``errors.csv`` and never stop the build. ``shard`` (K, N):
    only the songs of shard K, into ``<store>.shard-K-of-N`` (join the shards with
    :func:`moodscape.features.merge.merge_stores`).
    """
    audio, features = config.audio, config.features
    if shard is not None:
        dataset = replace(dataset, records=shard_files([(r, song_key(dataset, r)) for r in dataset.records], *shard))
        log.info("shard %d/%d: %d songs", *shard, len(dataset.records))
    try:
        prepare_frontend(audio, features)  # a front end that cannot be built fails before any folder exists
    except ValueError as exc:
        raise ConfigError(f"features/audio settings cannot make a log-mel front end: {exc}") from exc
    store_dir = Path(out_dir) / store_name(dataset.name, audio, features)
    if shard is not None:
        store_dir = store_dir.with_name(f"{store_dir.name}.shard-{shard[0]}-of-{shard[1]}")
    settings = {
        "dataset": dataset.name,
        "layout": dataset.layout,
        "root": str(dataset.root),
        "audio": audio.model_dump(mode="json"),
        "features": features.model_dump(mode="json"),
        "hash": settings_hash(audio, features),
        "dtype": "float16",
        "moodscape_version": __version__,
        **({"shard": list(shard)} if shard is not None else {}),
    }
    settings_path = store_dir / SETTINGS_FILE
    if force and store_dir.exists():
        log.info("--force: recomputing every song of %s", store_dir)
        for name in (*STORE_FILES, SETTINGS_FILE):
            (store_dir / name).unlink(missing_ok=True)
    fingerprints = {r.song_id: audio_fingerprint(r.path) for r in dataset.records}
    previous = json.loads(settings_path.read_text(encoding="utf-8")) if settings_path.exists() else {}
    done, changes = _reconcile(store_dir, dataset, fingerprints, features.n_mels)
    done_ids = {e.song_id for e in done}
    todo = [r for r in dataset.records if r.song_id not in done_ids]
    if previous.get("complete") and not todo and not any(changes.values()):
        log.info("%s is complete and up to date for these settings; nothing to do", store_dir)
        return store_dir
    store_files = StoreWriter(store_dir, features.n_mels)
    store_files.begin(settings)
    save_config(config, store_dir)
    if any(changes.values()):
        log.info("%s: %s", store_dir, ", ".join(f"{n} {what}" for what, n in changes.items() if n))

    journal_path = store_dir / JOURNAL_FILE
    data_path = store_dir / FEATURES_FILE
    offset = sum(e.frames for e in done if e.status == "ok") * features.n_mels
    with data_path.open("ab") as data:
        data.truncate(offset * 2)
    # Rewrite the journal clean, so that appending never continues a torn line.
    write_rows(journal_path, INDEX_COLUMNS, [e.row() for e in done])
    errors: dict[str, str] = read_errors(store_dir / ERRORS_FILE)
    if done and todo:
        log.info("resuming %s: %d songs done, %d to go", store_dir, len(done), len(todo))

    with data_path.open("ab") as data, journal_path.open("a", newline="") as journal:
        journal_rows = csv.writer(journal)
        synced = time.monotonic()
        bar = tqdm(total=len(todo), desc="features", unit="song", disable=not progress)
        logmels = extract_logmels([str(r.path) for r in todo], audio, features, workers,
                                  labels=[f"song {r.song_id}" for r in todo])  # fmt: skip
        for record, (logmel, error) in zip(todo, logmels):
            fingerprint = (*fingerprints[record.song_id], content_hash(record.path))
            if logmel is None:
                entry = _entry(record, offset=offset, frames=0, status="error", fingerprint=fingerprint)
                errors[record.song_id] = error
                log.warning("skipped %s", error)
            else:
                data.write(logmel.tobytes())
                data.flush()
                entry = _entry(record, offset=offset, frames=logmel.shape[1], status="ok", fingerprint=fingerprint)
                offset += logmel.size
            # The clip's bytes reach the OS before its journal line: a killed process loses neither.
            journal_rows.writerow(entry.row())
            journal.flush()
            if time.monotonic() - synced > SYNC_SECONDS:
                _sync(data, journal)
                synced = time.monotonic()
            done.append(entry)
            if logmel is None:
                store_files.write_errors(done, errors)
            bar.update(1)
        bar.close()
        _sync(data, journal)

    store_files.finish(done, errors)
    ok = sum(e.status == "ok" for e in done)
    log.info("feature store %s: %d songs, %d errors (see %s)", store_dir, ok, len(done) - ok, ERRORS_FILE)
    return store_dir


def _reconcile(
    store_dir: Path, dataset: Dataset, fingerprints: dict[str, tuple[str, int, int]], n_mels: int
) -> tuple[list[StoreEntry], dict[str, int]]:
    """The finished entries that still hold for ``dataset``, with today's labels, and what changed.

    Entries of songs that left the dataset, or whose audio changed, are dropped; when any of them had
    bytes in ``features.f16``, the kept clips are copied into a fresh file first (see :func:`_compact`).
    """
    records = {r.song_id: r for r in dataset.records}
    kept: list[StoreEntry] = []
    changes = {"songs removed": 0, "songs with changed audio": 0, "songs relabelled": 0, "files touched, same bytes": 0}
    dropped_bytes = False
    for entry in _resume_state(store_dir, n_mels):
        record = records.get(entry.song_id)
        current = fingerprints.get(entry.song_id)
        if record is not None and entry.fingerprint != current and _same_bytes(entry, current):
            changes["files touched, same bytes"] += 1
            entry = replace(entry, audio_mtime_ns=current[2])
        if record is None or entry.fingerprint != current:
            changes["songs removed" if record is None else "songs with changed audio"] += 1
            dropped_bytes |= entry.status == "ok"
            continue
        labels = {name: getattr(record, name) for name in LABEL_FIELDS}
        if any(getattr(entry, name) != value for name, value in labels.items()):
            changes["songs relabelled"] += 1
            entry = replace(entry, **labels)
        kept.append(entry)
    if dropped_bytes:
        kept = _compact(store_dir, kept, n_mels)
    return kept, changes


def _same_bytes(entry: StoreEntry, current: tuple[str, int, int]) -> bool:
    """Same path and size, another modification time, and the same content hash."""
    return bool(entry.audio_sha256) and entry.path == current[0] and entry.audio_size == current[1] and (
        content_hash(current[0]) == entry.audio_sha256)


def _compact(store_dir: Path, kept: list[StoreEntry], n_mels: int) -> list[StoreEntry]:
    """Copy the kept clips into a fresh ``features.f16``; returns the entries with their new offsets.

    The journal and index go first (their offsets would not match the new file), so a build killed here
    starts again from nothing: slower, never wrong.
    """
    for name in (JOURNAL_FILE, INDEX_FILE):
        (store_dir / name).unlink(missing_ok=True)
    return StoreWriter(store_dir, n_mels).copy_clips((store_dir / FEATURES_FILE, entry) for entry in kept)


def _resume_state(store_dir: Path, n_mels: int) -> list[StoreEntry]:
    """Entries already finished: the journal of a killed build, else the index of a finished one
    (a dataset that grew is appended to its finished store).
    """
    data_path = store_dir / FEATURES_FILE
    data_bytes = data_path.stat().st_size if data_path.exists() else 0
    for name in (JOURNAL_FILE, INDEX_FILE):
        if (store_dir / name).exists():
            return _read_journal(store_dir / name, data_bytes, n_mels)
    return []


def _entry(record, *, offset: int, frames: int, status: str, fingerprint: tuple[str, int, int, str]) -> StoreEntry:
    return StoreEntry(
        song_id=record.song_id,
        path=str(record.path),
        valence=record.valence,
        arousal=record.arousal,
        valence_std=record.valence_std,
        arousal_std=record.arousal_std,
        offset=offset,
        frames=frames,
        status=status,
        audio_size=fingerprint[1],
        audio_mtime_ns=fingerprint[2],
        audio_sha256=fingerprint[3],
    )


def _sync(data, journal) -> None:
    """Flush to the disk itself (data first), so that a power cut also loses at most a few seconds."""
    os.fsync(data.fileno())
    os.fsync(journal.fileno())
