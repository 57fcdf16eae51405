"""Cross-validation folds: every song once, no artist in two folds, quadrants balanced; on 4q-dev too."""

from __future__ import annotations

from collections import Counter

import pytest

from moodscape.data.folds import grouped_folds, groups_for, read_groups
from moodscape.errors import DataError


def check(folds, ids, quadrants, groups, k):
    assert len(folds) == k and sorted(s for f in folds for s in f) == sorted(ids)
    group_of, quadrant_of = dict(zip(ids, groups)), dict(zip(ids, quadrants))
    owners = {}
    for i, fold in enumerate(folds):
        for song in fold:
            assert owners.setdefault(group_of[song], i) == i, f"group {group_of[song]} in two folds"
    for q in set(quadrants):
        shares = [sum(quadrant_of[s] == q for s in f) / len(f) for f in folds]
        assert max(shares) - min(shares) < 0.15, (q, shares)


def test_folds_are_grouped_stratified_and_fixed_by_the_seed(rng):
    ids = [f"s{i}" for i in range(200)]
    quadrants = rng.integers(1, 5, size=200).tolist()
    groups = [f"artist{i // 3}" if i % 7 else f"solo{i}" for i in range(200)]
    folds = grouped_folds(ids, quadrants, groups, k=5, seed=3)
    check(folds, ids, quadrants, groups, 5)
    assert folds == grouped_folds(ids, quadrants, groups, k=5, seed=3)
    assert folds != grouped_folds(ids, quadrants, groups, k=5, seed=4)


def test_too_few_groups_and_unknown_songs_are_errors(tmp_path):
    with pytest.raises(DataError, match="cannot fill 5 folds"):
        grouped_folds(["a", "b", "c"], [1, 2, 3], ["x", "x", "y"], k=5)
    meta = tmp_path / "metadata.csv"
    meta.write_text("Song,Artist\na,Someone\n")
    with pytest.raises(DataError, match="no group for 1 song"):
        groups_for(["a", "b"], read_groups(meta, id_column="Song", group_column="Artist"), source=str(meta))


@pytest.mark.shared_data
def test_4q_dev_folds_keep_artists_apart(shared_data):
    root = shared_data / "4q-dev"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    groups = read_groups(root / "metadata.csv", id_column="Song", group_column="Artist")
    ids = sorted(groups)
    from moodscape.data.csvfile import load_csv

    quadrant = {r.song_id: (1 if r.valence > 0 else 2) if r.arousal > 0 else (4 if r.valence > 0 else 3)
                for r in load_csv(root / "labels.csv").records}  # fmt: skip
    quadrants = [quadrant[s] for s in ids]
    folds = grouped_folds(ids, quadrants, groups_for(ids, groups, source="metadata.csv"), k=5, seed=0)
    check(folds, ids, quadrants, [groups[s] for s in ids], 5)
    assert Counter(quadrants) == {1: 100, 2: 100, 3: 100, 4: 100}
    assert all(70 <= len(f) <= 90 for f in folds)
