"""Optimiser state survives a safetensors + JSON round trip exactly; swaps are atomic."""

from __future__ import annotations

import json

import pytest
import torch

from moodscape.errors import CheckpointError
from moodscape.models.checkpoint import (
    optimizer_from_files,
    optimizer_to_files,
    read_meta,
    read_training_state,
    recover,
    write_checkpoint,
)


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(3, 2)

    def forward(self, x):
        return self.layer(x)

    def save_pretrained(self, directory):
        from safetensors.torch import save_file

        directory.mkdir(exist_ok=True)
        save_file(self.state_dict(), str(directory / "model.safetensors"))
        (directory / "config.json").write_text("{}")


def stepped_optimizer(model):
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    for _ in range(3):
        model(torch.randn(4, 3)).pow(2).mean().backward()
        optimizer.step()
        optimizer.zero_grad()
    return optimizer


def test_optimizer_round_trip_is_exact():
    torch.manual_seed(0)
    model = Tiny()
    optimizer = stepped_optimizer(model)
    tensors, meta = optimizer_to_files(optimizer)
    json.dumps(meta)
    fresh = torch.optim.AdamW(model.parameters(), lr=0.5)
    optimizer_from_files(fresh, tensors, json.loads(json.dumps(meta)))
    for key, value in optimizer.state_dict()["state"][0].items():
        assert torch.equal(value, fresh.state_dict()["state"][0][key])
    assert fresh.param_groups[0]["lr"] == 0.01


def test_checkpoint_folder_and_recovery(tmp_path):
    model = Tiny()
    optimizer = stepped_optimizer(model)
    target = tmp_path / "last"
    for epoch in (1, 2):
        write_checkpoint(target, model, meta={"epoch": epoch}, optimizers={"optimizer": optimizer},
                         training_state={"epoch": epoch})  # fmt: skip
    assert read_meta(target)["epoch"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]
    assert read_training_state(target, {"optimizer": torch.optim.AdamW(model.parameters())})["epoch"] == 2
    # A kill between the two renames leaves only last.old: it comes back.
    target.rename(tmp_path / "last.old")
    assert recover(target).exists() and read_meta(target)["epoch"] == 2
    best = write_checkpoint(tmp_path / "best", model, meta={})
    with pytest.raises(CheckpointError, match="cannot be resumed"):
        read_training_state(best, {"optimizer": optimizer})
    with pytest.raises(CheckpointError, match="not a moodscape checkpoint"):
        read_meta(tmp_path)


def test_one_resume_format_for_several_networks(tmp_path):
    """A GAN's last/: no root model, two networks in subfolders and two optimisers, each restored exactly."""
    torch.manual_seed(0)
    g, d = Tiny(), Tiny()
    opt_g, opt_d = stepped_optimizer(g), stepped_optimizer(d)
    last = write_checkpoint(tmp_path / "last", None, meta={"epoch": 3}, parts={"generator": g, "discriminator": d},
                            optimizers={"optimizer_g": opt_g, "optimizer_d": opt_d}, training_state={"epoch": 3})
    assert {"generator", "discriminator"} <= {p.name for p in last.iterdir()}
    assert not (last / "model.safetensors").exists()
    fresh_g, fresh_d = torch.optim.AdamW(g.parameters()), torch.optim.AdamW(d.parameters())
    state = read_training_state(last, {"optimizer_g": fresh_g, "optimizer_d": fresh_d})
    assert state == {"epoch": 3}
    for saved, fresh in ((opt_g, fresh_g), (opt_d, fresh_d)):
        for key, value in saved.state_dict()["state"][0].items():
            assert torch.equal(value, fresh.state_dict()["state"][0][key])
    with pytest.raises(CheckpointError, match=r"optimisers .*optimizer_d.*this trainer has \['optimizer'\]"):
        read_training_state(last, {"optimizer": fresh_g})
