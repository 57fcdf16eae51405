"""Classical music descriptors: timbre, spectral shape, dynamics, rhythm and tonality, pooled over a clip.

These are the handcrafted features that music-emotion work compared against for two decades (Panda et
al. 2018 on 4Q; the MediaEval baselines on DEAM): one fixed-length vector per clip, computed with
librosa from the decoded audio. They feed the classical floor (:mod:`moodscape.models.floors.descriptors`)
that every learned model must beat. Names of the entries come from :func:`descriptor_names`, so a
vector is never read by position alone.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import AudioError, DataError
from ..files import atomic_path
from ..parallel import ordered_map
from .librosa_env import load_librosa, numba_cache_dir

log = logging.getLogger(__name__)

# Krumhansl-Kessler key profiles (C major / C minor), for key clarity and the major-minor contrast.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

N_FFT = 2048
HOP = 512
N_MFCC = 20
CONTRAST_BANDS = 6  # librosa's default: 6 bands + the valley row = 7 rows


def _series_names() -> list[str]:
    names = [f"mfcc{i}" for i in range(N_MFCC)] + [f"dmfcc{i}" for i in range(N_MFCC)]
    names += ["centroid", "bandwidth", "rolloff", "flatness", "zcr", "rms_db", "flux"]
    names += [f"contrast{i}" for i in range(CONTRAST_BANDS + 1)]
    names += [f"chroma{i}" for i in range(12)] + [f"tonnetz{i}" for i in range(6)]
    return names


def descriptor_names() -> list[str]:
    """The name of every entry of :func:`clip_descriptors`' vector, in order."""
    names = [f"{s}_{stat}" for stat in ("mean", "std") for s in _series_names()]
    names += ["rms_db_p10", "rms_db_p90", "dynamic_range_db", "low_energy_ratio"]
    names += ["tempo", "onset_rate", "onset_strength_mean", "onset_strength_std", "pulse_clarity", "beat_strength"]
    names += ["harmonic_ratio", "key_clarity", "major_minor", "chroma_entropy"]
    return names


def clip_descriptors(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """One clip's descriptor vector (float64, ``len(descriptor_names())``) from mono samples.

    Frame-level series (MFCC and their deltas, spectral centroid, bandwidth, roll-off, flatness,
    contrast, zero-crossing rate, RMS in dB, spectral flux, chroma, tonnetz) are pooled by mean and
    standard deviation; then dynamics (RMS percentiles, range, share of low-energy frames), rhythm
    (tempo, onset rate and strength, pulse clarity from the onset autocorrelation, beat strength)
    and tonality (harmonic energy share, key clarity and the major-minor contrast from the
    Krumhansl-Kessler profiles, chroma entropy).
    """
    librosa = load_librosa()

    y = np.asarray(samples, dtype=np.float32)
    sr = int(sample_rate)
    stft = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    power = stft**2
    mel = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=128)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=N_MFCC)
    rms = librosa.feature.rms(S=stft, frame_length=N_FFT)[0]
    rms_db = librosa.amplitude_to_db(rms + 1e-10, ref=1.0, top_db=None)  # absolute level: loudness is a cue
    log_stft = np.log1p(stft)
    flux = np.concatenate([[0.0], np.sqrt((np.maximum(np.diff(log_stft, axis=1), 0) ** 2).sum(axis=0))])
    # Harmonic/percussive separation on the mel spectrogram: 10x cheaper than on the STFT, and the
    # energy share it feeds needs no finer resolution.
    harmonic, percussive = librosa.decompose.hpss(mel)
    chroma = librosa.feature.chroma_stft(S=power, sr=sr)
    tonnetz = librosa.feature.tonnetz(chroma=chroma)
    series = np.vstack([
        mfcc, librosa.feature.delta(mfcc),
        librosa.feature.spectral_centroid(S=stft, sr=sr), librosa.feature.spectral_bandwidth(S=stft, sr=sr),
        librosa.feature.spectral_rolloff(S=stft, sr=sr), librosa.feature.spectral_flatness(S=stft),
        librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP)[:, : stft.shape[1]],
        rms_db[None, :], flux[None, :],
        librosa.feature.spectral_contrast(S=stft, sr=sr, n_bands=CONTRAST_BANDS),
        chroma, tonnetz,
    ])  # fmt: skip
    pooled = np.concatenate([series.mean(axis=1), series.std(axis=1)])

    p10, p90 = np.percentile(rms_db, [10, 90])
    dynamics = [p10, p90, p90 - p10, float(np.mean(rms < rms.mean()))]

    onset = librosa.onset.onset_strength(S=librosa.power_to_db(mel), sr=sr)
    tempo, beats = librosa.beat.beat_track(onset_envelope=onset, sr=sr, hop_length=HOP)
    seconds = len(y) / sr
    onsets = librosa.onset.onset_detect(onset_envelope=onset, sr=sr, hop_length=HOP)
    centred = onset - onset.mean()
    autocorr = np.correlate(centred, centred, mode="full")[centred.size - 1 :]
    lags = slice(int(0.25 * sr / HOP), int(2.0 * sr / HOP))  # beat periods of 30 to 240 BPM
    pulse = float(autocorr[lags].max() / autocorr[0]) if autocorr[0] > 0 and autocorr[lags].size else 0.0
    beat_strength = float(onset[beats].mean() / (onset.mean() + 1e-10)) if len(beats) else 0.0
    rhythm = [float(np.atleast_1d(tempo)[0]), len(onsets) / max(seconds, 1e-3), onset.mean(), onset.std(), pulse,
              beat_strength]  # fmt: skip

    energy_h, energy_p = float(harmonic.sum()), float(percussive.sum())
    profile = chroma.mean(axis=1)
    major = [np.corrcoef(profile, np.roll(_MAJOR, k))[0, 1] for k in range(12)]
    minor = [np.corrcoef(profile, np.roll(_MINOR, k))[0, 1] for k in range(12)]
    shares = profile / max(profile.sum(), 1e-10)
    tonal = [energy_h / max(energy_h + energy_p, 1e-10), max(max(major), max(minor)), max(major) - max(minor),
             float(-(shares * np.log(shares + 1e-10)).sum())]  # fmt: skip

    vector = np.concatenate([pooled, dynamics, rhythm, tonal]).astype(np.float64)
    return np.nan_to_num(vector, nan=0.0, posinf=0.0, neginf=0.0)


