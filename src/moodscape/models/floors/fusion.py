"""Late fusion of a network with the descriptor floor (and, optionally, the frozen musicnn probe), the
way the best published 4Q result combines a CNN on mel spectrograms with a model of handcrafted features.

A song's prediction is ``w * network + (1 - w) * floor`` per dimension, where the network's value is
the mean over its windows and the floor is the descriptor SVR (:mod:`.descriptors`) on the clip's
descriptors. ``w`` is chosen on training songs held back from the network (never on test songs,
nor on the validation songs that picked its epoch); 1 means the network alone, 0 the floor alone.
An equal fusion (:meth:`Fusion.equal`, ``moodscape fuse``) instead gives each member the same weight,
fixed before any song is seen, and may add the musicnn probe (:mod:`.probe`) as a third member: on 4q-dev
that average beats each member (BENCHMARKS.md). A fitted fusion lives in a checkpoint's ``fusion/``
folder: ``fusion.json`` plus the floor's (and the probe's) safetensors.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import CheckpointError
from ...files import write_json
from ..configfile import read_json
from .descriptors import DescriptorFloor

if TYPE_CHECKING:
    from .probe import MusicnnProbe

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
    """A fitted fusion: per dimension, the network's weight and the floor's (and the probe's, with a probe)."""

    def __init__(self, weights: tuple[float, float], floor: DescriptorFloor, meta: dict[str, Any] | None = None, *,
                 probe: MusicnnProbe | None = None, floor_weights: tuple[float, float] | None = None,
                 probe_weights: tuple[float, float] | None = None) -> None:  # fmt: skip
        self.weights = np.asarray(weights, dtype=np.float64)
        self.floor_weights = 1 - self.weights if floor_weights is None else np.asarray(floor_weights, dtype=np.float64)
        self.probe = probe
        self.probe_weights = np.zeros(2) if probe is None else np.asarray(probe_weights, dtype=np.float64)
        if not np.allclose(self.weights + self.floor_weights + self.probe_weights, 1.0):
            raise CheckpointError(f"fusion weights must sum to 1 per dimension; got network {self.weights}, floor "
                                  f"{self.floor_weights}, probe {self.probe_weights}")  # fmt: skip
        self.floor, self.meta = floor, dict(meta or {})

    @classmethod
    def equal(cls, floor: DescriptorFloor, probe: MusicnnProbe | None = None, meta: dict[str, Any] | None = None) -> Fusion:
        """Every member (network, floor, and probe when given) weighs the same in both dimensions."""
        share = 1.0 / (3 if probe is not None else 2)
        both = (share, share)
        return cls(both, floor, meta, probe=probe, floor_weights=both, probe_weights=both if probe is not None else None)

    def combine(self, network: np.ndarray, descriptors: np.ndarray, summaries: np.ndarray | None = None) -> np.ndarray:
        """(N, 2) network song values, (N, D) descriptors and, for a fusion with the probe, (N, S) musicnn song
        summaries -> (N, 2) fused values on [-1, 1]."""
        network = np.atleast_2d(np.asarray(network, dtype=np.float64))
        fused = self.weights * network + self.floor_weights * self.floor.predict(descriptors)
        if self.probe is not None:
            if summaries is None:
                raise ValueError("this fusion includes the musicnn probe: pass the songs' musicnn summaries")
            fused = fused + self.probe_weights * self.probe.predict(summaries)
        return np.clip(fused, -1.0, 1.0)

    def store_inputs(self, store, song_ids, *, progress: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """What :meth:`combine` reads besides the network, for songs of a feature store: their descriptors, and
        their musicnn summaries when the probe is a member (both cached beside the store)."""
        from ...audio.descriptors import store_descriptors
        from .probe import store_summaries

        summaries = store_summaries(store, song_ids, progress=progress) if self.probe is not None else None
        return store_descriptors(store, song_ids, sample_rate=self.floor.sample_rate, progress=progress), summaries

    def describe(self) -> dict[str, Any]:
        """The members and their weights, for reports and export summaries."""
        members = {"network": self.weights, "floor": self.floor_weights}
        if self.probe is not None:
            members["probe"] = self.probe_weights
        return {name: {"valence": float(w[0]), "arousal": float(w[1])} for name, w in members.items()}

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        self.floor.save(folder)
        described = self.describe()
        payload = {"weights": described.pop("network"), "floor_weights": described.pop("floor"), **self.meta}
        if self.probe is not None:
            self.probe.save(folder)
            payload["probe_weights"] = described.pop("probe")
        write_json(folder / FUSION_FILE, payload)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Fusion:
        folder = Path(folder)
        payload = read_json(folder / FUSION_FILE)

        def pair(key: str) -> tuple[float, float] | None:
            if key not in payload:
                return None
            return float(payload[key]["valence"]), float(payload[key]["arousal"])

        try:
            weights, floor_weights, probe_weights = pair("weights"), pair("floor_weights"), pair("probe_weights")
            if weights is None:
                raise KeyError("weights")
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{folder / FUSION_FILE}: not a readable fusion ({exc}); re-train the run") from exc
        probe = None
        if probe_weights is not None:
            from .probe import MusicnnProbe

            probe = MusicnnProbe.load(folder)
        meta = {k: v for k, v in payload.items() if k not in ("weights", "floor_weights", "probe_weights")}
        return cls(weights, DescriptorFloor.load(folder), meta, probe=probe, floor_weights=floor_weights,
                   probe_weights=probe_weights)  # fmt: skip

    @staticmethod
    def find(folder: str | Path) -> Fusion | None:
        """The fusion saved beside a checkpoint or an exported model (``folder/fusion``), if any."""
        path = Path(folder) / FUSION_DIR
        return Fusion.load(path) if (path / FUSION_FILE).exists() else None
