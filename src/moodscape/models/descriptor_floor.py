"""The classical floor: an RBF support-vector regressor per dimension on standardised clip descriptors.

The 2018-style recipe (Panda et al. on 4Q; MediaEval baselines): handcrafted timbre, spectral, rhythm
and tonal statistics (:mod:`moodscape.audio.descriptors`) and an SVM. ``C`` and ``gamma`` are chosen
per dimension by k-fold cross-validation on the training songs only.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

C_GRID = (0.1, 0.3, 1.0, 3.0)
GAMMA_SCALES = (0.3, 1.0, 3.0)  # times sklearn's 'scale' (1 / n_features on standardised inputs)


class DescriptorFloor:
    """``fit(X, y)`` with X (N, descriptors) and y (N, 2) on [-1, 1]; ``predict(X)`` -> (N, 2) on [-1, 1]."""

    def __init__(self, *, folds: int = 4, seed: int = 0) -> None:
        self.folds, self.seed = folds, seed
        self.models_: list = []
        self.params_: list[dict[str, float]] = []

    def fit(self, X: np.ndarray, y: np.ndarray) -> DescriptorFloor:
        from sklearn.model_selection import GridSearchCV, KFold
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVR

        X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if X.ndim != 2 or y.shape != (X.shape[0], 2) or X.shape[0] < 2 * self.folds:
            raise ValueError(f"expected X (N, features), y (N, 2) with N >= {2 * self.folds}; got {X.shape}, {y.shape}")
        grid = {"svr__C": list(C_GRID), "svr__gamma": [s / X.shape[1] for s in GAMMA_SCALES]}
        cv = KFold(self.folds, shuffle=True, random_state=self.seed)
        self.models_, self.params_ = [], []
        for column in range(2):
            search = GridSearchCV(make_pipeline(StandardScaler(), SVR()), grid, cv=cv,
                                  scoring="neg_mean_squared_error")  # fmt: skip
            search.fit(X, y[:, column])
            self.models_.append(search.best_estimator_)
            self.params_.append({k.removeprefix("svr__"): float(v) for k, v in search.best_params_.items()})
        log.info("descriptor floor: SVR parameters %s chosen by %d-fold CV", self.params_, self.folds)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        if not self.models_:
            raise RuntimeError("DescriptorFloor.predict before fit")
        X = np.asarray(X, dtype=np.float64)
        return np.clip(np.stack([m.predict(X) for m in self.models_], axis=1), -1.0, 1.0)
