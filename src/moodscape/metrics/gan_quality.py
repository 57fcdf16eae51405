"""How close synthetic log-mel windows are to real ones: Frechet distance and simple profiles.

The embedding space is "per-band log-mel statistics": each window (n_mels, frames) becomes the
per-band mean and standard deviation over time, a (2 * n_mels,) vector. It needs no trained network,
so the distance means the same thing in every run. A Frechet distance alone has no unit that a
reader can judge, so :func:`real_vs_real_distance` gives the distance between two halves of the real
windows: a synthetic set is as close to the real data as it can be when its distance is near that.

The matrix square root uses the symmetric form. For covariances S1, S2 (symmetric positive
semi-definite), ``tr sqrtm(S1 @ S2) = tr sqrtm(S1^1/2 @ S2 @ S1^1/2)``: both products have the same
eigenvalues, and the second is symmetric PSD. Its eigenvalues are the squared singular values of
``S1^1/2 @ S2^1/2``, so the trace is that product's nuclear norm (sum of singular values). The
square roots S^1/2 come from ``numpy.linalg.eigh`` with negative rounding noise clipped to zero.
Unlike ``scipy.linalg.sqrtm(S1 @ S2)``, this never produces an imaginary part, needs no eps*I retry
for singular covariances (fewer windows than dimensions, constant bands), and is symmetric in its
arguments by construction (swapping them transposes the product, which keeps its singular values).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ParameterError
from .regression import ccc

__all__ = [
    "frechet_distance",
    "gaussian_stats",
    "band_statistics_embedding",
    "split_halves",
    "real_vs_real_distance",
    "matched_distances",
    "band_profile_correlation",
    "condition_fidelity",
    "diversity_ratio",
]

DIMENSIONS = ("valence", "arousal")


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric PSD matrix via eigh; negative rounding noise clipped to zero."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def _check_gaussian(mu, sigma, name: str) -> tuple[np.ndarray, np.ndarray]:
    m = np.atleast_1d(np.asarray(mu, dtype=np.float64))
    s = np.atleast_2d(np.asarray(sigma, dtype=np.float64))
    if m.ndim != 1 or s.shape != (m.shape[0], m.shape[0]):
        raise ParameterError(f"{name}: expected mu (D,) and sigma (D, D), got mu {m.shape} and sigma {s.shape}")
    if not (np.isfinite(m).all() and np.isfinite(s).all()):
        raise ParameterError(f"{name}: mu or sigma has NaN or infinite values")
    scale = max(float(np.abs(s).max()), 1e-300)
    if np.abs(s - s.T).max() > 1e-6 * scale:
        raise ParameterError(f"{name}: sigma is not symmetric; pass a covariance matrix")
    return m, (s + s.T) / 2.0


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Frechet distance between the Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    ``|mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr sqrtm(sigma1 @ sigma2)``, in squared units of
    the embedding. mu: (D,); sigma: (D, D) symmetric PSD (a 1-D case may pass scalars). The trace of
    the square root comes from the symmetric form (see module docstring), so singular covariances
    are fine. Rounding can make the exact value 0 come out slightly negative; it is clipped to 0.
    """
    m1, s1 = _check_gaussian(mu1, sigma1, "first Gaussian")
    m2, s2 = _check_gaussian(mu2, sigma2, "second Gaussian")
    if m1.shape != m2.shape:
        raise ParameterError(f"the Gaussians have different dimensions: {m1.shape[0]} and {m2.shape[0]}")
    trace_sqrt = float(np.linalg.svd(_psd_sqrt(s1) @ _psd_sqrt(s2), compute_uv=False).sum())
    diff = m1 - m2
    distance = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt)
    return max(distance, 0.0)


def gaussian_stats(embeddings) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) embeddings -> (mean (D,), covariance (D, D)), float64, covariance with ddof=1."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2:
        raise ParameterError(f"embeddings must be (N, D), got shape {x.shape}")
    if x.shape[0] < 2:
        raise ParameterError(f"a covariance needs at least 2 embeddings, got N={x.shape[0]} (shape {x.shape})")
    if not np.isfinite(x).all():
        raise ParameterError(f"embeddings {x.shape} have NaN or infinite values")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False, ddof=1))


def band_statistics_embedding(windows) -> np.ndarray:
    """(N, n_mels, frames) log-mel windows -> (N, 2 * n_mels) float64.

    Columns ``[:n_mels]`` are each band's mean over time, ``[n_mels:]`` its standard deviation
    (population, ddof=0), in the windows' units (dB or z-scores).
    """
    x = np.asarray(windows, dtype=np.float64)
    if x.ndim != 3 or x.shape[0] == 0 or x.shape[2] == 0:
        raise ParameterError(f"windows must be (N, n_mels, frames) with N, frames > 0, got shape {x.shape}")
    return np.concatenate([x.mean(axis=2), x.std(axis=2)], axis=1)


