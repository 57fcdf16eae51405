"""The teacher: shapes, presets, freezing, parameter groups, saving, and every weight-loading tier.

All models are tiny and built in place; Hugging Face checkpoints are tiny ones saved to tmp_path;
the network is never used (Hub calls are either offline or replaced by fakes).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError
from safetensors.torch import load_file, save_file
from transformers import ASTConfig, ASTForAudioClassification, ViTConfig, ViTForImageClassification, ViTModel

from moodscape import __version__
from moodscape.config import TeacherConfig
from moodscape.errors import CheckpointError, ConfigError
from moodscape.models.pretrained import hub as hub_mod
from moodscape.models.pretrained.hub import resolve_pretrained
from moodscape.models.registry import Registry, UnknownNameError
from moodscape.models.teacher.build import build_teacher, resize_position_embeddings
from moodscape.models.teacher.kinds import TEACHER_KINDS, TEACHER_PRESETS
from moodscape.models.teacher.transformer import TeacherRegressor

PROJ = "embeddings.patch_embeddings.projection.weight"
POS = "embeddings.position_embeddings"
MISSING_HUB_NAME = "moodscape-tests/not-a-cached-model"


def tiny(**kwargs) -> TeacherRegressor:
    args = dict(n_mels=32, frames=40, hidden_size=32, num_layers=2, num_heads=2, head_hidden=16)
    args.update(kwargs)
    return TeacherRegressor(**args)


@pytest.fixture
def no_hub(monkeypatch):
    """Fail the test if anything reaches for the Hugging Face Hub."""

    def forbidden(*args, **kwargs):
        raise AssertionError(f"unexpected Hub call: {args} {kwargs}")

    monkeypatch.setattr(hub_mod, "snapshot_download", forbidden)


@pytest.fixture
def online(monkeypatch):
    """Pretend offline mode is off, whatever the environment says; the Hub itself is faked per test."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(hub_mod.hf_constants, "HF_HUB_OFFLINE", False)
    delays: list[float] = []
    monkeypatch.setattr(hub_mod, "_sleep", delays.append)
    return delays


@pytest.fixture(scope="module")
def hf_vit(tmp_path_factory) -> tuple[Path, ViTModel]:
    """A tiny 3-channel ImageNet-style ViTModel (32x32 images, 16x16 patches) saved with save_pretrained."""
    torch.manual_seed(1)
    config = ViTConfig(
        image_size=32, patch_size=16, num_channels=3, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64,
    )  # fmt: skip
    model = ViTModel(config).eval()  # with its pooler, like google/vit-base-patch16-224-in21k
    folder = tmp_path_factory.mktemp("hf-vit")
    model.save_pretrained(folder)
    return folder, model


@pytest.fixture(scope="module")
def hf_ast(tmp_path_factory) -> tuple[Path, ASTForAudioClassification]:
    """A tiny AudioSet-style AST classifier: 32 mel bins, 100 frames, 16x16 patches with stride 10."""
    torch.manual_seed(2)
    config = ASTConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        num_mel_bins=32, max_length=100, patch_size=16, frequency_stride=10, time_stride=10, num_labels=5,
    )  # fmt: skip
    model = ASTForAudioClassification(config).eval()
    folder = tmp_path_factory.mktemp("hf-ast")
    model.save_pretrained(folder)
    return folder, model


def cfg(**kwargs) -> TeacherConfig:
    return TeacherConfig(**{"head_hidden": 16, **kwargs})


# ----------------------------------------------------------------------------------------- shapes


@pytest.mark.parametrize(
    ("n_mels", "frames", "patch", "grid"),
    [(32, 48, (16, 16), (2, 3)), (64, 216, (16, 16), (4, 14)), (40, 100, (8, 20), (5, 5)), (20, 33, (16, 16), (2, 3))],
)
def test_vit_rectangular_grid_shapes(n_mels, frames, patch, grid):
    model = tiny(n_mels=n_mels, frames=frames, patch_size=patch).eval()
    x = torch.randn(3, n_mels, frames)
    assert model.grid == grid
    assert model.backbone.embeddings.position_embeddings.shape == (1, 1 + grid[0] * grid[1], 32)
    assert model(x).shape == (3, 2)
    assert model.embed(x).shape == (3, model.hidden_size)
    assert model.tokens(x).shape == (3, 1 + grid[0] * grid[1], 32)
    torch.testing.assert_close(model(x), model.regress(model.embed(x)))


