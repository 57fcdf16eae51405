"""Streaming windows: the evaluation layout, any rate and channel count, flat memory, bad audio."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from moodscape.audio.io import load_audio
from moodscape.errors import AudioError
from moodscape.features.windows import window_starts
from moodscape.inference import stream
from moodscape.inference.stream import StreamInfo, stream_windows

from ..conftest import write_tone


@pytest.mark.parametrize("seconds", [7.3, 12.0, 1.5])
def test_windows_follow_the_evaluation_layout(tmp_path, seconds):
    path = write_tone(tmp_path / "a.wav", seconds=seconds, rate=16000)
    window, hop = 32000, 16000
    info = StreamInfo()
    windows = list(stream_windows(path, sample_rate=16000, window=window, hop=hop, info=info))
    audio, _ = load_audio(path, sample_rate=16000)
    if audio.size >= window:
        assert info.starts == window_starts(audio.size, window, hop).tolist()
        for start, w in zip(info.starts, windows):
            np.testing.assert_array_equal(w, audio[start : start + window])
    else:  # shorter than a window: repeated to fill it
        assert len(windows) == 1
        np.testing.assert_array_equal(windows[0][: audio.size], audio)
        np.testing.assert_array_equal(windows[0][audio.size : 2 * audio.size], audio[: window - audio.size])


def test_small_blocks_give_the_same_windows(tmp_path, monkeypatch):
    """Block boundaries never show: 0.3 s blocks cut the same windows as one read of the whole file."""
    path = write_tone(tmp_path / "a.wav", seconds=9.0, rate=44100, channels=2)
    whole = list(stream_windows(path, sample_rate=22050, window=44100, hop=22050))
    monkeypatch.setattr(stream, "BLOCK_SECONDS", 0.3)
    blocks = list(stream_windows(path, sample_rate=22050, window=44100, hop=22050))
    assert len(whole) == len(blocks)
    for a, b in zip(whole, blocks):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_stereo_at_another_rate_matches_the_training_decoder(tmp_path):
    path = write_tone(tmp_path / "s.flac", seconds=6.0, rate=48000, channels=2)
    windows = list(stream_windows(path, sample_rate=22050, window=22050, hop=11025))
    audio, _ = load_audio(path, sample_rate=22050)
    assert abs(len(windows) - len(window_starts(audio.size, 22050, 11025))) == 0
    # soxr's streaming and one-shot modes differ only in the last bits
    np.testing.assert_allclose(windows[2], audio[22050 : 44100], atol=1e-3)



def test_the_kept_head_is_what_decoding_the_file_again_gives(tmp_path, monkeypatch):
    """``StreamInfo(keep=n)`` holds the stream's first n samples (a fused model's descriptors read them instead
    of decoding the file a second time), across block boundaries, and the whole stream when it is shorter."""
    path = write_tone(tmp_path / "s.wav", seconds=6.0, rate=44100, channels=2)
    monkeypatch.setattr(stream, "BLOCK_SECONDS", 0.7)
    audio, _ = load_audio(path, sample_rate=22050)
    for keep, expected in ((3 * 22050 + 5, audio[: 3 * 22050 + 5]), (10 * 22050, audio)):
        info = StreamInfo(keep=keep)
        list(stream_windows(path, sample_rate=22050, window=22050, hop=22050, info=info))
        assert info.head().dtype == np.float32
        np.testing.assert_array_equal(info.head(), expected)
    info = StreamInfo()
    list(stream_windows(path, sample_rate=22050, window=22050, hop=22050, info=info))
    assert info.head().size == 0 and not info.kept

def test_memory_stays_flat_on_a_long_file(tmp_path, monkeypatch):
    """A 10-minute file is read in blocks: the buffer never holds much more than a block and a window."""
    rate = 8000
    path = tmp_path / "long.wav"
    with sf.SoundFile(str(path), "w", samplerate=rate, channels=1, subtype="FLOAT") as handle:
        for _ in range(60):
            handle.write((0.1 * np.sin(np.arange(10 * rate) / 10)).astype(np.float32))
    sizes = []
    real_concatenate = np.concatenate

    def watch(arrays, *args, **kwargs):
        out = real_concatenate(arrays, *args, **kwargs)
        sizes.append(out.size)
        return out

    monkeypatch.setattr(stream.np, "concatenate", watch)
    count = sum(1 for _ in stream_windows(path, sample_rate=rate, window=5 * rate, hop=rate))
    assert count == 596
    assert max(sizes) <= (stream.BLOCK_SECONDS + 5 + 1) * rate


def test_bad_audio_is_an_audio_error(tmp_path):
    silent = tmp_path / "silent.wav"
    sf.write(str(silent), np.zeros(16000, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="silent"):
        list(stream_windows(silent, sample_rate=16000, window=8000, hop=4000))
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(b"not audio at all" * 100)
    with pytest.raises(AudioError, match="not a readable audio file"):
        list(stream_windows(garbage, sample_rate=16000, window=8000, hop=4000))
    with pytest.raises(AudioError, match="not found"):
        list(stream_windows(tmp_path / "missing.wav", sample_rate=16000, window=8000, hop=4000))


def test_windows_resampled_as_the_store_was_give_the_stores_log_mel(tmp_path, rng):
    """A model learnt from a store's log-mel; its windows at prediction must be resampled with the store's
    quality (`fast` mode: soxr LQ), or the top bands differ. Broadband audio at 44.1 kHz shows it."""
    import torch

    from moodscape.audio.frontend import LogMel
    from moodscape.audio.logmel_numpy import LogMelNumpy
    from moodscape.config import AudioConfig, FeaturesConfig

    path = tmp_path / "noise.wav"
    sf.write(path, 0.2 * rng.standard_normal(44100 * 4).astype(np.float32), 44100)
    audio = AudioConfig(sample_rate=16000)
    features = FeaturesConfig(n_fft=512, hop_length=256, n_mels=96, fmin=0.0, fmax=8000.0, compression="logc",
                              mode="fast")  # fmt: skip
    assert features.resampler == "LQ" and FeaturesConfig(mode="exact").resampler == "HQ"
    samples, _ = load_audio(path, sample_rate=16000, quality=features.resampler)  # what a feature build decodes
    with torch.inference_mode():
        stored = LogMel.from_config(features, audio)(torch.from_numpy(samples)).numpy()
    frontend = LogMelNumpy(features, audio)
    inner = slice(2, 60)  # frames away from the window's right edge, where the song goes on but the window stops
    gaps = {}
    for quality in ("LQ", "HQ"):
        first = next(stream_windows(path, sample_rate=16000, window=48000, hop=16000, quality=quality))
        gaps[quality] = np.abs(frontend(first[None])[0][:, inner] - stored[:, inner]).max()
    assert gaps["LQ"] < 0.02 and gaps["HQ"] > 10 * gaps["LQ"], gaps
