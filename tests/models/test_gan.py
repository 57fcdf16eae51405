"""The conditional GAN: shapes, conditioning, spectral norm, losses, gradient penalty, EMA, saving, a smoke run.

Everything is tiny and on CPU.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from moodscape import __version__
from moodscape.errors import CheckpointError
from moodscape.models.ema import EMA
from moodscape.models.gan.build import GAN_PRESETS, build_gan
from moodscape.models.gan.discriminator import Discriminator
from moodscape.models.gan.generator import Generator
from moodscape.models.gan.losses import gradient_penalty, hinge_d_loss, hinge_g_loss
from moodscape.models.registry import UnknownNameError


def tiny_g(n_mels: int = 32, frames: int = 40, **kwargs) -> Generator:
    args = dict(n_mels=n_mels, frames=frames, z_dim=8, base_channels=16, num_blocks=2, embed_dim=8)
    args.update(kwargs)
    return Generator(**args)


def tiny_d(n_mels: int = 32, frames: int = 40, **kwargs) -> Discriminator:
    args = dict(n_mels=n_mels, frames=frames, base_channels=8, num_blocks=2, embed_dim=8)
    args.update(kwargs)
    return Discriminator(**args)


def labels(batch: int) -> torch.Tensor:
    return torch.rand(batch, 2) * 2 - 1


# --------------------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("preset", GAN_PRESETS.names())
def test_presets_make_full_size_windows(preset):
    generator, discriminator = build_gan(preset, n_mels=128, frames=208)
    size = GAN_PRESETS.get(preset)
    with torch.no_grad():
        x = generator(torch.randn(2, size.z_dim), labels(2))
        scores = discriminator(x, labels(2))
    assert x.shape == (2, 128, 208) and x.dtype == torch.float32
    assert scores.shape == (2,)
    assert torch.isfinite(x).all() and torch.isfinite(scores).all()


@pytest.mark.parametrize("attention", ["se", "cbam"])
def test_odd_size_is_generated_next_size_up_and_cropped(attention):
    generator = tiny_g(64, 50, num_blocks=3, attention=attention)
    assert generator.start == (8, 7)  # 8 * 8 = 64 exactly; ceil(50 / 8) = 7 -> 56 frames, cropped to 50
    x = generator(torch.randn(3, 8), labels(3))
    assert x.shape == (3, 64, 50)
    assert tiny_d(64, 50, num_blocks=3)(x, labels(3)).shape == (3,)


def test_discriminator_accepts_a_channel_axis():
    discriminator = tiny_d().eval()
    x, y = torch.randn(4, 32, 40), labels(4)
    assert torch.allclose(discriminator(x, y), discriminator(x.unsqueeze(1), y))


def test_output_soft_clamp_and_linear_option():
    generator = tiny_g(output_limit=0.5)
    x = generator(torch.randn(4, 8) * 50, labels(4))
    assert x.abs().max() < 0.5
    linear = tiny_g(output_limit=None)
    with torch.no_grad():
        linear.to_mel.bias.fill_(10.0)
    assert linear(torch.randn(2, 8), labels(2)).min() > 5.0  # not squashed


def test_label_conditioning_changes_the_output():
    generator = tiny_g().eval()
    z = torch.randn(4, 8)
    low = generator(z, torch.full((4, 2), -1.0))
    high = generator(z, torch.full((4, 2), 1.0))
    assert (low - high).abs().mean() > 1e-3
    assert torch.equal(low, generator(z, torch.full((4, 2), -1.0)))  # deterministic given (z, labels)


def test_latent_film_lets_z_set_a_windows_level():
    """GroupNorm removes the per-window mean z gave the projection; FiLM on [z, e] puts it back."""
    y = torch.zeros(64, 2)
    z = torch.randn(64, 8)
    spread = {}
    for latent_film in (False, True):
        torch.manual_seed(0)
        with torch.no_grad():
            spread[latent_film] = tiny_g(latent_film=latent_film).eval()(z, y).mean(dim=(1, 2)).std()
    assert spread[True] > 10 * spread[False]


def test_discriminator_projection_uses_labels():
    discriminator = tiny_d().eval()
    x = torch.randn(4, 32, 40)
    assert not torch.allclose(discriminator(x, torch.full((4, 2), -1.0)), discriminator(x, torch.full((4, 2), 1.0)))


def test_spectral_norm_on_every_conv_and_linear_of_the_discriminator():
    discriminator = tiny_d()
    layers = [m for m in discriminator.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(layers) == 2 * 2 + 1 + 2  # two convs per block, output linear, two embedding linears
    for layer in layers:
        assert parametrize.is_parametrized(layer, "weight"), layer
        assert type(layer.parametrizations.weight[0]).__name__ == "_SpectralNorm"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: tiny_g(8, 40, num_blocks=4), "too small"),
        (lambda: tiny_g(attention="spatial"), "attention"),
        (lambda: tiny_g(output_limit=0.0), "output_limit"),
        (lambda: tiny_d(32, 3, num_blocks=2), "too small"),
    ],
)
def test_bad_constructor_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_inputs_name_the_expected_shapes():
    generator, discriminator = tiny_g(), tiny_d()
    with pytest.raises(ValueError, match="z_dim=8"):
        generator(torch.randn(2, 9), labels(2))
    with pytest.raises(ValueError, match="valence, arousal"):
        generator(torch.randn(2, 8), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"\(batch, 32, 40\)"):
        discriminator(torch.randn(2, 32, 41), labels(2))
    with pytest.raises(ValueError, match="labels"):
        discriminator(torch.randn(2, 32, 40), labels(3))
    with pytest.raises(UnknownNameError, match="tiny, default"):
        build_gan("huge", n_mels=32, frames=40)


# --------------------------------------------------------------------------------------- losses


def test_hinge_losses_match_hand_computed_values():
    real = torch.tensor([2.0, 0.5, -1.0])  # relu(1 - r) = 0, 0.5, 2   -> mean 5/6
    fake = torch.tensor([-2.0, 0.0, 0.5])  # relu(1 + f) = 0, 1, 1.5   -> mean 5/6
    assert hinge_d_loss(real, fake).item() == pytest.approx(5 / 3)
    assert hinge_g_loss(fake).item() == pytest.approx(0.5)  # -mean(f) = -(-1.5 / 3)
    assert hinge_d_loss(torch.full((4,), 1.0), torch.full((4,), -1.0)).item() == 0.0  # margins met


class _LinearCritic(nn.Module):
    """D(x, y) = <w, flatten(x)>: its gradient w.r.t. x is w everywhere, so ||grad|| = ||w||."""

    def __init__(self, numel: int, norm: float) -> None:
        super().__init__()
        w = torch.randn(numel)
        self.w = nn.Parameter(w / w.norm() * norm)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.w


def test_gradient_penalty_is_zero_for_a_1_lipschitz_linear_critic_and_grows_otherwise():
    real, fake, y = torch.randn(5, 8, 6), torch.randn(5, 8, 6), labels(5)
    assert gradient_penalty(_LinearCritic(48, 1.0), real, fake, y).item() == pytest.approx(0.0, abs=1e-10)
    assert gradient_penalty(_LinearCritic(48, 2.0), real, fake, y).item() == pytest.approx(1.0, rel=1e-5)
    assert gradient_penalty(_LinearCritic(48, 0.5), real, fake, y).item() == pytest.approx(0.25, rel=1e-5)


def test_gradient_penalty_backpropagates_into_the_discriminator():
    discriminator = tiny_d()
    real, fake = torch.randn(4, 32, 40), torch.randn(4, 32, 40, requires_grad=True)
    penalty = gradient_penalty(discriminator, real, fake, labels(4), generator=torch.Generator().manual_seed(1))
    assert penalty.ndim == 0 and torch.isfinite(penalty) and penalty > 0
    penalty.backward()
    # Conv weights get gradients; biases do not (D is piecewise linear in x, so grad_x ignores them).
    weights = [p for name, p in discriminator.features.named_parameters() if name.endswith("weight.original")]
    assert len(weights) == 4 and all(p.grad is not None and p.grad.abs().sum() > 0 for p in weights)
    assert fake.grad is None  # fake is detached: the penalty never trains the generator
    with pytest.raises(ValueError, match="differ in shape"):
        gradient_penalty(discriminator, real, fake[:2], labels(4))


# ------------------------------------------------------------------------------------------ EMA


def test_ema_generator_generates():
    generator = tiny_g()
    ema = EMA(generator, decay=0.999)
    ema.update(generator)
    x = ema.model.sample(labels(3), generator=torch.Generator().manual_seed(0))
    assert x.shape == (3, 32, 40) and not x.requires_grad


# ------------------------------------------------------------------------------------ checkpoints


@pytest.mark.parametrize("kwargs", [{}, {"attention": "cbam", "output_limit": None}])
def test_generator_save_load_round_trip_is_exact(tmp_path, kwargs):
    generator = tiny_g(64, 50, **kwargs)
    generator.save_pretrained(tmp_path / "g")
    config = json.loads((tmp_path / "g" / "config.json").read_text())
    assert config["kind"] == "gan-generator" and config["moodscape_version"] == __version__
    assert config["args"] == generator.init_args
    loaded = Generator.from_pretrained(tmp_path / "g")
    assert loaded.init_args == generator.init_args and not loaded.training
    z, y = torch.randn(4, 8), labels(4)
    assert torch.equal(loaded(z, y), generator.eval()(z, y))
    for key, value in generator.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    (tmp_path / "g" / "config.json").unlink()  # the weights file alone also rebuilds it
    assert torch.equal(Generator.from_pretrained(tmp_path / "g" / "model.safetensors")(z, y), loaded(z, y))


def test_discriminator_label_head_is_optional_and_bounded(tmp_path):
    x, y = torch.randn(3, 32, 40), labels(3)
    plain = tiny_d()
    assert plain.scores_and_labels(x, y)[1] is None
    with_head = tiny_d(aux_labels=True).eval()
    scores, predicted = with_head.scores_and_labels(x, y)
    assert scores.shape == (3,) and predicted.shape == (3, 2) and predicted.abs().max() < 1
    assert torch.equal(scores, with_head(x, y))
    with_head.save_pretrained(tmp_path / "d")
    loaded = Discriminator.from_pretrained(tmp_path / "d")
    assert torch.equal(loaded.scores_and_labels(x, y)[1], predicted)


def test_minibatch_std_lets_the_discriminator_see_diversity():
    discriminator = tiny_d(minibatch_std=True, pooling="mean").eval()
    y = labels(1).expand(4, 2)
    same = torch.randn(1, 32, 40).expand(4, 32, 40)
    varied = same + 0.5 * torch.randn(4, 32, 40)
    varied[0] = same[0]
    # The first window is identical in both batches; only its batch mates differ.
    assert not torch.allclose(discriminator(same, y)[0], discriminator(varied, y)[0])
    plain = tiny_d(pooling="mean").eval()
    assert torch.allclose(plain(same, y)[0], plain(varied, y)[0])
    with pytest.raises(ValueError, match="pooling"):
        tiny_d(pooling="max")


def test_label_scale_multiplies_the_labels_the_embedding_reads():
    torch.manual_seed(1)
    scaled = tiny_d(label_scale=3.0).eval()
    torch.manual_seed(1)
    plain = tiny_d().eval()
    x, y = torch.randn(2, 32, 40), labels(2) / 3
    assert torch.allclose(scaled(x, y), plain(x, 3 * y), atol=1e-6)
    with pytest.raises(ValueError, match="label_scale"):
        tiny_d(label_scale=0.0)


def test_discriminator_save_load_round_trip(tmp_path):
    discriminator = tiny_d()
    discriminator(torch.randn(2, 32, 40), labels(2))  # one power iteration, so u/v differ from init
    discriminator.save_pretrained(tmp_path / "d")
    loaded = Discriminator.from_pretrained(tmp_path / "d")
    x, y = torch.randn(3, 32, 40), labels(3)
    assert torch.equal(loaded(x, y), discriminator.eval()(x, y))


def test_loading_errors_are_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        Generator.from_pretrained(tmp_path / "missing")
    tiny_d().save_pretrained(tmp_path / "d")
    with pytest.raises(CheckpointError, match="not a moodscape gan-generator"):
        Generator.from_pretrained(tmp_path / "d")
    folder = tiny_g().save_pretrained(tmp_path / "g")
    config = json.loads((folder / "config.json").read_text())
    config["args"]["base_channels"] = 32
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="do not match"):
        Generator.from_pretrained(folder)
    (folder / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError):
        Generator.from_pretrained(folder)


# ---------------------------------------------------------------------------------- smoke training


def test_smoke_training_lowers_d_loss_and_changes_weights():
    n_mels, frames, batch = 16, 24, 8
    generator, discriminator = tiny_g(n_mels, frames), tiny_d(n_mels, frames)
    ema = EMA(generator, decay=0.9)
    g_opt = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.0, 0.9))
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=2e-3, betas=(0.0, 0.9))
    g_before = {k: v.clone() for k, v in generator.state_dict().items()}
    d_before = {k: v.clone() for k, v in discriminator.state_dict().items()}
    y = labels(batch)
    real = torch.randn(batch, n_mels, frames) + 2.0 * y[:, :1, None]  # real windows depend on valence
    d_losses = []
    for step in range(12):
        fake = generator(torch.randn(batch, 8), y)
        d_loss = hinge_d_loss(discriminator(real, y), discriminator(fake.detach(), y))
        d_loss = d_loss + 0.1 * gradient_penalty(discriminator, real, fake, y) if step % 4 == 0 else d_loss
        d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()
        g_loss = hinge_g_loss(discriminator(generator(torch.randn(batch, 8), y), y))
        g_opt.zero_grad()
        g_loss.backward()
        g_opt.step()
        ema.update(generator)
        assert torch.isfinite(d_loss) and torch.isfinite(g_loss)
        d_losses.append(d_loss.item())
    assert sum(d_losses[-3:]) / 3 < sum(d_losses[:3]) / 3
    assert any(not torch.equal(g_before[k], v) for k, v in generator.state_dict().items())
    assert any(not torch.equal(d_before[k], v) for k, v in discriminator.state_dict().items())
    assert any(not torch.equal(g_before[k], v) for k, v in ema.model.state_dict().items())
    assert all(torch.isfinite(p).all() for p in generator.parameters())
