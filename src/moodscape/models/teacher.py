"""The teacher: a vision transformer (ViT) or Audio Spectrogram Transformer (AST) that regresses
valence and arousal from one normalised log-mel window.

Input ``(batch, n_mels, frames)`` float32, output ``(batch, 2)`` = (valence, arousal) on [-1, 1].

Architecture
    * Backbone: Hugging Face ``ViTModel`` (kind ``vit``) or ``ASTModel`` (kind ``ast``) with one input
      channel on the native ``(n_mels x frames)`` grid: rectangular image size and patches, no
      resizing to 224x224. Mel bins run along the image height, frames along the width.
      ``vit`` pads the window with zeros (the normalised mean) on the high-mel / late-frame side up to
      a multiple of the patch, so every bin and frame is seen; ``ast`` keeps AST's own convention
      (patches with strides, trailing bins/frames that do not fill a patch are not seen).
    * Pooling (``pooling``): ``mean`` (default) averages the patch tokens after the final LayerNorm;
      ``cls`` takes the CLS token (for AST the mean of its CLS and distillation tokens, as AST's own
      pooler); ``cls+mean`` averages the two. The mean of patch tokens is the default because it
      uses every time-frequency region, works as well as CLS when fine-tuning ("Better plain ViT
      baselines", MAE) and gives a smoother embedding for the GAN-quality and distillation stages.
    * Head: dropout -> Linear(hidden, head_hidden) -> GELU -> dropout -> Linear(head_hidden, 2),
      then ``tanh``, which keeps outputs on the label range [-1, 1] with non-zero gradients
      everywhere; annotations rarely reach the ends of the scale, so saturation is not a concern.
      The last layer starts near zero, so untrained predictions sit at the neutral centre.

Weights (``model.pretrained`` in the config, see :func:`build_teacher`)
    1. a local folder (``config.json`` + ``model.safetensors``: a moodscape teacher saved by
       :meth:`TeacherRegressor.save_pretrained`, or a Hugging Face ViT/AST checkpoint) or a local
       ``.safetensors`` file (a moodscape teacher file, or a ViT/AST file with ``config.json`` beside it);
    2. a Hugging Face Hub name: the local cache first, then the network (unless ``HF_HUB_OFFLINE=1``
       or ``TRANSFORMERS_OFFLINE=1``) with retries and exponential backoff on connection errors;
    3. random initialisation, only when ``pretrained == "none"``.
    Any failure raises :class:`~moodscape.errors.CheckpointError` naming every tier tried and the fix;
    nothing ever falls back to random weights. Only safetensors are read, never pickles.

Adapting an ImageNet ViT (e.g. ``google/vit-base-patch16-224-in21k``)
    The 3-channel patch projection is summed over channels (a grey image gives the same response);
    the checkpoint's patch size is kept: a different ``model.patch_size`` raises an error (resizing
    patch kernels degrades them); position embeddings (CLS + 14x14 for 224 px) are resampled with
    2-D bicubic interpolation to the ``ceil(n_mels/ph) x ceil(frames/pw)`` grid; the pooler is
    ignored. Loaded/missing/unexpected keys are logged; any missing backbone weight is an error.

AST checkpoints (e.g. ``MIT/ast-finetuned-audioset-10-10-0.4593``)
    Supported: architecture, strides and weights come from the checkpoint. Front-end settings:
    ``features.n_mels`` must equal the checkpoint's ``num_mel_bins`` (128; checked) and
    ``model.patch_size`` its patch (16x16; checked). To match AST's kaldi fbank use
    ``audio.sample_rate=16000``, ``features.n_fft=400`` (25 ms), ``features.hop_length=160`` (10 ms),
    ``features.fmin=20``, ``features.fmax=8000``, ``features.normalization=global``. AudioSet AST saw
    1024 frames (10.24 s); a shorter window keeps the centre of its time position embeddings (as the
    AST reference code does), a longer one interpolates them. Remaining differences (kaldi's povey
    window and natural log vs librosa's Hann and dB, AST's global mean -4.27 / std 4.57 scaled to
    std ~0.5 vs moodscape's per-band z-scores) are left to fine-tuning.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from huggingface_hub import constants as hf_constants
from huggingface_hub import snapshot_download
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import validate_repo_id
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn
from transformers import ASTConfig, ASTModel, PreTrainedConfig, PreTrainedModel, ViTConfig, ViTModel

from ..config import ModelConfig
from ..errors import CheckpointError, ConfigError, SettingError
from .registry import Registry
from .serialization import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    constructor_args,
    load_exact,
    read_json,
    safetensors_metadata,
    save_folder,
)

__all__ = [
    "BackboneSize",
    "TEACHER_PRESETS",
    "TEACHER_KINDS",
    "POOLINGS",
    "TeacherRegressor",
    "build_teacher",
    "resolve_pretrained",
    "resize_position_embeddings",
]

logger = logging.getLogger(__name__)

Pooling = Literal["mean", "cls", "cls+mean"]
POOLINGS: tuple[str, ...] = ("mean", "cls", "cls+mean")

CHECKPOINT_TYPE = "moodscape-teacher"  # config.json "model_type" of moodscape's own teacher folders
_METADATA_KEY = "moodscape_teacher_config"  # the config.json payload, also kept inside the weights file
# What the Hub tier fetches: configs and safetensors only, so a pickle is never even downloaded.
HUB_PATTERNS = ("config.json", "*.safetensors", "*.safetensors.index.json")
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")

_sleep = time.sleep  # the backoff sleep; tests replace it


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
class _Kind:
    """How one backbone family is built, fed and loaded."""

    name: str
    hf_model_type: str  # "model_type" in a Hugging Face config.json
    model_class: type[PreTrainedModel]
    config_class: type[PreTrainedConfig]
    special_tokens: int  # tokens in front of the patch tokens: CLS (+ distillation for AST)
    model_kwargs: Mapping[str, Any]  # extra arguments of model_class(...) / from_pretrained(...)


TEACHER_KINDS: Registry[_Kind] = Registry("teacher kind")
TEACHER_KINDS.register("vit", _Kind("vit", "vit", ViTModel, ViTConfig, 1, {"add_pooling_layer": False}))
TEACHER_KINDS.register("ast", _Kind("ast", "audio-spectrogram-transformer", ASTModel, ASTConfig, 2, {}))
_KIND_BY_HF_TYPE = {kind.hf_model_type: name for name, kind in ((n, TEACHER_KINDS.get(n)) for n in TEACHER_KINDS)}


def _pair(value: int | tuple[int, int] | list[int], what: str) -> tuple[int, int]:
    if isinstance(value, int):
        value = (value, value)
    pair = tuple(int(v) for v in value)
    if len(pair) != 2 or min(pair) < 1:
        raise SettingError(f"{what} must be two positive integers (mel bins, frames), got {value!r}")
    return pair  # type: ignore[return-value]


# ------------------------------------------------------------------------------------------- model


class TeacherRegressor(nn.Module):
    """ViT/AST backbone + MLP head: normalised log-mel window -> (valence, arousal) on [-1, 1].

    Args:
        n_mels: mel bands of the input window.
        frames: frames of the input window; every input must have exactly this many.
        kind: backbone family, ``vit`` or ``ast`` (see :data:`TEACHER_KINDS`).
        patch_size: (mel bins, frames) per patch; ``ast`` needs a square patch.
        stride: ``ast`` only: (mel, frame) stride between patches; ``None`` = the patch size
            (no overlap). AudioSet AST uses (10, 10) with 16x16 patches.
        hidden_size, num_layers, num_heads, intermediate_size: transformer size
            (:data:`TEACHER_PRESETS` has tiny, small, base); ``intermediate_size`` defaults to 4x hidden.
        hidden_act, layer_norm_eps, qkv_bias: transformer details, as in the checkpoint being loaded.
        backbone_dropout: dropout inside the transformer (0 for pretrained ViT/AST).
        head_hidden: width of the head's hidden layer.
        dropout: dropout in the head, before each linear layer.
        pooling: ``mean`` (patch tokens), ``cls`` or ``cls+mean``; see the module docstring.
        freeze_blocks: K > 0 freezes the embedding stage (patch projection, CLS/distillation tokens,
            position embeddings) and the first K transformer blocks; the rest and the head train.
            Autograd then records nothing below block K when the input needs no gradient.

    Shapes:
        ``forward``: (batch, n_mels, frames) float -> (batch, 2) on [-1, 1].
        ``embed``: (batch, n_mels, frames) -> (batch, hidden_size), the pooled embedding.
    """

    def __init__(
        self,
        *,
        n_mels: int,
        frames: int,
        kind: str = "vit",
        patch_size: int | tuple[int, int] = (16, 16),
        stride: int | tuple[int, int] | None = None,
        hidden_size: int = 64,
        num_layers: int = 2,
        num_heads: int = 2,
        intermediate_size: int | None = None,
        hidden_act: str = "gelu",
        layer_norm_eps: float = 1e-12,
        qkv_bias: bool = True,
        backbone_dropout: float = 0.0,
        head_hidden: int = 128,
        dropout: float = 0.1,
        pooling: Pooling = "mean",
        freeze_blocks: int = 0,
    ) -> None:
        super().__init__()
        spec = TEACHER_KINDS.get(kind)
        patch = _pair(patch_size, "patch_size")
        if int(n_mels) < 1 or int(frames) < 1:
            raise SettingError(f"n_mels and frames must be positive, got n_mels={n_mels}, frames={frames}")
        if hidden_size < 1 or num_layers < 1 or num_heads < 1 or hidden_size % num_heads:
            raise SettingError(
                f"hidden_size ({hidden_size}) must be a positive multiple of num_heads ({num_heads}), "
                f"num_layers ({num_layers}) positive"
            )
        if pooling not in POOLINGS:
            raise SettingError(f"unknown pooling {pooling!r}; valid: {', '.join(POOLINGS)}")
        if not 0 <= freeze_blocks <= num_layers:
            raise SettingError(f"freeze_blocks={freeze_blocks} must be between 0 and num_layers={num_layers}")
        for name, p in (("dropout", dropout), ("backbone_dropout", backbone_dropout)):
            if not 0.0 <= p < 1.0:
                raise SettingError(f"{name} must be in [0, 1), got {p}")
        intermediate_size = 4 * hidden_size if intermediate_size is None else int(intermediate_size)

        self.n_mels, self.frames, self.kind = int(n_mels), int(frames), spec.name
        self.patch_size = patch
        self.pooling = pooling
        self.freeze_blocks = int(freeze_blocks)
        self.special_tokens = spec.special_tokens
        common = dict(
            hidden_size=hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=num_heads,
            intermediate_size=intermediate_size,
            hidden_act=hidden_act,
            layer_norm_eps=layer_norm_eps,
            qkv_bias=qkv_bias,
            hidden_dropout_prob=backbone_dropout,
            attention_probs_dropout_prob=backbone_dropout,
        )
        if spec.name == "vit":
            if stride is not None:
                raise SettingError("stride applies to kind='ast' only; ViT patches never overlap")
            self.stride = patch
            # Pad up to whole patches so that no bin or frame is dropped by the strided projection.
            self.padded_shape = (
                math.ceil(self.n_mels / patch[0]) * patch[0],
                math.ceil(self.frames / patch[1]) * patch[1],
            )
            self.grid = (self.padded_shape[0] // patch[0], self.padded_shape[1] // patch[1])
            config = ViTConfig(image_size=self.padded_shape, patch_size=patch, num_channels=1, **common)
        else:
            if patch[0] != patch[1]:
                raise SettingError(f"kind='ast' uses square patches, got patch_size={patch}")
            self.stride = patch if stride is None else _pair(stride, "stride")
            if self.n_mels < patch[0] or self.frames < patch[1]:
                raise SettingError(
                    f"kind='ast' needs at least one {patch[0]}x{patch[1]} patch: got n_mels={n_mels}, frames={frames}"
                )
            self.padded_shape = (self.n_mels, self.frames)
            self.grid = (
                (self.n_mels - patch[0]) // self.stride[0] + 1,
                (self.frames - patch[1]) // self.stride[1] + 1,
            )
            config = ASTConfig(
                patch_size=patch[0],
                frequency_stride=self.stride[0],
                time_stride=self.stride[1],
                num_mel_bins=self.n_mels,
                max_length=self.frames,
                **common,
            )
        self.backbone = spec.model_class(config, **spec.model_kwargs)
        if spec.name == "ast":  # ASTModel starts its tokens at zero; give them the usual ViT init
            emb = self.backbone.embeddings
            for param in (emb.cls_token, emb.distillation_token, emb.position_embeddings):
                nn.init.trunc_normal_(param, std=config.initializer_range)

        self.head = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(hidden_size, head_hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(head_hidden, 2),
        )
        for layer in (self.head[1], self.head[4]):
            nn.init.trunc_normal_(layer.weight, std=0.02)
            nn.init.zeros_(layer.bias)

        self._init_args: dict[str, Any] = dict(
            n_mels=self.n_mels,
            frames=self.frames,
            kind=self.kind,
            patch_size=list(patch),
            stride=None if spec.name == "vit" else list(self.stride),
            hidden_size=int(hidden_size),
            num_layers=int(num_layers),
            num_heads=int(num_heads),
            intermediate_size=intermediate_size,
            hidden_act=str(hidden_act),
            layer_norm_eps=float(layer_norm_eps),
            qkv_bias=bool(qkv_bias),
            backbone_dropout=float(backbone_dropout),
            head_hidden=int(head_hidden),
            dropout=float(dropout),
            pooling=pooling,
            freeze_blocks=self.freeze_blocks,
        )
        self._apply_freeze()

    # ------------------------------------------------------------------ construction helpers

    @classmethod
    def from_preset(cls, preset: str, *, n_mels: int, frames: int, **kwargs: Any) -> TeacherRegressor:
        """Build with a size from :data:`TEACHER_PRESETS` (``tiny``, ``small``, ``base``) and random weights.

        Raises:
            UnknownNameError: unknown preset; the message lists the valid ones.
        """
        return cls(n_mels=n_mels, frames=frames, **TEACHER_PRESETS.get(preset).as_kwargs(), **kwargs)

    @property
    def init_args(self) -> dict[str, Any]:
        """The constructor arguments (JSON-able); ``TeacherRegressor(**init_args)`` rebuilds the model."""
        return dict(self._init_args)

    @property
    def hidden_size(self) -> int:
        """Width of the pooled embedding returned by :meth:`embed`."""
        return self._init_args["hidden_size"]

    @property
    def num_layers(self) -> int:
        return self._init_args["num_layers"]

    @property
    def input_shape(self) -> tuple[int, int]:
        """(n_mels, frames) of one input window."""
        return (self.n_mels, self.frames)

    def _apply_freeze(self) -> None:
        k = self.freeze_blocks
        for p in self.backbone.parameters():
            p.requires_grad_(True)
        if k > 0:
            for p in self.backbone.embeddings.parameters():
                p.requires_grad_(False)
            for block in self.backbone.layers[:k]:
                for p in block.parameters():
                    p.requires_grad_(False)

    # ------------------------------------------------------------------------------- forward

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 3 or x.shape[1] != self.n_mels or x.shape[2] != self.frames:
            raise ValueError(
                f"TeacherRegressor expects log-mel windows of shape (batch, n_mels={self.n_mels}, "
                f"frames={self.frames}), got {tuple(x.shape)}; windows must have the length the model "
                f"was built for"
            )
        if not x.is_floating_point():
            raise ValueError(f"TeacherRegressor expects a floating-point log-mel window, got {x.dtype}")

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """All output tokens after the final LayerNorm: (batch, special + patches, hidden).

        The first ``special_tokens`` are CLS (and AST's distillation token); the patch tokens follow
        in mel-major order over :attr:`grid`.
        """
        self._check_input(x)
        if self.kind == "vit":
            pad_mels, pad_frames = self.padded_shape[0] - self.n_mels, self.padded_shape[1] - self.frames
            if pad_mels or pad_frames:
                x = F.pad(x, (0, pad_frames, 0, pad_mels))
            out = self.backbone(pixel_values=x.unsqueeze(1))
        else:
            out = self.backbone(input_values=x.transpose(1, 2))
        return out.last_hidden_state

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled embedding (batch, hidden_size) of (batch, n_mels, frames) windows, before the head."""
        hidden = self.tokens(x)
        special, patches = hidden[:, : self.special_tokens], hidden[:, self.special_tokens :]
        if self.pooling == "mean":
            return patches.mean(dim=1)
        if self.pooling == "cls":
            return special.mean(dim=1)
        return 0.5 * (special.mean(dim=1) + patches.mean(dim=1))

    def regress(self, embedding: torch.Tensor) -> torch.Tensor:
        """Head on a pooled embedding: (batch, hidden_size) -> (batch, 2) (valence, arousal) on [-1, 1]."""
        return torch.tanh(self.head(embedding))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, n_mels, frames) normalised log-mel -> (batch, 2) (valence, arousal) on [-1, 1]."""
        return self.regress(self.embed(x))

    # ---------------------------------------------------------------------------- optimiser

    def parameter_groups(
        self, *, lr_backbone: float, lr_head: float, weight_decay: float = 0.0
    ) -> list[dict[str, Any]]:
        """Optimiser parameter groups of the trainable parameters only.

        Backbone and head get their own learning rate; in each, biases, norm weights, CLS/distillation
        tokens and position embeddings get no weight decay. Empty groups are left out; each group has
        a ``name`` (``backbone``, ``backbone_no_decay``, ``head``, ``head_no_decay``) for logging.
        Use as ``torch.optim.AdamW(model.parameter_groups(...))``.
        """
        groups: dict[str, list[nn.Parameter]] = {
            "backbone": [], "backbone_no_decay": [], "head": [], "head_no_decay": []
        }  # fmt: skip
        for name, param in self.named_parameters():
            if not param.requires_grad:
                continue
            part = "head" if name.startswith("head.") else "backbone"
            no_decay = param.ndim <= 1 or name.endswith(("cls_token", "distillation_token", "position_embeddings"))
            groups[part + ("_no_decay" if no_decay else "")].append(param)
        lrs = {"backbone": lr_backbone, "head": lr_head}
        return [
            {
                "name": name,
                "params": params,
                "lr": lrs[name.split("_")[0]],
                "weight_decay": 0.0 if name.endswith("no_decay") else weight_decay,
            }
            for name, params in groups.items()
            if params
        ]

    # ---------------------------------------------------------------------------- save/load

    def save_pretrained(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``model.safetensors`` + ``config.json`` into ``directory`` (created if needed).

        ``config.json`` holds the constructor arguments, the model kind and the moodscape,
        transformers and torch versions; the same payload is kept in the safetensors metadata, so
        the weights file alone also rebuilds the model. Returns the directory.
        """
        return save_folder(self, directory, model_type=CHECKPOINT_TYPE, kind=self.kind, metadata_key=_METADATA_KEY)

    @classmethod
    def from_pretrained(
        cls, path: str | os.PathLike[str], *, device: str | torch.device = "cpu"
    ) -> TeacherRegressor:
        """Rebuild a teacher saved by :meth:`save_pretrained`: a folder or its ``model.safetensors``.

        The model is exactly the saved one (same arguments, strict weight loading) and in eval mode.

        Raises:
            CheckpointError: the path is missing, is not a moodscape teacher, or its files are broken.
        """
        path = Path(path).expanduser()
        if not path.exists():
            raise CheckpointError(f"teacher checkpoint not found: {path}")
        source = _read_source(path)
        if source.moodscape is None:
            raise CheckpointError(
                f"{path} is a Hugging Face {source.hf_type} checkpoint, not a moodscape teacher; start a "
                f"teacher from it with build_teacher(ModelConfig(kind=..., pretrained='{path}'), ...)"
            )
        model = _teacher_from_payload(source.moodscape, path)
        state = _load_safetensors(source.weights, device="cpu")
        load_exact(model, state, path)
        return model.to(device).eval()


