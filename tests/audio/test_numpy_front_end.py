"""The numpy pieces of the fast paths give the values of what they replace: the front end that runs exported
models gives LogMel's, the mel filters it reads are librosa's (cached on disk by their settings), and the
mono mix is the mean of the channels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from moodscape.audio import melbank
from moodscape.audio.frontend import LogMel
from moodscape.audio.logmel_numpy import LogMelNumpy
from moodscape.config import AudioConfig, FeaturesConfig

MUSICNN = (FeaturesConfig(n_fft=512, hop_length=256, n_mels=96, fmin=0.0, fmax=8000.0, compression="logc"),
           AudioConfig(sample_rate=16000))  # fmt: skip


@pytest.mark.parametrize("features, audio", [MUSICNN, (FeaturesConfig(), AudioConfig()),
                                             (FeaturesConfig(top_db=80.0, power=1.0), AudioConfig())])  # fmt: skip
def test_same_values_as_the_torch_front_end(features, audio, rng):
    waveforms = (rng.standard_normal((3, 20000)) * 0.1).astype(np.float32)
    waveforms[1] *= 0.0  # a silent window: the floor of each compression
    expected = LogMel.from_config(features, audio)(torch.from_numpy(waveforms)).numpy()
    got = LogMelNumpy(features, audio)(waveforms)
    assert got.shape == expected.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


def test_filters_are_librosas_and_come_back_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    from moodscape.audio.librosa_env import load_librosa

    settings = dict(sample_rate=16000, n_fft=512, n_mels=96, fmin=0.0, fmax=8000.0)
    first = melbank.mel_filters(**settings)
    reference = load_librosa(compiled=False).filters.mel(sr=16000, n_fft=512, n_mels=96, fmin=0.0, fmax=8000.0)
    np.testing.assert_array_equal(first, reference)
    (cached,) = melbank.cache_dir().glob("*.npy")
    np.save(cached, np.ones((96, 257), dtype=np.float32))
    np.testing.assert_array_equal(melbank.mel_filters(**settings), np.ones((96, 257)))  # read, not recomputed
    cached.write_bytes(b"not a numpy file")
    np.testing.assert_array_equal(melbank.mel_filters(**settings), reference)  # a broken cache is recomputed


@pytest.mark.parametrize("channels", [1, 2, 5])
def test_mono_mix_is_the_mean_of_the_channels(channels, rng):
    from moodscape.audio.io import to_mono

    block = rng.standard_normal((1000, channels)).astype(np.float32)
    np.testing.assert_array_equal(to_mono(block), block.mean(axis=1, dtype=np.float32))
