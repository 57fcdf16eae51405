"""Late fusion of a network with the descriptor floor, the way the best published 4Q result combines a
CNN on mel spectrograms with a model of handcrafted features.

A song's prediction is ``w * network + (1 - w) * floor`` per dimension, where the network's value is
the mean over its windows and the floor is the descriptor SVR (:mod:`.descriptor_floor`) on the clip's
descriptors. ``w`` is chosen on training songs held back from the network (never on test songs,
nor on the validation songs that picked its epoch); 1 means the network alone, 0 the floor alone. A fitted fusion lives in a checkpoint's ``fusion/`` folder: ``fusion.json``
plus the floor's safetensors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...errors import CheckpointError
from ...files import write_json
from ..configfile import read_json
from .descriptors import DescriptorFloor

FUSION_DIR = "fusion"
FUSION_FILE = "fusion.json"
# Coarse on purpose: the weights are chosen on a few dozen songs, and a fine grid would fit their noise.
WEIGHT_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
# Descriptors of a long file come from its first ten minutes (training clips are 30-45 s).
DESCRIPTOR_MAX_SECONDS = 600.0


def _ccc(t: np.ndarray, p: np.ndarray) -> float:
    cov = np.mean((t - t.mean()) * (p - p.mean()))
    denominator = t.var() + p.var() + (t.mean() - p.mean()) ** 2
    return float(2 * cov / denominator) if denominator > 0 else 0.0


def choose_weights(network: np.ndarray, floor: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Per dimension, the network weight on :data:`WEIGHT_GRID` with the highest CCC on these songs
    (the smallest such weight on a tie: the network must earn its share)."""
    weights = []
    for column in range(2):
        scores = [_ccc(truth[:, column], w * network[:, column] + (1 - w) * floor[:, column]) for w in WEIGHT_GRID]
        weights.append(float(WEIGHT_GRID[int(np.argmax(scores))]))
    return weights[0], weights[1]


class Fusion:
    """A fitted fusion: the network's weights per dimension and the descriptor floor."""

    def __init__(self, weights: tuple[float, float], floor: DescriptorFloor, meta: dict[str, Any] | None = None) -> None:
        self.weights = np.asarray(weights, dtype=np.float64)
        self.floor, self.meta = floor, dict(meta or {})

    def combine(self, network: np.ndarray, descriptors: np.ndarray) -> np.ndarray:
        """(N, 2) network song values and (N, D) descriptors -> (N, 2) fused values on [-1, 1]."""
        network = np.atleast_2d(np.asarray(network, dtype=np.float64))
        return np.clip(self.weights * network + (1 - self.weights) * self.floor.predict(descriptors), -1.0, 1.0)

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        self.floor.save(folder)
        payload = {"weights": {"valence": float(self.weights[0]), "arousal": float(self.weights[1])}, **self.meta}
        write_json(folder / FUSION_FILE, payload)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Fusion:
        folder = Path(folder)
        payload = read_json(folder / FUSION_FILE)
        try:
            weights = (float(payload["weights"]["valence"]), float(payload["weights"]["arousal"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{folder / FUSION_FILE}: not a readable fusion ({exc}); re-train the run") from exc
        meta = {k: v for k, v in payload.items() if k != "weights"}
        return cls(weights, DescriptorFloor.load(folder), meta)

    @staticmethod
    def find(folder: str | Path) -> Fusion | None:
        """The fusion saved beside a checkpoint or an exported model (``folder/fusion``), if any."""
        path = Path(folder) / FUSION_DIR
        return Fusion.load(path) if (path / FUSION_FILE).exists() else None
