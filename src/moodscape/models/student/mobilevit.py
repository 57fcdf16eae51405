"""The student: a small MobileViT that regresses valence and arousal from one normalised log-mel
window, distilled from the teacher and exported for phones.

Input ``(batch, n_mels, frames)`` float32, output ``(batch, 2)`` = (valence, arousal) on [-1, 1],
the same contract as :class:`~moodscape.models.teacher.transformer.TeacherRegressor`, so evaluation, export and
prediction treat both alike.

Architecture
    * Backbone: Hugging Face ``MobileViTModel`` (kind ``mobilevit``, v1) or ``MobileViTV2Model``
      (kind ``mobilevitv2``) with one input channel. Mel bins run along the image height, frames
      along the width; MobileViT is fully convolutional around its transformer blocks, so the
      rectangular window is used as it is (no resizing).
    * Pooling: the backbone's global average pool of the last feature map.
    * Head: dropout -> Linear(pooled, head_hidden) -> GELU -> Linear(head_hidden, 2) -> tanh.
    * ``teacher_dim``: when set, a linear projection from the pooled embedding to the teacher's
      embedding width, used only by the feature-matching term of distillation (:meth:`project`).
      It is saved with the checkpoint (so distillation can resume) but never exported.

Presets (:data:`STUDENT_PRESETS`): ``tiny`` (tests), ``xxs``, ``xs`` and ``s``, the sizes of
``apple/mobilevit-xx-small``, ``-x-small`` and ``-small`` for v1 and width multipliers 0.5, 0.75
and 1.0 (``apple/mobilevitv2-1.0-imagenet1k-256`` ...) for v2.

Weights (``student.pretrained``): ``none`` for random initialisation, or a local folder / Hub name
found through the same tiers as the teacher (:func:`~moodscape.models.pretrained.hub.resolve_pretrained`).
An ImageNet MobileViT's 3-channel stem is summed into one channel; a moodscape student folder
continues from its backbone and head.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import MobileViTConfig, MobileViTModel, MobileViTV2Config, MobileViTV2Model

from ...config import StudentConfig
from ...errors import CheckpointError, ConfigError, ParameterError, SettingError
from ..optim import parameter_groups
from ..pretrained.hub import resolve_pretrained
from ..registry import Registry
from ..serialization import CONFIG_NAME, WEIGHTS_NAME, Pretrained, load_exact, read_json

__all__ = ["STUDENT_PRESETS", "StudentRegressor", "build_student"]

logger = logging.getLogger(__name__)


_CLASSES = {"mobilevit": (MobileViTConfig, MobileViTModel), "mobilevitv2": (MobileViTV2Config, MobileViTV2Model)}
_SMALLEST = {"mobilevit": 32, "mobilevitv2": 64}
_HF_TYPES = {"mobilevit": "mobilevit", "mobilevitv2": "mobilevitv2"}

# Backbone config arguments per (kind, preset); everything else keeps transformers' defaults.
STUDENT_PRESETS: Registry[dict[str, dict[str, Any]]] = Registry("student preset")
STUDENT_PRESETS.register("tiny", {
    "mobilevit": {"hidden_sizes": [32, 40, 48], "neck_hidden_sizes": [8, 8, 16, 24, 32, 40, 96],
                  "expand_ratio": 2.0, "num_attention_heads": 2},
    "mobilevitv2": {"width_multiplier": 0.25},
})  # fmt: skip
STUDENT_PRESETS.register("xxs", {
    "mobilevit": {"hidden_sizes": [64, 80, 96], "neck_hidden_sizes": [16, 16, 24, 48, 64, 80, 320],
                  "expand_ratio": 2.0},
    "mobilevitv2": {"width_multiplier": 0.5},
})  # fmt: skip
STUDENT_PRESETS.register("xs", {
    "mobilevit": {"hidden_sizes": [96, 120, 144], "neck_hidden_sizes": [32, 32, 48, 64, 80, 96, 384]},
    "mobilevitv2": {"width_multiplier": 0.75},
})  # fmt: skip
STUDENT_PRESETS.register("s", {"mobilevit": {}, "mobilevitv2": {"width_multiplier": 1.0}})


class StudentRegressor(Pretrained):
    """MobileViT backbone + MLP head: normalised log-mel window -> (valence, arousal) on [-1, 1].

    Args:
        n_mels, frames: the input window; every input must have exactly this shape.
        kind: ``mobilevit`` or ``mobilevitv2``.
        backbone: keyword arguments of the transformers config (sizes); ``num_channels`` is always 1.
        head_hidden: width of the head's hidden layer.
        dropout: dropout before the head.
        teacher_dim: width of the teacher embedding for feature matching, or None.
    """

    MODEL_TYPE, METADATA_KEY, WHAT = "moodscape-student", "moodscape_student_config", "student"

    def __init__(
        self,
        *,
        n_mels: int,
        frames: int,
        kind: str = "mobilevit",
        backbone: dict[str, Any] | None = None,
        head_hidden: int = 64,
        dropout: float = 0.1,
        teacher_dim: int | None = None,
    ) -> None:
        super().__init__()
        if kind not in _CLASSES:
            raise SettingError(f"unknown student kind {kind!r}; valid: {', '.join(_CLASSES)}")
        smallest = _SMALLEST[kind]  # the backbone downsamples 32x, then v2 unfolds 2x2 patches
        if int(n_mels) < smallest or int(frames) < smallest:
            raise SettingError(
                f"{kind} needs windows of at least {smallest}x{smallest} (mel bins x frames), got n_mels={n_mels}, "
                f"frames={frames}; use more mel bands or a longer window"
            )
        config_class, model_class = _CLASSES[kind]
        settings = {k: v for k, v in (backbone or {}).items() if k != "num_channels"}
        config = config_class(num_channels=1, image_size=max(int(n_mels), int(frames)), **settings)
        self.n_mels, self.frames, self.kind = int(n_mels), int(frames), kind
        self.backbone = model_class(config)
        _init_convolutions(self.backbone)
        self.backbone.eval()  # measure the pooled width (it depends on the preset) without touching BN stats
        with torch.no_grad():
            width = int(self.backbone(torch.zeros(1, 1, 64, 64)).pooler_output.shape[-1])
        self.backbone.train()
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, head_hidden), nn.GELU(), nn.Linear(head_hidden, 2))
        nn.init.trunc_normal_(self.head[3].weight, std=0.02)
        nn.init.zeros_(self.head[3].bias)
        self.projection = nn.Linear(width, teacher_dim) if teacher_dim else None
        self._init_args: dict[str, Any] = dict(
            n_mels=self.n_mels, frames=self.frames, kind=kind, backbone=settings,
            head_hidden=int(head_hidden), dropout=float(dropout), teacher_dim=int(teacher_dim) if teacher_dim else None,
        )  # fmt: skip

    @property
    def hidden_size(self) -> int:
        return self.head[1].in_features

    @property
    def input_shape(self) -> tuple[int, int]:
        return (self.n_mels, self.frames)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, n_mels, frames) -> (batch, hidden_size) pooled embedding."""
        if x.dim() != 3 or tuple(x.shape[1:]) != self.input_shape:
            raise ParameterError(
                f"StudentRegressor expects log-mel windows of shape (batch, {self.n_mels}, {self.frames}), "
                f"got {tuple(x.shape)}"
            )
        return self.backbone(pixel_values=x.unsqueeze(1)).pooler_output

    def regress(self, embedding: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.head(embedding))

    def project(self, embedding: torch.Tensor) -> torch.Tensor:
        """The pooled embedding mapped to the teacher's width (feature matching)."""
        if self.projection is None:
            raise ParameterError("this student was built without teacher_dim; it has no feature projection")
        return self.projection(embedding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, n_mels, frames) normalised log-mel -> (batch, 2) (valence, arousal) on [-1, 1]."""
        return self.regress(self.embed(x))

    def distill_outputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The predictions and, with a projection, the embedding mapped to the teacher's width: one pass, so
        that data-parallel training sees one forward per step."""
        embedding = self.embed(x)
        return self.regress(embedding), None if self.projection is None else self.projection(embedding)

    def parameter_groups(self, *, lr_backbone: float, lr_head: float, weight_decay: float = 0.0) -> list[dict]:
        """AdamW groups (see :func:`moodscape.models.optim.parameter_groups`): the head (with the projection)
        is everything outside the backbone."""
        return parameter_groups(self, in_head=lambda name: not name.startswith("backbone."), lr_backbone=lr_backbone,
                                lr_head=lr_head, weight_decay=weight_decay)  # fmt: skip


