"""The musicnn probe (a ridge on musicnn song summaries) and the fusions it joins."""

from __future__ import annotations

import numpy as np
import pytest

from moodscape.errors import CheckpointError
from moodscape.files import write_json
from moodscape.models.floors.descriptors import DescriptorFloor
from moodscape.models.floors.fusion import FUSION_FILE, Fusion
from moodscape.models.floors.probe import ALPHAS, MusicnnProbe
from moodscape.models.loading import load_model


def _data(rng, n=60, width=20):
    X = rng.standard_normal((n, width))
    X[:, 3] = 5.0  # a constant column, as some tags are on every song
    y = np.clip(np.stack([0.3 * X[:, 0] - 0.2 * X[:, 1], 0.4 * X[:, 2]], axis=1), -1, 1)
    return X, y


def test_the_probe_predicts_what_sklearn_predicts_and_loads_back(rng, tmp_path):
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _data(rng)
    probe = MusicnnProbe().fit(X[:40], y[:40])
    reference = make_pipeline(StandardScaler(), RidgeCV(alphas=ALPHAS)).fit(X[:40], y[:40])
    np.testing.assert_allclose(probe.predict(X[40:]), np.clip(reference.predict(X[40:]), -1, 1), atol=1e-10)
    loaded = load_model(probe.save(tmp_path / "probe"))
    assert isinstance(loaded, MusicnnProbe) and loaded.alpha_ == probe.alpha_ and loaded.taggers == probe.taggers
    np.testing.assert_allclose(loaded.predict(X[40:]), probe.predict(X[40:]), atol=1e-12)
    with pytest.raises(ValueError, match="reads 20 summary values per song; got 19"):
        probe.predict(X[:2, :19])


def test_an_equal_fusion_averages_its_members_and_loads_back(rng, tmp_path):
    X, y = _data(rng)
    floor = DescriptorFloor(folds=2, seed=0).fit(X[:40, :8], y[:40])
    probe = MusicnnProbe().fit(X[:40], y[:40])
    fusion = Fusion.equal(floor, probe)
    network = rng.uniform(-1, 1, (20, 2))
    expected = np.clip((network + floor.predict(X[40:, :8]) + probe.predict(X[40:])) / 3, -1, 1)
    np.testing.assert_allclose(fusion.combine(network, X[40:, :8], X[40:]), expected, atol=1e-12)
    loaded = load_model(fusion.save(tmp_path / "fusion"))
    assert loaded.describe() == fusion.describe() and set(loaded.describe()) == {"network", "floor", "probe"}
    np.testing.assert_allclose(loaded.combine(network, X[40:, :8], X[40:]), expected, atol=1e-12)
    with pytest.raises(ValueError, match="pass the songs' musicnn summaries"):
        loaded.combine(network, X[40:, :8])
    two = Fusion.equal(floor)
    np.testing.assert_allclose(two.combine(network, X[40:, :8]), np.clip((network + floor.predict(X[40:, :8])) / 2, -1, 1))


def test_a_fusion_saved_before_the_probe_existed_still_loads(rng, tmp_path):
    X, y = _data(rng)
    folder = Fusion((0.25, 0.75), DescriptorFloor(folds=2, seed=0).fit(X[:, :8], y)).save(tmp_path / "fusion")
    write_json(folder / FUSION_FILE, {"weights": {"valence": 0.25, "arousal": 0.75}, "weight_songs": 12})
    loaded = Fusion.load(folder)
    assert loaded.floor_weights.tolist() == [0.75, 0.25] and loaded.probe is None and loaded.meta == {"weight_songs": 12}
    write_json(folder / FUSION_FILE, {"weights": {"valence": 0.5, "arousal": 0.5}, "floor_weights": {"valence": 0.1,
                                                                                                        "arousal": 0.5}})
    with pytest.raises(CheckpointError, match="must sum to 1"):
        Fusion.load(folder)
