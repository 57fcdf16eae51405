"""Ridge floor baseline: pooled log-mel statistics and alpha selection by CCC."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from moodscape.metrics.regression import ccc
from moodscape.models.floors.ridge import DEFAULT_ALPHAS, RidgeBaseline, pooled_stats

ALPHAS = (1e-3, 1e-1, 10.0, 100.0, 1e3, 1e4, 1e6)


def linear_data(sizes, *, n_features, noise, seed):
    """Train/val/test (X, y) pairs sharing one linear map; X off-centre and scaled, y on [-1, 1]."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(n_features, 2)) / np.sqrt(n_features)
    out = []
    for n in sizes:
        z = rng.normal(size=(n, n_features))
        y = np.clip(0.6 * z @ w + rng.normal(scale=noise, size=(n, 2)), -1, 1)
        out.append((z * 3 + 5, y))
    return out


def mean_ccc(y, p) -> float:
    return float(np.mean([ccc(y[:, j], p[:, j]) for j in range(y.shape[1])]))


# ------------------------------------------------------------------------------------ pooled_stats


def test_pooled_stats_hand_computed():
    logmel = np.array([[1.0, 3.0, 5.0, 7.0], [-2.0, -2.0, -2.0, -2.0], [0.0, 10.0, 0.0, 10.0]])
    out = pooled_stats(logmel)
    assert out.shape == (6,)
    np.testing.assert_allclose(out[:3], [4.0, -2.0, 5.0])  # means first
    np.testing.assert_allclose(out[3:], [np.sqrt(5.0), 0.0, 5.0])  # population std (ddof=0)


def test_pooled_stats_shape_and_single_frame():
    rng = np.random.default_rng(0)
    assert pooled_stats(rng.normal(size=(128, 431)).astype(np.float32)).shape == (256,)
    one = pooled_stats(np.array([[2.0], [3.0]]))
    np.testing.assert_array_equal(one, [2.0, 3.0, 0.0, 0.0])


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros(10), r"\(n_mels, frames\).*\(10,\)"),
        (np.zeros((1, 4, 5)), r"\(1, 4, 5\)"),
        (np.zeros((4, 0)), "no frames"),
        (np.array([[0.0, np.nan]]), "NaN"),
    ],
)
def test_pooled_stats_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        pooled_stats(bad)


# ------------------------------------------------------------------------------------ RidgeBaseline


def test_recovers_linear_signal_with_val():
    (X, y), (Xv, yv), (Xt, yt) = linear_data((300, 100, 200), n_features=20, noise=0.05, seed=0)
    model = RidgeBaseline().fit(X, y, Xv, yv, alphas=ALPHAS)
    pred = model.predict(Xt)
    assert pred.shape == (200, 2)
    assert ccc(yt[:, 0], pred[:, 0]) > 0.97 and ccc(yt[:, 1], pred[:, 1]) > 0.97
    assert model.alpha_ == 1e-3  # almost noise-free, n >> features: least shrinkage wins
    assert model.selected_by_ == "val" and set(model.scores_) == set(ALPHAS)


def test_recovers_linear_signal_with_cv():
    (X, y), (Xt, yt) = linear_data((300, 200), n_features=20, noise=0.05, seed=1)
    model = RidgeBaseline(cv_folds=4, seed=3).fit(X, y, alphas=ALPHAS)
    assert model.selected_by_ == "cv" and model.alpha_ == 1e-3
    assert mean_ccc(yt, model.predict(Xt)) > 0.97


@pytest.mark.parametrize("use_val", [True, False])
def test_picks_interior_alpha_when_samples_are_few(use_val):
    # 70 samples, 50 features, noisy: too little shrinkage overfits, too much flattens predictions
    # (CCC punishes shrunken variance), so the best alpha lies inside the grid.
    (X, y), (Xv, yv) = linear_data((70, 200), n_features=50, noise=0.3, seed=2)
    model = RidgeBaseline().fit(X, y, *((Xv, yv) if use_val else ()), alphas=ALPHAS)
    assert model.alpha_ == 10.0
    assert model.scores_[10.0] > model.scores_[1e-3] and model.scores_[10.0] > model.scores_[1e6]


