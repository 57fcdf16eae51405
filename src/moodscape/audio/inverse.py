"""Log-mel back to a waveform, so that people can listen to (synthetic) windows.

The path mirrors :class:`moodscape.audio.frontend.LogMel` step by step:

1. :func:`denormalize` undoes the ``global`` normalisation (z-scores -> dB);
2. dB -> mel power with ``librosa.db_to_power(ref=1)`` (exact inverse of ``10 log10``, apart from
   bins that sat on the ``amin`` floor);
3. mel power -> linear STFT magnitude with ``librosa.feature.inverse.mel_to_stft`` (non-negative
   least squares against the same Slaney filterbank: sample rate, n_fft, fmin, fmax);
4. magnitude -> waveform with Griffin-Lim (``librosa.griffinlim``: Hann window, centred frames,
   zero padding as LogMel, a seeded random phase so the result is repeatable);
5. peak normalisation to ``peak`` (0.99 by default) so a WAV never clips.

Bins outside [fmin, fmax] carry no information and come back near silent, and the phase is an
estimate: expect a recognisable but "phasey" sound. On real music (DEAM clip 2, 10 s) the log-mel
of the result is within about 1 dB of the original on average over non-silent bins.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import AudioError, ParameterError
from ..files import atomic_path
from .librosa_env import load_librosa

logger = logging.getLogger(__name__)

__all__ = ["denormalize", "logmel_to_audio", "peak_normalize", "write_wav"]

DEFAULT_PEAK = 0.99


def denormalize(z, *, mean, std) -> np.ndarray:
    """Exact inverse of the ``global`` normalisation: z-scores (..., n_mels, frames) -> dB, float32.

    ``mean`` and ``std`` are the per-band statistics (n_mels,) in dB, e.g. ``Normalization.mean``
    and ``Normalization.std`` from ``normalization.json``.
    """
    x = np.asarray(z, dtype=np.float64)
    m = np.asarray(mean, dtype=np.float64)
    s = np.asarray(std, dtype=np.float64)
    if x.ndim < 2:
        raise ParameterError(f"z must be (..., n_mels, frames), got shape {x.shape}")
    if m.shape != (x.shape[-2],) or s.shape != (x.shape[-2],):
        raise ParameterError(
            f"mean {m.shape} and std {s.shape} must be (n_mels,) = ({x.shape[-2]},) for z of shape {x.shape}"
        )
    return (x * s[:, None] + m[:, None]).astype(np.float32)


def peak_normalize(audio, *, peak: float = DEFAULT_PEAK) -> tuple[np.ndarray, float]:
    """Scale ``audio`` so that its largest absolute sample is ``peak``; returns (audio float32, gain).

    An all-zero signal stays zero with gain 1.0 (no division by zero). Raises ValueError for NaN or
    infinite samples or a peak outside (0, 1].
    """
    if not 0.0 < peak <= 1.0:
        raise ParameterError(f"peak must be in (0, 1] to avoid clipping, got {peak}")
    x = np.asarray(audio, dtype=np.float64)
    if not np.isfinite(x).all():
        raise ParameterError(f"audio {x.shape} has NaN or infinite samples")
    largest = float(np.abs(x).max()) if x.size else 0.0
    gain = peak / largest if largest > 0.0 else 1.0
    out = (x * gain).astype(np.float32)
    # float32 rounding can push a sample a hair above peak; peak <= 1 keeps it inside [-1, 1].
    np.clip(out, -peak, peak, out=out)
    return out, gain


def logmel_to_audio(
    logmel_db,
    *,
    sample_rate: int,
    n_fft: int,
    hop_length: int,
    fmin: float,
    fmax: float,
    power: float = 2.0,
    n_iter: int = 32,
    seed: int = 0,
    peak: float | None = DEFAULT_PEAK,
) -> np.ndarray:
    """(n_mels, frames) log-mel in dB (LogMel's output, ref 1) -> waveform (samples,) float32.

    The settings must be the front end's (``FeaturesConfig`` and ``AudioConfig.sample_rate``).
    Returns ``hop_length * (frames - 1)`` samples, which LogMel maps back to ``frames`` frames.
    ``peak``: the output's largest absolute sample (default 0.99); ``None`` returns Griffin-Lim's
    output unscaled, at the level the dB values imply (it may exceed 1).
    """
    db = np.asarray(logmel_db, dtype=np.float64)
    if db.ndim != 2 or db.shape[0] == 0 or db.shape[1] < 2:
        raise ParameterError(f"logmel_db must be (n_mels, frames) with at least 2 frames, got shape {db.shape}")
    if not np.isfinite(db).all():
        raise ParameterError(f"logmel_db {db.shape} has NaN or infinite values")
    if fmax > sample_rate / 2:
        raise ParameterError(f"fmax={fmax} Hz is above the Nyquist frequency of sample_rate={sample_rate} Hz")
    if n_iter < 1:
        raise ParameterError(f"n_iter must be at least 1, got {n_iter}")
    librosa = load_librosa()
    mel_power = librosa.db_to_power(db, ref=1.0)
    magnitude = librosa.feature.inverse.mel_to_stft(
        mel_power, sr=sample_rate, n_fft=n_fft, power=power, fmin=fmin, fmax=fmax
    )
    audio = librosa.griffinlim(
        magnitude,
        n_iter=n_iter,
        hop_length=hop_length,
        n_fft=n_fft,
        window="hann",
        center=True,
        pad_mode="constant",
        init="random",
        random_state=seed,
    )
    if peak is None:
        return audio.astype(np.float32)
    return peak_normalize(audio, peak=peak)[0]


def write_wav(path: str | Path, audio, sample_rate: int) -> Path:
    """Write mono float audio in [-1, 1] as 16-bit PCM WAV, atomically (temp file, then rename).

    Raises AudioError for samples outside [-1, 1] (they would clip; peak-normalise first) and
    ValueError for non-1-D or non-finite input.
    """
    path = Path(path)
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim != 1 or x.size == 0:
        raise ParameterError(f"audio must be a non-empty (samples,) array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ParameterError(f"audio {x.shape} has NaN or infinite samples; nothing written to {path}")
    largest = float(np.abs(x).max())
    if largest > 1.0:
        raise AudioError(
            f"{path}: samples reach {largest:.3f}, beyond [-1, 1], and would clip; "
            "peak-normalise first (logmel_to_audio does by default, or use peak_normalize)"
        )
    with atomic_path(path, keep_suffix=False) as tmp:
        sf.write(str(tmp), x, int(sample_rate), subtype="PCM_16", format="WAV")
    logger.info("wrote %s (%.2f s at %d Hz)", path, x.size / sample_rate, sample_rate)
    return path
