"""Metrics: hand-computed values, independent references, degenerate cases, torch == numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from moodscape.metrics import regression as M

NUMPY_FNS = {"ccc": M.ccc, "pearson": M.pearson, "r2": M.r2, "mse": M.mse, "mae": M.mae, "rmse": M.rmse}
TORCH_FNS = {
    "ccc": M.ccc_torch,
    "pearson": M.pearson_torch,
    "r2": M.r2_torch,
    "mse": M.mse_torch,
    "mae": M.mae_torch,
    "rmse": M.rmse_torch,
}


def _ccc_reference(t: np.ndarray, p: np.ndarray) -> float:
    """CCC via Pearson: 2 * rho * sx * sy / (sx^2 + sy^2 + (mx - my)^2), population std."""
    rho = stats.pearsonr(t, p).statistic
    sx, sy = np.std(t), np.std(p)
    return 2 * rho * sx * sy / (sx**2 + sy**2 + (t.mean() - p.mean()) ** 2)


# ------------------------------------------------------------------------------ hand-computed


def test_hand_computed_values():
    # t = [1, 2, 3], p = [1, 2, 4]: var_t = 2/3, var_p = 14/9, cov = 1, (mean diff)^2 = 1/9.
    t, p = [1.0, 2.0, 3.0], [1.0, 2.0, 4.0]
    assert M.ccc(t, p) == pytest.approx(2 * 1 / (2 / 3 + 14 / 9 + 1 / 9))  # = 6/7
    assert M.ccc(t, p) == pytest.approx(6 / 7)
    assert M.pearson(t, p) == pytest.approx(math.sqrt(27 / 28))
    assert M.r2(t, p) == pytest.approx(0.5)  # SS_res = 1, SS_tot = 2
    assert M.mse(t, p) == pytest.approx(1 / 3)
    assert M.mae(t, p) == pytest.approx(1 / 3)
    assert M.rmse(t, p) == pytest.approx(math.sqrt(1 / 3))


def test_ccc_uses_population_moments():
    # ddof=1 moments would give 2 * 1 / (0.5 + 2 + 0.25) = 0.727..., not 0.666...
    t, p = np.array([0.0, 1.0]), np.array([0.0, 2.0])
    # ddof=0: var_t = 0.25, var_p = 1, cov = 0.5, (mean diff)^2 = 0.25 -> 1 / 1.5
    assert M.ccc(t, p) == pytest.approx(1 / 1.5)


def test_ccc_penalises_bias_and_scale_but_pearson_does_not(rng):
    t = rng.normal(size=100)
    t -= t.mean()
    assert M.pearson(t, 2 * t + 1) == pytest.approx(1.0)
    assert M.ccc(t, 2 * t + 1) < 0.8
    assert M.ccc(t, -t) == pytest.approx(-1.0)


# ------------------------------------------------------------------------------ references


@pytest.mark.parametrize("n", [2, 5, 50, 500])
def test_against_independent_references(rng, n):
    t = rng.normal(size=n)
    p = 0.6 * t + rng.normal(scale=0.5, size=n) + 0.2
    assert M.ccc(t, p) == pytest.approx(_ccc_reference(t, p), rel=1e-10, abs=1e-12)
    assert M.pearson(t, p) == pytest.approx(stats.pearsonr(t, p).statistic, rel=1e-10, abs=1e-12)
    assert M.r2(t, p) == pytest.approx(r2_score(t, p), rel=1e-10, abs=1e-12)
    assert M.mse(t, p) == pytest.approx(mean_squared_error(t, p), rel=1e-12)
    assert M.mae(t, p) == pytest.approx(mean_absolute_error(t, p), rel=1e-12)
    assert M.rmse(t, p) == pytest.approx(math.sqrt(mean_squared_error(t, p)), rel=1e-12)


def test_regression_metrics_per_dimension(rng):
    t = rng.uniform(-1, 1, size=(40, 2))
    p = t + rng.normal(scale=[0.1, 0.5], size=(40, 2))
    out = M.regression_metrics(t, p)
    assert list(out) == ["valence", "arousal"]
    for j, name in enumerate(["valence", "arousal"]):
        assert set(out[name]) == set(M.METRIC_NAMES)
        assert out[name]["ccc"] == pytest.approx(_ccc_reference(t[:, j], p[:, j]))
        assert out[name]["r2"] == pytest.approx(r2_score(t[:, j], p[:, j]))
        assert all(isinstance(v, float) for v in out[name].values())
    # Columns are not mixed up: valence has less noise than arousal.
    assert out["valence"]["ccc"] > out["arousal"]["ccc"]
    assert out["valence"]["mse"] < out["arousal"]["mse"]


def test_regression_metrics_custom_names(rng):
    t = rng.normal(size=(10, 1))
    out = M.regression_metrics(t, t, names=("valence",))
    assert out["valence"]["ccc"] == pytest.approx(1.0)


# ------------------------------------------------------------------------------ degenerate cases


def test_perfect_predictions(rng):
    t = rng.normal(size=20)
    assert M.ccc(t, t) == pytest.approx(1.0)
    assert M.pearson(t, t) == pytest.approx(1.0)
    assert M.r2(t, t) == 1.0
    assert M.mse(t, t) == M.mae(t, t) == M.rmse(t, t) == 0.0


def test_constant_predictions_with_varying_truth(rng):
    t = rng.normal(size=20)
    p = np.full(20, 0.1)  # 0.1 is not exact in binary; the mean must not create fake variance
    assert M.ccc(t, p) == 0.0
    assert math.isnan(M.pearson(t, p))
    assert M.r2(t, p) == pytest.approx(r2_score(t, p))


def test_constant_truth():
    t = np.full(5, 0.3)
    assert math.isnan(M.pearson(t, [0.1, 0.2, 0.3, 0.4, 0.5]))
    assert M.r2(t, t) == 1.0 == r2_score(t, t)
    assert M.r2(t, [0.1, 0.2, 0.3, 0.4, 0.5]) == 0.0 == r2_score(t, [0.1, 0.2, 0.3, 0.4, 0.5])
    assert M.ccc(t, [0.1, 0.2, 0.3, 0.4, 0.5]) == 0.0


def test_both_constant():
    assert M.ccc([0.3] * 4, [0.3] * 4) == 1.0
    assert M.ccc([0.3] * 4, [0.2] * 4) == 0.0
    assert M.ccc([0.7], [0.7]) == 1.0
    assert M.ccc([0.7], [0.1]) == 0.0


@pytest.mark.parametrize("fn", list(NUMPY_FNS.values()), ids=list(NUMPY_FNS))
def test_bad_input_raises(fn):
    with pytest.raises(ValueError, match=r"empty.*\(0,\)"):
        fn([], [])
    with pytest.raises(ValueError, match=r"same shape.*\(3,\).*\(2,\)"):
        fn([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="NaN"):
        fn([1.0, np.nan, 3.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="y_pred.*NaN or infinite"):
        fn([1.0, 2.0, 3.0], [1.0, np.inf, 3.0])
    with pytest.raises(ValueError, match="regression_metrics"):
        fn(np.zeros((3, 2)), np.zeros((3, 2)))


def test_regression_metrics_bad_input():
    with pytest.raises(ValueError, match=r"3 column.*2 name"):
        M.regression_metrics(np.zeros((4, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"2-D"):
        M.regression_metrics(np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match=r"empty.*\(0, 2\)"):
        M.regression_metrics(np.zeros((0, 2)), np.zeros((0, 2)))
    with pytest.raises(ValueError, match="NaN"):
        M.regression_metrics(np.full((4, 2), np.nan), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="unique"):
        M.regression_metrics(np.zeros((4, 2)), np.zeros((4, 2)), names=("a", "a"))


# ------------------------------------------------------------------------------ torch


def _cases(rng) -> list[tuple[np.ndarray, np.ndarray]]:
    t = rng.normal(size=30)
    return [
        (t, 0.7 * t + rng.normal(scale=0.4, size=30) - 0.1),  # ordinary
        (t, t),  # perfect
        (t, np.full(30, 0.1)),  # constant prediction
        (np.full(30, 0.3), t),  # constant truth
        (np.full(30, 0.3), np.full(30, 0.3)),  # both constant, equal
        (np.full(30, 0.3), np.full(30, -0.2)),  # both constant, different
        (np.array([0.5]), np.array([0.5])),  # N = 1
    ]


@pytest.mark.parametrize("name", list(NUMPY_FNS))
def test_torch_agrees_with_numpy(rng, name):
    for t, p in _cases(rng):
        expected = NUMPY_FNS[name](t, p)
        got = TORCH_FNS[name](torch.from_numpy(p), torch.from_numpy(t))
        assert got.shape == ()
        if math.isnan(expected):
            assert torch.isnan(got), (name, t[:3], p[:3])
        else:
            assert got.item() == pytest.approx(expected, rel=1e-9, abs=1e-9), (name, t[:3], p[:3])


@pytest.mark.parametrize("name", list(NUMPY_FNS))
def test_torch_2d_matches_per_column_and_float32(rng, name):
    t = rng.uniform(-1, 1, size=(64, 2))
    p = t * [0.8, 0.3] + rng.normal(scale=0.3, size=(64, 2))
    got = TORCH_FNS[name](torch.from_numpy(p).float(), torch.from_numpy(t).float())
    assert got.shape == (2,) and got.dtype == torch.float32
    expected = [NUMPY_FNS[name](t[:, j], p[:, j]) for j in range(2)]
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_torch_shape_errors():
    with pytest.raises(ValueError, match=r"same shape.*\(4,\).*\(4, 1\)"):
        M.ccc_torch(torch.zeros(4), torch.zeros(4, 1))
    with pytest.raises(ValueError, match=r"at least one sample"):
        M.mse_torch(torch.zeros(0, 2), torch.zeros(0, 2))
    with pytest.raises(ValueError, match=r"\(N,\) or \(N, D\)"):
        M.ccc_torch(torch.zeros(2, 2, 2), torch.zeros(2, 2, 2))


def test_ccc_loss_gradient_matches_finite_differences(rng):
    t = torch.from_numpy(rng.uniform(-1, 1, size=(16, 2)))
    p = torch.from_numpy(rng.uniform(-1, 1, size=(16, 2))).requires_grad_(True)
    assert torch.autograd.gradcheck(M.ccc_loss, (p, t))
    loss = M.ccc_loss(p, t)
    loss.backward()
    assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_ccc_loss_gradient_finite_in_degenerate_cases():
    target = torch.linspace(-1, 1, 8)
    # Collapsed (constant) predictions still get a useful gradient from the covariance term.
    pred = torch.zeros(8, requires_grad=True)
    M.ccc_loss(pred, target).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    # Both constant and equal: value 1 and a finite gradient.
    pred = torch.full((8,), 0.25, requires_grad=True)
    value = M.ccc_torch(pred, torch.full((8,), 0.25))
    value.backward()
    assert value.item() == 1.0 and torch.isfinite(pred.grad).all()


def test_ccc_loss_values(rng):
    t = torch.from_numpy(rng.normal(size=(20, 2)))
    t = t - t.mean(dim=0)
    assert M.ccc_loss(t, t).item() == pytest.approx(0.0, abs=1e-12)
    assert M.ccc_loss(-t, t).item() == pytest.approx(2.0)
    assert M.ccc_loss(torch.zeros(20, 2), t).item() == pytest.approx(1.0)


def test_ccc_loss_optimises_towards_target(rng):
    target = torch.from_numpy(rng.uniform(-1, 1, size=(32, 2))).float()
    pred = torch.zeros(32, 2).normal_(generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    opt = torch.optim.Adam([pred], lr=0.05)
    start = M.ccc_loss(pred, target).item()
    for _ in range(300):
        opt.zero_grad()
        M.ccc_loss(pred, target).backward()
        opt.step()
    assert M.ccc_loss(pred, target).item() < min(0.05, start / 10)


def test_a_bad_argument_is_a_parameter_error_that_is_also_a_value_error():
    from moodscape.errors import MoodscapeError, ParameterError
    from moodscape.metrics.regression import ccc

    with pytest.raises(ParameterError, match="same shape") as info:
        ccc(np.zeros(3), np.zeros(4))
    assert isinstance(info.value, MoodscapeError) and isinstance(info.value, ValueError)
