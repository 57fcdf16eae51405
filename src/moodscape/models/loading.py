"""One entry point for every saved moodscape model: :func:`load_model` reads what a folder or file says it
holds (``config.json``'s model_type, the way transformers' Auto classes do; the floor's and the fusion's own
files; an export's suffix) and returns the right object, so no caller has to know which loader to pick.

Prediction wraps these objects with their front end (:mod:`moodscape.inference.backends`), which also
finds the model inside a run folder or on the Hub.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import CheckpointError
from .checkpoint import recover
from .exported import load_torchscript, open_onnx
from .floors.descriptors import CONFIG_FILE as FLOOR_FILE
from .floors.descriptors import DescriptorFloor
from .floors.fusion import FUSION_FILE, Fusion
from .floors.probe import CONFIG_FILE as PROBE_FILE
from .floors.probe import MusicnnProbe
from .gan.discriminator import Discriminator
from .gan.generator import Generator
from .pretrained.musicnn import Musicnn
from .serialization import CONFIG_NAME, listing, read_json
from .student.mobilevit import StudentRegressor
from .teacher.musicnn_head import MusicnnRegressor
from .teacher.transformer import TeacherRegressor

__all__ = ["NETWORKS", "REGRESSORS", "load_model"]

NETWORKS = {cls.MODEL_TYPE: cls for cls in (TeacherRegressor, MusicnnRegressor, StudentRegressor, Generator,
                                            Discriminator, Musicnn)}  # fmt: skip
REGRESSORS = (TeacherRegressor, MusicnnRegressor, StudentRegressor)
_WHAT = ("a checkpoint folder (config.json), a descriptor-floor, probe or fusion folder, an exported .onnx or a "
         "TorchScript .pt file")  # fmt: skip


def _kind(path: Path) -> type | str:
    """The class (or export format) that ``path`` holds, read from its files before anything is loaded."""
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in (".onnx", ".pt"):
            return suffix
        raise CheckpointError(f"{path}: not a model file moodscape reads; give {_WHAT}")
    if (path / CONFIG_NAME).is_file():
        model_type = read_json(path / CONFIG_NAME).get("model_type")
        if model_type not in NETWORKS:
            raise CheckpointError(f"{path / CONFIG_NAME}: model_type {model_type!r} is not a moodscape model "
                                  f"(valid: {', '.join(NETWORKS)})")  # fmt: skip
        return NETWORKS[model_type]
    if (path / FUSION_FILE).is_file():
        return Fusion
    if (path / FLOOR_FILE).is_file():
        return DescriptorFloor
    if (path / PROBE_FILE).is_file():
        return MusicnnProbe
    raise CheckpointError(f"{path}: holds no moodscape model (found {listing(path)}); give {_WHAT} (a run folder's "
                          "model is in RUN/best)")


def load_model(path: str | Path, *, expect: tuple[type, ...] | None = None) -> Any:
    """The model saved at ``path``: a teacher, student, musicnn, GAN generator or discriminator (on CPU, in
    eval mode), a :class:`DescriptorFloor`, a :class:`MusicnnProbe`, a :class:`Fusion`, an ONNX Runtime session or a TorchScript
    module. ``expect``: the classes the caller can use (e.g. :data:`REGRESSORS`); any other is an error
    that names both, raised before the weights are read."""
    path = Path(path)
    if not path.exists():
        path = recover(path)  # a kill between a checkpoint's two renames leaves only PATH.old
    if not path.exists():
        raise CheckpointError(f"{path}: not found; give {_WHAT}")
    kind = _kind(path)
    if expect is not None and not (isinstance(kind, type) and issubclass(kind, expect)):
        found = kind.__name__ if isinstance(kind, type) else f"a {kind} export"
        raise CheckpointError(f"{path} holds {found}; expected {' or '.join(c.__name__ for c in expect)}")
    if kind == ".onnx":
        return open_onnx(path)
    if kind == ".pt":
        return load_torchscript(path)
    if kind in (Fusion, DescriptorFloor, MusicnnProbe):
        return kind.load(path)
    return kind.from_pretrained(path)
