"""The classical floor: an RBF support-vector regressor per dimension on standardised clip descriptors.

The 2018-style recipe (Panda et al. on 4Q; MediaEval baselines): handcrafted timbre, spectral, rhythm
and tonal statistics (:mod:`moodscape.audio.descriptors`) and an SVM. ``C`` and ``gamma`` are chosen
per dimension by k-fold cross-validation on the training songs only. A fitted floor saves as
safetensors (scaler, support vectors, dual coefficients) plus JSON and predicts with numpy, so a
model that fuses it needs no pickle and no scikit-learn object at prediction time.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ...errors import ParameterError
from .storage import load_arrays, save_arrays

log = logging.getLogger(__name__)

C_GRID = (0.1, 0.3, 1.0, 3.0)
GAMMA_SCALES = (0.3, 1.0, 3.0)  # times sklearn's 'scale' (1 / n_features on standardised inputs)
WEIGHTS_FILE = "descriptor_floor.safetensors"
CONFIG_FILE = "descriptor_floor.json"
DIMENSIONS = ("valence", "arousal")


class DescriptorFloor:
    """``fit(X, y)`` with X (N, descriptors) and y (N, 2) on [-1, 1]; ``predict(X)`` -> (N, 2) on [-1, 1]."""

    def __init__(self, *, folds: int = 4, seed: int = 0, sample_rate: int | None = None) -> None:
        self.folds, self.seed = folds, seed
        # The rate its descriptors are computed at (None: the model's own audio rate, as floors saved before it
        # was recorded); prediction decodes the clip at this rate, as training did.
        self.sample_rate = None if sample_rate is None else int(sample_rate)
        self.params_: list[dict[str, float]] = []
        self.arrays_: dict[str, np.ndarray] = {}
        self.names_: list[str] = []

    def fit(self, X: np.ndarray, y: np.ndarray, *, names: list[str] | None = None) -> DescriptorFloor:
        from sklearn.model_selection import GridSearchCV, KFold
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVR

        X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if X.ndim != 2 or y.shape != (X.shape[0], 2) or X.shape[0] < 2 * self.folds:
            raise ParameterError(f"expected X (N, features), y (N, 2) with N >= {2 * self.folds}; got {X.shape}, {y.shape}")
        grid = {"svr__C": list(C_GRID), "svr__gamma": [s / X.shape[1] for s in GAMMA_SCALES]}
        cv = KFold(self.folds, shuffle=True, random_state=self.seed)
        self.params_, self.arrays_ = [], {}
        self.names_ = list(names) if names is not None else [f"x{i}" for i in range(X.shape[1])]
        for dim, column in zip(DIMENSIONS, range(2)):
            search = GridSearchCV(make_pipeline(StandardScaler(), SVR()), grid, cv=cv,
                                  scoring="neg_mean_squared_error")  # fmt: skip
            search.fit(X, y[:, column])
            scaler, svr = search.best_estimator_.named_steps["standardscaler"], search.best_estimator_.named_steps["svr"]
            self.params_.append({k.removeprefix("svr__"): float(v) for k, v in search.best_params_.items()})
            self.arrays_.update({
                f"{dim}.mean": scaler.mean_, f"{dim}.scale": scaler.scale_, f"{dim}.support": svr.support_vectors_,
                f"{dim}.dual": svr.dual_coef_[0], f"{dim}.intercept": np.atleast_1d(svr.intercept_),
            })  # fmt: skip
        log.info("descriptor floor: SVR parameters %s chosen by %d-fold CV", self.params_, self.folds)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The SVRs' decision function, computed from the saved arrays (what sklearn computes, in numpy)."""
        if not self.arrays_:
            raise RuntimeError("DescriptorFloor.predict before fit")
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        out = []
        for dim, params in zip(DIMENSIONS, self.params_):
            a = self.arrays_
            z = (X - a[f"{dim}.mean"]) / a[f"{dim}.scale"]
            support = a[f"{dim}.support"]
            squared = (z**2).sum(1)[:, None] + (support**2).sum(1)[None, :] - 2 * z @ support.T
            kernel = np.exp(-params["gamma"] * np.maximum(squared, 0.0))
            out.append(kernel @ a[f"{dim}.dual"] + a[f"{dim}.intercept"][0])
        return np.clip(np.stack(out, axis=1), -1.0, 1.0)

    def save(self, folder: str | Path) -> Path:
        """``descriptor_floor.safetensors`` + ``descriptor_floor.json`` in ``folder``."""
        payload = {"kind": "descriptor-svr", "params": self.params_, "names": self.names_, "folds": self.folds,
                   "seed": self.seed, "sample_rate": self.sample_rate}  # fmt: skip
        return save_arrays(folder, WEIGHTS_FILE, CONFIG_FILE, self.arrays_, payload)

    @classmethod
    def load(cls, folder: str | Path) -> DescriptorFloor:
        def build(payload: dict, arrays: dict) -> DescriptorFloor:
            floor = cls(folds=int(payload["folds"]), seed=int(payload["seed"]), sample_rate=payload.get("sample_rate"))
            floor.params_, floor.names_, floor.arrays_ = payload["params"], payload["names"], arrays
            return floor

        return load_arrays(folder, WEIGHTS_FILE, CONFIG_FILE, build, what="descriptor model",
                           fix="re-train or re-export it")  # fmt: skip