# ----------------------------------------------------------------------------------- the builder


def build_teacher(model_cfg: ModelConfig, *, n_mels: int, frames: int) -> TeacherRegressor:
    """Build the teacher of a config for ``(n_mels, frames)`` windows, with its weights.

    ``model_cfg.pretrained``: ``none`` gives the ``model_cfg.preset`` size with random weights.
    Otherwise the weights are found by :func:`resolve_pretrained` (local path, then the Hugging Face
    cache, then the Hub) and the checkpoint defines the backbone size (a ``preset`` that differs is
    logged and ignored); ``kind``, ``patch_size``, ``head_hidden``, ``dropout``, ``pooling`` and
    ``freeze_blocks`` come from the config, except that a moodscape teacher keeps its own head.

    Raises:
        CheckpointError: the weights cannot be found, read or fitted to this model; the message
            says what was tried and how to fix it.
        UnknownNameError: unknown ``kind`` or ``preset`` (lists the valid names).
        ConfigError: ``freeze_blocks`` exceeds the number of blocks.
    """
    spec = TEACHER_KINDS.get(model_cfg.kind)
    size = TEACHER_PRESETS.get(model_cfg.preset)
    pretrained = model_cfg.pretrained.strip()
    if not pretrained:
        raise ConfigError("model.pretrained is empty; give a local folder, a Hugging Face Hub name, or none")
    options = dict(
        kind=spec.name,
        patch_size=tuple(model_cfg.patch_size),
        head_hidden=model_cfg.head_hidden,
        dropout=model_cfg.dropout,
        pooling=model_cfg.pooling,
        freeze_blocks=model_cfg.freeze_blocks,
    )
    if pretrained.lower() == "none":
        _check_freeze(model_cfg.freeze_blocks, size.num_layers, f"preset {model_cfg.preset}")
        if model_cfg.freeze_blocks:
            logger.warning("model.freeze_blocks=%d freezes randomly initialised blocks", model_cfg.freeze_blocks)
        model = TeacherRegressor(n_mels=n_mels, frames=frames, **size.as_kwargs(), **options)
        logger.info(
            "teacher: %s %s, random initialisation (model.pretrained=none), %.2fM parameters",
            spec.name, model_cfg.preset, _count(model) / 1e6,
        )  # fmt: skip
        return model

    path = resolve_pretrained(pretrained)
    source = _read_source(path)
    if source.moodscape is not None:
        model, report = _from_moodscape_source(source, pretrained, options, n_mels=n_mels, frames=frames)
    else:
        model, report = _from_hf_source(source, pretrained, options, n_mels=n_mels, frames=frames)
    checkpoint_size = BackboneSize(
        model.hidden_size, model.num_layers, model.init_args["num_heads"], model.init_args["intermediate_size"]
    )
    if checkpoint_size != size:
        logger.warning(
            "model.preset=%s ignored: the checkpoint %s defines the backbone (%s)",
            model_cfg.preset, pretrained, _describe_size(checkpoint_size),
        )  # fmt: skip
    logger.info(
        "teacher: %s from %s (%s), %.2fM parameters; %s", spec.name, pretrained, path, _count(model) / 1e6, report
    )
    return model


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _describe_size(size: BackboneSize) -> str:
    return (
        f"hidden {size.hidden_size}, {size.num_layers} layers, {size.num_heads} heads, "
        f"intermediate {size.intermediate_size}"
    )