def split_halves(count: int, *, seed: int | Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint random halves (a, b) of ``range(count)``, ``count // 2`` indices each, from ``seed``."""
    order = np.random.default_rng(seed).permutation(count)
    half = count // 2
    return order[:half], order[half : 2 * half]


def real_vs_real_distance(embeddings, *, seed: int) -> float:
    """Frechet distance between two disjoint random halves of the real (N, D) embeddings.

    The scale for a synthetic-vs-real distance: sampling noise alone gives this much. Each half has
    N // 2 rows (one row is left out when N is odd), so N must be at least 4.
    """
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 4:
        raise ParameterError(f"need (N, D) embeddings with N >= 4 to split into two halves, got shape {x.shape}")
    a, b = split_halves(x.shape[0], seed=seed)
    return frechet_distance(*gaussian_stats(x[a]), *gaussian_stats(x[b]))


def matched_distances(real_embeddings, synthetic_embeddings, *, seed: int | Sequence[int]) -> dict[str, float]:
    """Real vs synthetic and real vs real Frechet distances at equal set sizes.

    The real (N, D) embeddings are split into halves a and b by :func:`split_halves`; ``real_vs_real``
    is a vs b, ``real_vs_synthetic`` is a vs the first N // 2 synthetic embeddings (generated for the
    labels of half b, where the caller wants them matched). Comparing N against N for
    one and N / 2 against N / 2 for the other would give them different small-sample biases, and a
    perfect generator would then land below its own scale.
    """
    real = np.asarray(real_embeddings, dtype=np.float64)
    synth = np.asarray(synthetic_embeddings, dtype=np.float64)
    if real.ndim != 2 or real.shape[0] < 4 or synth.ndim != 2 or synth.shape[1] != real.shape[1]:
        raise ParameterError(f"need (N >= 4, D) real and (M, D) synthetic embeddings, got {real.shape} and {synth.shape}")
    half = real.shape[0] // 2
    if synth.shape[0] < half:
        raise ParameterError(f"need at least {half} synthetic embeddings to match half of {real.shape[0]} real ones")
    a, b = split_halves(real.shape[0], seed=seed)
    stats_a = gaussian_stats(real[a])
    return {
        "real_vs_synthetic": frechet_distance(*stats_a, *gaussian_stats(synth[:half])),
        "real_vs_real": frechet_distance(*stats_a, *gaussian_stats(real[b])),
    }


def _pearson_or_nan(a: np.ndarray, b: np.ndarray) -> float:
    ca, cb = a - a.mean(), b - b.mean()
    norm = float(np.sqrt((ca @ ca) * (cb @ cb)))
    return float("nan") if norm == 0.0 else float(np.clip((ca @ cb) / norm, -1.0, 1.0))


def band_profile_correlation(real_windows, synthetic_windows) -> dict[str, float]:
    """Pearson correlation of the per-band profiles of two sets of (N, n_mels, frames) windows.

    ``mean_profile``: the per-band mean over all windows and frames; ``std_profile``: the per-band
    standard deviation over all windows and frames. Each is an (n_mels,) curve; the correlation says
    whether the synthetic spectrum has the real spectral shape (NaN when a profile is flat).
    """
    real = np.asarray(real_windows, dtype=np.float64)
    synth = np.asarray(synthetic_windows, dtype=np.float64)
    for name, x in (("real_windows", real), ("synthetic_windows", synth)):
        if x.ndim != 3 or x.shape[0] == 0 or x.shape[2] == 0:
            raise ParameterError(f"{name} must be (N, n_mels, frames) with N, frames > 0, got shape {x.shape}")
    if real.shape[1] != synth.shape[1]:
        raise ParameterError(f"band counts differ: real {real.shape}, synthetic {synth.shape}")
    return {
        "mean_profile": _pearson_or_nan(real.mean(axis=(0, 2)), synth.mean(axis=(0, 2))),
        "std_profile": _pearson_or_nan(real.std(axis=(0, 2)), synth.std(axis=(0, 2))),
    }


def condition_fidelity(labels, predictions) -> dict[str, float]:
    """CCC per dimension between conditioning labels and a regressor's predictions on the outputs.

    labels, predictions: (N, 2) as (valence, arousal). Returns ``{"valence": ccc, "arousal": ccc}``.
    """
    t = np.asarray(labels, dtype=np.float64)
    p = np.asarray(predictions, dtype=np.float64)
    if t.shape != p.shape or t.ndim != 2 or t.shape[1] != len(DIMENSIONS):
        raise ParameterError(f"labels and predictions must both be (N, 2) (valence, arousal), got {t.shape} and {p.shape}")
    return {name: ccc(t[:, i], p[:, i]) for i, name in enumerate(DIMENSIONS)}


def diversity_ratio(real_embedding, synthetic_embedding) -> float:
    """How much generated windows differ from one another, relative to real ones (1 = as varied).

    Both arguments are :func:`band_statistics_embedding` outputs (N, 2 * n_mels). The spread is each
    band's mean level's standard deviation across windows, averaged over bands; real windows come
    from different songs, so a generator that makes every window alike scores near 0 here even when
    its average spectrum is right (mode collapse), which the Frechet distance alone does not name.
    """
    real, synth = np.asarray(real_embedding, dtype=np.float64), np.asarray(synthetic_embedding, dtype=np.float64)
    if real.ndim != 2 or real.shape[1] != synth.shape[1] or real.shape[1] % 2 or min(len(real), len(synth)) < 2:
        raise ParameterError(f"need two (N >= 2, 2 * n_mels) band-statistics embeddings, got {real.shape} and {synth.shape}")
    bands = real.shape[1] // 2
    spread = float(real[:, :bands].std(axis=0).mean())
    if spread == 0.0:
        raise ParameterError("the real windows all have the same band means; diversity has no scale")
    return float(synth[:, :bands].std(axis=0).mean()) / spread
