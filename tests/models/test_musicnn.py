"""The PyTorch port of musicnn gives TensorFlow's outputs on the reference patches the conversion script
saved (tests/fixtures/musicnn_reference.npz), and its front end is musicnn's compression of librosa's mel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from moodscape.audio.frontend import LogMel
from moodscape.errors import CheckpointError
from moodscape.models.pretrained.musicnn import SHIPPED, Musicnn, load_musicnn

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "musicnn_reference.npz"


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURE) as data:
        return {key: data[key] for key in data.files}


@pytest.mark.parametrize("name", SHIPPED)
def test_the_port_gives_tensorflows_tags_and_embeddings(reference, name):
    model = load_musicnn(name)
    assert len(model.tag_names) == 50 and model.name == name
    patches = torch.from_numpy(reference["patches"].astype(np.float32)).transpose(1, 2)  # (patches, 96, 187)
    with torch.inference_mode():
        out = model(patches)
    np.testing.assert_allclose(out.tags.numpy(), reference[f"{name}/tags"], atol=1e-4, rtol=0)
    for key in ("mean_pool", "max_pool", "penultimate"):
        np.testing.assert_allclose(getattr(out, key).numpy(), reference[f"{name}/{key}"], atol=1e-3, rtol=1e-4)
    assert out.frames.shape == (len(patches), model.frame_dim, 187)
    assert 0.0 < out.tags.min() and out.tags.max() < 1.0 and out.tags.std() > 0.05  # real, varied tags



@pytest.mark.parametrize("part", ["timbral", "temporal"])
def test_pooling_before_the_batch_norm_gives_the_same_features(part):
    """The front end's cheaper order (maximum over frequency first) matches conv -> ReLU -> batch norm ->
    maximum, for filters whose batch-norm scale is negative as well as positive, and training mode (batch
    statistics) keeps the plain order."""
    block = getattr(load_musicnn("MSD_musicnn"), part)[0].eval()
    scale = block.bn.weight
    assert (scale < 0).any() and (scale > 0).any()
    x = torch.randn(3, 1, 200, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        plain = block(x).amax(dim=3)
        torch.testing.assert_close(block.max_over_frequency(x), plain, atol=1e-5, rtol=1e-5)
        block.train()
        assert torch.equal(block.max_over_frequency(x), block(x).amax(dim=3))


def test_dead_filters_are_skipped_and_found_again_when_the_weights_change():
    """MSD_musicnn's front end has filters whose weights are all but zero: they are not convolved (their
    output is their bias), the features stay the same, and a filter that gets weights counts again."""
    model = load_musicnn("MSD_musicnn").eval()
    assert [len(b.live_filters()) for b in (*model.timbral, *model.temporal)] == [23, 14, 3, 7, 17]
    block = model.timbral[0]
    dead = sorted(set(range(204)) - set(block.live_filters()))[0]
    x = torch.randn(2, 1, 194, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        block.conv.weight[dead] = 0.1 * torch.randn_like(block.conv.weight[dead])
        assert dead in block.live_filters() and len(block.live_filters()) == 24
        torch.testing.assert_close(block.max_over_frequency(x), block(x).amax(dim=3), atol=1e-5, rtol=1e-5)
    assert load_musicnn("MTT_musicnn").eval().timbral[0].live_filters() is not None  # MTT has dead filters too


def test_a_model_made_in_inference_mode_predicts_the_same():
    """Weights made under torch.inference_mode carry no version counter; their live filters are found anyway."""
    mel = torch.rand(1, 96, 188, generator=torch.Generator().manual_seed(3))
    reference = load_musicnn("MSD_musicnn").eval()
    with torch.inference_mode():
        made_there = load_musicnn("MSD_musicnn").eval()
        assert made_there.timbral[0].conv.weight.is_inference() and len(made_there.timbral[0].live_filters()) == 23
        torch.testing.assert_close(made_there(mel).logits, reference(mel).logits)


def test_the_mid_end_convolves_only_the_front_end_features_that_vary(monkeypatch):
    """Dead filters' features are constants: the first mid-end layer adds their share (its edge frames
    included, where the zero padding cuts it) without convolving them, and gives the same features."""
    model = load_musicnn("MSD_musicnn").eval()
    assert len(model._constant_features()) == 561 - (23 + 14 + 3 + 7 + 17)
    mel = 3 * torch.rand(2, 96, 60, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        folded = model.frame_features(mel)
        monkeypatch.setattr(model, "_constant_features", lambda: [])
        torch.testing.assert_close(folded, model.frame_features(mel), atol=1e-4, rtol=1e-5)
    monkeypatch.undo()
    model.timbral[0].train()  # batch statistics: that block's features vary
    assert len(model._constant_features()) == 561 - 204 - (14 + 3 + 7 + 17)

def test_the_weights_file_alone_rebuilds_the_model(tmp_path):
    model = load_musicnn("MTT_musicnn")
    folder = model.save_pretrained(tmp_path / "copy")
    (folder / "config.json").unlink()
    again = Musicnn.from_pretrained(folder / "model.safetensors")
    x = torch.rand(2, 96, 200)
    with torch.inference_mode():
        assert torch.equal(model(x).logits, again(x).logits)
    assert again.tag_names == model.tag_names


def test_any_length_of_input_works_and_unknown_weights_are_named(rng):
    model = load_musicnn()
    with torch.inference_mode():
        assert model(torch.rand(1, 96, 64)).frames.shape[-1] == 64
    with pytest.raises(CheckpointError, match="MSD_musicnn, MTT_musicnn"):
        load_musicnn("MSD_vgg")


def test_the_logc_front_end_is_musicnns_compression_of_librosas_mel(rng):
    import librosa

    y = (0.1 * rng.standard_normal(16000 * 3)).astype(np.float32)
    front = LogMel(sample_rate=16000, n_fft=512, hop_length=256, n_mels=96, fmin=0.0, fmax=8000.0,
                   compression="logc")  # fmt: skip
    with torch.inference_mode():
        ours = front(torch.from_numpy(y)).numpy()
    mel = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=256, n_mels=96)
    np.testing.assert_allclose(ours, np.log10(1 + 10000 * mel), atol=2e-3, rtol=0)
