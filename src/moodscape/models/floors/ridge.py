"""The floor baseline: ridge regression on pooled log-mel statistics.

Every clip becomes one fixed-length vector (per-band mean and std over time), and one multi-output
ridge model maps it to (valence, arousal). Any learned model must beat this.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ...errors import ParameterError
from ...metrics.regression import ccc

__all__ = ["DEFAULT_ALPHAS", "pooled_stats", "RidgeBaseline"]

logger = logging.getLogger(__name__)

DEFAULT_ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)  # same as BaselineConfig.alphas


def pooled_stats(logmel: np.ndarray) -> np.ndarray:
    """Per-band mean and standard deviation over time of one clip's log-mel spectrogram.

    Args:
        logmel: (n_mels, frames), in the front end's units (dB, or normalised dB); frames >= 1.

    Returns:
        (2 * n_mels,) float64: ``[mean_band_0 .. mean_band_{n-1}, std_band_0 .. std_band_{n-1}]``,
        in the input's units; std is the population std (ddof=0), 0 for a single frame.
    """
    x = np.asarray(logmel, dtype=np.float64)
    if x.ndim != 2:
        raise ParameterError(f"expected one clip's log-mel of shape (n_mels, frames), got {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ParameterError(f"log-mel has no bands or no frames: shape {x.shape}")
    if not np.isfinite(x).all():
        raise ParameterError(f"log-mel of shape {x.shape} has {int((~np.isfinite(x)).sum())} NaN/inf values")
    return np.concatenate([x.mean(axis=1), x.std(axis=1)])


def _check_xy(X, y, what: str) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.ndim != 2 or X.shape[0] != y.shape[0]:
        raise ParameterError(
            f"{what}: expected X (N, features) and y (N, outputs), got X {X.shape}, y {y.shape}"
        )
    if X.shape[0] == 0:
        raise ParameterError(f"{what}: no samples (X {X.shape})")
    for name, arr in (("X", X), ("y", y)):
        if not np.isfinite(arr).all():
            raise ParameterError(f"{what}: {name} {arr.shape} has NaN or infinite values")
    return X, y


def _mean_ccc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean([ccc(y_true[:, j], y_pred[:, j]) for j in range(y_true.shape[1])]))


class RidgeBaseline:
    """StandardScaler + one multi-output sklearn Ridge; alpha chosen by mean CCC over outputs.

    Args:
        cv_folds: folds of the internal cross-validation used when ``fit`` gets no validation set.
        seed: shuffling seed of that cross-validation.

    Attributes (after ``fit``):
        alpha_: the chosen regularisation strength.
        scores_: {alpha: mean CCC} on the validation set, or on pooled out-of-fold predictions.
        selected_by_: ``"val"``, ``"cv"`` or ``"single"`` (only one alpha given).
    """

    def __init__(self, *, cv_folds: int = 5, seed: int = 0) -> None:
        if cv_folds < 2:
            raise ParameterError(f"cv_folds must be at least 2, got {cv_folds}")
        self.cv_folds = cv_folds
        self.seed = seed
        self.alpha_: float | None = None
        self.scores_: dict[float, float] = {}
        self.selected_by_: str | None = None
        self._model: Pipeline | None = None
        self._n_features: int | None = None

    @staticmethod
    def _make(alpha: float) -> Pipeline:
        return make_pipeline(StandardScaler(), Ridge(alpha=alpha))

    def _predict_with(self, model: Pipeline, X: np.ndarray) -> np.ndarray:
        return np.clip(model.predict(X), -1.0, 1.0)

    def fit(
        self,
        X_train,
        y_train,
        X_val=None,
        y_val=None,
        *,
        alphas: Sequence[float] = DEFAULT_ALPHAS,
    ) -> RidgeBaseline:
        """Choose alpha, then fit the final model on the training set only.

        Args:
            X_train: (N, F) pooled features, e.g. stacked :func:`pooled_stats`.
            y_train: (N, 2) valence, arousal on [-1, 1].
            X_val, y_val: optional (M, F) and (M, 2); when given, alpha maximises mean CCC of the
                clipped predictions on them; otherwise on out-of-fold predictions of a
                ``cv_folds``-fold cross-validation of the training set. Ties go to the larger
                alpha (the simpler model). The final model never sees the validation set, so its
                validation score stays comparable with models selected the same way.
            alphas: candidate strengths, all > 0.
        """
        X_train, y_train = _check_xy(X_train, y_train, "training set")
        alphas = sorted({float(a) for a in alphas})
        if not alphas or alphas[0] <= 0 or not np.isfinite(alphas[-1]):
            raise ParameterError(f"alphas must be a non-empty list of positive finite numbers, got {alphas}")
        if (X_val is None) != (y_val is None):
            raise ParameterError("pass both X_val and y_val, or neither")

        if X_val is not None:
            X_val, y_val = _check_xy(X_val, y_val, "validation set")
            if X_val.shape[1] != X_train.shape[1] or y_val.shape[1] != y_train.shape[1]:
                raise ParameterError(
                    f"validation shapes X {X_val.shape}, y {y_val.shape} do not match training "
                    f"X {X_train.shape}, y {y_train.shape}"
                )
            self.scores_ = {}
            for a in alphas:
                fitted = self._make(a).fit(X_train, y_train)
                self.scores_[a] = _mean_ccc(y_val, self._predict_with(fitted, X_val))
            self.selected_by_ = "val"
        elif len(alphas) > 1:
            n_splits = min(self.cv_folds, X_train.shape[0])
            if n_splits < 2:
                raise ParameterError(
                    "choosing alpha by cross-validation needs at least 2 training samples, "
                    f"got {X_train.shape[0]}"
                )
            folds = list(KFold(n_splits, shuffle=True, random_state=self.seed).split(X_train))
            self.scores_ = {}
            for a in alphas:
                oof = np.empty_like(y_train)
                for tr, te in folds:
                    oof[te] = self._predict_with(self._make(a).fit(X_train[tr], y_train[tr]), X_train[te])
                self.scores_[a] = _mean_ccc(y_train, oof)
            self.selected_by_ = "cv"
        else:
            self.scores_ = {}
            self.selected_by_ = "single"

        # max over (score, alpha): ties favour the larger alpha
        self.alpha_ = max(alphas, key=lambda a: (self.scores_.get(a, 0.0), a)) if self.scores_ else alphas[0]
        self._model = self._make(self.alpha_).fit(X_train, y_train)
        self._n_features = X_train.shape[1]
        logger.info(
            "ridge baseline: alpha %g chosen by %s (mean CCC by alpha: %s)",
            self.alpha_, self.selected_by_, {a: round(s, 4) for a, s in self.scores_.items()},
        )
        return self

    def predict(self, X) -> np.ndarray:
        """(N, F) features -> (N, 2) valence, arousal, clipped to [-1, 1]."""
        if self._model is None:
            raise NotFittedError("RidgeBaseline is not fitted yet; call fit(X_train, y_train, ...) first")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self._n_features:
            raise ParameterError(f"expected X of shape (N, {self._n_features}), got {X.shape}")
        if not np.isfinite(X).all():
            raise ParameterError(f"X {X.shape} has NaN or infinite values")
        return self._predict_with(self._model, X)
