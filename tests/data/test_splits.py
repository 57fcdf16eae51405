"""Song-level splits: determinism, coverage, stratification, folds, persistence and its refusals."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from moodscape.config import SplitConfig
from moodscape.data.quadrants import quadrant
from moodscape.data.records import SongRecord
from moodscape.data.splits import Splits, create_splits, song_labels
from moodscape.data.splits_file import load_or_create_splits, load_splits, save_splits
from moodscape.errors import DataError

# Imbalanced on purpose: stratification matters most for the small quadrants.
QUADRANT_WEIGHTS = (0.45, 0.10, 0.30, 0.15)
SIGNS = {1: (1, 1), 2: (-1, 1), 3: (-1, -1), 4: (1, -1)}


def make_songs(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """n song ids and (n, 2) labels whose quadrants follow QUADRANT_WEIGHTS."""
    rng = np.random.default_rng(seed)
    quads = rng.choice([1, 2, 3, 4], size=n, p=QUADRANT_WEIGHTS)
    mags = rng.uniform(0.05, 1.0, size=(n, 2))
    labels = np.array([SIGNS[q] for q in quads]) * mags
    return [f"song{i:04d}" for i in range(n)], labels


def quadrant_of(ids, labels) -> dict[str, int]:
    return dict(zip(ids, quadrant(labels[:, 0], labels[:, 1]).tolist()))


# ------------------------------------------------------------------------------------ drawing


def test_sizes_disjoint_and_complete():
    ids, labels = make_songs(200)
    s = create_splits(ids, labels, SplitConfig())
    assert (len(s.train), len(s.val), len(s.test)) == (140, 30, 30)
    parts = [set(s.train), set(s.val), set(s.test)]
    assert sum(len(p) for p in parts) == 200 and set().union(*parts) == set(ids)
    assert all(a.isdisjoint(b) for i, a in enumerate(parts) for b in parts[i + 1 :])
    assert s.song_ids == tuple(sorted(ids))
    assert list(s.train) == sorted(s.train)


def test_deterministic_and_seed_dependent():
    ids, labels = make_songs(120)
    a = create_splits(ids, labels, SplitConfig(seed=7))
    assert create_splits(ids, labels, SplitConfig(seed=7)) == a
    b = create_splits(ids, labels, SplitConfig(seed=8))
    assert b.test != a.test
    assert b.songs_hash == a.songs_hash


def test_independent_of_input_order():
    ids, labels = make_songs(100)
    perm = np.random.default_rng(3).permutation(100)
    shuffled = create_splits([ids[i] for i in perm], labels[perm], SplitConfig(seed=1))
    assert shuffled == create_splits(ids, labels, SplitConfig(seed=1))


@pytest.mark.parametrize("seed", range(8))
def test_stratified_by_quadrant(seed):
    # Every quadrant's count in every split is within 1.5 songs of its proportional share
    # (about one in practice).
    # (An unstratified random split of 200 misses by 2+ songs in some cell almost always.)
    ids, labels = make_songs(200, seed=seed)
    quad = quadrant_of(ids, labels)
    overall = Counter(quad.values())
    s = create_splits(ids, labels, SplitConfig(seed=seed))
    for part in (s.train, s.val, s.test):
        counts = Counter(quad[sid] for sid in part)
        for q, n_q in overall.items():
            expected = n_q * len(part) / len(ids)
            assert abs(counts[q] - expected) <= 1.5, (q, counts[q], expected)


def test_stratification_beats_random_on_average():
    # Guard that the tolerance above is a real test: shuffled assignment misses it.
    ids, labels = make_songs(200, seed=0)
    quad = quadrant_of(ids, labels)
    overall = Counter(quad.values())
    rng = np.random.default_rng(0)
    misses = 0
    for _ in range(20):
        val = rng.permutation(ids)[:30]
        counts = Counter(quad[sid] for sid in val)
        misses += any(abs(counts[q] - n * 30 / 200) > 1.5 for q, n in overall.items())
    assert misses >= 10


@pytest.mark.parametrize("n", [3, 4, 7, 10, 13])
def test_small_sets_do_not_crash_and_fill_every_split(n):
    ids, labels = make_songs(n, seed=n)
    s = create_splits(ids, labels, SplitConfig())
    assert len(s.train) >= 1 and len(s.val) >= 1 and len(s.test) >= 1
    assert sorted(s.train + s.val + s.test) == sorted(ids)


def test_ten_songs_one_per_quadrant_edge():
    ids = [f"s{i}" for i in range(10)]
    labels = np.array([[0.5, 0.5]] * 7 + [[-0.5, 0.5], [-0.5, -0.5], [0.5, -0.5]])
    s = create_splits(ids, labels, SplitConfig(folds=3))
    assert (len(s.train), len(s.val), len(s.test)) == (7, 2, 1)
    assert sorted(sid for f in s.folds for sid in f) == sorted(s.train + s.val)


def test_zero_val_fraction():
    ids, labels = make_songs(50)
    s = create_splits(ids, labels, SplitConfig(train=0.8, val=0.0, test=0.2))
    assert (len(s.train), len(s.val), len(s.test)) == (40, 0, 10)


def test_too_few_labelled_songs():
    with pytest.raises(DataError, match="2 labelled song.*at least 3"):
        create_splits(["a", "b"], [[0.1, 0.1], [0.2, -0.2]], SplitConfig())


def test_unlabelled_songs_are_excluded_and_counted(caplog):
    ids, labels = make_songs(40)
    labels[[3, 11], 0] = np.nan  # missing valence
    labels[20, 1] = np.nan  # missing arousal
    with caplog.at_level(logging.WARNING, logger="moodscape.data.splits"):
        s = create_splits(ids, labels, SplitConfig())
    assert s.excluded == ("song0003", "song0011", "song0020")
    assert "excluding 3 of 40" in caplog.text
    assert set(s.song_ids) == set(ids) - set(s.excluded)
    with pytest.raises(KeyError, match="excluded"):
        s.split_of("song0003")


def test_all_unlabelled_raises():
    with pytest.raises(DataError, match="0 labelled"):
        create_splits(["a", "b", "c"], np.full((3, 2), np.nan), SplitConfig())


def test_bad_inputs():
    with pytest.raises(DataError, match=r"more than once.*'a'"):
        create_splits(["a", "b", "a", "c"], np.zeros((4, 2)), SplitConfig())
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 2\)"):
        create_splits(["a", "b", "c"], np.zeros((2, 2)), SplitConfig())


def test_song_labels_from_records():
    records = [
        SongRecord("a", None, 0.5, -0.5),
        SongRecord("b", None, None, 0.1),
        SongRecord("c", None, 0.2, 0.3),
    ]
    ids, labels = song_labels(records)
    assert ids == ("a", "b", "c")
    np.testing.assert_array_equal(labels[[0, 2]], [[0.5, -0.5], [0.2, 0.3]])
    assert np.isnan(labels[1, 0]) and labels[1, 1] == 0.1
    assert song_labels([])[1].shape == (0, 2)


def test_split_of():
    ids, labels = make_songs(30)
    s = create_splits(ids, labels, SplitConfig())
    for name in ("train", "val", "test"):
        assert all(s.split_of(sid) == name for sid in getattr(s, name))
    with pytest.raises(KeyError, match="nope"):
        s.split_of("nope")


# ------------------------------------------------------------------------------------ folds


def test_folds_partition_train_val_and_are_stratified():
    ids, labels = make_songs(200, seed=5)
    quad = quadrant_of(ids, labels)
    s = create_splits(ids, labels, SplitConfig(folds=5))
    pool = s.train + s.val
    assert len(s.folds) == 5
    assert sorted(sid for f in s.folds for sid in f) == sorted(pool)  # disjoint and complete
    assert not set(s.test) & {sid for f in s.folds for sid in f}
    sizes = [len(f) for f in s.folds]
    assert max(sizes) - min(sizes) <= 1
    overall = Counter(quad[sid] for sid in pool)
    for f in s.folds:
        counts = Counter(quad[sid] for sid in f)
        for q, n_q in overall.items():
            assert abs(counts[q] - n_q * len(f) / len(pool)) <= 1.5


def test_folds_do_not_change_train_val_test():
    ids, labels = make_songs(80)
    plain = create_splits(ids, labels, SplitConfig(seed=3))
    with_folds = create_splits(ids, labels, SplitConfig(seed=3, folds=4))
    assert (plain.train, plain.val, plain.test) == (with_folds.train, with_folds.val, with_folds.test)
    assert plain.folds == ()


def test_fold_accessor():
    ids, labels = make_songs(60)
    s = create_splits(ids, labels, SplitConfig(folds=3))
    for i in range(3):
        rest, held = s.fold(i)
        assert held == s.folds[i]
        assert set(rest) | set(held) == set(s.train + s.val) and not set(rest) & set(held)
    with pytest.raises(ValueError, match="out of range"):
        s.fold(3)
    with pytest.raises(ValueError, match="no folds"):
        create_splits(ids, labels, SplitConfig()).fold(0)


def test_too_many_folds():
    ids, labels = make_songs(6)
    with pytest.raises(DataError, match="folds need at least"):
        create_splits(ids, labels, SplitConfig(folds=10))


# ------------------------------------------------------------------------------------ persistence


def test_save_load_round_trip(tmp_path):
    ids, labels = make_songs(50)
    labels[0] = np.nan
    s = create_splits(ids, labels, SplitConfig(folds=3, seed=11))
    path = save_splits(s, tmp_path / "sub" / "splits.json")
    assert load_splits(path) == s
    data = json.loads(path.read_text())
    assert data["settings"] == {
        "train": 0.7, "val": 0.15, "test": 0.15, "seed": 11, "folds": 3,
        "stratify": "quadrant", "threshold": 0.0,
    }
    assert data["created"]["n_songs"] == 49 and data["created"]["n_excluded"] == 1
    assert "at" in data["created"] and "moodscape_version" in data["created"]
    assert [p.name for p in path.parent.iterdir()] == ["splits.json"]  # no temp files left


def test_load_or_create_writes_then_reuses(tmp_path):
    ids, labels = make_songs(60)
    path = tmp_path / "splits.json"
    first = load_or_create_splits(path, ids, labels, SplitConfig())
    assert path.is_file()
    # Hand-move one song from train to test: a reused file is read, not re-drawn.
    data = json.loads(path.read_text())
    moved = data["train"].pop(0)
    data["test"].append(moved)
    path.write_text(json.dumps(data))
    again = load_or_create_splits(path, list(reversed(ids)), labels[::-1], SplitConfig())
    assert again.split_of(moved) == "test" and first.split_of(moved) == "train"


def test_reuse_tolerates_new_unlabelled_songs(tmp_path):
    ids, labels = make_songs(30)
    path = tmp_path / "splits.json"
    first = load_or_create_splits(path, ids, labels, SplitConfig())
    again = load_or_create_splits(path, ids + ["new"], np.vstack([labels, [np.nan, np.nan]]), SplitConfig())
    assert (again.train, again.val, again.test) == (first.train, first.val, first.test)
    assert again.excluded == ("new",)


def test_settings_mismatch_raises_with_fix(tmp_path):
    ids, labels = make_songs(60)
    path = tmp_path / "splits.json"
    load_or_create_splits(path, ids, labels, SplitConfig(seed=1))
    before = path.read_text()
    with pytest.raises(DataError) as err:
        load_or_create_splits(path, ids, labels, SplitConfig(seed=2, folds=5))
    msg = str(err.value)
    assert str(path) in msg
    assert "seed: stored 1, requested 2" in msg and "folds: stored None, requested 5" in msg
    assert "delete" in msg and "force=True" in msg
    assert path.read_text() == before  # untouched


def test_song_set_mismatch_raises(tmp_path):
    ids, labels = make_songs(60)
    path = tmp_path / "splits.json"
    load_or_create_splits(path, ids, labels, SplitConfig())
    with pytest.raises(DataError, match=r"different set of labelled songs: 1 added \['extra'\], 2 removed"):
        more = np.vstack([labels[2:], [0.1, 0.1]])
        load_or_create_splits(path, ids[2:] + ["extra"], more, SplitConfig())
    # A song losing its label changes the labelled set too.
    labels2 = labels.copy()
    labels2[5] = np.nan
    with pytest.raises(DataError, match="0 added.*1 removed"):
        load_or_create_splits(path, ids, labels2, SplitConfig())


def test_force_redraws_and_overwrites(tmp_path):
    ids, labels = make_songs(60)
    path = tmp_path / "splits.json"
    load_or_create_splits(path, ids, labels, SplitConfig(seed=1))
    new = load_or_create_splits(path, ids, labels, SplitConfig(seed=2), force=True)
    assert new == create_splits(ids, labels, SplitConfig(seed=2))
    assert load_splits(path) == new


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", "cannot read splits"),
        ("[1, 2]", "not a splits file"),
        ('{"format": 1}', "missing"),
    ],
)
def test_corrupt_file(tmp_path, content, match):
    path = tmp_path / "splits.json"
    path.write_text(content)
    with pytest.raises(DataError, match=match) as err:
        load_or_create_splits(path, ["a", "b", "c"], np.zeros((3, 2)), SplitConfig())
    assert str(path) in str(err.value) and "delete" in str(err.value)


def test_inconsistent_file(tmp_path):
    ids, labels = make_songs(30)
    path = save_splits(create_splits(ids, labels, SplitConfig(folds=3)), tmp_path / "splits.json")
    data = json.loads(path.read_text())
    data["test"].append(data["train"][0])  # duplicated across splits
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match="more than one split"):
        load_splits(path)


def test_missing_file():
    with pytest.raises(DataError, match="not found"):
        load_splits(Path("/nonexistent/splits.json"))


def test_splits_is_frozen():
    s = Splits(train=("a",), val=(), test=("b",))
    with pytest.raises(AttributeError):
        s.train = ("x",)  # type: ignore[misc]
    assert hash(s) == hash(Splits(train=("a",), val=(), test=("b",)))


def test_a_split_without_test_songs_puts_every_song_in_train_or_val():
    from moodscape.config import SplitConfig
    from moodscape.data.splits import create_splits

    ids = [f"s{i}" for i in range(40)]
    labels = np.array([[(-1) ** i * 0.5, (-1) ** (i // 2) * 0.5] for i in range(40)])
    splits = create_splits(ids, labels, SplitConfig(train=0.85, val=0.15, test=0.0))
    assert not splits.test and len(splits.train) + len(splits.val) == 40 and len(splits.val) == 6