def test_selection_matches_independent_search_and_final_fit_uses_train_only():
    (X, y), (Xv, yv) = linear_data((80, 60), n_features=30, noise=0.3, seed=4)
    model = RidgeBaseline().fit(X, y, Xv, yv, alphas=ALPHAS)
    scores = {}
    for a in ALPHAS:
        ref = make_pipeline(StandardScaler(), Ridge(alpha=a)).fit(X, y)
        scores[a] = mean_ccc(yv, np.clip(ref.predict(Xv), -1, 1))
    assert model.alpha_ == max(scores, key=scores.get)
    assert model.scores_ == pytest.approx(scores)
    ref = make_pipeline(StandardScaler(), Ridge(alpha=model.alpha_)).fit(X, y)
    np.testing.assert_allclose(model.predict(Xv), np.clip(ref.predict(Xv), -1, 1))


def test_ties_go_to_larger_alpha():
    (X, y), (Xv, _) = linear_data((50, 20), n_features=5, noise=0.1, seed=5)
    yv = np.full((20, 2), 0.2)  # constant truth: CCC is 0 for every alpha
    model = RidgeBaseline().fit(X, y, Xv, yv, alphas=(0.1, 1.0, 10.0))
    assert set(model.scores_.values()) == {0.0}
    assert model.alpha_ == 10.0


def test_single_alpha_skips_selection():
    (X, y), = linear_data((30,), n_features=4, noise=0.1, seed=6)
    model = RidgeBaseline().fit(X, y, alphas=[3.0])
    assert model.alpha_ == 3.0 and model.selected_by_ == "single" and model.scores_ == {}


def test_predictions_clipped():
    (X, y), = linear_data((100,), n_features=3, noise=0.05, seed=7)
    model = RidgeBaseline().fit(X, y, alphas=[1e-3])
    extreme = np.vstack([X[:5], X[:5] * 100, -X[:5] * 100])
    pred = model.predict(extreme)
    assert pred.shape == (15, 2)
    assert pred.min() == -1.0 and pred.max() == 1.0


def test_default_alphas_match_config():
    from moodscape.config import BaselineConfig

    assert list(DEFAULT_ALPHAS) == BaselineConfig().alphas


def test_end_to_end_on_pooled_spectrograms():
    # Valence drives the level of the low bands, arousal the temporal variability of the high bands.
    rng = np.random.default_rng(8)
    labels = rng.uniform(-1, 1, size=(120, 2))
    feats = []
    for v, a in labels:
        logmel = rng.normal(scale=1.0, size=(16, 50)) - 40.0
        logmel[:4] += 10 * v
        logmel[12:] += (2 + 1.5 * a) * rng.normal(size=(4, 50))
        feats.append(pooled_stats(logmel))
    X = np.stack(feats)
    model = RidgeBaseline().fit(X[:80], labels[:80], X[80:100], labels[80:100])
    assert mean_ccc(labels[100:], model.predict(X[100:])) > 0.85


def test_bad_input():
    (X, y), = linear_data((20,), n_features=3, noise=0.1, seed=9)
    with pytest.raises(NotFittedError, match="fit"):
        RidgeBaseline().predict(X)
    with pytest.raises(ValueError, match="both X_val and y_val"):
        RidgeBaseline().fit(X, y, X)
    with pytest.raises(ValueError, match="positive"):
        RidgeBaseline().fit(X, y, alphas=[0.0, 1.0])
    with pytest.raises(ValueError, match="positive finite"):
        RidgeBaseline().fit(X, y, alphas=[1.0, float("inf")])
    with pytest.raises(ValueError, match=r"X \(20, 3\), y \(19, 2\)"):
        RidgeBaseline().fit(X, y[:-1])
    with pytest.raises(ValueError, match="NaN"):
        RidgeBaseline().fit(np.where(X > 6, np.nan, X), y)
    with pytest.raises(ValueError, match="do not match"):
        RidgeBaseline().fit(X, y, X[:, :2], y)
    with pytest.raises(ValueError, match="cv_folds"):
        RidgeBaseline(cv_folds=1)
    model = RidgeBaseline().fit(X, y)
    with pytest.raises(ValueError, match=r"\(N, 3\).*\(4, 2\)"):
        model.predict(np.zeros((4, 2)))