def test_vit_padding_uses_every_frame():
    model = tiny(n_mels=32, frames=40).eval()  # 40 frames -> padded to 48, grid 2x3
    x = torch.randn(1, 32, 40)
    y = x.clone()
    y[..., -1] += 5.0  # the last frame lies in the padded patch column
    assert not torch.allclose(model(x), model(y))


def test_ast_kind_shapes():
    model = tiny(kind="ast", n_mels=32, frames=64, stride=(16, 8)).eval()
    x = torch.randn(2, 32, 64)
    assert model.grid == (2, 7)
    assert model(x).shape == (2, 2)
    assert model.embed(x).shape == (2, 32)
    assert model.tokens(x).shape == (2, 2 + 14, 32)


@pytest.mark.parametrize("pooling", ["mean", "cls", "cls+mean"])
def test_poolings(pooling):
    model = tiny(pooling=pooling).eval()
    x = torch.randn(2, 32, 40)
    tokens = model.tokens(x)
    cls_token, patches = tokens[:, 0], tokens[:, 1:].mean(1)
    expected = {"mean": patches, "cls": cls_token, "cls+mean": 0.5 * (cls_token + patches)}
    torch.testing.assert_close(model.embed(x), expected[pooling])


def test_outputs_on_tanh_range():
    model = tiny().eval()
    with torch.no_grad():
        model.head[4].weight.mul_(1e4)  # drive the head into saturation
        model.head[4].bias.fill_(50.0)
    out = model(100 * torch.randn(8, 32, 40))
    assert out.shape == (8, 2)
    assert torch.all(out <= 1.0) and torch.all(out >= -1.0)
    assert torch.isfinite(out).all()


def test_untrained_predictions_start_near_neutral():
    out = tiny().eval()(torch.randn(4, 32, 40))
    assert out.abs().max() < 0.2


@pytest.mark.parametrize("shape", [(2, 32, 39), (2, 31, 40), (32, 40), (1, 2, 32, 40)])
def test_wrong_input_shape_says_expected(shape):
    model = tiny()
    with pytest.raises(ValueError, match=r"\(batch, n_mels=32, frames=40\)"):
        model(torch.randn(*shape))


def test_integer_input_rejected():
    with pytest.raises(ValueError, match="floating-point"):
        tiny()(torch.zeros(1, 32, 40, dtype=torch.int64))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "ast", "patch_size": (16, 8)}, "square"),
        ({"kind": "ast", "frames": 10}, "at least one"),
        ({"stride": (8, 8)}, "kind='ast' only"),
        ({"num_heads": 3}, "multiple of num_heads"),
        ({"pooling": "max"}, "valid: mean, cls, cls\\+mean"),
        ({"freeze_blocks": 3}, "between 0 and num_layers=2"),
        ({"dropout": 1.0}, "dropout"),
    ],
)
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny(**kwargs)


