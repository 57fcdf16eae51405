"""Normalisation statistics come from training songs only and are applied per band."""

from __future__ import annotations

import numpy as np
import pytest

from moodscape.config import Config
from moodscape.errors import DataError
from moodscape.features.build import build_feature_store
from moodscape.features.normalize import fit_normalization, load_normalization, normalize
from moodscape.features.store import FeatureStore

from .test_store import make_dataset


def test_statistics_use_training_songs_only(tmp_path, rng):
    dataset = make_dataset(tmp_path / "audio", 4, 6.0, rng)
    store = FeatureStore(build_feature_store(dataset, tmp_path / "f", config=Config(), workers=1, progress=False))
    stats = fit_normalization(store, ["0", "1"], splits_hash="abc")
    train = np.concatenate([store.get("0"), store.get("1")], axis=1).astype(np.float64)
    np.testing.assert_allclose(stats.mean, train.mean(axis=1), rtol=1e-9)
    np.testing.assert_allclose(stats.std, train.std(axis=1), rtol=1e-6)
    loaded = load_normalization(store.directory)
    np.testing.assert_array_equal(loaded.mean, stats.mean)
    assert loaded.songs == 2 and loaded.splits_hash == "abc"
    z = normalize(store.get("0"), mode="global", stats=loaded)
    assert z.dtype == np.float32
    # Song 3 (not in train) is scaled with train statistics, so it is not zero-mean itself.
    assert abs(normalize(store.get("3"), mode="global", stats=loaded).mean()) > 0.05


def test_modes(rng):
    x = rng.normal(-30, 5, size=(8, 50)).astype(np.float32)
    per_clip = normalize(x, mode="per_clip")
    np.testing.assert_allclose(per_clip.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(per_clip.std(axis=1), 1, atol=1e-4)
    np.testing.assert_array_equal(normalize(x, mode="none"), x)
    with pytest.raises(DataError, match="normalization.json"):
        normalize(x, mode="global")
    with pytest.raises(DataError, match="valid: global, per_clip, none"):
        normalize(x, mode="other")