def _init_convolutions(backbone: nn.Module) -> None:
    """He-initialised convolutions and unit BatchNorm scales, as MobileViT's reference code (cvnets) does.

    transformers draws convolution weights and BatchNorm scales from N(0, 0.02). Trained from scratch,
    such a network carries almost no signal (BatchNorm inputs with variance ~1e-5, the size of its
    epsilon), so evaluation-mode outputs are constant for many epochs and training crawls.
    Pretrained weights replace all of this anyway.
    """
    for module in backbone.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def build_student(cfg: StudentConfig, *, n_mels: int, frames: int, teacher_dim: int | None = None) -> StudentRegressor:
    """The student of a config for ``(n_mels, frames)`` windows, with its weights (never silently random).

    ``cfg.pretrained``: ``none`` -> ``cfg.preset`` with random weights; a moodscape student folder ->
    its backbone and head; a Hugging Face MobileViT checkpoint (folder or Hub name) -> its backbone,
    stem summed to one channel, a new head.
    """
    options = dict(kind=cfg.kind, head_hidden=cfg.head_hidden, dropout=cfg.dropout, teacher_dim=teacher_dim)
    name = cfg.pretrained.strip()
    if not name:
        raise ConfigError("student.pretrained is empty; give a local folder, a Hugging Face Hub name, or none")
    if name.lower() == "none":
        model = StudentRegressor(n_mels=n_mels, frames=frames, backbone=STUDENT_PRESETS.get(cfg.preset)[cfg.kind], **options)
        logger.info("student: %s %s, random initialisation, %.2fM parameters", cfg.kind, cfg.preset, _millions(model))
        return model
    folder = resolve_pretrained(name, key="student.pretrained")
    if folder.is_file():
        folder = folder.parent
    payload = read_json(folder / CONFIG_NAME) if (folder / CONFIG_NAME).is_file() else {}
    if payload.get("model_type") == StudentRegressor.MODEL_TYPE:
        saved = StudentRegressor.from_pretrained(folder)
        if saved.kind != cfg.kind:
            raise CheckpointError(f"{name} is a {saved.kind} student but student.kind={cfg.kind}; set student.kind={saved.kind}")
        model = StudentRegressor.from_payload(payload, folder, n_mels=n_mels, frames=frames, **options)
        state = {k: v for k, v in saved.state_dict().items() if not k.startswith("projection.")}
        if model.projection is not None:
            state.update({f"projection.{k}": v for k, v in model.projection.state_dict().items()})
        load_exact(model, state, folder)
        logger.info("student: continued from the moodscape student %s", name)
        return model
    hf_type = payload.get("model_type")
    if hf_type != _HF_TYPES[cfg.kind]:
        raise CheckpointError(
            f"{name}: model_type {hf_type!r} is not a {cfg.kind} checkpoint; student.pretrained takes a moodscape "
            f"student folder or a Hugging Face {_HF_TYPES[cfg.kind]} checkpoint (e.g. apple/mobilevit-xx-small)"
        )
    return _from_hf(folder, name, payload, options, n_mels=n_mels, frames=frames)


