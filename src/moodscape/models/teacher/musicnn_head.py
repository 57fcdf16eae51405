"""The teacher on pretrained music features: musicnn (:mod:`moodscape.models.pretrained.musicnn`) under a head that
regresses valence and arousal from one window of musicnn's input (96 mel bands of 16 kHz audio, n_fft 512,
hop 256, ``log10(1 + 10000 mel)``, no normalisation: musicnn's own input batch norm does that).

Heads (``head``):
    * ``pooled``: musicnn's own back end (max and mean over time, batch norm, the 200-unit layer) and its
      tag logits, then dropout -> Linear -> GELU -> dropout -> Linear(2) -> tanh.
    * ``transformer``: the sequence of musicnn's frame features (front and mid end, 753 per frame)
      projected to ``transformer_dim``, with learned positions, through a small pre-norm transformer
      encoder, averaged over time, then the same MLP; the seed's transformer teacher, on pretrained music
      features instead of raw spectrogram patches.

What trains (``trainable``): ``head`` (musicnn frozen), ``backend`` (also its back end: the pooled head
only), ``midend`` (also the three mid-end convolutions) or ``all``. Frozen parts keep their batch-norm
statistics in training mode too; their learning rate is ``lr_backbone``, the head's ``lr_head``.

Several taggers (``extra``: e.g. MTT_musicnn beside MSD_musicnn) read the same window side by side: the pooled
head concatenates their embeddings (each its own back end), the transformer head their frame features. Trained on
different tags (last.fm's on the Million Song Dataset, MagnaTagATune's), the two see music differently, and on
4q-dev together they place more songs in the right quadrant than either alone (BENCHMARKS.md).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ...errors import ParameterError, SettingError
from ..optim import parameter_groups
from ..pretrained.musicnn import Musicnn
from ..serialization import Pretrained

__all__ = ["HEADS", "TRAINABLE", "MusicnnRegressor"]

HEADS = ("pooled", "transformer")
TRAINABLE = ("head", "backend", "midend", "all")
_BACKEND = ("pool_bn", "dense", "dense_bn", "classifier")


class MusicnnRegressor(Pretrained):
    """musicnn + a valence/arousal head: (batch, 96, frames) -> (batch, 2) on [-1, 1].

    Args:
        frames: frames of the input window (positions of the transformer head).
        backbone: the :class:`~moodscape.models.pretrained.musicnn.Musicnn` constructor arguments.
        extra: the constructor arguments of further taggers read beside it (see the module docstring).
        head, trainable: see the module docstring.
        head_hidden, dropout: the MLP's hidden width and dropout.
        transformer_dim, transformer_layers, transformer_heads: the transformer head's size.
    """

    MODEL_TYPE = "moodscape-musicnn-teacher"
    METADATA_KEY = "moodscape_musicnn_teacher"
    WHAT = "teacher"
    kind = "musicnn"

    def __init__(self, *, frames: int, backbone: dict[str, Any], extra: list[dict[str, Any]] | None = None,
                 head: str = "pooled", trainable: str = "backend", head_hidden: int = 64, dropout: float = 0.3,
                 transformer_dim: int = 128, transformer_layers: int = 2, transformer_heads: int = 4) -> None:  # fmt: skip
        super().__init__()
        if head not in HEADS:
            raise SettingError(f"teacher head {head!r}; choose one of {', '.join(HEADS)}")
        if trainable not in TRAINABLE:
            raise SettingError(f"teacher trainable {trainable!r}; choose one of {', '.join(TRAINABLE)}")
        if head == "transformer" and transformer_dim % transformer_heads:
            raise SettingError(f"transformer_dim ({transformer_dim}) must be a multiple of transformer_heads "
                               f"({transformer_heads})")  # fmt: skip
        self._init_args = {"frames": int(frames), "backbone": dict(backbone), "head": head, "trainable": trainable,
                           "head_hidden": head_hidden, "dropout": dropout, "transformer_dim": transformer_dim,
                           "transformer_layers": transformer_layers, "transformer_heads": transformer_heads}  # fmt: skip
        if extra:  # written only when used, so that single-tagger checkpoints keep their config.json
            self._init_args["extra"] = [dict(e) for e in extra]
        self.frames, self.head_kind, self.trainable = int(frames), head, trainable
        self.backbone = Musicnn(**backbone)
        # Kept apart from ``backbone`` so that the weights of single-tagger checkpoints keep their names.
        self.extra = nn.ModuleList(Musicnn(**e) for e in extra or [])
        self.n_mels = self.backbone.n_mels
        if any(b.n_mels != self.n_mels for b in self.extra):
            raise ParameterError(f"every musicnn tagger of one teacher reads the same input: {self.n_mels} mel bands "
                                 f"and {[b.n_mels for b in self.extra]}")  # fmt: skip
        if head == "pooled":
            width = sum(b.dense.out_features + b.classifier.out_features for b in self.taggers)
        else:
            width = transformer_dim
            self.project = nn.Linear(sum(b.frame_dim for b in self.taggers), transformer_dim)
            self.positions = nn.Parameter(torch.zeros(1, self.frames, transformer_dim))
            layer = nn.TransformerEncoderLayer(transformer_dim, transformer_heads, 2 * transformer_dim, dropout,
                                               activation="gelu", batch_first=True, norm_first=True)  # fmt: skip
            self.encoder = nn.TransformerEncoder(layer, transformer_layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(transformer_dim)
        self.hidden_size = width
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, head_hidden), nn.GELU(), nn.Dropout(dropout),
                                  nn.Linear(head_hidden, 2))  # fmt: skip
        self._freeze()

    @property
    def input_shape(self) -> tuple[int, int]:
        return (self.n_mels, self.frames)

    @property
    def taggers(self) -> list[Musicnn]:
        """Every musicnn tagger the teacher reads, the first (``backbone``) first."""
        return [self.backbone, *self.extra]

    def _trained_backbone_parts(self) -> list[nn.Module]:
        parts: list[nn.Module] = []
        for b in self.taggers:
            parts += [b.input_bn, b.timbral, b.temporal] if self.trainable == "all" else []
            parts += [b.midend] if self.trainable in ("midend", "all") else []
            trains_backend = self.trainable != "head" and self.head_kind == "pooled"
            parts += [getattr(b, n) for n in _BACKEND] if trains_backend else []
        return parts

    def _freeze(self) -> None:
        for b in self.taggers:
            b.requires_grad_(False)
        for part in self._trained_backbone_parts():
            part.requires_grad_(True)

    def train(self, mode: bool = True) -> MusicnnRegressor:
        """Frozen parts of musicnn keep their pretrained batch-norm statistics."""
        super().train(mode)
        if mode:
            for b in self.taggers:
                b.eval()
            for part in self._trained_backbone_parts():
                part.train()
        return self

    @property
    def frozen_pooling(self) -> bool:
        """True when everything up to musicnn's pooled features is frozen (the pooled head, musicnn training at
        most its back end): a window's pooled features can then be computed once and reused
        (:meth:`pooled`, :meth:`embed_pooled`; see moodscape.training.musicnn_cache)."""
        return self.head_kind == "pooled" and self.trainable in ("head", "backend")

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, 96, frames) -> (batch, 1506 per tagger), musicnn's pooled features of each window."""
        return torch.cat([b.pool(b.frame_features(x)) for b in self.taggers], dim=1)

    def embed_pooled(self, pooled: torch.Tensor) -> torch.Tensor:
        """The pooled head's embedding from :meth:`pooled`'s features: each tagger's 200-unit layer and tag logits."""
        parts = torch.split(pooled, [2 * b.frame_dim for b in self.taggers], dim=1)
        return torch.cat([out for b, part in zip(self.taggers, parts) for out in b.back_end(part)], dim=1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, 96, frames) -> (batch, hidden_size), the embedding the head reads."""
        if x.dim() != 3 or x.shape[1] != self.n_mels:
            raise ParameterError(f"musicnn teacher expects (batch, {self.n_mels}, frames) windows, got {tuple(x.shape)}")
        if self.head_kind == "pooled":
            return self.embed_pooled(self.pooled(x))
        if x.shape[2] != self.frames:
            raise ParameterError(f"the transformer head was built for {self.frames} frames, got {x.shape[2]}")
        frames = torch.cat([b.frame_features(x) for b in self.taggers], dim=1)
        sequence = self.project(frames.transpose(1, 2)) + self.positions
        return self.norm(self.encoder(sequence)).mean(dim=1)

    def regress(self, embedding: torch.Tensor) -> torch.Tensor:
        """The head on an embedding of :meth:`embed`: (batch, hidden_size) -> (batch, 2) on [-1, 1]."""
        return torch.tanh(self.head(embedding))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.regress(self.embed(x))

    def parameter_groups(self, *, lr_backbone: float, lr_head: float, weight_decay: float = 0.0) -> list[dict[str, Any]]:
        """musicnn's trained parts at ``lr_backbone``, the head (and the transformer) at ``lr_head``."""
        return parameter_groups(self, in_head=lambda name: not name.startswith(("backbone.", "extra.")), lr_backbone=lr_backbone,
                                lr_head=lr_head, weight_decay=weight_decay, no_decay=("positions",))  # fmt: skip
