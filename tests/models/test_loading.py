"""``load_model``: any saved moodscape model folder or export comes back as the right object, and anything
else is a CheckpointError that says what was found and what to give."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from moodscape.errors import CheckpointError
from moodscape.models.floors.descriptors import DescriptorFloor
from moodscape.models.floors.fusion import Fusion
from moodscape.models.gan import Generator
from moodscape.models.loading import REGRESSORS, load_model
from moodscape.models.teacher.transformer import TeacherRegressor


def tiny_teacher() -> TeacherRegressor:
    return TeacherRegressor(n_mels=32, frames=48, hidden_size=16, num_layers=1, num_heads=2, head_hidden=8)


def test_every_kind_of_folder_comes_back_as_its_own_class(tmp_path, rng):
    teacher = tiny_teacher().eval()
    loaded = load_model(teacher.save_pretrained(tmp_path / "teacher"), expect=REGRESSORS)
    x = torch.randn(2, 32, 48)
    assert isinstance(loaded, TeacherRegressor) and not loaded.training
    torch.testing.assert_close(loaded(x), teacher(x), rtol=0, atol=0)

    generator = Generator(n_mels=32, frames=40, z_dim=8, base_channels=16, num_blocks=2, embed_dim=8)
    assert isinstance(load_model(generator.save_pretrained(tmp_path / "generator")), Generator)

    X, y = rng.standard_normal((40, 4)), np.tanh(rng.standard_normal((40, 2)))
    floor = DescriptorFloor(folds=2, seed=0).fit(X, y)
    again = load_model(floor.save(tmp_path / "floor"))
    assert isinstance(again, DescriptorFloor)
    np.testing.assert_array_equal(again.predict(X), floor.predict(X))
    fused = load_model(Fusion((0.25, 0.75), floor).save(tmp_path / "fusion"))
    assert isinstance(fused, Fusion) and fused.weights.tolist() == [0.25, 0.75]


def test_wrong_kind_and_unknown_paths_name_what_they_found(tmp_path):
    generator = Generator(n_mels=32, frames=40, z_dim=8, base_channels=16, num_blocks=2, embed_dim=8)
    folder = generator.save_pretrained(tmp_path / "generator")
    with pytest.raises(CheckpointError, match="holds Generator; expected TeacherRegressor or MusicnnRegressor"):
        load_model(folder, expect=REGRESSORS)
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="holds no moodscape model .found nothing.*RUN/best"):
        load_model(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match="not a model file"):
        load_model(tmp_path / "notes.txt")
    (tmp_path / "broken.onnx").write_bytes(b"\x00not onnx")
    with pytest.raises(CheckpointError, match="not a loadable ONNX model.*moodscape export"):
        load_model(tmp_path / "broken.onnx")
    (tmp_path / "broken.pt").write_bytes(b"\x00not torchscript")
    with pytest.raises(CheckpointError, match="not a loadable TorchScript module"):
        load_model(tmp_path / "broken.pt")
    (folder / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(CheckpointError, match="model_type 'bert' is not a moodscape model"):
        load_model(folder)


def test_a_checkpoint_interrupted_between_its_renames_still_loads(tmp_path):
    teacher = tiny_teacher()
    teacher.save_pretrained(tmp_path / "best.old")
    assert isinstance(load_model(tmp_path / "best"), TeacherRegressor)
