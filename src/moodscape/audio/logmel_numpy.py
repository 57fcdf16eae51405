"""The log-mel front end in numpy, for running exported models: the same values as
:class:`moodscape.audio.frontend.LogMel` (float32 rounding apart) without importing torch, which is most of
the start-up of a one-file ``moodscape predict``."""

from __future__ import annotations

import numpy as np

from ..config import AudioConfig, FeaturesConfig
from .melbank import LOGC_SCALE, mel_filters, used_bins


class LogMelNumpy:
    """(batch, samples) float32 waveforms -> (batch, n_mels, frames) log-mel, frames = 1 + samples // hop.
    Settings and compressions as :class:`~moodscape.audio.frontend.LogMel` (periodic Hann window, centred
    frames with zero padding, Slaney mel)."""

    def __init__(self, features: FeaturesConfig, audio: AudioConfig) -> None:
        self.n_fft, self.hop, self.features = features.n_fft, features.hop_length, features
        filters = mel_filters(sample_rate=audio.sample_rate, n_fft=features.n_fft, n_mels=features.n_mels,
                              fmin=features.fmin, fmax=features.fmax)  # fmt: skip
        self.first, self.last = used_bins(filters)
        self.filters_t = np.ascontiguousarray(filters[:, self.first : self.last].T)
        n = np.arange(self.n_fft)
        self.window = (0.5 - 0.5 * np.cos(2 * np.pi * n / self.n_fft)).astype(np.float32)

    def __call__(self, waveforms: np.ndarray) -> np.ndarray:
        waveforms = np.asarray(waveforms, dtype=np.float32)
        half = self.n_fft // 2
        padded = np.pad(waveforms, ((0, 0), (half, half)))
        frames = 1 + waveforms.shape[1] // self.hop
        out = np.empty((len(waveforms), self.features.n_mels, frames), dtype=np.float32)
        for i, row in enumerate(padded):  # one window at a time: its frames stay in cache
            framed = np.lib.stride_tricks.sliding_window_view(row, self.n_fft)[:: self.hop][:frames]
            spectrum = np.fft.rfft(framed * self.window, axis=1)[:, self.first : self.last]
            power = spectrum.real**2 + spectrum.imag**2
            if self.features.power != 2.0:
                power = power ** (self.features.power / 2.0)
            out[i] = (power @ self.filters_t).T
        return self._compress(out)

    def _compress(self, mel: np.ndarray) -> np.ndarray:
        if self.features.compression == "logc":
            return np.log10(1.0 + LOGC_SCALE * mel).astype(np.float32)
        db = 10.0 * np.log10(np.maximum(mel, self.features.amin))
        if self.features.top_db is not None:
            db = np.maximum(db, db.max(axis=(1, 2), keepdims=True) - self.features.top_db)
        return db.astype(np.float32)
