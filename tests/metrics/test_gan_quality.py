from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from moodscape.metrics.gan_quality import (
    band_profile_correlation,
    band_statistics_embedding,
    condition_fidelity,
    diversity_ratio,
    frechet_distance,
    gaussian_stats,
    matched_distances,
    real_vs_real_distance,
)


def _random_cov(rng: np.random.Generator, dim: int, rank: int | None = None) -> np.ndarray:
    a = rng.normal(size=(dim, rank or dim))
    return a @ a.T / (rank or dim)


# --------------------------------------------------------------------------- frechet_distance


def test_identical_gaussians_give_zero(rng):
    mu, sigma = rng.normal(size=8), _random_cov(rng, 8)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)


def test_diagonal_covariances_match_closed_form(rng):
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    a, b = rng.uniform(0.1, 4.0, size=5), rng.uniform(0.1, 4.0, size=5)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)


def test_shifted_mean_only_gives_squared_shift(rng):
    mu, sigma = rng.normal(size=6), _random_cov(rng, 6)
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0, 0.0])
    assert frechet_distance(mu, sigma, mu + shift, sigma) == pytest.approx(float(shift @ shift), rel=1e-8)


def test_one_dimensional_case_accepts_scalars():
    # 1-D: (m1 - m2)^2 + (sd1 - sd2)^2
    assert frechet_distance(1.0, 4.0, -2.0, 9.0) == pytest.approx(9.0 + 1.0)
    assert frechet_distance([1.0], [[4.0]], [-2.0], [[9.0]]) == pytest.approx(10.0)


def test_singular_covariances_do_not_crash_and_stay_finite(rng):
    s1, s2 = _random_cov(rng, 10, rank=3), _random_cov(rng, 10, rank=2)
    mu = np.zeros(10)
    value = frechet_distance(mu, s1, mu, s2)
    assert np.isfinite(value) and value >= 0.0
    # all-zero covariances: only the means count
    zero = np.zeros((10, 10))
    assert frechet_distance(mu, zero, mu + 1.0, zero) == pytest.approx(10.0)
    assert frechet_distance(mu, zero, mu, s1) == pytest.approx(np.trace(s1))


def test_symmetric_in_its_arguments(rng):
    mu1, mu2 = rng.normal(size=7), rng.normal(size=7)
    s1, s2 = _random_cov(rng, 7), _random_cov(rng, 7, rank=4)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(frechet_distance(mu2, s2, mu1, s1), rel=1e-9)


def test_agrees_with_scipy_sqrtm_on_full_rank_covariances(rng):
    mu1, mu2 = rng.normal(size=12), rng.normal(size=12)
    s1, s2 = _random_cov(rng, 12), _random_cov(rng, 12)
    covmean = linalg.sqrtm(s1 @ s2).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.zeros(3), np.eye(3), np.zeros(2), np.eye(2)), "different dimensions"),
        ((np.zeros(3), np.eye(2), np.zeros(3), np.eye(3)), "expected mu"),
        ((np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]), np.zeros(2), np.eye(2)), "not symmetric"),
        ((np.array([np.nan, 0.0]), np.eye(2), np.zeros(2), np.eye(2)), "NaN"),
    ],
)
def test_frechet_distance_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        frechet_distance(*args)


# --------------------------------------------------------------------------- statistics helpers


def test_gaussian_stats_uses_ddof_1(rng):
    x = rng.normal(size=(50, 4))
    mu, sigma = gaussian_stats(x)
    np.testing.assert_allclose(mu, x.mean(axis=0))
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False, ddof=1))
    assert gaussian_stats(x[:, :1])[1].shape == (1, 1)


def test_gaussian_stats_needs_two_rows(rng):
    with pytest.raises(ValueError, match="at least 2 embeddings, got N=1"):
        gaussian_stats(rng.normal(size=(1, 4)))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        gaussian_stats(rng.normal(size=4))


