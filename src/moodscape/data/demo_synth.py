"""Synthesis of one demo clip: the score of :mod:`moodscape.data.demo_score` rendered to samples.

Instruments (wavetable, FM and plucked voices, drums), reverb, background noise and mastering. Apart
from the dataset writing (:mod:`moodscape.data.demo`) because :func:`render_song` is also useful on its
own, for tests that need music-like audio in memory.
"""

from __future__ import annotations

import math

import numpy as np
import soxr
from scipy import signal

from ..errors import ParameterError
from .demo_score import Notes, Style, Voice, beat_times, compose_bar, draw_style

FRAME_RATE = 2.0  # Hz: DEAM's dynamic annotation rate
# MP3 rates the synthesiser supports (its filters need a Nyquist frequency above 6 kHz).
MP3_RATES = (22050, 24000, 32000, 44100, 48000)


def render_song(
    valence: np.ndarray,
    arousal: np.ndarray,
    *,
    seconds: float,
    sample_rate: int = 44100,
    seed: int | np.random.SeedSequence = 0,
) -> np.ndarray:
    """Synthesise one clip, shape (round(seconds * sample_rate),) float32 in [-1, 1], following 2 Hz curves.

    ``valence`` / ``arousal``: shape (T,), on -1..1, sampled at 2 Hz from 0 s; each bar takes its
    controls from the curves at the bar's middle. Useful on its own for tests that need music-like
    audio in memory; :func:`moodscape.data.demo.generate_demo_dataset` calls it for every clip.
    """
    valence, arousal = np.asarray(valence, dtype=np.float64), np.asarray(arousal, dtype=np.float64)
    if valence.ndim != 1 or valence.shape != arousal.shape or len(valence) == 0:
        raise ParameterError(f"valence {valence.shape} and arousal {arousal.shape}: need two equal, non-empty 1-D curves")
    if sample_rate not in MP3_RATES or not seconds > 0:
        raise ParameterError(f"sample_rate={sample_rate}, seconds={seconds}: need a rate in {MP3_RATES} and seconds > 0")
    rng = np.random.default_rng(seed)
    style = draw_style(rng)
    # Synthesis runs at half of 44.1/48 kHz and is upsampled: twice as fast, and the MP3 encoder's
    # low-pass (~11-15 kHz at these bit rates) removes most of what the upper band would hold.
    sr = sample_rate // 2 if sample_rate >= 32000 else sample_rate
    n = int(math.ceil(seconds * sr))
    times = np.arange(len(valence)) / FRAME_RATE

    def at(curve: np.ndarray, t: np.ndarray | float) -> np.ndarray:
        return np.interp(t, times, curve)

    beats = beat_times(lambda t: at(arousal, t), style, seconds)
    bar_starts = beats[::4]
    bar_ends = np.append(bar_starts[1:], seconds)
    notes = Notes()
    for bar, (start, end) in enumerate(zip(bar_starts, bar_ends)):
        mid = 0.5 * (start + end)
        near = beats[max(0, 4 * bar - 1):4 * bar + 5]
        beat_len = float(np.mean(np.diff(near))) if len(near) > 1 else end - start
        compose_bar(
            notes, style, rng, bar=bar, v=float(at(valence, mid)), a=float(at(arousal, mid)),
            beats=beats[4 * bar:4 * bar + 4], beat_len=beat_len, start=start, end=end,
        )  # fmt: skip

    mix = np.zeros(n, dtype=np.float32)
    for voice in notes.voices.values():
        _render_voice(mix, voice, style, sr)

    noise = rng.standard_normal(n, dtype=np.float32)
    mix += _render_drums(notes.drums, noise, sr, n)
    mix = _reverb(mix, style, sr, rng)
    rms = float(np.sqrt(np.mean(mix**2))) or 1e-3
    hiss = signal.lfilter([1.0], [1.0, -rng.uniform(0.0, 0.95)], np.roll(noise, n // 3)).astype(np.float32)
    mix += hiss * (rms * 10 ** (style.noise_db / 20) / (float(np.std(hiss)) or 1.0))

    fade = min(n // 4, int(0.02 * sr))
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    mix[:fade] *= ramp
    mix[n - fade:] *= ramp[::-1]
    # Louder masters for livelier songs, as in commercial music; the peak stays 1 dB below full scale.
    mean_arousal = float(np.mean(arousal))
    peak_db = min(-1.0, -5.0 + 4.0 * mean_arousal + style.level_db)
    if sr != sample_rate:
        mix = soxr.resample(mix, sr, sample_rate)
    mix = np.pad(mix, (0, max(0, int(round(seconds * sample_rate)) - len(mix))))[: int(round(seconds * sample_rate))]
    return (mix * (10 ** (peak_db / 20) / (float(np.abs(mix).max()) or 1.0))).astype(np.float32)


def _note_grid(onsets: np.ndarray, sr: int, n: int) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """Sample-level view of sorted onsets (seconds).

    Returns ``keep`` (which notes survive; of notes that round to the same sample the last wins),
    the first onset sample, and for every sample from there on the index of the sounding kept
    note and the seconds since it began.
    """
    starts = np.clip(np.round(onsets * sr).astype(np.int64), 0, n - 1)
    keep = np.append(np.diff(starts) > 0, True)
    starts = starts[keep]
    lengths = np.diff(np.append(starts, n))
    index = np.repeat(np.arange(len(starts)), lengths)
    since = (np.arange(starts[0], n) - np.repeat(starts, lengths)).astype(np.float32) / sr
    return keep, int(starts[0]), index, since


def _render_voice(mix: np.ndarray, voice: Voice, style: Style, sr: int) -> None:
    """Add one voice to ``mix``; a note may hold several pitches that share its envelope (a chord)."""
    n = len(mix)
    onsets = np.asarray(voice.onsets)
    order = np.argsort(onsets, kind="stable")
    keep, first, index, since = _note_grid(onsets[order], sr, n)
    order = order[keep]
    duration = (np.asarray(voice.ends)[order] - onsets[order]).astype(np.float32)[index]
    bright = np.asarray(voice.brightness, dtype=np.float32)[order][index]
    midi = np.asarray(voice.midi, dtype=np.float32).reshape(len(onsets), -1)[order]
    freqs = 440.0 * 2 ** ((midi - 69.0) / 12.0)
    amps = np.asarray(voice.amps, dtype=np.float32).reshape(len(onsets), -1)[order]

    kind = voice.kind
    attack = {"pad": 0.08, "bass": 0.005, "pluck": 0.002, "fm": 0.01, "additive": 0.015}[kind]
    release = 0.12 if kind == "pad" else 0.03
    env = (1.0 - np.exp(-since / attack)) * np.clip((duration - since) / release, 0.0, 1.0)
    if kind in ("pluck", "bass"):
        env *= np.exp(-since / (0.25 if kind == "pluck" else 0.4))
        bright = bright * np.exp(-since / 0.15)  # plucked strings darken as they ring
    elif kind != "pad":
        env *= np.exp(-since / 1.2)

    if kind != "fm":
        dark_table = _wavetable(style.partials, rolloff=2.6, top=float(freqs.max()), sr=sr)
        bright_table = _wavetable(style.partials, rolloff=0.9, top=float(freqs.max()), sr=sr)
        delta_table = bright_table - dark_table
        size = len(dark_table)
    wave = np.zeros(len(index), dtype=np.float32)
    for column in range(freqs.shape[1]):
        # Phase restarts with every note: envelopes are silent at note boundaries, so no clicks,
        # and float32 stays exact enough (a few thousand cycles per note at most).
        cycles = freqs[:, column][index] * since
        if kind == "fm":
            modulation = (0.4 + 3.0 * bright) * np.exp(-since / 0.3)
            tone = np.sin(2 * np.pi * cycles + modulation * np.sin(4 * np.pi * cycles))
        else:
            slot = (cycles * size).astype(np.int32) & (size - 1)
            tone = dark_table[slot] + bright * delta_table[slot]
        wave += amps[:, column][index] * tone
    mix[first:] += env * wave


def _wavetable(partials: np.ndarray, *, rolloff: float, top: float, sr: int, size: int = 4096) -> np.ndarray:
    """One cycle with harmonic k at ``partials[k] * k**-rolloff``, limited below Nyquist at ``top`` Hz."""
    count = int(np.clip(0.45 * sr / top, 1, len(partials)))
    k = np.arange(1, count + 1)
    weights = partials[:count] * k ** -rolloff
    weights[0] = 1.0
    cycle = np.sin(2 * np.pi * np.outer(np.arange(size) / size, k)) @ weights
    return (cycle / np.abs(cycle).max()).astype(np.float32)


def _render_drums(drums: dict[str, tuple[list[float], list[float]]], noise: np.ndarray, sr: int, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.float32)
    for name, (onsets, amps) in drums.items():
        if not onsets:
            continue
        order = np.argsort(onsets, kind="stable")
        keep, first, index, since = _note_grid(np.asarray(onsets)[order], sr, n)
        amp = np.asarray(amps, dtype=np.float32)[order[keep]][index]
        if name == "kick":
            # Pitch falls from ~150 to 50 Hz: the integral of 50 + 100 exp(-t / 30 ms).
            phase = 50.0 * since + 100.0 * 0.03 * (1.0 - np.exp(-since / 0.03))
            wave = np.sin(2 * np.pi * phase) * np.exp(-since / 0.18)
        elif name == "snare":
            body = _filtered(noise[first:], "bandpass", (1200.0, 6000.0), sr)
            wave = (body + 0.5 * np.sin(2 * np.pi * 190.0 * since)) * np.exp(-since / 0.1)
        else:
            wave = _filtered(noise[first:], "highpass", 6000.0, sr) * np.exp(-since / 0.03)
        out[first:] += (amp * wave).astype(np.float32)
    return out


def _filtered(x: np.ndarray, kind: str, cutoff, sr: int) -> np.ndarray:
    sos = signal.butter(2, cutoff, btype=kind, fs=sr, output="sos")
    return signal.sosfilt(sos, x).astype(np.float32)


def _reverb(x: np.ndarray, style: Style, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A decaying-noise impulse response: a room of random size, unrelated to the labels."""
    length = int(style.reverb_seconds * sr)
    t = np.arange(length, dtype=np.float32) / sr
    ir = rng.standard_normal(length, dtype=np.float32) * np.exp(-6.9 * t / style.reverb_seconds)
    ir = _filtered(ir, "lowpass", 5000.0, sr)
    ir *= style.reverb_wet / (float(np.sqrt(np.sum(ir**2))) or 1.0)
    wet = signal.oaconvolve(x, ir)[: len(x)]
    return (x + wet).astype(np.float32)
