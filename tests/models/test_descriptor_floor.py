"""The classical floor: an SVR per dimension on standardised descriptors, parameters chosen by CV."""

from __future__ import annotations

import numpy as np
import pytest

from moodscape.models.floors.descriptors import DescriptorFloor


def test_learns_a_nonlinear_mapping_and_stays_on_the_scale(rng):
    X = rng.standard_normal((160, 12))
    y = np.stack([np.tanh(X[:, 0] * X[:, 1]), 0.8 * np.sin(X[:, 2])], axis=1)
    floor = DescriptorFloor(seed=0).fit(X[:120], y[:120])
    predicted = floor.predict(X[120:])
    assert predicted.shape == (40, 2) and np.abs(predicted).max() <= 1.0
    assert np.corrcoef(predicted[:, 1], y[120:, 1])[0, 1] > 0.6
    assert set(floor.params_[0]) == {"C", "gamma"}
    again = DescriptorFloor(seed=0).fit(X[:120], y[:120]).predict(X[120:])
    assert np.array_equal(predicted, again), "same seed, same data: same numbers"


def test_refuses_bad_shapes_and_predict_before_fit(rng):
    with pytest.raises(ValueError, match="expected X"):
        DescriptorFloor().fit(rng.standard_normal((10, 3)), rng.standard_normal((10, 1)))
    with pytest.raises(RuntimeError, match="before fit"):
        DescriptorFloor().predict(rng.standard_normal((2, 3)))


def test_saved_floor_predicts_what_sklearn_predicts(rng, tmp_path):
    X = rng.standard_normal((80, 6))
    y = np.stack([np.tanh(X[:, 0]), np.tanh(X[:, 1] - X[:, 2])], axis=1)
    floor = DescriptorFloor(seed=1).fit(X, y, names=[f"d{i}" for i in range(6)])
    loaded = DescriptorFloor.load(floor.save(tmp_path / "floor"))
    assert loaded.names_ == [f"d{i}" for i in range(6)] and loaded.sample_rate is None  # the model's own rate
    at_22k = DescriptorFloor(seed=1, sample_rate=22050).fit(X, y)
    assert DescriptorFloor.load(at_22k.save(tmp_path / "floor22k")).sample_rate == 22050
    np.testing.assert_allclose(loaded.predict(X[:10]), floor.predict(X[:10]), atol=1e-12)

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    reference = make_pipeline(StandardScaler(), SVR(**floor.params_[1])).fit(X, y[:, 1]).predict(X[:10])
    np.testing.assert_allclose(floor.predict(X[:10])[:, 1], np.clip(reference, -1, 1), atol=1e-9)
