"""Fixed-size windows of a file's audio with flat memory, however long the file is.

The file is decoded block by block (soundfile), mixed to mono and resampled as a stream (soxr),
and windows are cut as soon as their samples have arrived. The window layout matches evaluation:
windows every ``hop`` samples from 0, plus one that ends at the end of the audio. Audio shorter
than ``min_samples`` follows the short-clip policy of feature builds (skip raises; pad appends
silence; loop repeats), and what is still shorter than one window is repeated to fill it, as
training does; ``StreamInfo.note`` then says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from ..audio.io import SILENCE_PEAK, TRUNCATION_TOLERANCE, probe_audio, to_mono, too_short
from ..errors import AudioError

BLOCK_SECONDS = 20.0


@dataclass
class StreamInfo:
    """Filled in while streaming: the length and peak of the decoded (resampled) audio; with ``keep``, also
    its first ``keep`` samples (:meth:`head`), for what reads the whole clip beside the windows."""

    samples: int = 0
    peak: float = 0.0
    starts: list[int] = field(default_factory=list)
    note: str = ""
    keep: int = 0
    kept: list[np.ndarray] = field(default_factory=list)
    native_rate: int = 0  # the file's own sample rate

    def head(self) -> np.ndarray:
        """The first ``keep`` samples of the stream (fewer when it was shorter), float32."""
        return np.concatenate(self.kept) if self.kept else np.zeros(0, dtype=np.float32)


def stream_windows(
    path: str | Path, *, sample_rate: int, window: int, hop: int, info: StreamInfo | None = None,
    min_samples: int = 0, short_policy: str = "skip", quality: str = "HQ",
) -> Iterator[np.ndarray]:  # fmt: skip
    """Yield float32 windows of ``window`` samples at ``sample_rate`` from ``path``, resampled (when the file has
    another rate) with soxr's ``quality``: the one the model's feature store used (``FeaturesConfig.resampler``).

    Raises AudioError for unreadable, truncated, non-finite or silent audio, and for audio shorter
    than ``min_samples`` under ``short_policy='skip'``; windows already yielded before the error
    was found are the caller's to discard.
    """
    header = probe_audio(path)
    info = info if info is not None else StreamInfo()
    info.native_rate = header.sample_rate
    resampler = (
        soxr.ResampleStream(header.sample_rate, sample_rate, 1, dtype="float32", quality=quality)
        if header.sample_rate != sample_rate else None
    )  # fmt: skip
    buffer = np.zeros(0, dtype=np.float32)
    offset = 0  # stream position of buffer[0]
    next_start = 0
    decoded = 0
    last_end = 0

    def take(chunk: np.ndarray) -> Iterator[np.ndarray]:
        nonlocal buffer, offset, next_start, last_end
        if chunk.size:
            if not np.isfinite(chunk).all():
                raise AudioError(f"{path}: contains NaN or Inf samples; the file is corrupt, re-encode it")
            info.peak = max(info.peak, float(np.abs(chunk).max()))
            if (room := info.keep - sum(kept.size for kept in info.kept)) > 0:
                info.kept.append(chunk[:room].copy())
            buffer = np.concatenate([buffer, chunk])
            info.samples += chunk.size
        while next_start + window <= offset + buffer.size:
            begin = next_start - offset
            info.starts.append(next_start)
            yield buffer[begin : begin + window].copy()
            last_end = next_start + window
            next_start += hop
        # Keep what later windows need, and the last `window` samples for the final, end-aligned one.
        drop = min(next_start - offset, buffer.size - window)
        if drop > 0:
            buffer, offset = buffer[drop:], offset + drop

    try:
        with sf.SoundFile(str(header.path)) as handle:
            blocksize = max(1, int(BLOCK_SECONDS * header.sample_rate))
            # Not SoundFile.blocks(): it yields its whole buffer even when decoding stops early, so a
            # truncated MP3 would hand over uninitialised memory (and pass the length check below).
            while (block := handle.read(blocksize, dtype="float32", always_2d=True)).shape[0]:
                decoded += block.shape[0]
                mono = to_mono(block)
                chunk = resampler.resample_chunk(mono) if resampler is not None else mono
                yield from take(np.asarray(chunk, dtype=np.float32))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"{header.path}: decoding failed ({exc}); the file is probably truncated or corrupt") from exc
    if resampler is not None:
        yield from take(np.asarray(resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True), dtype=np.float32))
    if header.frames > 0 and decoded < TRUNCATION_TOLERANCE * header.frames:
        raise AudioError(
            f"{header.path}: truncated: the header promises {header.frames / header.sample_rate:.1f} s but only "
            f"{decoded / header.sample_rate:.1f} s decode; re-download or re-encode the file"
        )
    if info.samples == 0:
        raise AudioError(f"{header.path}: no audio samples (empty or truncated file); re-encode or remove it")
    if info.peak < SILENCE_PEAK:
        raise AudioError(f"{header.path}: silent ({info.samples / sample_rate:.1f} s, peak {info.peak:.1e}); nothing to analyse")
    total = offset + buffer.size
    seconds = total / sample_rate
    if total < min_samples:
        if short_policy == "skip":
            raise too_short(header.path, seconds, min_samples / sample_rate)
        info.note = (f"{seconds:.2f} s is shorter than the model's audio.min_seconds ({min_samples / sample_rate:g} s); "
                     f"{'padded with silence' if short_policy == 'pad' else 'looped'} as in training: treat with caution")  # fmt: skip
        if short_policy == "pad" and total < window:
            buffer = np.pad(buffer, (0, min(min_samples, window) - total))
    if total < window:  # shorter than one window: repeat it, as training does
        info.note = info.note or (f"{seconds:.2f} s is shorter than one {window / sample_rate:.1f} s window; "
                                  "repeated to fill it: treat with caution")  # fmt: skip
        info.starts.append(0)
        yield np.resize(buffer, window).astype(np.float32)
    elif last_end < total:
        info.starts.append(total - window)
        yield buffer[buffer.size - window :].copy()
