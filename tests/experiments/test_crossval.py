"""Cross-validation machinery on a handful of clips: folds by artist, fold data, every arm of the benchmark
(floors, a fused teacher, its student, a teacher with GAN windows) scored on held-out songs only."""

from __future__ import annotations

import json

import numpy as np
import pytest

from moodscape.config import load_config
from moodscape.data.dataset import load_dataset
from moodscape.data.demo import generate_demo_dataset
from moodscape.experiments import crossval as cv
from moodscape.features.build import build_feature_store
from moodscape.features.store import FeatureStore

pytestmark = pytest.mark.slow

TINY = ["teacher.epochs=1", "teacher.windows_per_song=2", "teacher.fusion_share=0.4", "student.fusion_share=0.4", "runtime.threads=2", "student.epochs=1",
        "student.preset=tiny", "teacher.fuse_descriptors=true", "student.fuse_descriptors=true", "gan.preset=tiny",
        "gan.epochs=1", "gan.windows_per_song=1", "gan.samples=64", "gan.monitor_windows=0"]  # fmt: skip


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cv")
    generate_demo_dataset(root / "data", songs=48, seconds=8.0, seed=2, progress=False)
    config = load_config("configs/small-data.yaml", [f"data.root={root / 'data'}", *TINY])
    store = FeatureStore(build_feature_store(load_dataset(root / "data"), root / "features", config=config, progress=False))
    groups = {s: f"artist{int(s) % 12}" for s in store.song_ids}
    return store, groups, config, root


def test_folds_keep_artists_apart_and_validation_inside_training(setup):
    store, groups, _, _ = setup
    folds = cv.make_folds(store, groups, k=3, seed=0)
    assert sorted(s for f in folds for s in f.test) == sorted(store.song_ids)
    for fold in folds:
        parts = [set(fold.train), set(fold.val), set(fold.test)]
        assert all(not (a & b) for i, a in enumerate(parts) for b in parts[i + 1 :])
        artists = [{groups[s] for s in p} for p in parts]
        assert not (artists[2] & (artists[0] | artists[1])) and not (artists[0] & artists[1])
    assert folds == cv.make_folds(store, groups, k=3, seed=0)


def test_every_arm_predicts_held_out_songs_only(setup):
    store, groups, config, root = setup
    fold = cv.make_folds(store, groups, k=3, seed=0)[0]
    prepared = cv.prepared_fold(store, fold)
    assert prepared.normalization.songs == len(fold.train)
    floor = cv.floor_fold("descriptors", prepared, config)
    assert floor.shape == (len(fold.test), 2)
    teacher = cv.teacher_fold(config, prepared, root / "teacher")
    assert set(teacher) == {"network", "fused", "checks"} and teacher["fused"].shape == (len(fold.test), 2)
    checks = teacher["checks"]
    assert checks["epoch"] == json.loads((root / "teacher" / "best" / "moodscape.json").read_text())["epoch"]
    assert 0 <= checks["train_macro_f1"] <= 1 and sum(checks["train_quadrant_shares"]) == pytest.approx(1.0)
    student = cv.student_fold(config, prepared, root / "teacher", root / "student")
    assert student["network"].shape == student["int8"].shape == (len(fold.test), 2)
    assert np.abs(student["int8"] - student["network"]).max() < 0.05, "the int8 export scores the songs alike"
    gan = cv.gan_teacher_fold(config, prepared, root / "gan", ratio=0.5)
    assert gan["network"].shape == (len(fold.test), 2)
    songs = set(json.loads((root / "gan" / "gan" / "songs.json").read_text())["train_songs"])
    assert songs == set(fold.train), "the fold's GAN saw its training songs only"
    truth = store.labels(fold.test)
    scores = cv.scores(truth, teacher["fused"])
    assert set(scores) >= {"macro_f1", "valence_sign", "arousal_sign"} and 0 <= scores["macro_f1"] <= 1
    gain, low, high = cv.paired_gain(truth, teacher["fused"], floor, n=200)
    assert low <= gain <= high


def test_a_recipe_that_keeps_its_last_epoch_trains_on_the_validation_songs_too(setup):
    store, groups, _, _ = setup
    fold = cv.make_folds(store, groups, k=3, seed=0)[0]
    prepared = cv.prepared_fold(store, fold, merge_validation=True)
    assert set(prepared.splits.train) == set(fold.train) | set(fold.val) and not prepared.splits.val
    assert prepared.normalization.songs == len(fold.train) + len(fold.val)
    assert prepared.splits.test == fold.test


def test_macro_f1_matches_the_quadrant_analysis(rng):
    from moodscape.data.quadrants import quadrant
    from moodscape.eval.quadrant_analysis import analyse_quadrants
    from moodscape.eval.scoring import macro_f1

    truth, predicted = rng.uniform(-1, 1, (60, 2)), rng.uniform(-1, 1, (60, 2))
    expected = analyse_quadrants(truth, predicted).macro_f1
    assert macro_f1(quadrant(truth[:, 0], truth[:, 1]), quadrant(predicted[:, 0], predicted[:, 1])) == pytest.approx(expected)