def _check_freeze(freeze_blocks: int, num_layers: int, what: str) -> None:
    if freeze_blocks > num_layers:
        raise ConfigError(f"model.freeze_blocks={freeze_blocks} but {what} has only {num_layers} blocks")


# ------------------------------------------------------------------------ tiers 1 and 2: locate


def _offline_reason() -> str | None:
    """Why the network must not be used, read at call time (the env may change after import)."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        value = os.environ.get(var, "")
        if value.strip().upper() in {"1", "ON", "YES", "TRUE"}:
            return f"{var}={value}"
    if hf_constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE was set when huggingface_hub was imported"
    return None


_TRANSIENT_NAMES = {"TransportError", "ConnectionError", "TimeoutError", "TimeoutException", "Timeout"}


def _is_transient(exc: BaseException) -> bool:
    """A connection problem worth retrying (not: unknown repo, gated repo, bad revision, offline)."""
    seen: set[int] = set()
    err: BaseException | None = exc
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, (OfflineModeIsEnabled, RepositoryNotFoundError, RevisionNotFoundError)):
            return False
        if isinstance(err, HfHubHTTPError):
            status = getattr(getattr(err, "response", None), "status_code", None)
            if status is not None and (status == 429 or status >= 500):
                return True
        if any(cls.__name__ in _TRANSIENT_NAMES for cls in type(err).__mro__):
            return True
        err = err.__cause__ or err.__context__
    return False


def _short(exc: BaseException) -> str:
    """One line: the error, and its root cause when it has one (e.g. the connection error)."""

    def line(err: BaseException) -> str:
        text = " ".join(str(err).split())
        return f"{type(err).__name__}: {text[:300]}{'...' if len(text) > 300 else ''}"

    root = exc
    for _ in range(10):  # follow `raise ... from` to the original error
        if root.__cause__ is None:
            break
        root = root.__cause__
    return line(exc) if root is exc else f"{line(exc)} (caused by {line(root)})"


def _tiers_error(name: str, tried: list[str], *, hub_name: bool, key: str, random_init: bool = True) -> CheckpointError:
    lines = [f"cannot load {key}={name!r}; tried:"]
    lines += [f"  {i}. {line}" for i, line in enumerate(tried, 1)]
    lines.append(f"Random weights are used only with {key}=none. To fix:" if random_init else "To fix:")
    if hub_name:
        lines.append(
            f"  - download it on a machine with internet: `huggingface-cli download {name}` (or `hf download "
            f"{name}`), then copy the Hugging Face cache ({hf_constants.HF_HUB_CACHE}) here or point HF_HOME at it;"
        )
    lines.append(f"  - or set {key} to a local folder holding config.json + model.safetensors;")
    if random_init:
        lines.append(f"  - or set {key}=none for random initialisation.")
    return CheckpointError("\n".join(lines))


def resolve_pretrained(
    name: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    retries: int = 3,
    backoff_s: float = 1.0,
    key: str = "model.pretrained",
    patterns: Sequence[str] = HUB_PATTERNS,
    random_init: bool = True,
) -> Path:
    """Find the files of a pretrained checkpoint and return their local path (folder or file).

    Tiers, in order: (1) ``name`` as a local path; (2a) ``name`` as a Hugging Face Hub repo in the
    local cache (no network); (2b) a download from the Hub (config and safetensors files only),
    skipped when ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` is set, with ``retries`` attempts and
    exponential backoff (``backoff_s``, 2x, 4x ...) on connection errors.

    ``random_init`` False leaves out the advice to use random weights (``--model`` of predict has none).

    Raises:
        CheckpointError: every tier failed; the message lists each with its reason and the fixes.
    """
    tried: list[str] = []
    local = Path(name).expanduser()
    if local.exists():
        return local.resolve()
    tried.append(f"local path: {local.absolute()} does not exist")
    try:
        validate_repo_id(name)
    except HFValidationError as exc:
        tried.append(f"Hugging Face Hub: not a valid repo name ({exc})")
        raise _tiers_error(name, tried, hub_name=False, key=key, random_init=random_init) from None

    cache = Path(cache_dir).expanduser() if cache_dir is not None else Path(hf_constants.HF_HUB_CACHE)
    try:
        folder = snapshot_download(
            name, allow_patterns=list(patterns), cache_dir=cache_dir, local_files_only=True
        )
        logger.info("pretrained %s: found in the Hugging Face cache at %s", name, folder)
        return Path(folder)
    except LocalEntryNotFoundError as exc:
        tried.append(f"Hugging Face cache ({cache}): no usable snapshot of {name} ({_short(exc)})")

    offline = _offline_reason()
    if offline is not None:
        tried.append(f"Hugging Face Hub download: skipped, offline mode is on ({offline})")
        raise _tiers_error(name, tried, hub_name=True, key=key, random_init=random_init)

    attempts = max(1, int(retries))
    last: BaseException | None = None
    for attempt in range(1, attempts + 1):
        try:
            folder = snapshot_download(name, allow_patterns=list(patterns), cache_dir=cache_dir)
            logger.info("pretrained %s: downloaded from the Hugging Face Hub to %s", name, folder)
            return Path(folder)
        except (GatedRepoError, RepositoryNotFoundError) as exc:
            last = exc
            tried.append(
                f"Hugging Face Hub download: repository {name} not found or not accessible (check the name; a "
                f"private or gated repo needs `huggingface-cli login`) ({_short(exc)})"
            )
            break
        except Exception as exc:  # noqa: BLE001 - classified below and always reported
            # httpx transport errors are not OSError subclasses, hence the broad clause.
            last = exc
            if not _is_transient(exc):
                tried.append(f"Hugging Face Hub download: {_short(exc)}")
                break
            if attempt == attempts:
                tried.append(f"Hugging Face Hub download: {attempts} attempts failed, the last with {_short(exc)}")
                break
            delay = backoff_s * 2 ** (attempt - 1)
            logger.warning(
                "pretrained %s: download attempt %d/%d failed (%s); retrying in %.1f s",
                name, attempt, attempts, _short(exc), delay,
            )  # fmt: skip
            _sleep(delay)
    raise _tiers_error(name, tried, hub_name=True, key=key, random_init=random_init) from last


# ----------------------------------------------------------------------------- reading a source


@dataclass
class _Source:
    """A located checkpoint: which format it is and where its weights are."""

    path: Path
    weights: Path  # the folder's model.safetensors, or the bare .safetensors file
    moodscape: dict[str, Any] | None = None  # our config.json payload
    hf_type: str | None = None  # Hugging Face model_type
    hf_folder: Path | None = None  # folder for transformers' from_pretrained


def _load_safetensors(path: Path, *, device: str = "cpu") -> dict[str, torch.Tensor]:
    safetensors_metadata(path)  # a clear error for a broken file
    try:
        return load_file(str(path), device=device)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: cannot read the weights ({_short(exc)}); re-download or re-save it") from exc


def _pickle_hint(folder: Path) -> str:
    found = sorted(p.name for p in folder.iterdir() if p.suffix in _PICKLE_SUFFIXES) if folder.is_dir() else []
    if not found:
        return ""
    return (
        f" It holds {', '.join(found)}: pickled weights are never loaded (unpickling can run arbitrary code); "
        "convert them to model.safetensors (e.g. load them once in a trusted environment and call "
        "save_pretrained(..., safe_serialization=True))."
    )


def _classify_config(config: dict[str, Any], where: Path) -> tuple[dict[str, Any] | None, str | None]:
    model_type = config.get("model_type")
    if model_type == CHECKPOINT_TYPE:
        return config, None
    if model_type in _KIND_BY_HF_TYPE:
        return None, model_type
    raise CheckpointError(
        f"{where}: model_type {model_type!r} is not supported; moodscape loads moodscape teacher folders, ViT "
        "('vit', e.g. google/vit-base-patch16-224-in21k) and AST ('audio-spectrogram-transformer', e.g. "
        "MIT/ast-finetuned-audioset-10-10-0.4593) checkpoints"
    )


def _read_source(path: Path) -> _Source:
    """Identify the checkpoint at an existing local path; clear errors for anything unusable."""
    if path.is_dir():
        config_file = path / CONFIG_NAME
        if not config_file.is_file():
            listing = ", ".join(sorted(p.name for p in path.iterdir())[:10]) or "nothing"
            raise CheckpointError(
                f"{path}: no {CONFIG_NAME} (found {listing}); expected a checkpoint folder with "
                f"{CONFIG_NAME} + {WEIGHTS_NAME} (a moodscape teacher or a Hugging Face ViT/AST checkpoint)"
            )
        moodscape, hf_type = _classify_config(read_json(config_file), config_file)
        weights = path / WEIGHTS_NAME
        sharded = (path / (WEIGHTS_NAME + ".index.json")).is_file()
        if not weights.is_file() and not (hf_type is not None and sharded):
            raise CheckpointError(f"{path}: no {WEIGHTS_NAME} next to {CONFIG_NAME}.{_pickle_hint(path)}")
        if weights.is_file():
            safetensors_metadata(weights)  # garbage in the file fails here, clearly
        return _Source(path, weights, moodscape=moodscape, hf_type=hf_type, hf_folder=path)

    if path.suffix in _PICKLE_SUFFIXES:
        raise CheckpointError(
            f"{path}: pickled checkpoints are never loaded (unpickling can run arbitrary code); convert it to "
            ".safetensors or point model.pretrained at a folder with config.json + model.safetensors"
        )
    if path.suffix != ".safetensors":
        raise CheckpointError(
            f"{path}: not a checkpoint moodscape can read; expected a folder with {CONFIG_NAME} + {WEIGHTS_NAME} "
            "or a .safetensors file"
        )
    metadata = safetensors_metadata(path)
    if _METADATA_KEY in metadata:
        try:
            payload = json.loads(metadata[_METADATA_KEY])
        except ValueError as exc:
            raise CheckpointError(f"{path}: moodscape metadata is not valid JSON ({_short(exc)})") from exc
        return _Source(path, path, moodscape=payload)
    beside = path.parent / CONFIG_NAME
    if not beside.is_file():
        raise CheckpointError(
            f"{path}: a bare .safetensors file without the model's {CONFIG_NAME}; put the checkpoint's "
            f"{CONFIG_NAME} next to it, or point model.pretrained at the checkpoint folder"
        )
    moodscape, hf_type = _classify_config(read_json(beside), beside)
    return _Source(path, path, moodscape=moodscape, hf_type=hf_type, hf_folder=path.parent)


# -------------------------------------------------------------------------- adapting the weights


def resize_position_embeddings(
    pos: torch.Tensor,
    *,
    special_tokens: int,
    old_grid: tuple[int, int],
    new_grid: tuple[int, int],
    mode: Literal["bicubic", "crop"] = "bicubic",
) -> torch.Tensor:
    """Resample position embeddings (1, special + gh*gw, hidden) from one patch grid to another.

    The first ``special_tokens`` (CLS, distillation) are kept; the grid (row-major, mel x frames) is
    resized. ``bicubic``: 2-D bicubic interpolation (ViT, as ``ViTEmbeddings.interpolate_pos_encoding``).
    ``crop``: each axis that shrinks keeps its centre, each that grows is interpolated bilinearly
    (the AST reference code's rule, which keeps AST's time scale for shorter windows).
    """
    old_h, old_w = old_grid
    new_h, new_w = new_grid
    if pos.dim() != 3 or pos.shape[1] != special_tokens + old_h * old_w:
        raise ValueError(
            f"position embeddings of shape {tuple(pos.shape)} do not fit {special_tokens} special tokens + a "
            f"{old_h}x{old_w} grid"
        )
    if (old_h, old_w) == (new_h, new_w):
        return pos.clone()
    special, grid = pos[:, :special_tokens], pos[:, special_tokens:]
    dim = pos.shape[-1]
    grid = grid.reshape(1, old_h, old_w, dim).permute(0, 3, 1, 2).float()
    if mode == "bicubic":
        grid = F.interpolate(grid, size=(new_h, new_w), mode="bicubic", align_corners=False)
    elif mode == "crop":
        if new_h <= old_h:
            top = (old_h - new_h) // 2
            grid = grid[:, :, top : top + new_h]
        if new_w <= old_w:
            left = (old_w - new_w) // 2
            grid = grid[:, :, :, left : left + new_w]
        if grid.shape[2:] != (new_h, new_w):
            grid = F.interpolate(grid, size=(new_h, new_w), mode="bilinear", align_corners=False)
    else:
        raise ValueError(f"unknown mode {mode!r}; valid: bicubic, crop")
    grid = grid.permute(0, 2, 3, 1).reshape(1, new_h * new_w, dim).to(pos.dtype)
    return torch.cat([special, grid], dim=1)


_PROJECTION = "embeddings.patch_embeddings.projection.weight"
_POSITIONS = "embeddings.position_embeddings"


def _adapt_backbone(
    model: TeacherRegressor,
    state: dict[str, torch.Tensor],
    *,
    old_grid: tuple[int, int],
    source: str,
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Fit a backbone state dict (current transformers names) to ``model.backbone``."""
    state = {k: v.float() for k, v in state.items()}
    notes: list[str] = []
    proj = state.get(_PROJECTION)
    target = model.backbone.state_dict()
    if proj is not None:
        want = target[_PROJECTION].shape
        if proj.shape[2:] != want[2:]:
            raise CheckpointError(
                f"{source}: patch projection is {proj.shape[2]}x{proj.shape[3]} but the model uses "
                f"{want[2]}x{want[3]} patches; set model.patch_size=[{proj.shape[2]}, {proj.shape[3]}]"
            )
        if proj.shape[1] != want[1]:
            state[_PROJECTION] = proj.sum(dim=1, keepdim=True)
            notes.append(f"patch projection summed over {proj.shape[1]} input channels into 1")
    pos = state.get(_POSITIONS)
    if pos is not None and tuple(old_grid) != tuple(model.grid):
        state[_POSITIONS] = resize_position_embeddings(
            pos,
            special_tokens=model.special_tokens,
            old_grid=old_grid,
            new_grid=model.grid,
            mode="bicubic" if model.kind == "vit" else "crop",
        )
        how = "bicubic" if model.kind == "vit" else "centre crop/interpolation"
        notes.append(f"position embeddings {old_grid[0]}x{old_grid[1]} -> {model.grid[0]}x{model.grid[1]} ({how})")
    return state, notes


def _load_backbone(
    model: TeacherRegressor,
    state: dict[str, torch.Tensor],
    source: str,
    notes: list[str],
    *,
    ignored: Sequence[str] = (),
    head_note: str = "missing (new, randomly initialised): {n} head tensors",
) -> str:
    """Load an adapted backbone state; error on anything missing or misshapen. Returns a report."""
    target = model.backbone.state_dict()
    missing = sorted(set(target) - set(state))
    unexpected = sorted(set(ignored) | (set(state) - set(target)))
    wrong = sorted(k for k in set(target) & set(state) if target[k].shape != state[k].shape)
    if missing or wrong:
        details = []
        if missing:
            details.append(f"missing backbone weights: {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}")
        if wrong:
            details.append(
                "shape mismatches: "
                + ", ".join(f"{k} {tuple(state[k].shape)} vs {tuple(target[k].shape)}" for k in wrong[:5])
            )
        raise CheckpointError(
            f"{source}: the checkpoint does not fit the teacher backbone ({'; '.join(details)}); it may be "
            "truncated, of another architecture, or saved by an incompatible transformers version"
        )
    model.backbone.load_state_dict({k: state[k] for k in target}, strict=True)
    head = sorted(k for k in model.state_dict() if k.startswith("head."))
    parts = [f"loaded {len(target)} backbone tensors"]
    parts += notes
    parts.append(head_note.format(n=len(head)))
    parts.append(f"unexpected (ignored): {', '.join(unexpected) if unexpected else 'none'}")
    return "; ".join(parts)


def _hf_grid(kind: str, config: PreTrainedConfig) -> tuple[int, int]:
    """Patch grid of a Hugging Face ViT/AST checkpoint, from its config."""
    if kind == "vit":
        image = _pair(config.image_size, "image_size")
        patch = _pair(config.patch_size, "patch_size")
        return image[0] // patch[0], image[1] // patch[1]
    return (
        (config.num_mel_bins - config.patch_size) // config.frequency_stride + 1,
        (config.max_length - config.patch_size) // config.time_stride + 1,
    )


def _from_hf_source(
    source: _Source, name: str, options: dict[str, Any], *, n_mels: int, frames: int
) -> tuple[TeacherRegressor, str]:
    """A teacher whose backbone starts from a Hugging Face ViT/AST checkpoint."""
    kind_name = _KIND_BY_HF_TYPE[source.hf_type]
    if kind_name != options["kind"]:
        raise CheckpointError(
            f"{name} is a {source.hf_type} checkpoint but model.kind={options['kind']}; set model.kind={kind_name}"
        )
    spec = TEACHER_KINDS.get(kind_name)
    assert source.hf_folder is not None
    config = spec.config_class.from_dict(read_json(source.hf_folder / CONFIG_NAME))
    patch = _pair(config.patch_size, "patch_size")
    if patch != tuple(options["patch_size"]):
        raise CheckpointError(
            f"{name} uses {patch[0]}x{patch[1]} patches but model.patch_size={list(options['patch_size'])}; set "
            f"model.patch_size=[{patch[0]}, {patch[1]}] (pretrained patch projections are not resized)"
        )
    extra: dict[str, Any] = {}
    if kind_name == "ast":
        if config.num_mel_bins != n_mels:
            raise CheckpointError(
                f"{name} is an AST trained on {config.num_mel_bins} mel bins but features.n_mels={n_mels}; set "
                f"features.n_mels={config.num_mel_bins} (AST front end: audio.sample_rate=16000, features.n_fft=400, "
                "features.hop_length=160, features.fmin=20, features.fmax=8000)"
            )
        extra["stride"] = (config.frequency_stride, config.time_stride)
    _check_freeze(options["freeze_blocks"], config.num_hidden_layers, f"checkpoint {name}")
    model = TeacherRegressor(
        n_mels=n_mels,
        frames=frames,
        hidden_size=config.hidden_size,
        num_layers=config.num_hidden_layers,
        num_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size,
        hidden_act=config.hidden_act,
        layer_norm_eps=config.layer_norm_eps,
        qkv_bias=config.qkv_bias,
        backbone_dropout=config.hidden_dropout_prob,
        **extra,
        **options,
    )
    state, ignored = _hf_backbone_state(spec, source, name)
    state, notes = _adapt_backbone(model, state, old_grid=_hf_grid(kind_name, config), source=name)
    return model, _load_backbone(model, state, name, notes, ignored=ignored)


def _hf_backbone_state(spec: _Kind, source: _Source, name: str) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Load a Hugging Face checkpoint with transformers (which maps old key names to current ones).

    Returns the backbone state dict and the checkpoint tensors it ignored (pooler, classifier).
    Missing or misshapen weights are errors, never random initialisation.
    """
    assert source.hf_folder is not None
    with tempfile.TemporaryDirectory(prefix="moodscape-ckpt-") as tmp:
        folder = source.hf_folder
        if source.weights != source.hf_folder and source.weights.name != WEIGHTS_NAME:
            # A bare file with config.json beside it: give transformers the layout it expects.
            folder = Path(tmp)
            for link, target in ((CONFIG_NAME, source.hf_folder / CONFIG_NAME), (WEIGHTS_NAME, source.weights)):
                try:
                    (folder / link).symlink_to(target.resolve())
                except OSError:  # no symlinks on this filesystem
                    shutil.copyfile(target, folder / link)
        try:
            loaded, info = spec.model_class.from_pretrained(
                str(folder),
                use_safetensors=True,
                local_files_only=True,
                output_loading_info=True,
                dtype=torch.float32,
                **spec.model_kwargs,
            )
        except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as exc:
            raise CheckpointError(
                f"{name} ({source.path}): transformers could not load the checkpoint ({_short(exc)})."
                f"{_pickle_hint(source.hf_folder)}"
            ) from exc
    problems = {k: sorted(v) for k, v in info.items() if k in ("missing_keys", "mismatched_keys") and v}
    if problems or info.get("error_msgs"):
        raise CheckpointError(
            f"{name} ({source.path}): incomplete checkpoint, transformers reports {problems or info['error_msgs']}; "
            "re-download it (a partial download leaves weights missing)"
        )
    return {k: v.detach() for k, v in loaded.state_dict().items()}, sorted(info.get("unexpected_keys") or ())


def _teacher_from_payload(payload: dict[str, Any], where: Path, **overrides: Any) -> TeacherRegressor:
    args = constructor_args(payload, where, "teacher")
    try:
        return TeacherRegressor(**{**args, **overrides})
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{where}: cannot rebuild the teacher from its config ({_short(exc)})") from exc


def _from_moodscape_source(
    source: _Source, name: str, options: dict[str, Any], *, n_mels: int, frames: int
) -> tuple[TeacherRegressor, str]:
    """A teacher that starts from a moodscape teacher (backbone and head), e.g. to fine-tune it further."""
    payload = source.moodscape or {}
    args = payload.get("args") if isinstance(payload.get("args"), dict) else {}
    saved_kind = payload.get("kind", args.get("kind"))
    if saved_kind != options["kind"]:
        raise CheckpointError(
            f"{name} is a moodscape {saved_kind} teacher but model.kind={options['kind']}; set model.kind={saved_kind}"
        )
    if args.get("n_mels") != n_mels:
        raise CheckpointError(
            f"{name} was trained on {args.get('n_mels')} mel bands but features.n_mels={n_mels}; set "
            f"features.n_mels={args.get('n_mels')} (and the rest of its front-end settings)"
        )
    if tuple(args.get("patch_size", ())) != tuple(options["patch_size"]):
        raise CheckpointError(
            f"{name} uses patch_size={args.get('patch_size')} but model.patch_size={list(options['patch_size'])}; "
            f"set model.patch_size={args.get('patch_size')}"
        )
    if args.get("head_hidden") != options["head_hidden"]:
        logger.warning("model.head_hidden=%s ignored: %s keeps its own head (head_hidden=%s)",
                       options["head_hidden"], name, args.get("head_hidden"))  # fmt: skip
    _check_freeze(options["freeze_blocks"], int(args.get("num_layers", 0)), f"checkpoint {name}")
    saved = _teacher_from_payload(payload, source.path)
    load_exact(saved, _load_safetensors(source.weights), source.path)
    model = _teacher_from_payload(
        payload, source.path, frames=frames, dropout=options["dropout"], freeze_blocks=options["freeze_blocks"]
    )
    backbone = {k: v for k, v in saved.backbone.state_dict().items()}
    state, notes = _adapt_backbone(model, backbone, old_grid=saved.grid, source=name)
    report = _load_backbone(model, state, name, notes, head_note="head: {n} tensors loaded from the teacher")
    model.head.load_state_dict(saved.head.state_dict())
    return model, report
