"""Song-level train/val/test splits (and optional k folds), stratified by circumplex quadrant.

A split is drawn once, before anything is trained, and saved as ``splits.json``; later runs reuse
it and refuse to continue when the settings or the song set changed (never re-drawn silently).

Drawing (:func:`create_splits`), for a given seed and song set, does not depend on the order the
songs are passed in:

1. songs without both labels are excluded (logged, and listed in ``Splits.excluded``);
2. songs are grouped by quadrant, each group sorted then shuffled, the groups concatenated in a
   shuffled order;
3. the target size of each split is rounded from the fractions by largest remainder, with at least
   one song in every split whose fraction is above 0;
4. positions are dealt to splits by a quota sequence (each step goes to the split furthest below
   its proportional share), so every contiguous run of positions -- every quadrant group -- is
   split in proportion to within about one song, however small the group.

Folds use the same scheme over train+val with an independent random stream, so asking for folds
does not change train/val/test.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..config import SplitConfig
from ..errors import DataError
from ..version import __version__
from .quadrants import quadrant
from .records import SongRecord

__all__ = [
    "SPLIT_NAMES",
    "Splits",
    "song_labels",
    "create_splits",
    "save_splits",
    "load_splits",
    "load_or_create_splits",
]

logger = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "val", "test")
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Splits:
    """Song ids per split (each tuple sorted), optional folds over train+val, and provenance.

    Attributes:
        train, val, test: disjoint song ids; together every labelled song exactly once.
        folds: k disjoint held-out parts whose union is train+val (empty when no folds).
        excluded: song ids left out because they lack a valence or arousal label.
        settings: the split settings that drew this (fractions, seed, folds, stratification).
        songs_hash: sha256 of the sorted labelled song ids (train+val+test).
    """

    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]
    folds: tuple[tuple[str, ...], ...] = ()
    excluded: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict, hash=False)
    songs_hash: str = ""

    @cached_property
    def _index(self) -> dict[str, str]:
        return {sid: name for name in SPLIT_NAMES for sid in getattr(self, name)}

    def split_of(self, song_id: str) -> str:
        """``"train"``, ``"val"`` or ``"test"``; ``KeyError`` for a song in no split."""
        try:
            return self._index[song_id]
        except KeyError:
            why = " (excluded: it has no valence/arousal label)" if song_id in self.excluded else ""
            raise KeyError(f"song {song_id!r} is in no split{why}") from None

    def fold(self, index: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(train ids, held-out ids) of fold ``index``: the fold is held out of train+val."""
        if not self.folds:
            raise ValueError("these splits have no folds; draw them with split.folds set (e.g. 5)")
        if not 0 <= index < len(self.folds):
            raise ValueError(f"fold index {index} out of range: there are {len(self.folds)} folds")
        held = set(self.folds[index])
        rest = tuple(sorted(sid for sid in self.train + self.val if sid not in held))
        return rest, self.folds[index]

    @property
    def song_ids(self) -> tuple[str, ...]:
        """Every split song id, sorted."""
        return tuple(sorted(self.train + self.val + self.test))


def song_labels(records: Iterable[SongRecord]) -> tuple[tuple[str, ...], np.ndarray]:
    """Song ids and an (N, 2) float array of (valence, arousal), NaN where a label is missing."""
    records = list(records)
    ids = tuple(r.song_id for r in records)
    rows = [[np.nan if x is None else x for x in (r.valence, r.arousal)] for r in records]
    return ids, np.array(rows, dtype=np.float64).reshape(len(records), 2)


# ------------------------------------------------------------------------------------ drawing


def _settings(config: SplitConfig, threshold: float) -> dict[str, Any]:
    return {
        "train": float(config.train),
        "val": float(config.val),
        "test": float(config.test),
        "seed": int(config.seed),
        "folds": config.folds,
        "stratify": "quadrant",
        "threshold": float(threshold),
    }


def _songs_hash(song_ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(song_ids)).encode("utf-8")).hexdigest()


def _labelled(song_ids: Sequence[str], labels) -> tuple[list[str], np.ndarray, tuple[str, ...]]:
    """Validate inputs; return labelled ids, their (M, 2) labels, and the excluded ids."""
    ids = [str(s) for s in song_ids]
    arr = np.asarray(labels, dtype=np.float64)
    if arr.shape != (len(ids), 2):
        raise ValueError(
            f"labels must have shape (n_songs, 2) = ({len(ids)}, 2) for (valence, arousal), "
            f"got {arr.shape}"
        )
    dupes = sorted(sid for sid, n in Counter(ids).items() if n > 1)
    if dupes:
        raise DataError(
            f"{len(dupes)} song id(s) appear more than once: {dupes[:5]}; song ids must be unique"
        )
    ok = np.isfinite(arr).all(axis=1)
    excluded = tuple(sorted(s for s, good in zip(ids, ok) if not good))
    if excluded:
        logger.warning(
            "excluding %d of %d songs without both valence and arousal labels from the split: %s%s",
            len(excluded), len(ids), ", ".join(excluded[:5]), " ..." if len(excluded) > 5 else "",
        )
    kept = [s for s, good in zip(ids, ok) if good]
    return kept, arr[ok], excluded


