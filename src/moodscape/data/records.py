"""The one record type every corpus loader produces; everything downstream sees only these."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SCALES = {"1-9": (1.0, 9.0), "0-1": (0.0, 1.0), "-1-1": (-1.0, 1.0)}


def to_unit(values, scale: str = "1-9"):
    """Map labels from a named scale onto [-1, 1]; 1-9 maps with (x - 5) / 4."""
    low, high = SCALES[scale]
    centre, half = (low + high) / 2.0, (high - low) / 2.0
    return (np.asarray(values, dtype=np.float64) - centre) / half


def from_unit(values, scale: str = "1-9"):
    """Inverse of :func:`to_unit`."""
    low, high = SCALES[scale]
    centre, half = (low + high) / 2.0, (high - low) / 2.0
    return np.asarray(values, dtype=np.float64) * half + centre


@dataclass(frozen=True)
class DynamicLabels:
    """Time-continuous labels on [-1, 1]; ``times`` in seconds from the start of the clip."""

    times: np.ndarray
    valence: np.ndarray
    arousal: np.ndarray


@dataclass(frozen=True)
class SongRecord:
    """One song: its audio and its labels on [-1, 1] (std columns on the same scale)."""

    song_id: str
    path: Path | None
    valence: float | None
    arousal: float | None
    valence_std: float | None = None
    arousal_std: float | None = None
    dynamic: DynamicLabels | None = field(default=None, compare=False)
