"""``splits.json``: a split is drawn once, before anything is trained, and saved; later runs reuse it
and refuse to continue when the settings or the song set changed (never re-drawn silently).

Apart from the drawing (:mod:`moodscape.data.splits`) because most stages only read the file.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from ..config import SplitConfig
from ..errors import DataError
from ..files import write_json
from ..version import __version__
from .splits import SPLIT_NAMES, Splits, create_splits, hash_song_ids, labelled_songs, split_settings

__all__ = ["load_or_create_splits", "load_splits", "save_splits"]

logger = logging.getLogger("moodscape.data.splits")  # the CLI prints this name with each line: the splits', as before

FORMAT_VERSION = 1


def save_splits(splits: Splits, path: str | Path) -> Path:
    """Write ``splits`` as JSON (song ids per split, folds, settings, song hash, creation info)."""
    path = Path(path)
    payload = {
        "format": FORMAT_VERSION,
        "settings": dict(splits.settings),
        "songs_hash": splits.songs_hash,
        "train": list(splits.train),
        "val": list(splits.val),
        "test": list(splits.test),
        "folds": [list(f) for f in splits.folds],
        "excluded": list(splits.excluded),
        "created": {
            "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "moodscape_version": __version__,
            "n_songs": len(splits.song_ids),
            "n_excluded": len(splits.excluded),
            "sizes": {name: len(getattr(splits, name)) for name in SPLIT_NAMES},
        },
    }
    write_json(path, payload, indent=1)
    return path


def load_splits(path: str | Path) -> Splits:
    """Read a ``splits.json`` written by :func:`save_splits`, checking it is whole and consistent.

    Raises:
        DataError: missing, unreadable, from a newer format, or edited into an inconsistent state.
    """
    path = Path(path)
    fix = "delete it to draw a new split"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"splits file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read splits ({exc}); {fix}") from exc
    if not isinstance(data, dict):
        raise DataError(f"{path}: not a splits file (top level is not an object); {fix}")
    missing = [k for k in ("format", "settings", "songs_hash", *SPLIT_NAMES) if k not in data]
    if missing:
        raise DataError(f"{path}: not a splits file (missing {missing}); {fix}")
    if data["format"] != FORMAT_VERSION:
        raise DataError(
            f"{path}: splits format {data['format']} is not the supported {FORMAT_VERSION}; {fix} "
            "or use the moodscape version that wrote it"
        )
    splits = Splits(
        train=tuple(data["train"]),
        val=tuple(data["val"]),
        test=tuple(data["test"]),
        folds=tuple(tuple(f) for f in data.get("folds", [])),
        excluded=tuple(data.get("excluded", [])),
        settings=dict(data["settings"]),
        songs_hash=data["songs_hash"],
    )
    all_ids = splits.train + splits.val + splits.test
    problems = []
    if len(set(all_ids)) != len(all_ids):
        problems.append("a song appears in more than one split")
    if hash_song_ids(all_ids) != splits.songs_hash:
        problems.append("songs_hash does not match the listed songs")
    fold_ids = [sid for f in splits.folds for sid in f]
    pool = set(splits.train + splits.val)
    if splits.folds and (len(fold_ids) != len(set(fold_ids)) or set(fold_ids) != pool):
        problems.append("folds do not partition train+val")
    if problems:
        raise DataError(f"{path}: inconsistent splits ({'; '.join(problems)}); {fix}")
    return splits


def load_or_create_splits(
    path: str | Path,
    song_ids: Sequence[str],
    labels,
    config: SplitConfig,
    *,
    threshold: float = 0.0,
    force: bool = False,
) -> Splits:
    """Reuse ``path`` when it matches these settings and songs; draw and save it when absent.

    Args:
        path: the ``splits.json`` to read or write.
        song_ids, labels, config, threshold: as :func:`create_splits`.
        force: draw a new split and overwrite ``path`` even when one exists.

    Returns:
        the splits; ``excluded`` lists the unlabelled songs of this call.

    Raises:
        DataError: ``path`` exists but was drawn with other settings or for another set of labelled
            songs (the message names the difference and the fix), or cannot be read.
    """
    path = Path(path)
    if path.exists() and not force:
        stored = load_splits(path)
        ids, _, excluded = labelled_songs(song_ids, labels)
        wanted = split_settings(config, threshold)
        diffs = {
            k: (stored.settings.get(k), wanted.get(k))
            for k in sorted(set(stored.settings) | set(wanted))
            if stored.settings.get(k) != wanted.get(k)
        }
        fix = (
            f"delete {path} to draw a new split (models trained on the old one are then not comparable), "
            "pass force=True, or use the stored settings"
        )
        if diffs:
            listed = ", ".join(f"{k}: stored {a!r}, requested {b!r}" for k, (a, b) in diffs.items())
            raise DataError(f"{path} was drawn with different split settings ({listed}); {fix}")
        if hash_song_ids(ids) != stored.songs_hash:
            old, new = set(stored.song_ids), set(ids)
            added, removed = sorted(new - old), sorted(old - new)
            raise DataError(
                f"{path} was drawn for a different set of labelled songs: {len(added)} added "
                f"{added[:5]}, {len(removed)} removed {removed[:5]}; {fix}"
            )
        logger.info("reusing splits from %s", path)
        return dataclasses.replace(stored, excluded=excluded)
    splits = create_splits(song_ids, labels, config, threshold=threshold)
    save_splits(splits, path)
    logger.info(
        "%s splits %s: train %d, val %d, test %d, folds %d, excluded %d",
        "re-drew" if force else "drew", path, len(splits.train), len(splits.val), len(splits.test),
        len(splits.folds), len(splits.excluded),
    )
    return splits