def test_tiny_preset_trains_on_cpu_in_seconds():
    model = TeacherRegressor.from_preset("tiny", n_mels=32, frames=64, head_hidden=32, dropout=0.0)
    x = torch.randn(16, 32, 64)
    target = torch.tanh(x.mean(dim=(1, 2), keepdim=False)[:, None].repeat(1, 2) * 4)
    opt = torch.optim.AdamW(model.parameter_groups(lr_backbone=1e-3, lr_head=3e-3, weight_decay=0.01))
    losses = []
    for _ in range(40):
        loss = F.mse_loss(model(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# ---------------------------------------------------------------------------------------- presets


def test_presets_and_kinds_listed():
    assert TEACHER_PRESETS.names() == ("tiny", "small", "base")
    assert TEACHER_KINDS.names() == ("vit", "ast")


@pytest.mark.parametrize("kind", ["vit", "ast"])
def test_tiny_and_small_presets_build(kind):
    tiny_model = TeacherRegressor.from_preset("tiny", n_mels=64, frames=128, kind=kind)
    small_model = TeacherRegressor.from_preset("small", n_mels=64, frames=128, kind=kind)
    assert tiny_model.hidden_size <= 96 and tiny_model.num_layers <= 3
    assert (small_model.hidden_size, small_model.num_layers, small_model.init_args["num_heads"]) == (256, 6, 4)
    assert tiny_model.eval()(torch.randn(1, 64, 128)).shape == (1, 2)


def test_base_preset_is_vit_b16_shape():
    with torch.device("meta"):  # shapes only: no 86M parameters allocated
        model = TeacherRegressor.from_preset("base", n_mels=128, frames=216)
    config = model.backbone.config
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads, config.intermediate_size) == (
        768, 12, 12, 3072,
    )  # fmt: skip
    assert model.backbone.embeddings.patch_embeddings.projection.weight.shape == (768, 1, 16, 16)
    backbone_params = sum(p.numel() for p in model.backbone.parameters())
    assert 85e6 < backbone_params < 87e6


def test_unknown_preset_and_kind_list_valid_names():
    with pytest.raises(UnknownNameError, match="unknown teacher preset 'huge'; valid names: tiny, small, base"):
        TeacherRegressor.from_preset("huge", n_mels=32, frames=40)
    with pytest.raises(ConfigError, match="valid names: vit, ast"):
        tiny(kind="resnet")
    with pytest.raises(ValueError, match="valid names: vit, ast"):  # also a ValueError for direct callers
        bad_kind = TeacherConfig.model_construct(**{**TeacherConfig().model_dump(), "kind": "cnn"})
        build_teacher(bad_kind, n_mels=32, frames=40)
    bad_preset = TeacherConfig.model_construct(**{**TeacherConfig().model_dump(), "preset": "large"})
    with pytest.raises(UnknownNameError, match="valid names: tiny, small, base"):
        build_teacher(bad_preset, n_mels=32, frames=40)


def test_registry():
    reg: Registry[int] = Registry("widget")
    assert reg.register("a", 1) == 1

    @reg.register("b")
    def b():
        return 2

    assert reg.get("b") is b and "a" in reg and len(reg) == 2 and list(reg) == ["a", "b"]
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", 3)
    with pytest.raises(UnknownNameError, match="unknown widget 'c'; valid names: a, b"):
        reg.get("c")


# ---------------------------------------------------------------------------- freezing and groups


def test_freeze_blocks_sets_requires_grad():
    model = tiny(num_layers=3, freeze_blocks=2)
    for name, param in model.named_parameters():
        frozen = name.startswith(("backbone.embeddings.", "backbone.layers.0.", "backbone.layers.1."))
        assert param.requires_grad is not frozen, name
    assert model.backbone.layernorm.weight.requires_grad
    assert all(p.requires_grad for p in model.head.parameters())


def test_freeze_zero_trains_everything_and_all_blocks_can_freeze():
    assert all(p.requires_grad for p in tiny().parameters())
    model = tiny(freeze_blocks=2)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in model.named_parameters() if n.startswith(("head.", "backbone.layernorm."))}


def test_frozen_parameters_get_no_gradient():
    model = tiny(freeze_blocks=1)
    model(torch.randn(2, 32, 40)).sum().backward()
    for name, param in model.named_parameters():
        assert (param.grad is None) is (not param.requires_grad), name


def test_input_gradient_flows_through_frozen_teacher():
    """The GAN and distillation stages may backpropagate through a frozen teacher to its input."""
    model = tiny(freeze_blocks=2).eval()
    x = torch.randn(2, 32, 40, requires_grad=True)
    model(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_parameter_groups():
    model = tiny(freeze_blocks=1)
    groups = model.parameter_groups(lr_backbone=1e-4, lr_head=1e-3, weight_decay=0.05)
    by_name = {g["name"]: g for g in groups}
    assert set(by_name) == {"backbone", "backbone_no_decay", "head", "head_no_decay"}
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in model.parameters() if p.requires_grad}
    assert set(ids) & {id(p) for p in model.backbone.layers[0].parameters()} == set()
    assert {id(p) for p in by_name["head"]["params"]} | {id(p) for p in by_name["head_no_decay"]["params"]} == {
        id(p) for p in model.head.parameters()
    }
    assert by_name["backbone"]["lr"] == 1e-4 and by_name["head"]["lr"] == 1e-3
    assert by_name["backbone"]["weight_decay"] == 0.05 and by_name["backbone_no_decay"]["weight_decay"] == 0.0
    assert all(p.ndim == 1 for p in by_name["head_no_decay"]["params"])
    torch.optim.AdamW(groups)  # accepted as they are