def _from_hf(folder: Path, name: str, payload: dict, options: dict, *, n_mels: int, frames: int) -> StudentRegressor:
    """A student whose backbone starts from an ImageNet MobileViT: every tensor is loaded, the stem summed."""
    config_class, model_class = _CLASSES[options["kind"]]
    if not (folder / WEIGHTS_NAME).is_file():
        raise CheckpointError(f"{name} ({folder}): no {WEIGHTS_NAME}; pickled weights are never loaded")
    try:
        loaded, info = model_class.from_pretrained(
            str(folder), use_safetensors=True, local_files_only=True, output_loading_info=True, dtype=torch.float32
        )
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise CheckpointError(f"{name} ({folder}): transformers could not load the checkpoint ({exc})") from exc
    if info.get("missing_keys") or info.get("mismatched_keys"):
        raise CheckpointError(f"{name}: incomplete checkpoint ({info}); re-download it")
    sizes = {k: v for k, v in config_class.from_dict(payload).to_dict().items() if k in _SIZE_KEYS[options["kind"]]}
    model = StudentRegressor(n_mels=n_mels, frames=frames, backbone=sizes, **options)
    state = {k: v.detach() for k, v in loaded.state_dict().items()}
    stem = "conv_stem.convolution.weight"
    state[stem] = state[stem].sum(dim=1, keepdim=True)
    target = model.backbone.state_dict()
    wrong = sorted(k for k in target if k not in state or state[k].shape != target[k].shape)
    if wrong:
        raise CheckpointError(f"{name}: the checkpoint does not fit the student backbone ({wrong[:5]})")
    model.backbone.load_state_dict({k: state[k] for k in target}, strict=True)
    logger.info("student: backbone from %s (stem summed over 3 channels into 1), new head, %.2fM parameters",
                name, _millions(model))  # fmt: skip
    return model


_SIZE_KEYS = {
    "mobilevit": {"hidden_sizes", "neck_hidden_sizes", "expand_ratio", "num_attention_heads", "mlp_ratio",
                  "patch_size", "conv_kernel_size", "output_stride", "hidden_act", "qkv_bias", "layer_norm_eps"},
    "mobilevitv2": {"width_multiplier", "expand_ratio", "ffn_multiplier", "n_attn_blocks", "base_attn_unit_dims",
                    "patch_size", "conv_kernel_size", "output_stride", "hidden_act", "layer_norm_eps"},
}  # fmt: skip


def _millions(model: nn.Module) -> float:
    return sum(p.numel() for p in model.parameters()) / 1e6


def count_parameters(model: nn.Module, *, exported: bool = True) -> int:
    """Parameters; ``exported`` leaves out the distillation-only projection."""
    return sum(p.numel() for n, p in model.named_parameters() if not (exported and n.startswith("projection.")))