# --- descriptors of a feature store's songs, cached beside it ------------------------------------------------

DESCRIPTOR_FILE = "descriptors.npz"
DESCRIPTOR_VERSION = 1
_SAVE_EVERY = 50


def _cache_key(audio: dict) -> str:
    """What a cached vector depends on besides the audio bytes: this code's version and the decoding settings."""
    return json.dumps([DESCRIPTOR_VERSION, descriptor_names(), audio["sample_rate"], audio["offset"], audio["duration"],
                       audio["min_seconds"], audio["short_policy"]])  # fmt: skip


def _read_cache(path: Path, key: str) -> dict[str, tuple[str, np.ndarray]]:
    if not path.exists():
        return {}
    try:
        with np.load(path, allow_pickle=False) as cached:
            if str(cached["key"]) != key:
                return {}
            return {str(i): (str(h), v) for i, h, v in zip(cached["ids"], cached["sha"], cached["vectors"])}
    except (OSError, KeyError, ValueError) as exc:
        log.warning("%s is unreadable (%s); computing the descriptors again", path, exc)
        return {}


def _write_cache(path: Path, key: str, cache: dict[str, tuple[str, np.ndarray]]) -> None:
    ids = sorted(cache)
    with atomic_path(path) as tmp:
        np.savez(tmp, key=np.array(key), ids=np.array(ids), sha=np.array([cache[i][0] for i in ids]),
                 vectors=np.stack([cache[i][1] for i in ids]) if ids else np.zeros((0, len(descriptor_names()))))  # fmt: skip


def _describe(job: tuple[str, dict]) -> np.ndarray | str:
    """Descriptors of one file (run in a worker), or the reason it failed."""
    from .io import load_audio

    path, audio = job
    try:
        samples, rate = load_audio(path, sample_rate=audio["sample_rate"], offset=audio["offset"],
                                   duration=audio["duration"], min_seconds=audio["min_seconds"],
                                   short_policy=audio["short_policy"], quality="HQ")  # fmt: skip
    except AudioError as exc:
        return str(exc)
    return clip_descriptors(samples, rate)


def store_descriptors(store, song_ids: Sequence[str], *, sample_rate: int | None = None, workers: int | None = None,
                      progress: bool = True) -> np.ndarray:  # fmt: skip
    """(N, len(descriptor_names())) descriptors of ``song_ids`` of a feature store, from their audio files
    decoded at ``sample_rate`` (default: the store's own; HQ resampling).

    Cached in ``STORE/descriptors.npz`` (``descriptors-<rate>.npz`` at another rate) by song and audio content
    hash (the store's index), so each clip is decoded and described once; the cache is saved as it grows, so
    an interrupted run keeps its work. A clip whose audio cannot be read now is a DataError naming the file.
    """
    from tqdm.auto import tqdm

    if store.settings.get("synthetic"):
        raise DataError(f"{store.directory} holds generated windows, which have no audio to describe")
    own = sample_rate is None or sample_rate == store.audio.sample_rate
    path = store.directory / (DESCRIPTOR_FILE if own else f"descriptors-{sample_rate}.npz")
    audio = {**store.audio.model_dump(mode="json"), **({} if own else {"sample_rate": int(sample_rate)})}
    key = _cache_key(audio)
    cache = _read_cache(path, key)
    entries = {s: store.entry(s) for s in song_ids}
    todo = [s for s in song_ids if s not in cache or not entries[s].audio_sha256 or cache[s][0] != entries[s].audio_sha256]
    todo = list(dict.fromkeys(todo))
    if todo:
        jobs = [(entries[s].path, audio) for s in todo]
        workers = min(workers or os.cpu_count() or 1, len(todo))
        load_librosa()  # compiled once here, before the workers fork, so that they share it
        results = ordered_map(_describe, jobs, stage="descriptors", labels=[f"song {s}" for s in todo],
                              files=[file for file, _ in jobs], workers=workers,
                              hint=f"Descriptors of the songs before it are cached in {path}: run the command again "
                                   "to go on. If the same song fails again, check or replace its audio file; if songs "
                                   "that worked before fail too, librosa's compiled code may be broken: delete "
                                   f"{numba_cache_dir()} and run again.")  # fmt: skip
        bar = tqdm(total=len(todo), desc="descriptors", unit="song", disable=not progress)
        try:
            for done, (song, result) in enumerate(zip(todo, results), 1):
                if isinstance(result, str):
                    raise DataError(f"descriptors of song {song}: {result}; rebuild the store with `moodscape features`")
                cache[song] = (entries[song].audio_sha256, result)
                bar.update(1)
                if done % _SAVE_EVERY == 0:
                    _write_cache(path, key, cache)
        finally:
            results.close()  # its worker pool shuts down now, not whenever the generator is collected
            bar.close()
            _write_cache(path, key, cache)
    return np.stack([cache[s][1] for s in song_ids]) if song_ids else np.zeros((0, len(descriptor_names())))
