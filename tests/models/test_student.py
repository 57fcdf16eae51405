"""The student: presets of both MobileViT versions, shapes, saving, and its weight-loading tiers.

Models are tiny and built in place; the Hugging Face checkpoint is a tiny MobileViT saved to
tmp_path; the network is never used.
"""

from __future__ import annotations

import json

import pytest
import torch
from transformers import MobileViTConfig, MobileViTModel

from moodscape.config import StudentConfig
from moodscape.errors import CheckpointError
from moodscape.models.loading import REGRESSORS, load_model
from moodscape.models.student.mobilevit import STUDENT_PRESETS, StudentRegressor, build_student
from moodscape.models.teacher.transformer import TeacherRegressor

TINY_V1 = {"hidden_sizes": [16, 24, 32], "neck_hidden_sizes": [8, 8, 16, 16, 24, 24, 48],
           "expand_ratio": 2.0, "num_attention_heads": 2}  # fmt: skip


def tiny(**kwargs) -> StudentRegressor:
    return StudentRegressor(**{"n_mels": 32, "frames": 40, "backbone": TINY_V1, "head_hidden": 8, **kwargs})


@pytest.mark.parametrize("kind", ["mobilevit", "mobilevitv2"])
def test_tiny_preset_of_each_version_regresses_rectangular_windows(kind):
    model = build_student(StudentConfig(kind=kind, preset="tiny"), n_mels=64, frames=104).eval()
    x = torch.randn(3, 64, 104)
    out = model(x)
    assert out.shape == (3, 2) and out.abs().max() < 1
    assert model.embed(x).shape == (3, model.hidden_size)


@pytest.mark.parametrize("kind", ["mobilevit", "mobilevitv2"])
def test_a_fresh_student_can_fit_a_few_windows(kind):
    """He initialisation keeps the signal alive: with transformers' N(0, 0.02) convolutions this stalls."""
    model = build_student(StudentConfig(kind=kind, preset="tiny", dropout=0.0), n_mels=64, frames=64).train()
    x = torch.randn(8, 64, 64) + torch.linspace(-1, 1, 8)[:, None, None]
    y = torch.stack([torch.linspace(-0.6, 0.6, 8), torch.linspace(0.5, -0.5, 8)], dim=1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0], losses


def test_every_preset_names_both_versions():
    for name in STUDENT_PRESETS:
        assert set(STUDENT_PRESETS.get(name)) == {"mobilevit", "mobilevitv2"}


def test_windows_too_small_for_the_backbone_are_refused():
    with pytest.raises(ValueError, match="at least 64x64"):
        build_student(StudentConfig(kind="mobilevitv2", preset="tiny"), n_mels=32, frames=200)


def test_wrong_window_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\(batch, 32, 40\)"):
        tiny()(torch.randn(1, 32, 41))


def test_save_and_load_round_trip_is_exact(tmp_path):
    model = tiny(teacher_dim=12).eval()
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "moodscape-student" and config["args"]["teacher_dim"] == 12
    again = StudentRegressor.from_pretrained(tmp_path)
    x = torch.randn(2, 32, 40)
    torch.testing.assert_close(again(x), model(x), rtol=0, atol=0)
    assert again.project(again.embed(x)).shape == (2, 12)
    assert isinstance(load_model(tmp_path, expect=REGRESSORS), StudentRegressor)
    # The one checkpoint API: the weights file alone rebuilds it too (its metadata holds the config).
    (tmp_path / "config.json").unlink()
    alone = StudentRegressor.from_pretrained(tmp_path / "model.safetensors")
    torch.testing.assert_close(alone(x), model(x), rtol=0, atol=0)


def test_load_model_tells_teacher_and_student_apart(tmp_path):
    teacher = TeacherRegressor(n_mels=32, frames=48, hidden_size=16, num_layers=1, num_heads=2, head_hidden=8)
    teacher.save_pretrained(tmp_path / "t")
    assert isinstance(load_model(tmp_path / "t", expect=REGRESSORS), TeacherRegressor)
    with pytest.raises(CheckpointError, match="holds no moodscape model"):
        load_model(tmp_path, expect=REGRESSORS)
    with pytest.raises(CheckpointError, match="not a moodscape student"):
        StudentRegressor.from_pretrained(tmp_path / "t")


def test_imagenet_mobilevit_stem_is_summed_into_one_channel(tmp_path):
    hf = MobileViTModel(MobileViTConfig(num_channels=3, image_size=64, **TINY_V1)).eval()
    hf.save_pretrained(tmp_path / "hf")
    cfg = StudentConfig(preset="xxs", pretrained=str(tmp_path / "hf"), head_hidden=8)
    model = build_student(cfg, n_mels=32, frames=40)
    stem = "conv_stem.convolution.weight"
    torch.testing.assert_close(model.backbone.state_dict()[stem], hf.state_dict()[stem].sum(dim=1, keepdim=True))
    other = "encoder.layer.4.fusion.convolution.weight"
    torch.testing.assert_close(model.backbone.state_dict()[other], hf.state_dict()[other])
    assert model.init_args["backbone"]["hidden_sizes"] == TINY_V1["hidden_sizes"]  # the checkpoint's size, not xxs


def test_moodscape_student_continues_with_its_own_weights(tmp_path):
    saved = tiny().eval()
    saved.save_pretrained(tmp_path)
    model = build_student(StudentConfig(pretrained=str(tmp_path), head_hidden=8), n_mels=32, frames=40, teacher_dim=6)
    state = saved.state_dict()
    for key, value in model.state_dict().items():
        if not key.startswith("projection."):
            torch.testing.assert_close(value, state[key])


def test_a_checkpoint_of_another_kind_or_missing_is_refused(tmp_path, monkeypatch):
    tiny().save_pretrained(tmp_path / "s")
    with pytest.raises(CheckpointError, match="student.kind"):
        build_student(StudentConfig(kind="mobilevitv2", pretrained=str(tmp_path / "s")), n_mels=32, frames=40)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError, match="student.pretrained=none"):
        build_student(StudentConfig(pretrained="moodscape-tests/not-a-cached-mobilevit"), n_mels=32, frames=40)
