"""Precise batch norm: running statistics recomputed as plain averages over clean windows, the frozen layers
of a model left as they are."""

from __future__ import annotations

import torch
from torch import nn

from moodscape.config import TeacherConfig
from moodscape.models.teacher.build import build_teacher
from moodscape.training.regressor import recompute_batchnorm


def test_the_statistics_become_the_averages_over_the_windows():
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2))
    batches = [torch.randn(16, 4) * 3 + 1 for _ in range(5)]
    recompute_batchnorm(model, batches)
    hidden = model[0](torch.cat(batches)).detach()
    torch.testing.assert_close(model[1].running_mean, hidden.mean(0), rtol=1e-5, atol=1e-5)
    assert not model.training and model[1].momentum == 0.1


def test_frozen_layers_of_a_musicnn_teacher_keep_their_statistics():
    model = build_teacher(TeacherConfig(kind="musicnn", pretrained="MSD_musicnn", trainable="backend"), n_mels=96,
                          frames=64)  # fmt: skip
    frozen, trained = model.backbone.midend[0].bn.running_mean.clone(), model.backbone.dense_bn.running_mean.clone()
    recompute_batchnorm(model, [torch.rand(8, 96, 64) * 3 for _ in range(2)])
    assert torch.equal(model.backbone.midend[0].bn.running_mean, frozen)
    assert not torch.equal(model.backbone.dense_bn.running_mean, trained)
