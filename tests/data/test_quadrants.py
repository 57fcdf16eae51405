"""Quadrants of the valence/arousal circumplex, including the boundary convention."""

from __future__ import annotations

import numpy as np
import pytest

from moodscape.data.quadrants import QUADRANT_NAMES, QUADRANTS, quadrant


@pytest.mark.parametrize(
    ("valence", "arousal", "expected"),
    [
        (0.5, 0.5, 1),
        (-0.5, 0.5, 2),
        (-0.5, -0.5, 3),
        (0.5, -0.5, 4),
        # value exactly at the boundary counts as positive
        (0.0, 0.0, 1),
        (-0.1, 0.0, 2),
        (0.0, -0.1, 4),
        (0.0, 0.7, 1),
    ],
)
def test_scalar_quadrants(valence, arousal, expected):
    q = quadrant(valence, arousal)
    assert q == expected and isinstance(q, int)


def test_arrays_and_threshold():
    v = np.array([[0.2, -0.2], [0.6, 0.4]])
    a = np.array([[0.2, 0.2], [-0.3, 0.5]])
    np.testing.assert_array_equal(quadrant(v, a), [[1, 2], [4, 1]])
    # threshold 0.5: 0.5 counts as positive, 0.4 as negative
    np.testing.assert_array_equal(quadrant(v, a, threshold=0.5), [[3, 3], [4, 2]])
    assert quadrant(v, a).dtype == np.int64


def test_names_cover_all_quadrants():
    assert set(QUADRANT_NAMES) == set(QUADRANTS) == {1, 2, 3, 4}


def test_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        quadrant(np.array([0.1, np.nan]), np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"same shape.*\(2,\).*\(3,\)"):
        quadrant(np.zeros(2), np.zeros(3))
