"""The weight average shared by the GAN generator and the regressors: warm-up, convergence, buffers, state."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from moodscape.models.ema import EMA


def test_ema_lags_then_converges_to_fixed_weights():
    model = nn.Linear(3, 2)
    ema = EMA(model, decay=0.9)
    start = ema.model.weight.detach().clone()
    assert torch.equal(start, model.weight) and not ema.model.training
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update(model)  # warm-up: the first step uses decay min(0.9, 1/10) = 0.1
    assert torch.allclose(ema.model.weight, start + 0.9, atol=1e-6)
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update(model)  # second step: decay min(0.9, 2/11)
    assert torch.allclose(ema.model.weight, start + 0.9 * 2 / 11 + 2.0 * 9 / 11, atol=1e-6)
    assert not torch.allclose(ema.model.weight, model.weight, atol=0.1)
    for _ in range(300):
        ema.update(model)  # identical weights every step: the gap shrinks by 0.9 per step
    assert torch.allclose(ema.model.weight, model.weight, atol=1e-6)
    assert torch.allclose(ema.model.bias, model.bias, atol=1e-6)
    assert ema.updates == 302 and not ema.model.weight.requires_grad


def test_ema_copies_buffers_and_never_changes_the_model():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ema = EMA(model, decay=0.99)
    model.train()(torch.randn(16, 3) * 5 + 2)  # moves BatchNorm's running statistics
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ema.update(model)
    assert torch.equal(ema.model[1].running_mean, model[1].running_mean)
    assert torch.equal(ema.model[1].num_batches_tracked, model[1].num_batches_tracked)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    restored = EMA(model, decay=0.5)
    restored.load_state_dict(ema.state_dict())
    assert restored.decay == 0.99 and restored.updates == 1
    with pytest.raises(ValueError, match="decay"):
        EMA(model, decay=1.0)
