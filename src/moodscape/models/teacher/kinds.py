"""The teacher's kinds (ViT, AST) and size presets, and the names its checkpoint files carry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from transformers import ASTConfig, ASTModel, PreTrainedConfig, PreTrainedModel, ViTConfig, ViTModel

from ...errors import SettingError
from ..registry import Registry

POOLINGS: tuple[str, ...] = ("mean", "cls", "cls+mean")
Pooling = Literal["mean", "cls", "cls+mean"]
CHECKPOINT_TYPE = "moodscape-teacher"  # config.json "model_type" of moodscape's own teacher folders
METADATA_KEY = "moodscape_teacher_config"  # the config.json payload, also kept inside the weights file


# ------------------------------------------------------------------------------------------ presets


@dataclass(frozen=True)
class BackboneSize:
    """Transformer size: width, depth, attention heads and MLP width."""

    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int

    def as_kwargs(self) -> dict[str, int]:
        return {
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "intermediate_size": self.intermediate_size,
        }


TEACHER_PRESETS: Registry[BackboneSize] = Registry("teacher preset")
TEACHER_PRESETS.register("tiny", BackboneSize(hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128))
TEACHER_PRESETS.register("small", BackboneSize(hidden_size=256, num_layers=6, num_heads=4, intermediate_size=1024))
# ViT-B/16, the shape of google/vit-base-patch16-224-in21k and of AudioSet AST (86M parameters).
TEACHER_PRESETS.register("base", BackboneSize(hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072))


@dataclass(frozen=True)
class Kind:
    """How one backbone family is built, fed and loaded."""

    name: str
    hf_model_type: str  # "model_type" in a Hugging Face config.json
    model_class: type[PreTrainedModel]
    config_class: type[PreTrainedConfig]
    special_tokens: int  # tokens in front of the patch tokens: CLS (+ distillation for AST)
    model_kwargs: Mapping[str, Any]  # extra arguments of model_class(...) / from_pretrained(...)


TEACHER_KINDS: Registry[Kind] = Registry("teacher kind")
TEACHER_KINDS.register("vit", Kind("vit", "vit", ViTModel, ViTConfig, 1, {"add_pooling_layer": False}))
TEACHER_KINDS.register("ast", Kind("ast", "audio-spectrogram-transformer", ASTModel, ASTConfig, 2, {}))
KIND_BY_HF_TYPE = {kind.hf_model_type: name for name, kind in ((n, TEACHER_KINDS.get(n)) for n in TEACHER_KINDS)}


def pair(value: int | tuple[int, int] | list[int], what: str) -> tuple[int, int]:
    if isinstance(value, int):
        value = (value, value)
    pair = tuple(int(v) for v in value)
    if len(pair) != 2 or min(pair) < 1:
        raise SettingError(f"{what} must be two positive integers (mel bins, frames), got {value!r}")
    return pair  # type: ignore[return-value]
