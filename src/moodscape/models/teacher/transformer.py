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

Weights and pretrained checkpoints: :mod:`moodscape.models.teacher.build`.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import ASTConfig, ViTConfig

from ...errors import CheckpointError, ParameterError, SettingError
from ..optim import parameter_groups
from ..serialization import Pretrained
from .files import read_source
from .kinds import CHECKPOINT_TYPE, METADATA_KEY, POOLINGS, TEACHER_KINDS, TEACHER_PRESETS, Pooling, pair

__all__ = ["TeacherRegressor"]

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------- model


class TeacherRegressor(Pretrained):
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

    MODEL_TYPE, METADATA_KEY, WHAT = CHECKPOINT_TYPE, METADATA_KEY, "teacher"

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
        patch = pair(patch_size, "patch_size")
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
            self.stride = patch if stride is None else pair(stride, "stride")
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
            raise ParameterError(
                f"TeacherRegressor expects log-mel windows of shape (batch, n_mels={self.n_mels}, "
                f"frames={self.frames}), got {tuple(x.shape)}; windows must have the length the model "
                f"was built for"
            )
        if not x.is_floating_point():
            raise ParameterError(f"TeacherRegressor expects a floating-point log-mel window, got {x.dtype}")

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
        """AdamW groups of the trainable parameters (see :func:`moodscape.models.optim.parameter_groups`): the
        head apart from the backbone; no decay on CLS/distillation tokens and position embeddings either."""
        return parameter_groups(self, in_head=lambda name: name.startswith("head."), lr_backbone=lr_backbone,
                                lr_head=lr_head, weight_decay=weight_decay,
                                no_decay=("cls_token", "distillation_token", "position_embeddings"))  # fmt: skip

    # ---------------------------------------------------------------------------- save/load

    @classmethod
    def read_checkpoint(cls, path: Path) -> tuple[Path, dict[str, Any]]:
        """A moodscape teacher folder or file; a Hugging Face ViT/AST checkpoint is refused with the way to
        start a teacher from it, a pickled one with the way to convert it."""
        if not path.exists():
            raise CheckpointError(f"teacher checkpoint not found: {path}")
        source = read_source(path)
        if source.moodscape is None:
            raise CheckpointError(
                f"{path} is a Hugging Face {source.hf_type} checkpoint, not a moodscape teacher; start a "
                f"teacher from it with build_teacher(TeacherConfig(kind=..., pretrained='{path}'), ...)"
            )
        return source.weights, source.moodscape