def _target_counts(n: int, fractions: Sequence[float]) -> list[int]:
    """Largest-remainder rounding of n * fractions, at least 1 where a fraction is above 0."""
    raw = [n * f for f in fractions]
    counts = [int(np.floor(r)) for r in raw]
    by_remainder = sorted(range(len(raw)), key=lambda k: (-(raw[k] - counts[k]), k))
    for k in by_remainder[: n - sum(counts)]:
        counts[k] += 1
    for k, f in enumerate(fractions):
        if f > 0 and counts[k] == 0:
            donor = max(range(len(counts)), key=lambda j: counts[j])
            counts[donor] -= 1
            counts[k] += 1
    return counts


def _quota_sequence(targets: Sequence[int]) -> np.ndarray:
    """Bucket index per position: each step goes to the bucket furthest below its share.

    Any run of consecutive positions is divided nearly in proportion to ``targets``; the totals
    are exactly ``targets``.
    """
    n = sum(targets)
    counts = [0] * len(targets)
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        # deficit_k * n = targets_k * (i + 1) - counts_k * n, exact in integers; ties -> lower k
        k = max(range(len(targets)), key=lambda j: (targets[j] * (i + 1) - counts[j] * n, -j))
        counts[k] += 1
        out[i] = k
    return out


def _stratified_order(ids: Sequence[str], strata: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Ids grouped by stratum (groups in random order), sorted then shuffled within each group."""
    order: list[str] = []
    for s in rng.permutation(np.unique(strata)):
        members = sorted(sid for sid, st in zip(ids, strata) if st == s)
        order.extend(members[i] for i in rng.permutation(len(members)))
    return order


def _groups(order: Sequence[str], which: np.ndarray, k: int) -> tuple[tuple[str, ...], ...]:
    """Sorted ids dealt to each of the k buckets."""
    return tuple(tuple(sorted(sid for sid, b in zip(order, which) if b == j)) for j in range(k))


def create_splits(
    song_ids: Sequence[str], labels, config: SplitConfig, *, threshold: float = 0.0
) -> Splits:
    """Draw song-level splits stratified by quadrant (no file I/O; see :func:`load_or_create_splits`).

    Args:
        song_ids: N unique song ids.
        labels: (N, 2) valence, arousal on [-1, 1] aligned with ``song_ids``; NaN or None marks a
            missing label, and such songs are excluded (counted in a warning and ``Splits.excluded``).
        config: fractions, seed and optional fold count.
        threshold: quadrant boundary on both axes (a value equal to it counts as positive).

    Raises:
        DataError: duplicate ids, or too few labelled songs for the requested splits or folds.
    """
    ids, lab, excluded = _labelled(song_ids, labels)
    fractions = (config.train, config.val, config.test)
    needed = sum(f > 0 for f in fractions)
    if len(ids) < needed:
        raise DataError(
            f"{len(ids)} labelled song(s) cannot fill {needed} splits "
            f"(train/val/test = {fractions}); at least {needed} labelled songs are needed"
        )
    strata = quadrant(lab[:, 0], lab[:, 1], threshold=threshold)
    # Independent streams: asking for folds leaves train/val/test unchanged.
    split_seq, fold_seq = np.random.SeedSequence(config.seed).spawn(2)
    split_rng, fold_rng = np.random.default_rng(split_seq), np.random.default_rng(fold_seq)

    order = _stratified_order(ids, strata, split_rng)
    which = _quota_sequence(_target_counts(len(order), fractions))
    parts = dict(zip(SPLIT_NAMES, _groups(order, which, len(SPLIT_NAMES))))

    folds: tuple[tuple[str, ...], ...] = ()
    if config.folds:
        pool = set(parts["train"] + parts["val"])
        pool_ids = [sid for sid in ids if sid in pool]
        pool_strata = np.array([st for sid, st in zip(ids, strata) if sid in pool])
        if len(pool_ids) < config.folds:
            raise DataError(
                f"{config.folds} folds need at least {config.folds} train+val songs, "
                f"have {len(pool_ids)}; lower split.folds or add songs"
            )
        order = _stratified_order(pool_ids, pool_strata, fold_rng)
        which = _quota_sequence(_target_counts(len(order), [1.0 / config.folds] * config.folds))
        folds = _groups(order, which, config.folds)

    return Splits(
        **parts,
        folds=folds,
        excluded=excluded,
        settings=_settings(config, threshold),
        songs_hash=_songs_hash(ids),
    )


# ------------------------------------------------------------------------------------ persistence


def _atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder and ``os.replace``: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    _atomic_write_text(path, json.dumps(payload, indent=1) + "\n")
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
    if _songs_hash(all_ids) != splits.songs_hash:
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
        ids, _, excluded = _labelled(song_ids, labels)
        wanted = _settings(config, threshold)
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
        if _songs_hash(ids) != stored.songs_hash:
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
