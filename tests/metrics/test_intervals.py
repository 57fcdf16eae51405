"""Bootstrap intervals: coverage of the point estimate, width, determinism, degenerate resamples.

Speed is measured by benchmarks/intervals.py, not asserted here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from moodscape.metrics import regression as M
from moodscape.metrics.intervals import (
    BATCHED_METRICS,
    batched_metric,
    bootstrap_distribution,
    bootstrap_interval,
    paired_difference_interval,
)

SCALAR = {"ccc": M.ccc, "pearson": M.pearson, "r2": M.r2, "mse": M.mse, "mae": M.mae, "rmse": M.rmse}


def _songs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels on [-1, 1] and predictions that agree moderately (CCC around 0.6)."""
    truth = np.clip(rng.normal(0.0, 0.4, n), -1, 1)
    pred = np.clip(0.6 * truth + rng.normal(0.0, 0.2, n), -1, 1)
    return truth, pred


@pytest.mark.parametrize("name", list(SCALAR))
def test_interval_contains_point_estimate(rng, name):
    t, p = _songs(rng, 300)
    low, high = bootstrap_interval(t, p, SCALAR[name], n=500, seed=0)
    assert low <= SCALAR[name](t, p) <= high
    assert low < high


def test_interval_narrows_with_more_songs(rng):
    t_small, p_small = _songs(rng, 50)
    t_big, p_big = _songs(rng, 2000)
    low_s, high_s = bootstrap_interval(t_small, p_small, n=500, seed=0)
    low_b, high_b = bootstrap_interval(t_big, p_big, n=500, seed=0)
    assert high_b - low_b < 0.5 * (high_s - low_s)


def test_deterministic_for_a_seed(rng):
    t, p = _songs(rng, 100)
    assert bootstrap_interval(t, p, n=200, seed=3) == bootstrap_interval(t, p, n=200, seed=3)
    assert bootstrap_interval(t, p, n=200, seed=3) != bootstrap_interval(t, p, n=200, seed=4)


def test_level_widens_interval(rng):
    t, p = _songs(rng, 200)
    low90, high90 = bootstrap_interval(t, p, n=500, seed=0, level=0.90)
    low99, high99 = bootstrap_interval(t, p, n=500, seed=0, level=0.99)
    assert low99 <= low90 and high90 <= high99


def test_n_zero_disables(rng):
    t, p = _songs(rng, 20)
    low, high = bootstrap_interval(t, p, n=0)
    assert math.isnan(low) and math.isnan(high)
    assert bootstrap_distribution(t, p, n=0).shape == (0,)


def test_single_song_resamples_are_degenerate_but_fine():
    # Every resample of one song repeats it: CCC 1 for an exact prediction, 0 otherwise; Pearson undefined.
    assert bootstrap_interval([0.3], [0.3], n=50) == (1.0, 1.0)
    assert bootstrap_interval([0.3], [0.1], n=50) == (0.0, 0.0)
    low, high = bootstrap_interval([0.3], [0.1], M.pearson, n=50)
    assert math.isnan(low) and math.isnan(high)


def test_two_songs_mix_degenerate_and_regular_resamples():
    values = bootstrap_distribution([0.1, 0.5], [0.2, 0.4], n=400, seed=0)
    assert np.isfinite(values).all()
    assert ((values >= -1) & (values <= 1)).all()
    assert (values == 0.0).any()  # a resample of one song twice: constant and not exact
    low, high = bootstrap_interval([0.1, 0.5], [0.2, 0.4], M.pearson, n=400, seed=0)
    assert low == high == 1.0  # NaN resamples are left out; the rest are perfectly correlated


@pytest.mark.parametrize("name", list(BATCHED_METRICS))
def test_batched_metrics_equal_scalar_ones_including_degenerate_rows(rng, name):
    t, p = _songs(rng, 12)
    rows_t = [t, np.full(12, 0.2), t, np.full(12, 0.2), np.full(12, 0.2)]
    rows_p = [p, p, np.full(12, -0.1), np.full(12, 0.2), np.full(12, 0.3)]
    batched = batched_metric(name, np.stack(rows_t), np.stack(rows_p))
    expected = [SCALAR[name](a, b) for a, b in zip(rows_t, rows_p)]
    np.testing.assert_allclose(batched, expected, rtol=1e-10, atol=1e-12, equal_nan=True)


def test_vectorised_path_equals_per_resample_callable(rng):
    t, p = _songs(rng, 80)
    fast = bootstrap_distribution(t, p, M.ccc, n=100, seed=1)
    slow = bootstrap_distribution(t, p, lambda a, b: M.ccc(a, b), n=100, seed=1)
    by_name = bootstrap_distribution(t, p, "ccc", n=100, seed=1)
    np.testing.assert_allclose(fast, slow, rtol=1e-10)
    np.testing.assert_array_equal(fast, by_name)


def test_chunking_does_not_change_results(rng, monkeypatch):
    from moodscape.metrics import intervals

    t, p = _songs(rng, 64)
    whole = bootstrap_distribution(t, p, n=50, seed=2)
    monkeypatch.setattr(intervals, "_CHUNK_ELEMENTS", 64 * 7)  # 7 resamples per chunk
    np.testing.assert_array_equal(bootstrap_distribution(t, p, n=50, seed=2), whole)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"level": 1.0}, "level"),
        ({"level": 0.0}, "level"),
        ({"n": -1}, "n (bootstrap resamples)"),
        ({"n": 2.5}, "n (bootstrap resamples)"),
        ({"metric": "auc"}, "valid names: ccc"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        bootstrap_interval([0.1, 0.2, 0.3], [0.1, 0.2, 0.4], **kwargs)


def test_bad_arrays():
    with pytest.raises(ValueError, match="same shape"):
        bootstrap_interval([0.1, 0.2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="empty"):
        bootstrap_interval([], [])
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_interval([0.1, np.nan], [0.1, 0.2])
    with pytest.raises(TypeError, match="callable"):
        bootstrap_interval([0.1, 0.2], [0.1, 0.2], metric=3)


def test_paired_difference_shares_resamples_and_tells_a_real_gain_from_noise():
    rng = np.random.default_rng(3)
    t = rng.uniform(-1, 1, 40)
    a = t + rng.normal(0, 0.5, 40)
    better = t + rng.normal(0, 0.1, 40)
    diff, low, high = paired_difference_interval(t, a, better, n=500, seed=1)
    assert diff == pytest.approx(M.ccc(t, better) - M.ccc(t, a)) and 0 < low <= diff <= high
    # The same resamples as two single-model bootstraps with the same seed, subtracted.
    manual = bootstrap_distribution(t, better, n=500, seed=1) - bootstrap_distribution(t, a, n=500, seed=1)
    assert (low, high) == pytest.approx(tuple(np.percentile(manual, [2.5, 97.5])))
    # A model against itself: exactly no difference; against a near twin: an interval around 0.
    assert paired_difference_interval(t, a, a, n=200) == (0.0, 0.0, 0.0)
    twin = a + rng.normal(0, 0.01, 40)
    _, low, high = paired_difference_interval(t, a, twin, n=500)
    assert low < 0 < high
    assert np.isnan(paired_difference_interval(t, a, better, n=0)[1])
    assert paired_difference_interval(t, a, better, "mse", n=50)[0] == pytest.approx(M.mse(t, better) - M.mse(t, a))
