"""The classical floor: an SVR per dimension on standardised descriptors, parameters chosen by CV."""

from __future__ import annotations

import numpy as np
import pytest

from moodscape.models.descriptor_floor import DescriptorFloor


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
