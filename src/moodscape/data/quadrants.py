"""Russell's circumplex quadrants of (valence, arousal) labels on [-1, 1].

Q1 valence+ arousal+ (happy, excited), Q2 valence- arousal+ (angry, tense),
Q3 valence- arousal- (sad, bored), Q4 valence+ arousal- (calm, content).

Boundary convention: a value exactly at the threshold counts as positive, so (0, 0) is Q1,
(-0.1, 0) is Q2 and (0, -0.1) is Q4.
"""

from __future__ import annotations

from typing import overload

import numpy as np

from ..errors import ParameterError

__all__ = ["QUADRANTS", "QUADRANT_NAMES", "quadrant"]

QUADRANTS = (1, 2, 3, 4)
QUADRANT_NAMES = {1: "happy/excited", 2: "angry/tense", 3: "sad/depressed", 4: "calm/relaxed"}


@overload
def quadrant(valence: float, arousal: float, *, threshold: float = 0.0) -> int: ...
@overload
def quadrant(valence: np.ndarray, arousal: np.ndarray, *, threshold: float = 0.0) -> np.ndarray: ...


def quadrant(valence, arousal, *, threshold: float = 0.0):
    """Quadrant 1..4 of each (valence, arousal) pair; values equal to ``threshold`` count as positive.

    Args:
        valence, arousal: scalars, or arrays of the same shape (labels on [-1, 1]).
        threshold: the centre of the circumplex on both axes.

    Returns:
        an ``int`` for scalar input, else an int64 array of the input shape.

    Raises:
        ValueError: NaN labels (no quadrant) or shapes that differ.
    """
    v = np.asarray(valence, dtype=np.float64)
    a = np.asarray(arousal, dtype=np.float64)
    if v.shape != a.shape:
        raise ParameterError(f"valence and arousal must have the same shape, got {v.shape} and {a.shape}")
    if np.isnan(v).any() or np.isnan(a).any():
        raise ParameterError("valence/arousal contain NaN; unlabelled songs have no quadrant")
    v_pos, a_pos = v >= threshold, a >= threshold
    q = np.where(a_pos, np.where(v_pos, 1, 2), np.where(v_pos, 4, 3)).astype(np.int64)
    return int(q) if q.ndim == 0 else q
