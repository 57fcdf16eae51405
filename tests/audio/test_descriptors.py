"""Classical descriptors: one named, finite vector per clip that tracks tempo, loudness and mode; cached
per store by audio content, so each clip is decoded once."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from moodscape.audio.descriptors import DESCRIPTOR_FILE, clip_descriptors, descriptor_names, store_descriptors
from moodscape.config import Config
from moodscape.data.dataset import Dataset
from moodscape.data.records import SongRecord
from moodscape.features.build import build_feature_store
from moodscape.features.store import FeatureStore

SR = 22050


def clicks(bpm: float, seconds: float = 12.0, level: float = 0.5) -> np.ndarray:
    y = np.zeros(int(seconds * SR), dtype=np.float32)
    period = int(60.0 / bpm * SR)
    burst = level * np.hanning(256) * np.sin(2 * np.pi * 2000 * np.arange(256) / SR)
    for start in range(0, y.size - 256, period):
        y[start : start + 256] += burst
    return y


def chord(notes_hz, seconds: float = 8.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.2 * sum(np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t) for f in notes_hz)).astype(np.float32)


def value(vector, name):
    return vector[descriptor_names().index(name)]


def test_one_finite_named_vector_per_clip(rng):
    y = (0.1 * rng.standard_normal(5 * SR)).astype(np.float32)
    vector = clip_descriptors(y, SR)
    assert vector.shape == (len(descriptor_names()),) and np.isfinite(vector).all()
    assert len(set(descriptor_names())) == len(descriptor_names())


def test_tempo_loudness_and_mode_are_measured():
    slow, fast = clip_descriptors(clicks(70), SR), clip_descriptors(clicks(140), SR)
    assert value(slow, "tempo") == pytest.approx(70, rel=0.08) and value(fast, "tempo") == pytest.approx(140, rel=0.08)
    assert value(fast, "onset_rate") > 1.7 * value(slow, "onset_rate")
    quiet = clip_descriptors(clicks(120, level=0.05), SR)
    assert value(quiet, "rms_db_p90") == pytest.approx(value(clip_descriptors(clicks(120), SR), "rms_db_p90") - 20, abs=1)
    note = lambda k: 261.63 * 2 ** (k / 12)  # noqa: E731 - semitones above middle C
    major = np.concatenate([chord([note(k) for k in c], 2.0) for c in ([0, 4, 7], [5, 9, 12], [7, 11, 14], [0, 4, 7])])
    minor = np.concatenate([chord([note(k) for k in c], 2.0) for c in ([0, 3, 7], [5, 8, 12], [7, 11, 14], [0, 3, 7])])
    assert value(clip_descriptors(major, SR), "major_minor") > 0 > value(clip_descriptors(minor, SR), "major_minor")


def _store(tmp_path, rng, n=4):
    records = []
    for i in range(n):
        path = tmp_path / "audio" / f"{i}.wav"
        path.parent.mkdir(exist_ok=True)
        sf.write(path, clicks(80 + 20 * i, seconds=6.0), SR)
        records.append(SongRecord(str(i), path, valence=0.1 * i, arousal=-0.1 * i))
    dataset = Dataset(name="clicks", root=tmp_path / "audio", layout="csv", records=tuple(records))
    return dataset, FeatureStore(build_feature_store(dataset, tmp_path / "features", config=Config(), workers=1, progress=False))


def test_store_descriptors_are_cached_by_audio_content(tmp_path, rng):
    dataset, store = _store(tmp_path, rng)
    first = store_descriptors(store, ["0", "2", "3"], workers=1, progress=False)
    assert first.shape == (3, len(descriptor_names())) and (store.directory / DESCRIPTOR_FILE).exists()
    (tmp_path / "audio" / "0.wav").unlink()  # cached: the audio is not read again
    assert np.array_equal(store_descriptors(store, ["0", "2", "3"], workers=1, progress=False), first)
    sf.write(tmp_path / "audio" / "0.wav", clicks(150, seconds=6.0), SR)  # new content, store rebuilt
    store = FeatureStore(build_feature_store(dataset, tmp_path / "features", config=Config(), workers=1, progress=False))
    again = store_descriptors(store, ["0", "2", "3"], workers=1, progress=False)
    assert not np.array_equal(again[0], first[0]) and np.array_equal(again[1:], first[1:])


def test_descriptors_at_another_rate_have_a_cache_of_their_own(tmp_path, rng):
    _, store = _store(tmp_path, rng, n=2)
    own = store_descriptors(store, ["0", "1"], workers=1, progress=False)
    low = store_descriptors(store, ["0", "1"], sample_rate=16000, workers=1, progress=False)
    assert (store.directory / "descriptors-16000.npz").exists() and (store.directory / DESCRIPTOR_FILE).exists()
    assert not np.allclose(own, low), "the spectral descriptors see the lower band limit"
    assert np.array_equal(store_descriptors(store, ["0", "1"], sample_rate=store.audio.sample_rate, workers=1,
                                            progress=False), own)  # fmt: skip
    (tmp_path / "audio" / "0.wav").unlink()  # both rates are cached: no audio is read again
    assert np.array_equal(store_descriptors(store, ["0", "1"], sample_rate=16000, workers=1, progress=False), low)


@pytest.mark.shared_data
def test_real_clips_give_finite_descriptors(shared_data):
    from moodscape.audio.io import load_audio

    y, rate = load_audio(shared_data / "deam-mini" / "DEAM_audio" / "MEMD_audio" / "2.mp3", duration=20.0)
    vector = clip_descriptors(y, rate)
    assert np.isfinite(vector).all() and 40 < value(vector, "tempo") < 250
