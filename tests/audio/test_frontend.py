"""The torch log-mel front end against librosa, on real clips and on generated signals."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from moodscape.audio.frontend import LogMel
from moodscape.audio.io import load_audio
from moodscape.config import AudioConfig, FeaturesConfig


def librosa_logmel(y: np.ndarray, sr: int = 22050, **kw) -> np.ndarray:
    mel = librosa.feature.melspectrogram(
        y=y, sr=sr, n_fft=kw.get("n_fft", 2048), hop_length=kw.get("hop_length", 512),
        n_mels=kw.get("n_mels", 128), fmin=kw.get("fmin", 20.0), fmax=kw.get("fmax", 8000.0),
    )  # fmt: skip
    return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=kw.get("top_db"))


@pytest.mark.shared_data
def test_parity_with_librosa_on_real_clips(shared_data):
    """Measured on the 10 shared DEAM clips: max abs difference 0.0055 dB on non-silent bins."""
    frontend = LogMel()
    clips = sorted((shared_data / "deam-mini" / "DEAM_audio" / "MEMD_audio").glob("*.mp3"))
    assert len(clips) == 10
    worst = 0.0
    for path in clips:
        y, _ = librosa.load(path, sr=22050)
        expected = librosa_logmel(y)
        samples, _ = load_audio(path, sample_rate=22050, quality="HQ")
        np.testing.assert_array_equal(samples, y)
        got = frontend(torch.from_numpy(samples)).numpy()
        assert got.shape == expected.shape
        non_silent = expected > -80.0
        worst = max(worst, float(np.abs(got - expected)[non_silent].max()))
    assert worst < 0.05


def test_parity_other_settings_and_batch(rng):
    y = (0.1 * rng.standard_normal(22050 * 3)).astype(np.float32)
    kw = dict(n_fft=1024, hop_length=256, n_mels=64, fmin=50.0, fmax=10000.0, top_db=60.0)
    frontend = LogMel(**kw)
    expected = librosa_logmel(y, **kw)
    batch = frontend(torch.from_numpy(np.stack([y, 0.5 * y])))
    assert batch.shape == (2, 64, frontend.num_frames(y.size))
    np.testing.assert_allclose(batch[0].numpy(), expected, atol=0.01)
    # Half the amplitude is -6.02 dB in every bin above the top_db floor.
    assert np.allclose((batch[0] - batch[1]).numpy()[expected > expected.max() - 50], 20 * np.log10(2), atol=0.01)


def test_from_config_and_validation():
    frontend = LogMel.from_config(FeaturesConfig(n_mels=64), AudioConfig(sample_rate=16000))
    assert frontend.sample_rate == 16000 and frontend.n_mels == 64
    with pytest.raises(ValueError, match="Nyquist"):
        LogMel(sample_rate=8000, fmax=8000.0)


def test_cpu_fast_path_equals_the_dense_graph(rng):
    """The chunked sparse path (CPU inference) and the dense one (export, autograd, GPU) agree."""
    frontend = LogMel()
    y = torch.from_numpy((0.1 * rng.standard_normal((2, 22050 * 13 + 77))).astype(np.float32))
    fast = frontend(y)
    dense = frontend._mel_dense(y)
    dense_db = 10.0 * torch.log10(torch.clamp(dense, min=frontend.amin))
    assert fast.shape == dense_db.shape == (2, 128, frontend.num_frames(y.shape[1]))
    torch.testing.assert_close(fast, dense_db, atol=1e-3, rtol=0)
    with_grad = frontend(y.clone().requires_grad_(True))
    torch.testing.assert_close(with_grad.detach(), dense_db, atol=1e-3, rtol=0)