def test_band_statistics_embedding_shape_and_values(rng):
    windows = rng.normal(size=(3, 16, 40))
    emb = band_statistics_embedding(windows)
    assert emb.shape == (3, 32)
    np.testing.assert_allclose(emb[:, :16], windows.mean(axis=2))
    np.testing.assert_allclose(emb[:, 16:], windows.std(axis=2))
    with pytest.raises(ValueError, match="n_mels, frames"):
        band_statistics_embedding(windows[0])


def test_real_vs_real_distance_is_small_and_seeded(rng):
    real = rng.normal(size=(400, 6))
    d = real_vs_real_distance(real, seed=1)
    assert d == real_vs_real_distance(real, seed=1)
    assert d != real_vs_real_distance(real, seed=2)
    # two halves of one distribution are far closer than a shifted copy
    shifted = frechet_distance(*gaussian_stats(real), *gaussian_stats(real + 1.0))
    assert 0.0 < d < 0.1 * shifted
    with pytest.raises(ValueError, match="N >= 4"):
        real_vs_real_distance(real[:3], seed=0)


def test_band_profile_correlation(rng):
    profile = np.linspace(-40.0, -10.0, 16)[None, :, None]
    spread = np.linspace(1.0, 5.0, 16)[None, :, None]
    real = profile + spread * rng.normal(size=(20, 16, 50))
    good = profile + spread * rng.normal(size=(10, 16, 50))
    flipped = profile[:, ::-1] + spread[:, ::-1] * rng.normal(size=(10, 16, 50))
    same = band_profile_correlation(real, good)
    assert set(same) == {"mean_profile", "std_profile"}
    assert same["mean_profile"] > 0.99 and same["std_profile"] > 0.9
    bad = band_profile_correlation(real, flipped)
    assert bad["mean_profile"] < -0.99 and bad["std_profile"] < -0.9
    assert np.isnan(band_profile_correlation(real, np.zeros((2, 16, 5)))["mean_profile"])
    with pytest.raises(ValueError, match="band counts differ"):
        band_profile_correlation(real, good[:, :8])


def test_condition_fidelity(rng):
    labels = rng.uniform(-1, 1, size=(30, 2))
    result = condition_fidelity(labels, labels)
    assert result == {"valence": pytest.approx(1.0), "arousal": pytest.approx(1.0)}
    noisy = condition_fidelity(labels, np.column_stack([labels[:, 0], np.zeros(30)]))
    assert noisy["valence"] == pytest.approx(1.0) and noisy["arousal"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        condition_fidelity(labels, labels[:, :1])


def test_diversity_ratio_scales_with_the_spread_of_band_levels(rng):
    real = band_statistics_embedding(rng.normal(size=(50, 6, 10)) + rng.normal(size=(50, 6, 1)))
    assert diversity_ratio(real, real) == pytest.approx(1.0)
    half = real.copy()
    half[:, :6] = real[:, :6] * 0.5
    assert diversity_ratio(real, half) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="band-statistics"):
        diversity_ratio(real, real[:, :5])


def test_matched_distances_compare_equal_sizes(rng):
    real = rng.normal(size=(200, 3))
    same = matched_distances(real, real[np.random.default_rng(4).permutation(200)][:100], seed=4)
    # Half a against real half b is the scale; a generator that returns half b scores exactly that.
    order = np.random.default_rng(4).permutation(200)
    exact = matched_distances(real, real[order[100:]], seed=4)
    assert exact["real_vs_synthetic"] == pytest.approx(exact["real_vs_real"])
    assert same["real_vs_real"] == exact["real_vs_real"]
    shifted = matched_distances(real, real[order[100:]] + 2.0, seed=4)
    assert shifted["real_vs_synthetic"] > exact["real_vs_real"] + 10  # about 3 * 2^2 from the means
    with pytest.raises(ValueError, match="synthetic"):
        matched_distances(real, real[:10], seed=4)