def test_parameter_groups_no_decay_for_position_embeddings():
    model = tiny()
    groups = {g["name"]: g for g in model.parameter_groups(lr_backbone=1e-4, lr_head=1e-3, weight_decay=0.1)}
    no_decay = {id(p) for p in groups["backbone_no_decay"]["params"]}
    assert id(model.backbone.embeddings.position_embeddings) in no_decay
    assert id(model.backbone.embeddings.cls_token) in no_decay


# -------------------------------------------------------------------------------- own checkpoints


@pytest.mark.parametrize(
    "kwargs", [{}, {"kind": "ast", "stride": (10, 10), "frames": 64}, {"pooling": "cls", "freeze_blocks": 1}]
)
def test_save_and_from_pretrained_round_trip(tmp_path, kwargs):
    model = tiny(**kwargs).eval()
    x = torch.randn(3, 32, model.frames)
    model.save_pretrained(tmp_path / "teacher")
    assert sorted(p.name for p in (tmp_path / "teacher").iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((tmp_path / "teacher" / "config.json").read_text())
    assert config["model_type"] == "moodscape-teacher" and config["moodscape_version"] == __version__
    assert config["kind"] == model.kind and config["args"] == model.init_args
    loaded = TeacherRegressor.from_pretrained(tmp_path / "teacher")
    assert loaded.init_args == model.init_args
    assert not loaded.training
    assert torch.equal(loaded(x), model(x))
    assert [n for n, p in loaded.named_parameters() if p.requires_grad] == [
        n for n, p in model.named_parameters() if p.requires_grad
    ]
    # the weights file alone rebuilds it too (its metadata holds the config)
    assert torch.equal(TeacherRegressor.from_pretrained(tmp_path / "teacher" / "model.safetensors")(x), model(x))


def test_from_pretrained_rejects_hf_checkpoint_and_missing_path(hf_vit, tmp_path):
    with pytest.raises(CheckpointError, match="not a moodscape teacher; start a teacher from it with build_teacher"):
        TeacherRegressor.from_pretrained(hf_vit[0])
    with pytest.raises(CheckpointError, match="not found"):
        TeacherRegressor.from_pretrained(tmp_path / "nothing")


def test_from_pretrained_rejects_mismatched_weights(tmp_path):
    tiny().save_pretrained(tmp_path)
    state = load_file(tmp_path / "model.safetensors")
    del state["head.4.bias"]
    save_file(state, tmp_path / "model.safetensors")
    with pytest.raises(CheckpointError, match="missing \\['head.4.bias'\\]"):
        TeacherRegressor.from_pretrained(tmp_path)


def test_from_pretrained_rejects_newer_format(tmp_path):
    tiny().save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["format_version"] = 99
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="format 99 is not supported"):
        TeacherRegressor.from_pretrained(tmp_path)


def test_build_from_moodscape_teacher_folder(tmp_path, no_hub):
    source = tiny(n_mels=32, frames=48, head_hidden=16).eval()
    source.save_pretrained(tmp_path / "t")
    x = torch.randn(2, 32, 48)
    same = build_teacher(cfg(pretrained=str(tmp_path / "t")), n_mels=32, frames=48).eval()
    assert torch.equal(same(x), source(x))  # backbone and head both carried over
    longer = build_teacher(cfg(pretrained=str(tmp_path / "t"), freeze_blocks=1), n_mels=32, frames=80)
    assert longer.grid == (2, 5) and longer.freeze_blocks == 1
    assert torch.isfinite(longer.eval()(torch.randn(2, 32, 80))).all()
    with pytest.raises(CheckpointError, match="set features.n_mels=32"):
        build_teacher(cfg(pretrained=str(tmp_path / "t")), n_mels=64, frames=48)
    with pytest.raises(CheckpointError, match="set teacher.kind=vit"):
        build_teacher(cfg(pretrained=str(tmp_path / "t"), kind="ast"), n_mels=32, frames=48)


