"""The shared training loop with a weight average: what is validated and kept, and exact resume."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from moodscape.config import RuntimeConfig, TrainingConfig
from moodscape.errors import CheckpointError
from moodscape.training.loop import Trainer


class Linear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.layer(x)

    def save_pretrained(self, directory):
        directory.mkdir(parents=True, exist_ok=True)
        save_file(self.state_dict(), str(directory / "model.safetensors"))
        (directory / "config.json").write_text("{}")


class LinearTrainer(Trainer):
    """Noisy linear regression: the live weights jitter from batch to batch, the average less so."""

    def __init__(self, cfg, out_dir, *, crash_at=None):
        super().__init__(cfg, RuntimeConfig(), seed=0, out_dir=out_dir, progress=False)
        torch.manual_seed(0)
        self.model = Linear()
        self.crash_at = crash_at
        self.validated = []
        data = np.random.default_rng(0)
        self.x = torch.from_numpy(data.standard_normal((64, 4)).astype(np.float32))
        self.y = self.x @ torch.tensor([[0.5, -0.2], [0.1, 0.3], [0.0, 0.4], [-0.3, 0.0]])

    def parameter_groups(self):
        return [{"params": list(self.model.parameters()), "lr": self.cfg.lr_head, "weight_decay": 0.0}]

    def batches(self, epoch, rng):
        if epoch == self.crash_at:
            raise KeyboardInterrupt("killed")
        for _ in range(4):
            index = torch.from_numpy(rng.choice(64, size=8, replace=False))
            yield self.x[index], self.y[index] + 0.3 * torch.randn(8, 2)

    def batches_per_epoch(self):
        return 4

    def loss(self, batch):
        x, y = batch
        return torch.nn.functional.mse_loss(self.model(x), y)

    def validate(self, model):
        self.validated.append((model, model.layer.weight.detach().clone()))
        with torch.no_grad():
            error = torch.nn.functional.mse_loss(model(self.x), self.y).item()
        return {"val_ccc_mean": -error}

    def checkpoint_meta(self):
        return {"kind": "test"}


def config(**kwargs):
    return TrainingConfig(epochs=6, lr_head=0.05, warmup_epochs=0, patience=None, **kwargs)


def weights(folder):
    return load_file(str(folder / "model.safetensors"))


def test_the_average_is_validated_and_kept_as_best_and_last_keeps_both(tmp_path):
    trainer = LinearTrainer(config(ema_decay=0.9), tmp_path / "run")
    history = trainer.fit()
    assert all(model is trainer.ema.model for model, _ in trainer.validated) and len(history) == 6
    assert trainer.ema.updates == 6 * 4
    last = tmp_path / "run" / "last"
    assert torch.equal(weights(last)["layer.weight"], trainer.model.layer.weight.detach())
    assert torch.equal(weights(last / "ema")["layer.weight"], trainer.ema.model.layer.weight)
    assert not torch.equal(trainer.ema.model.layer.weight, trainer.model.layer.weight.detach())
    best_epoch = int(np.argmax([row["val_ccc_mean"] for row in history]))
    assert torch.equal(weights(tmp_path / "run" / "best")["layer.weight"], trainer.validated[best_epoch][1])


def test_without_an_average_the_live_model_is_validated(tmp_path):
    trainer = LinearTrainer(config(), tmp_path / "run")
    trainer.fit()
    assert trainer.ema is None and all(model is trainer.model for model, _ in trainer.validated)
    assert not (tmp_path / "run" / "last" / "ema").exists()


def test_resume_restores_the_average_exactly(tmp_path):
    LinearTrainer(config(ema_decay=0.9), tmp_path / "whole").fit()
    with pytest.raises(KeyboardInterrupt):
        LinearTrainer(config(ema_decay=0.9), tmp_path / "killed", crash_at=3).fit()
    resumed = LinearTrainer(config(ema_decay=0.9), tmp_path / "killed")
    resumed.fit(resume=True)
    for name in ("best", "last", "last/ema"):
        a, b = weights(tmp_path / "whole" / name), weights(tmp_path / "killed" / name)
        assert all(torch.equal(a[k], b[k]) for k in a), name


def test_resume_without_the_saved_average_is_refused(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        LinearTrainer(config(ema_decay=0.9), tmp_path / "run", crash_at=2).fit()
    shutil.rmtree(tmp_path / "run" / "last" / "ema")
    with pytest.raises(CheckpointError, match="weight average"):
        LinearTrainer(config(ema_decay=0.9), tmp_path / "run").fit(resume=True)


def test_select_last_keeps_every_epoch_in_best_and_needs_no_validation(tmp_path):
    class Unvalidated(LinearTrainer):
        def has_validation(self):
            return False

    trainer = Unvalidated(config(select="last"), tmp_path / "run")
    history = trainer.fit()
    assert len(history) == 6 and not trainer.validated and "val_ccc_mean" not in history[-1]
    assert all(torch.equal(weights(tmp_path / "run" / "best")[k], weights(tmp_path / "run" / "last")[k])
               for k in weights(tmp_path / "run" / "best"))  # fmt: skip


def test_choosing_the_best_epoch_without_validation_songs_is_refused(tmp_path):
    from moodscape.errors import ConfigError

    class Unvalidated(LinearTrainer):
        def has_validation(self):
            return False

    with pytest.raises(ConfigError, match="select=last"):
        Unvalidated(config(), tmp_path / "run").fit()


def test_select_last_with_early_stopping_is_a_named_error():
    with pytest.raises(ValueError, match="patience to null"):
        TrainingConfig(select="last", patience=4)
