"""librosa's mel filterbank, kept on disk by its settings: importing librosa costs most of a second, which a
one-file ``moodscape predict`` would otherwise pay every time for the same few kilobytes of weights."""

from __future__ import annotations

import logging
import os
from importlib.metadata import version
from pathlib import Path

import numpy as np

from ..files import atomic_path

log = logging.getLogger(__name__)

LOGC_SCALE = 10000.0  # musicnn's C in log10(1 + C mel), the "logc" compression of both front ends


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/moodscape/mel-filters`` (``~/.cache/...`` by default)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "moodscape" / "mel-filters"


def mel_filters(*, sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """``librosa.filters.mel(...)`` (Slaney scale and norm) as float32 (n_mels, 1 + n_fft // 2); read from the
    cache when librosa (same version) made it before. A cache that cannot be read or written is skipped:
    the filters are then computed, which only costs time."""
    key = f"sr{sample_rate}-fft{n_fft}-mels{n_mels}-{float(fmin)!r}-{float(fmax)!r}-librosa{version('librosa')}"
    path = cache_dir() / f"{key}.npy"
    try:
        filters = np.load(path, allow_pickle=False)
        if filters.shape == (n_mels, 1 + n_fft // 2) and filters.dtype == np.float32:
            return filters
    except (OSError, ValueError):
        pass
    from .librosa_env import load_librosa

    filters = load_librosa(compiled=False).filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin,
                                                       fmax=fmax).astype(np.float32)  # fmt: skip
    try:
        with atomic_path(path) as tmp:
            np.save(tmp, filters, allow_pickle=False)
    except OSError as exc:
        log.debug("mel filters not cached in %s: %s", path, exc)
    return filters


def used_bins(filters: np.ndarray) -> tuple[int, int]:
    """[first, last) FFT bins the filters touch: most bins lie outside [fmin, fmax], and skipping them saves
    work without changing any value."""
    used = np.flatnonzero(filters.any(axis=0))
    return int(used[0]), int(used[-1]) + 1