# ------------------------------------------------------------------------ ImageNet ViT adaptation


def test_adapts_3_channel_imagenet_vit(hf_vit, no_hub, caplog):
    folder, hf = hf_vit
    with caplog.at_level(logging.INFO, logger="moodscape.models"):
        model = build_teacher(cfg(pretrained=str(folder)), n_mels=32, frames=40).eval()
    ours, theirs = model.backbone.state_dict(), hf.state_dict()

    # 1 channel = the sum of the 3: a grey image gives the same patch embedding as before
    assert ours[PROJ].shape == (32, 1, 16, 16)
    torch.testing.assert_close(ours[PROJ], theirs[PROJ].sum(dim=1, keepdim=True))
    grey = torch.randn(1, 1, 32, 48)
    torch.testing.assert_close(
        model.backbone.embeddings.patch_embeddings.projection(grey),
        hf.embeddings.patch_embeddings.projection(grey.repeat(1, 3, 1, 1)),
        rtol=1e-4, atol=1e-5,
    )  # fmt: skip

    # position embeddings: CLS kept, 2x2 grid -> 2x3 (40 frames padded to 48) by 2-D bicubic interpolation
    assert model.grid == (2, 3)
    assert ours[POS].shape == (1, 1 + 6, 32)
    torch.testing.assert_close(ours[POS][:, :1], theirs[POS][:, :1])
    grid = theirs[POS][:, 1:].reshape(1, 2, 2, 32).permute(0, 3, 1, 2)
    expected = F.interpolate(grid, size=(2, 3), mode="bicubic", align_corners=False)
    expected = expected.permute(0, 2, 3, 1).reshape(1, 6, 32)
    torch.testing.assert_close(ours[POS][:, 1:], expected)

    # every other backbone tensor loaded unchanged (old Hub key names mapped by transformers)
    for key in theirs:
        if key not in (PROJ, POS) and not key.startswith("pooler."):
            assert torch.equal(ours[key], theirs[key]), key
    assert torch.isfinite(model(torch.randn(4, 32, 40))).all()
    report = " ".join(r.getMessage() for r in caplog.records)
    assert "loaded 38 backbone tensors" in report
    assert "summed over 3 input channels" in report
    assert "2x2 -> 2x3 (bicubic)" in report
    assert "head tensors" in report and "pooler.dense.weight" in report


def test_adapts_vit_for_image_classification_checkpoint(tmp_path, no_hub):
    """Checkpoints of ViTForImageClassification carry a 'vit.' prefix and a classifier."""
    config = ViTConfig(image_size=32, patch_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                       intermediate_size=64, num_labels=3)  # fmt: skip
    hf = ViTForImageClassification(config)
    hf.save_pretrained(tmp_path)
    model = build_teacher(cfg(pretrained=str(tmp_path)), n_mels=32, frames=32)
    torch.testing.assert_close(
        model.backbone.layers[1].mlp.fc2.weight, hf.vit.layers[1].mlp.fc2.weight
    )
    torch.testing.assert_close(model.backbone.embeddings.position_embeddings, hf.vit.embeddings.position_embeddings)


