"""Song-level train/val/test splits (and optional k folds), stratified by circumplex quadrant.

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

Saving, loading and reusing ``splits.json`` is in :mod:`moodscape.data.splits_file`.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ..config import SplitConfig
from ..errors import DataError, ParameterError
from .quadrants import quadrant
from .records import SongRecord

__all__ = ["SPLIT_NAMES", "Splits", "create_splits", "song_labels"]

logger = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "val", "test")


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
            raise ParameterError("these splits have no folds; draw them with split.folds set (e.g. 5)")
        if not 0 <= index < len(self.folds):
            raise ParameterError(f"fold index {index} out of range: there are {len(self.folds)} folds")
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


def split_settings(config: SplitConfig, threshold: float) -> dict[str, Any]:
    """What ``Splits.settings`` records, and what a reused ``splits.json`` must match."""
    return {
        "train": float(config.train),
        "val": float(config.val),
        "test": float(config.test),
        "seed": int(config.seed),
        "folds": config.folds,
        "stratify": "quadrant",
        "threshold": float(threshold),
    }


def hash_song_ids(song_ids: Iterable[str]) -> str:
    """``Splits.songs_hash``: compares song sets without listing them."""
    return hashlib.sha256("\n".join(sorted(song_ids)).encode("utf-8")).hexdigest()


def labelled_songs(song_ids: Sequence[str], labels) -> tuple[list[str], np.ndarray, tuple[str, ...]]:
    """Validate inputs; return labelled ids, their (M, 2) labels, and the excluded ids."""
    ids = [str(s) for s in song_ids]
    arr = np.asarray(labels, dtype=np.float64)
    if arr.shape != (len(ids), 2):
        raise ParameterError(
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
    """Draw song-level splits stratified by quadrant (no file I/O; see
    :func:`~moodscape.data.splits_file.load_or_create_splits`).

    Args:
        song_ids: N unique song ids.
        labels: (N, 2) valence, arousal on [-1, 1] aligned with ``song_ids``; NaN or None marks a
            missing label, and such songs are excluded (counted in a warning and ``Splits.excluded``).
        config: fractions, seed and optional fold count.
        threshold: quadrant boundary on both axes (a value equal to it counts as positive).

    Raises:
        DataError: duplicate ids, or too few labelled songs for the requested splits or folds.
    """
    ids, lab, excluded = labelled_songs(song_ids, labels)
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
        settings=split_settings(config, threshold),
        songs_hash=hash_song_ids(ids),
    )
