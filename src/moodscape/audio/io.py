"""Decode, mix down, resample and validate audio. Every failure is an AudioError naming the file."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from ..errors import AudioError

AUDIO_EXTENSIONS = (".mp3", ".wav", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".aifc", ".au", ".snd", ".caf", ".w64", ".rf64")

# Peak below this (about -100 dBFS) counts as silence: nothing to learn from, log-mel all floor.
SILENCE_PEAK = 1e-5

# MP3 headers estimate the length; real files decode within 0.1% of it, truncated ones far less.
TRUNCATION_TOLERANCE = 0.98


@dataclass(frozen=True)
class AudioInfo:
    """What the container says about a file, without decoding it."""

    path: Path
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def probe_audio(path: str | Path) -> AudioInfo:
    """Open the container and read its header; raises AudioError for missing or non-audio files."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes); re-copy or re-download it")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioError(
            f"{path}: not a readable audio file ({exc}); check it plays, or re-encode it to WAV/FLAC/MP3"
        ) from exc
    return AudioInfo(path=path, sample_rate=int(info.samplerate), channels=int(info.channels), frames=int(info.frames))


def decode(path: str | Path, *, offset: float = 0.0, duration: float | None = None) -> tuple[np.ndarray, int]:
    """Decode to mono float32 at the file's own rate. Returns (samples, sample_rate).

    Mono is the mean of the channels. ``offset``/``duration`` are in seconds.
    """
    info = probe_audio(path)
    start = int(round(offset * info.sample_rate))
    stop = None if duration is None else start + int(round(duration * info.sample_rate))
    try:
        data, rate = sf.read(str(info.path), start=start, stop=stop, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise AudioError(f"{info.path}: decoding failed ({exc}); the file is probably truncated or corrupt") from exc
    expected = (info.frames if stop is None else min(stop, info.frames)) - start
    if expected > 0 and data.shape[0] < TRUNCATION_TOLERANCE * expected:
        raise AudioError(
            f"{info.path}: truncated: the header promises {expected / rate:.1f} s from offset {offset:g} s "
            f"but only {data.shape[0] / rate:.1f} s decode; re-download or re-encode the file"
        )
    return np.ascontiguousarray(to_mono(data)), int(rate)


def to_mono(block: np.ndarray) -> np.ndarray:
    """(frames, channels) float32 -> (frames,): the mean of the channels, the same values as
    ``block.mean(axis=1)`` about eight times faster (that reduction walks the rows with a stride)."""
    if block.shape[1] == 1:
        return block[:, 0]
    mono = block[:, 0].copy()
    for channel in range(1, block.shape[1]):
        mono += block[:, channel]
    mono /= np.float32(block.shape[1])
    return mono


def resample(samples: np.ndarray, orig_rate: int, target_rate: int, *, quality: str = "HQ") -> np.ndarray:
    """Resample with soxr. ``quality`` is soxr's: 'HQ' matches librosa's default, 'QQ'/'LQ' are cheaper."""
    if orig_rate == target_rate:
        return samples
    return soxr.resample(samples, orig_rate, target_rate, quality=quality).astype(np.float32, copy=False)


def validate(samples: np.ndarray, path: str | Path, *, sample_rate: int) -> None:
    """Reject empty, non-finite and silent signals with a message that names the file."""
    if samples.size == 0:
        raise AudioError(f"{path}: no audio samples (empty or truncated file); re-encode or remove it")
    # One pass each for max and min, no temporary: NaN and Inf propagate into the peak.
    peak = max(float(samples.max()), -float(samples.min()))
    if not np.isfinite(peak):
        raise AudioError(f"{path}: contains NaN or Inf samples; the file is corrupt, re-encode it")
    if peak < SILENCE_PEAK:
        seconds = samples.size / sample_rate
        raise AudioError(f"{path}: silent ({seconds:.1f} s, peak {peak:.1e}); nothing to analyse, remove it")


def fit_length(
    samples: np.ndarray, path: str | Path, *, sample_rate: int, min_seconds: float, policy: str
) -> np.ndarray:
    """Apply the short-clip policy: 'skip' raises, 'pad' appends zeros, 'loop' repeats the clip."""
    needed = int(math.ceil(min_seconds * sample_rate))
    if samples.size >= needed:
        return samples
    if policy == "pad":
        return np.pad(samples, (0, needed - samples.size))
    if policy == "loop":
        return np.tile(samples, int(math.ceil(needed / samples.size)))[:needed]
    raise too_short(path, samples.size / sample_rate, min_seconds)


def too_short(path: str | Path, seconds: float, min_seconds: float) -> AudioError:
    """The error of the 'skip' policy, worded the same by feature builds and prediction."""
    return AudioError(
        f"{path}: too short ({seconds:.2f} s < audio.min_seconds={min_seconds:g}); "
        "set audio.short_policy=pad or loop, or lower audio.min_seconds"
    )


def load_audio(
    path: str | Path,
    *,
    sample_rate: int | None = 22050,
    offset: float = 0.0,
    duration: float | None = None,
    min_seconds: float = 0.0,
    short_policy: str = "skip",
    quality: str = "HQ",
) -> tuple[np.ndarray, int]:
    """Decode, mix to mono, resample to ``sample_rate`` (None keeps the file's rate), validate.

    Returns (samples float32 of shape (n,), rate).
    """
    samples, rate = decode(path, offset=offset, duration=duration)
    validate(samples, path, sample_rate=rate)
    if sample_rate is not None:
        samples, rate = resample(samples, rate, sample_rate, quality=quality), sample_rate
    return fit_length(samples, path, sample_rate=rate, min_seconds=min_seconds, policy=short_policy), rate


def find_audio_files(root: str | Path) -> list[Path]:
    """Audio files under ``root`` (recursive), sorted, by extension."""
    root = Path(root)
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