def test_bare_safetensors_file_with_config_beside_it(hf_vit, tmp_path, no_hub):
    folder, hf = hf_vit
    (tmp_path / "config.json").write_text((folder / "config.json").read_text())
    (tmp_path / "vit-weights.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
    model = build_teacher(cfg(pretrained=str(tmp_path / "vit-weights.safetensors")), n_mels=32, frames=32)
    torch.testing.assert_close(model.backbone.layernorm.weight, hf.layernorm.weight)


def test_patch_size_mismatch_is_an_error(hf_vit, no_hub):
    match = r"16x16 patches but teacher.patch_size=\[8, 8\]; set teacher.patch_size=\[16, 16\]"
    with pytest.raises(CheckpointError, match=match):
        build_teacher(cfg(pretrained=str(hf_vit[0]), patch_size=(8, 8)), n_mels=32, frames=40)


def test_kind_mismatch_is_an_error(hf_vit, no_hub):
    with pytest.raises(CheckpointError, match="set teacher.kind=vit"):
        build_teacher(cfg(pretrained=str(hf_vit[0]), kind="ast"), n_mels=32, frames=40)


def test_freeze_beyond_checkpoint_depth_is_an_error(hf_vit, no_hub):
    with pytest.raises(ConfigError, match="freeze_blocks=5 but checkpoint .* has only 2 blocks"):
        build_teacher(cfg(pretrained=str(hf_vit[0]), freeze_blocks=5), n_mels=32, frames=40)


def test_freeze_with_pretrained(hf_vit, no_hub):
    model = build_teacher(cfg(pretrained=str(hf_vit[0]), freeze_blocks=1), n_mels=32, frames=40)
    assert not model.backbone.embeddings.patch_embeddings.projection.weight.requires_grad
    assert not any(p.requires_grad for p in model.backbone.layers[0].parameters())
    assert all(p.requires_grad for p in model.backbone.layers[1].parameters())


def test_missing_backbone_weight_is_an_error_not_random_init(hf_vit, tmp_path, no_hub):
    folder, _ = hf_vit
    (tmp_path / "config.json").write_text((folder / "config.json").read_text())
    state = load_file(folder / "model.safetensors")
    removed = next(k for k in state if "layer.1" in k and "query.weight" in k)
    del state[removed]
    save_file(state, tmp_path / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="incomplete checkpoint.*missing_keys"):
        build_teacher(cfg(pretrained=str(tmp_path)), n_mels=32, frames=40)


# -------------------------------------------------------------------------------------------- AST


def test_ast_checkpoint_loads_with_centre_cropped_positions(hf_ast, no_hub):
    folder, hf = hf_ast
    model = build_teacher(cfg(pretrained=str(folder), kind="ast"), n_mels=32, frames=60).eval()
    assert model.stride == (10, 10) and model.grid == (2, 5)  # checkpoint grid is 2x9
    theirs = hf.audio_spectrogram_transformer.state_dict()
    ours = model.backbone.state_dict()
    torch.testing.assert_close(ours[PROJ], theirs[PROJ])
    grid = theirs[POS][:, 2:].reshape(1, 2, 9, 32)
    torch.testing.assert_close(ours[POS][:, :2], theirs[POS][:, :2])  # CLS and distillation tokens
    torch.testing.assert_close(ours[POS][:, 2:].reshape(1, 2, 5, 32), grid[:, :, 2:7])
    assert torch.isfinite(model(torch.randn(2, 32, 60))).all()
    # the full AudioSet-length window reproduces AST's own embedding (pooling=cls is AST's pooler)
    full = TeacherRegressor(**{**model.init_args, "frames": 100, "pooling": "cls"}).eval()
    full.backbone.load_state_dict(theirs)
    x = torch.randn(2, 32, 100)
    expected = hf.audio_spectrogram_transformer(x.transpose(1, 2)).pooler_output
    torch.testing.assert_close(full.embed(x), expected)


def test_ast_checkpoint_needs_its_mel_bins(hf_ast, no_hub):
    with pytest.raises(CheckpointError, match="trained on 32 mel bins but features.n_mels=64; set features.n_mels=32"):
        build_teacher(cfg(pretrained=str(hf_ast[0]), kind="ast"), n_mels=64, frames=60)


def test_resize_position_embeddings_modes():
    pos = torch.arange(1 + 2 * 6, dtype=torch.float32).reshape(1, 13, 1).repeat(1, 1, 4)
    same = resize_position_embeddings(pos, special_tokens=1, old_grid=(2, 6), new_grid=(2, 6))
    assert torch.equal(same, pos)
    cropped = resize_position_embeddings(pos, special_tokens=1, old_grid=(2, 6), new_grid=(2, 2), mode="crop")
    assert cropped[0, :, 0].tolist() == [0, 3, 4, 9, 10]
    grown = resize_position_embeddings(pos, special_tokens=1, old_grid=(2, 6), new_grid=(3, 8), mode="crop")
    assert grown.shape == (1, 1 + 24, 4)
    with pytest.raises(ValueError, match="do not fit"):
        resize_position_embeddings(pos, special_tokens=2, old_grid=(2, 6), new_grid=(2, 2))


# ------------------------------------------------------------------------ tiers: none, Hub, garbage


def test_pretrained_none_is_random_init(no_hub):
    a = build_teacher(cfg(pretrained="none"), n_mels=32, frames=40)
    b = build_teacher(cfg(pretrained="None"), n_mels=32, frames=40)
    assert a.init_args == b.init_args and a.hidden_size == TEACHER_PRESETS.get("tiny").hidden_size
    assert not torch.equal(a.backbone.layers[0].mlp.fc1.weight, b.backbone.layers[0].mlp.fc1.weight)
    torch.manual_seed(5)
    c = build_teacher(cfg(pretrained="none"), n_mels=32, frames=40)
    torch.manual_seed(5)
    d = build_teacher(cfg(pretrained="none"), n_mels=32, frames=40)
    assert all(torch.equal(p, q) for p, q in zip(c.parameters(), d.parameters()))


def test_preset_freeze_beyond_depth_is_a_config_error():
    with pytest.raises(ConfigError, match="freeze_blocks=4 but preset tiny has only 2 blocks"):
        build_teacher(cfg(freeze_blocks=4), n_mels=32, frames=40)


@pytest.mark.parametrize("var", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"])
def test_hub_name_offline_lists_tiers_and_never_random(monkeypatch, var):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv(var, "1")
    calls = []
    real = hub_mod.snapshot_download

    def spy(*args, **kwargs):
        calls.append(kwargs.get("local_files_only"))
        return real(*args, **kwargs)

    monkeypatch.setattr(hub_mod, "snapshot_download", spy)
    with pytest.raises(CheckpointError) as info:
        build_teacher(cfg(pretrained=MISSING_HUB_NAME), n_mels=32, frames=40)
    message = str(info.value)
    assert "1. local path:" in message and "does not exist" in message
    assert "2. Hugging Face cache" in message and f"no usable snapshot of {MISSING_HUB_NAME}" in message
    assert f"3. Hugging Face Hub download: skipped, offline mode is on ({var}=1)" in message
    assert f"huggingface-cli download {MISSING_HUB_NAME}" in message
    assert "teacher.pretrained=none" in message
    assert calls == [True]  # the cache was looked up, the network never


def fake_hub(folder: Path | None, *, cached: bool = False, failures: int = 0, error: Exception | None = None):
    """A stand-in for snapshot_download: cache hit or miss, then `failures` connection errors."""
    calls: list[bool] = []

    def snapshot(repo_id, *, allow_patterns, cache_dir, local_files_only=False):
        calls.append(local_files_only)
        assert "config.json" in allow_patterns and "*.safetensors" in allow_patterns
        assert not any(p.endswith((".bin", ".pt", ".pth")) for p in allow_patterns)
        if local_files_only:
            if cached:
                return str(folder)
            raise LocalEntryNotFoundError("Cannot find an appropriate cached snapshot folder")
        if error is not None:
            raise error
        if sum(1 for c in calls if not c) <= failures:
            err = LocalEntryNotFoundError("An error happened while trying to locate the files on the Hub")
            err.__cause__ = ConnectionError("[Errno 101] Network is unreachable")
            raise err
        return str(folder)

    return snapshot, calls


def test_hub_cache_hit_needs_no_network(monkeypatch, online, hf_vit):
    snapshot, calls = fake_hub(hf_vit[0], cached=True)
    monkeypatch.setattr(hub_mod, "snapshot_download", snapshot)
    model = build_teacher(cfg(pretrained="google/vit-tiny-test"), n_mels=32, frames=32)
    assert calls == [True]
    torch.testing.assert_close(model.backbone.layernorm.weight, hf_vit[1].layernorm.weight)


def test_hub_download_retries_with_backoff_then_loads(monkeypatch, online, hf_vit):
    snapshot, calls = fake_hub(hf_vit[0], failures=2)
    monkeypatch.setattr(hub_mod, "snapshot_download", snapshot)
    model = build_teacher(cfg(pretrained="google/vit-tiny-test"), n_mels=32, frames=32)
    assert calls == [True, False, False, False]
    assert online == [1.0, 2.0]  # exponential backoff
    assert model.grid == (2, 2)


def test_hub_download_gives_up_after_retries(monkeypatch, online):
    snapshot, calls = fake_hub(None, failures=10)
    monkeypatch.setattr(hub_mod, "snapshot_download", snapshot)
    with pytest.raises(CheckpointError) as info:
        build_teacher(cfg(pretrained="google/vit-tiny-test"), n_mels=32, frames=32)
    assert calls == [True, False, False, False]
    assert online == [1.0, 2.0]
    message = str(info.value)
    assert "3 attempts failed" in message and "Network is unreachable" in message
    assert "no usable snapshot" in message and "local path" in message


def test_hub_unknown_repo_is_not_retried(monkeypatch, online):
    import httpx2  # huggingface_hub's HTTP client (a dependency of it): its errors carry an httpx2 response
    response = httpx2.Response(404, request=httpx2.Request("GET", "https://huggingface.co/api/models/x/y"))
    snapshot, calls = fake_hub(None, error=RepositoryNotFoundError("404 Repository Not Found", response=response))
    monkeypatch.setattr(hub_mod, "snapshot_download", snapshot)
    with pytest.raises(CheckpointError, match="not found or not accessible"):
        resolve_pretrained("x/y")
    assert calls == [True, False] and online == []


def test_nonexistent_path_that_is_no_hub_name(no_hub, tmp_path):
    with pytest.raises(CheckpointError) as info:
        build_teacher(cfg(pretrained=str(tmp_path / "weights" / "missing" / "teacher")), n_mels=32, frames=40)
    assert "local path" in str(info.value) and "not a valid repo name" in str(info.value)


def test_empty_pretrained_is_a_config_error():
    with pytest.raises(ConfigError, match="teacher.pretrained is empty"):
        build_teacher(cfg(pretrained="  "), n_mels=32, frames=40)


def _garbage_cases(tmp_path: Path, hf_folder: Path) -> dict[str, tuple[Path, str]]:
    cases: dict[str, tuple[Path, str]] = {}
    empty = tmp_path / "empty"
    empty.mkdir()
    cases["empty folder"] = (empty, "no config.json")
    bad_json = tmp_path / "bad-json"
    bad_json.mkdir()
    (bad_json / "config.json").write_text("{not json")
    (bad_json / "model.safetensors").write_bytes(b"\x00" * 64)
    cases["bad json"] = (bad_json, "not a readable JSON config")
    bad_weights = tmp_path / "bad-weights"
    bad_weights.mkdir()
    (bad_weights / "config.json").write_text((hf_folder / "config.json").read_text())
    (bad_weights / "model.safetensors").write_bytes(b"this is not a safetensors file at all")
    cases["bad weights"] = (bad_weights, "not a valid safetensors file")
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text((hf_folder / "config.json").read_text())
    (pickled / "pytorch_model.bin").write_bytes(b"PK\x03\x04 pretend pickle")
    cases["pickle only"] = (pickled, "pickled weights are never loaded")
    other = tmp_path / "bert"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "bert"}))
    cases["other model type"] = (other, "model_type 'bert' is not supported")
    cases["garbage file"] = (tmp_path / "bad.safetensors", "not a valid safetensors file")
    (tmp_path / "bad.safetensors").write_bytes(b"garbage" * 10)
    cases["pickle file"] = (tmp_path / "weights.pt", "pickled checkpoints are never loaded")
    (tmp_path / "weights.pt").write_bytes(b"garbage")
    cases["text file"] = (tmp_path / "notes.txt", "not a checkpoint moodscape can read")
    (tmp_path / "notes.txt").write_text("hello")
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    save_file({"x": torch.zeros(2)}, lonely / "w.safetensors")
    cases["bare file without config"] = (lonely / "w.safetensors", "without the model's config.json")
    return cases


def test_existing_path_with_garbage_gives_clear_errors(tmp_path, hf_vit, no_hub):
    for what, (path, match) in _garbage_cases(tmp_path, hf_vit[0]).items():
        with pytest.raises(CheckpointError, match=match) as info:
            build_teacher(cfg(pretrained=str(path)), n_mels=32, frames=40)
        assert str(path) in str(info.value), what
