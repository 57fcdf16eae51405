"""The musicnn teacher: musicnn's shipped weights under a valence/arousal head (pooled or transformer), with
only the chosen parts training and the frozen parts' batch-norm statistics kept."""

from __future__ import annotations

import pytest
import torch

from moodscape.config import TeacherConfig
from moodscape.errors import ConfigError, SettingError
from moodscape.models.loading import REGRESSORS, load_model
from moodscape.models.pretrained.musicnn import load_musicnn
from moodscape.models.teacher.build import build_teacher
from moodscape.models.teacher.musicnn_head import MusicnnRegressor


def musicnn_teacher(**options) -> MusicnnRegressor:
    config = TeacherConfig(kind="musicnn", **{"pretrained": "MSD_musicnn", **options})
    return build_teacher(config, n_mels=96, frames=64)


@pytest.mark.parametrize(("head", "trainable", "trained"), [
    ("pooled", "head", set()),
    ("pooled", "backend", {"pool_bn", "dense", "dense_bn", "classifier"}),
    ("pooled", "midend", {"midend", "pool_bn", "dense", "dense_bn", "classifier"}),
    ("transformer", "backend", set()),
    ("transformer", "midend", {"midend"}),
])  # fmt: skip
def test_the_chosen_parts_train_and_the_rest_keep_their_weights_and_statistics(head, trainable, trained):
    model = musicnn_teacher(head=head, trainable=trainable)
    assert {name.split(".")[1] for name, p in model.named_parameters() if p.requires_grad and name.startswith("backbone.")} == trained
    assert any(p.requires_grad for name, p in model.named_parameters() if not name.startswith("backbone."))
    reference = load_musicnn("MSD_musicnn").state_dict()
    assert all(torch.equal(t, reference[k]) for k, t in model.backbone.state_dict().items())  # shipped weights
    model.train()
    before = model.backbone.input_bn.running_mean.clone()
    model(torch.rand(4, 96, 64) * 3)
    assert torch.equal(model.backbone.input_bn.running_mean, before) and not model.backbone.input_bn.training


@pytest.mark.parametrize("head", ["pooled", "transformer"])
def test_outputs_embedding_groups_and_a_saved_teacher_loads_back(head, tmp_path):
    model = musicnn_teacher(head=head, preset="tiny").eval()
    x = torch.rand(3, 96, 64) * 3
    with torch.inference_mode():
        out, embedding = model(x), model.embed(x)
    assert out.shape == (3, 2) and out.abs().max() < 1 and embedding.shape == (3, model.hidden_size)
    names = {g["name"] for g in model.parameter_groups(lr_backbone=1e-4, lr_head=1e-3, weight_decay=0.01)}
    assert "head" in names
    again = load_model(model.save_pretrained(tmp_path / "best"), expect=REGRESSORS)
    with torch.inference_mode():
        assert torch.equal(again(x), out)


def test_a_step_moves_the_head_and_the_trained_backend_only():
    model = musicnn_teacher(trainable="backend").train()
    frozen = model.backbone.midend[0].conv.weight.clone()
    dense = model.backbone.dense.weight.clone()
    optimiser = torch.optim.AdamW(model.parameter_groups(lr_backbone=1e-3, lr_head=1e-3))
    loss = (model(torch.rand(8, 96, 64) * 3) - torch.rand(8, 2)).square().mean()
    loss.backward()
    optimiser.step()
    assert torch.equal(model.backbone.midend[0].conv.weight, frozen) and not torch.equal(model.backbone.dense.weight, dense)


def test_bad_settings_are_named():
    with pytest.raises(ConfigError, match="96 mel bands"):
        build_teacher(TeacherConfig(kind="musicnn", pretrained="MSD_musicnn"), n_mels=128, frames=64)
    with pytest.raises(SettingError, match="pooled, transformer"):
        MusicnnRegressor(frames=64, backbone=load_musicnn().init_args, head="lstm")


@pytest.mark.parametrize("head", ["pooled", "transformer"])
def test_two_taggers_read_the_window_side_by_side_each_with_its_own_weights(head, tmp_path):
    model = musicnn_teacher(head=head, pretrained="MSD_musicnn+MTT_musicnn", trainable="backend").eval()
    assert [t.name for t in model.taggers] == ["MSD_musicnn", "MTT_musicnn"]
    for tagger, name in zip(model.taggers, ("MSD_musicnn", "MTT_musicnn")):
        reference = load_musicnn(name).state_dict()
        assert all(torch.equal(t, reference[k]) for k, t in tagger.state_dict().items())
    x = torch.rand(3, 96, 64) * 3
    with torch.inference_mode():
        out = model(x)
        if head == "pooled":
            pooled = model.pooled(x)
            assert pooled.shape == (3, 2 * 1506) and model.embed(x).shape == (3, 2 * 250)
            assert torch.equal(model.regress(model.embed_pooled(pooled)), out)
    trained = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trained == ({"backbone", "extra", "head"} if head == "pooled" else {"project", "positions", "encoder", "norm", "head"})
    groups = model.parameter_groups(lr_backbone=1e-4, lr_head=1e-3)
    in_backbone = {id(p) for g in groups if g["lr"] == 1e-4 for p in g["params"]}
    assert all(id(p) in in_backbone for n, p in model.named_parameters() if p.requires_grad and n.startswith("extra."))
    again = load_model(model.save_pretrained(tmp_path / "best"), expect=REGRESSORS)
    with torch.inference_mode():
        assert torch.equal(again(x), out)


def test_a_single_tagger_teacher_keeps_its_saved_form(tmp_path):
    import json

    model = musicnn_teacher()
    model.save_pretrained(tmp_path / "best")
    assert "extra" not in json.loads((tmp_path / "best" / "config.json").read_text())
    assert not any(k.startswith("extra.") for k in model.state_dict())


def test_an_unknown_tagger_in_a_pair_is_named():
    with pytest.raises(Exception, match="MSD_musicnn, MTT_musicnn"):
        musicnn_teacher(pretrained="MSD_musicnn+NOPE_musicnn")
