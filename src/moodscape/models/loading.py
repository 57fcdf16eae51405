"""Load any trained moodscape regressor (teacher or student) from its checkpoint folder."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from ..errors import CheckpointError
from .serialization import CONFIG_NAME, read_json
from .student import StudentRegressor
from .teacher import TeacherRegressor
from .teacher_musicnn import MusicnnRegressor

_CLASSES = {cls.MODEL_TYPE: cls for cls in (TeacherRegressor, MusicnnRegressor, StudentRegressor)}


def load_regressor(folder: str | Path) -> nn.Module:
    """The teacher or student saved in ``folder`` (``config.json`` says which), on CPU in eval mode."""
    folder = Path(folder)
    config = folder / CONFIG_NAME
    if not config.is_file():
        raise CheckpointError(f"{folder}: no {CONFIG_NAME}; expected a moodscape checkpoint folder such as RUN/best")
    model_type = read_json(config).get("model_type")
    if model_type not in _CLASSES:
        raise CheckpointError(
            f"{config}: model_type {model_type!r} is not a moodscape regressor (valid: {', '.join(_CLASSES)})"
        )
    return _CLASSES[model_type].from_pretrained(folder)
