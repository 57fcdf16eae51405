"""The per-epoch GAN monitor tells a generator that copies the real windows from one that makes noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from moodscape.errors import ConfigError
from moodscape.features.windows import Batch
from moodscape.training.gan import GanMonitor, _label_scale, label_loss

N_MELS, FRAMES = 8, 12


class _Songs:
    """Stands in for SongFeatures: windows whose low bands follow arousal and high bands valence."""

    def __init__(self, count: int) -> None:
        rng = np.random.default_rng(0)
        self.labels = rng.uniform(-1, 1, size=(count, 2)).astype(np.float32)
        self.windows = rng.normal(size=(count, N_MELS, FRAMES)).astype(np.float32)
        self.windows[:, :4] += 2 * self.labels[:, 1, None, None]
        self.windows[:, 4:] += 2 * self.labels[:, 0, None, None]

    def __len__(self) -> int:
        return len(self.labels)

    def random_batches(self, rng, *, frames, windows_per_song, batch_size):
        assert frames == FRAMES
        for first in range(0, len(self), batch_size):
            yield Batch(inputs=self.windows[first : first + batch_size], targets=self.labels[first : first + batch_size])


class _Replay(nn.Module):
    """A 'generator' that returns, for each label asked for, the given window of the song with that label."""

    z_dim = 4

    def __init__(self, windows: np.ndarray, labels: np.ndarray) -> None:
        super().__init__()
        self.windows, self.labels = torch.from_numpy(windows), torch.from_numpy(labels)
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, z, labels):
        return self.windows[torch.cdist(labels, self.labels).argmin(dim=1)]


def test_monitor_separates_a_perfect_generator_from_noise():
    songs = _Songs(200)
    monitor = GanMonitor(songs, frames=FRAMES, windows=200, seed=0)
    perfect = monitor(_Replay(songs.windows, songs.labels))
    noise = monitor(_Replay(np.random.default_rng(1).normal(size=songs.windows.shape).astype(np.float32), songs.labels))
    # The real windows themselves: exactly the real-vs-real distance (same halves, same sizes).
    assert perfect["fd_band"] == pytest.approx(perfect["fd_band_real"]) and perfect["fd_band_real"] > 0
    assert perfect["diversity"] == pytest.approx(1.0)
    assert perfect["fidelity_valence"] > 0.9 and perfect["fidelity_arousal"] > 0.9
    assert noise["fd_band"] > 5 * noise["fd_band_real"]
    assert abs(noise["fidelity_valence"]) < 0.2 and abs(noise["fidelity_arousal"]) < 0.2


def test_monitor_needs_enough_windows():
    with pytest.raises(ConfigError, match="monitor_windows"):
        GanMonitor(_Songs(20), frames=FRAMES, windows=3, seed=0)


def test_monitor_names_a_generator_that_makes_one_window():
    songs = _Songs(100)
    monitor = GanMonitor(songs, frames=FRAMES, windows=100, seed=0)
    collapsed = monitor(_Replay(np.repeat(songs.windows[:1], 100, axis=0), songs.labels))
    assert collapsed["diversity"] < 0.01


def test_label_loss_is_in_units_of_the_label_variance():
    labels = torch.tensor([[0.3, -0.3], [-0.3, 0.3], [0.3, 0.3], [-0.3, -0.3]])
    chance = torch.zeros_like(labels)  # predicting the mean: MSE = the labels' variance, 0.09
    scale = _label_scale(labels.numpy())
    assert scale == pytest.approx(1 / 0.3)
    assert float(label_loss(chance, labels, scale=scale)) == pytest.approx(1.0, rel=1e-5)
    assert float(label_loss(labels, labels, scale=scale)) == 0.0
    assert float(label_loss(None, labels, scale=scale)) == 0.0
