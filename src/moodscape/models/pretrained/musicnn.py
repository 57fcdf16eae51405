"""musicnn in PyTorch: Pons and Serra's music-tagging network (ISMIR 2019 late-breaking demo), with the
weights of its ``MSD_musicnn`` and ``MTT_musicnn`` checkpoints converted from the TensorFlow 1 originals
(``scripts/convert_musicnn.py``; ISC licence, see ``pretrained/NOTICE.md``).

Input: ``(batch, 96, frames)`` mel bands of 16 kHz audio (n_fft 512, hop 256) compressed as
``log10(1 + 10000 mel)``; the models were trained on 3 s patches (187 frames), and every layer but the
padding is independent of the length. The layers, as in ``musicnn/models.py``:

* front end: batch norm of the input; timbral filters spanning 7 frames and 38 or 67 mel bands
  (204 each), temporal filters spanning 128, 64 or 32 frames and one band (51 each, TensorFlow's
  ``same`` padding: one more frame after than before for even lengths); each is ReLU, then batch norm,
  then the maximum over frequency: 561 features per frame;
* mid end: three 1-D convolutions of 7 frames (64 filters, ReLU then batch norm), the second and third
  added to their input; the frame features are the front end's and the three layers' (753);
* back end: max and mean over time (interleaved per feature, as TensorFlow flattens them), batch norm,
  a 200-unit ReLU layer and batch norm (the "penultimate" embedding), the tag layer.

TensorFlow's batch norm epsilon (1e-3) is kept; dropout layers are identity at inference and absent.

With the front end's batch norms on their running statistics (inference, and training that leaves the front
end frozen), the same features cost about a sixth: the maximum over frequency is taken before the ReLU and
batch norm, filters the training left at zero are not convolved, and the first mid-end layer reads only the
features that vary (``_Block.max_over_frequency``, ``Musicnn._first_midend``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ...errors import CheckpointError, ConfigError
from ..serialization import Pretrained
from .musicnn_spec import MUSICNN_INPUT, MUSICNN_JOIN, SHIPPED

__all__ = ["BN_EPS", "MUSICNN_INPUT", "MUSICNN_JOIN", "PRETRAINED_DIR", "SHIPPED", "Musicnn", "MusicnnOutput", "check_musicnn_store", "load_musicnn", "song_summary"]

PRETRAINED_DIR = Path(__file__).resolve().parents[2] / "pretrained"
ATTRIBUTION = ("musicnn weights (MSD_musicnn, MTT_musicnn) by Jordi Pons and Xavier Serra, Music Technology "
               "Group, Universitat Pompeu Fabra (ISMIR 2019 LBD), ISC licence; converted to PyTorch, see "
               "moodscape/pretrained/NOTICE.md")  # fmt: skip

BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization's default
TIMBRAL_SPANS = (0.4, 0.7)  # share of the mel bands a timbral filter spans (38 and 67 of 96)
TEMPORAL_SPANS = (128, 64, 32)  # frames a temporal filter spans
MIDEND_KERNEL = 7
# A front-end filter whose weights' norm is under this share of the largest in its block is dead: training
# MSD_musicnn left 181, 190, 48, 44 and 34 of the five blocks' 204, 204, 51, 51 and 51 filters at zero but for
# float noise (norms up to 1.3e-6, against at least 5.6e-3 for the live ones). Skipping them cuts the front end's
# multiply-adds about ninefold; their output is their bias.
DEAD_FILTER = 1e-4


@dataclass
class MusicnnOutput:
    """What one forward pass gives: tag logits and probabilities, and the embeddings on the way."""

    logits: torch.Tensor  # (batch, tags)
    frames: torch.Tensor  # (batch, 753, frames): front-end and mid-end features of every frame
    mean_pool: torch.Tensor  # (batch, 753)
    max_pool: torch.Tensor  # (batch, 753)
    penultimate: torch.Tensor  # (batch, 200)

    @property
    def tags(self) -> torch.Tensor:
        return torch.sigmoid(self.logits)


def _same_padding(length: int) -> tuple[int, int]:
    """TensorFlow's ``same`` padding for stride 1: the odd frame goes after."""
    return (length - 1) // 2, length - 1 - (length - 1) // 2


def _exporting() -> bool:
    """True while tracing or exporting: the weights are fixed, and may be stand-ins that hold no values."""
    return (torch.jit.is_tracing() or torch.jit.is_scripting() or torch.onnx.is_in_onnx_export()
            or torch.compiler.is_compiling())  # fmt: skip


@dataclass(frozen=True)
class _Live:
    """A block's live filters (None: all of them) for weights identified by ``key``, with the constant tensors
    that put their outputs back among every channel (made here, in eager mode, so an export only reads them)."""

    key: tuple[int, int]
    filters: list[int] | None
    index: torch.Tensor | None = None  # (live,) the live filters
    place: torch.Tensor | None = None  # (channels, live): 1 where a live filter's output goes
    dead: torch.Tensor | None = None  # (channels,): 1 for a dead filter


class _Block(nn.Module):
    """Conv -> ReLU -> batch norm, the order musicnn uses everywhere."""

    def __init__(self, conv: nn.Module, channels: int):
        super().__init__()
        self.conv = conv
        self.bn = (nn.BatchNorm2d if isinstance(conv, nn.Conv2d) else nn.BatchNorm1d)(channels, eps=BN_EPS)
        self._live: _Live | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(torch.relu(self.conv(x)))

    def train(self, mode: bool = True) -> _Block:
        super().train(mode)
        if not mode and isinstance(self.conv, nn.Conv2d) and not _exporting():  # the front end's blocks
            self._find_live()  # now, on real weights, for an export that follows
        return self

    def live_filters(self) -> list[int] | None:
        """The filters with weights, or None when every one has them (see :data:`DEAD_FILTER`); found again
        whenever the weights change (loaded, trained or moved)."""
        live = self._find_live()
        return live.filters if live is not None else None

    def _find_live(self) -> _Live | None:
        weight = self.conv.weight
        if _exporting() or weight.is_meta:
            return self._live
        # Tensors made in inference mode have no version counter: their filters are looked at every time.
        key = (weight.data_ptr(), -1 if weight.is_inference() else weight._version)
        if self._live is None or self._live.key != key or weight.is_inference():
            norms = weight.detach().flatten(1).norm(dim=1)
            live = torch.nonzero(norms >= DEAD_FILTER * norms.max()).flatten()
            if len(live) == len(norms):
                self._live = _Live(key, None)
            else:
                place = torch.zeros(len(norms), len(live), dtype=weight.dtype, device=weight.device)
                place[live, torch.arange(len(live), device=weight.device)] = 1.0
                dead = torch.ones_like(norms).index_fill(0, live, 0.0)
                self._live = _Live(key, live.tolist(), live, place, dead)
        return self._live

    def max_over_frequency(self, x: torch.Tensor) -> torch.Tensor:
        """``forward(x).amax(dim=3)`` of a front-end block, the same values at a fraction of the cost when the
        batch norm uses its running statistics (it is then ``scale * relu + shift`` per channel).

        The ReLU and the affine map are monotone per channel (decreasing where ``scale`` < 0, for most of
        musicnn's filters), and so are their float roundings: the maximum over frequency moves before them
        exactly. A decreasing channel needs the minimum of its convolution, which is minus the maximum of the
        convolution with negated weights; so one convolution and one maximum serve every channel, and the
        batch norm and ReLU run on the pooled (batch, channels, frames) features instead of every band.
        Dead filters are not convolved at all: their output is their bias at every band.
        """
        bn = self.bn
        if bn.training or bn.running_var is None:
            return self.forward(x).amax(dim=3)
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        shift = bn.bias - bn.running_mean * scale
        sign = torch.where(scale < 0, -1.0, 1.0).to(scale.dtype)
        conv, live = self.conv, self._find_live()
        weight, bias = conv.weight * sign[:, None, None, None], conv.bias * sign
        if live is None or live.filters is None:
            pooled = nn.functional.conv2d(x, weight, bias).amax(dim=3) * sign[:, None]
        else:
            index = live.index
            part = nn.functional.conv2d(x, weight[index], bias[index]).amax(dim=3) * sign[index, None]
            # Back among every channel, exactly (x * 1 + 0); the dead ones get their bias.
            pooled = torch.matmul(live.place, part) + (conv.bias * live.dead)[:, None]
        return torch.relu(pooled) * scale[:, None] + shift[:, None]


class Musicnn(Pretrained):
    """The musicnn tagger; see the module docstring for the layers and the input it expects."""

    MODEL_TYPE = "moodscape-musicnn"
    METADATA_KEY = "moodscape_musicnn"
    WHAT = "musicnn"

    def __init__(self, *, tags: list[str], n_mels: int = 96, frontend_filters: float = 1.6, midend_filters: int = 64,
                 backend_units: int = 200, name: str = "musicnn") -> None:  # fmt: skip
        super().__init__()
        self._init_args: dict[str, Any] = {"tags": list(tags), "n_mels": n_mels, "frontend_filters": frontend_filters,
                                           "midend_filters": midend_filters, "backend_units": backend_units,
                                           "name": name}  # fmt: skip
        self.name, self.tag_names, self.n_mels = name, list(tags), n_mels
        self.input_bn = nn.BatchNorm2d(1, eps=BN_EPS)
        timbral, temporal = int(frontend_filters * 128), int(frontend_filters * 32)
        self.timbral = nn.ModuleList(
            _Block(nn.Conv2d(1, timbral, (7, int(span * n_mels))), timbral) for span in TIMBRAL_SPANS
        )
        self.temporal = nn.ModuleList(_Block(nn.Conv2d(1, temporal, (span, 1)), temporal) for span in TEMPORAL_SPANS)
        self.frontend_dim = len(TIMBRAL_SPANS) * timbral + len(TEMPORAL_SPANS) * temporal
        self.midend = nn.ModuleList(
            _Block(nn.Conv1d(self.frontend_dim if i == 0 else midend_filters, midend_filters, MIDEND_KERNEL),
                   midend_filters)
            for i in range(3)
        )  # fmt: skip
        self.frame_dim = self.frontend_dim + 3 * midend_filters
        self.pool_bn = nn.BatchNorm1d(2 * self.frame_dim, eps=BN_EPS)
        self.dense = nn.Linear(2 * self.frame_dim, backend_units)
        self.dense_bn = nn.BatchNorm1d(backend_units, eps=BN_EPS)
        self.classifier = nn.Linear(backend_units, len(tags))

    def frame_features(self, mel: torch.Tensor) -> torch.Tensor:
        """(batch, n_mels, frames) compressed mel -> (batch, 753, frames) front- and mid-end features."""
        x = self.input_bn(mel.transpose(1, 2).unsqueeze(1))  # (batch, 1, frames, n_mels), as TensorFlow's NHWC
        features = []
        padded = nn.functional.pad(x, (0, 0, 3, 3))
        for block in self.timbral:
            features.append(block.max_over_frequency(padded))
        for block, span in zip(self.temporal, TEMPORAL_SPANS):
            features.append(block.max_over_frequency(nn.functional.pad(x, (0, 0, *_same_padding(span)))))
        frontend = torch.cat(features, dim=1)  # (batch, 561, frames)
        layers = [frontend]
        hidden = self._first_midend(frontend)
        layers.append(hidden)
        for block in self.midend[1:]:
            hidden = block(nn.functional.pad(hidden, (3, 3))) + hidden
            layers.append(hidden)
        return torch.cat(layers, dim=1)

    def _constant_features(self) -> list[int]:
        """The front-end features that are the same for every input: those of dead filters, when the front
        end's batch norms use their running statistics (see ``_Block.max_over_frequency``)."""
        constant, offset = [], 0
        for block in (*self.timbral, *self.temporal):
            channels = block.bn.num_features
            live = None if block.bn.training else block._find_live()
            if live is not None and live.filters is not None:
                kept = set(live.filters)
                constant += [offset + k for k in range(channels) if k not in kept]
            offset += channels
        return constant

    def _first_midend(self, frontend: torch.Tensor) -> torch.Tensor:
        """``midend[0]`` on the zero-padded front end, convolving only the features that vary: a constant
        feature adds its value times the filter taps that fall inside the frames, the same at every frame but
        the three at each end (the padding), which one small convolution of a padded row of ones gives."""
        block, constant = self.midend[0], self._constant_features()
        if not constant:
            return block(nn.functional.pad(frontend, (3, 3)))
        varying = torch.tensor(sorted(set(range(frontend.shape[1])) - set(constant)), device=frontend.device)
        constant = torch.tensor(constant, device=frontend.device)
        weight = block.conv.weight  # (filters, 561, 7)
        out = nn.functional.conv1d(nn.functional.pad(frontend.index_select(1, varying), (3, 3)),
                                   weight.index_select(1, varying), block.conv.bias)  # fmt: skip
        values = frontend[:1, :, :1].index_select(1, constant)  # (1, constant, 1): the same in every row and frame
        taps = (weight.index_select(1, constant) * values).sum(dim=1, keepdim=True)  # (filters, 1, 7)
        ones = nn.functional.pad(torch.ones_like(frontend[:1, :1]), (3, 3))
        return block.bn(torch.relu(out + nn.functional.conv1d(ones, taps)))

    @staticmethod
    def pool(frames: torch.Tensor) -> torch.Tensor:
        """(batch, 753, frames) -> (batch, 1506): max and mean over time, in TensorFlow's (feature, [max, mean])
        order."""
        return torch.stack([frames.amax(dim=2), frames.mean(dim=2)], dim=2).flatten(1)

    def back_end(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, 1506) pooled features -> the 200-unit embedding and the tag logits."""
        penultimate = self.dense_bn(torch.relu(self.dense(self.pool_bn(pooled))))
        return penultimate, self.classifier(penultimate)

    def forward(self, mel: torch.Tensor) -> MusicnnOutput:
        frames = self.frame_features(mel)
        penultimate, logits = self.back_end(self.pool(frames))
        return MusicnnOutput(logits, frames, frames.mean(dim=2), frames.amax(dim=2), penultimate)


def check_musicnn_store(store) -> None:
    """A ConfigError naming every setting of ``store`` that is not musicnn's input, with the override."""
    settings = {"audio": store.audio.model_dump(mode="json"), "features": store.features.model_dump(mode="json")}
    wrong = {key: value for key, value in MUSICNN_INPUT.items()
             if settings[key.split(".")[0]][key.split(".")[1]] != value}  # fmt: skip
    if wrong:
        found = ", ".join(f"{key}={settings[key.split('.')[0]][key.split('.')[1]]!r} (needs {value!r})"
                          for key, value in wrong.items())  # fmt: skip
        fixes = " ".join(f"--set {key}={value}" for key, value in MUSICNN_INPUT.items())
        raise ConfigError(f"musicnn reads its own input, but the store {store.directory} has {found}; "
                          f"use configs/real-music.yaml or {fixes}")


def load_musicnn(name: str = "MSD_musicnn") -> Musicnn:
    """One of the shipped musicnn taggers (:data:`SHIPPED`), or a folder saved by ``save_pretrained``."""
    folder = PRETRAINED_DIR / name if name in SHIPPED else Path(name).expanduser()
    if not folder.exists():
        raise CheckpointError(f"musicnn weights {name!r} not found: choose one of {', '.join(SHIPPED)} (shipped "
                              "with moodscape) or give a folder written by Musicnn.save_pretrained")  # fmt: skip
    return Musicnn.from_pretrained(folder)


PATCH_FRAMES = 187  # the 3 s patches musicnn was trained on


def song_summary(model: Musicnn, mel: np.ndarray, *, hop: int = PATCH_FRAMES // 2, batch: int = 32) -> dict[str, np.ndarray]:
    """A song's musicnn outputs over 3 s patches every ``hop`` frames (a song shorter than a patch is
    repeated to fill one): the mean tag probabilities, and the mean and spread of the 200-unit embedding.

    ``mel``: (96, frames) musicnn input (``features.compression=logc``). Returns ``tags`` (tags,),
    ``embedding_mean`` and ``embedding_std`` (backend_units,), and ``patches`` (how many were read).
    """
    mel = np.asarray(mel, dtype=np.float32)
    if mel.shape[1] < PATCH_FRAMES:
        mel = np.pad(mel, ((0, 0), (0, PATCH_FRAMES - mel.shape[1])), mode="wrap")
    starts = range(0, mel.shape[1] - PATCH_FRAMES + 1, hop)
    patches = torch.from_numpy(np.stack([mel[:, s : s + PATCH_FRAMES] for s in starts]))
    tags, embeddings = [], []
    model.eval()
    with torch.inference_mode():
        for first in range(0, len(patches), batch):
            out = model(patches[first : first + batch])
            tags.append(out.tags)
            embeddings.append(out.penultimate)
    t, e = torch.cat(tags).numpy(), torch.cat(embeddings).numpy()
    return {"tags": t.mean(0), "embedding_mean": e.mean(0), "embedding_std": e.std(0), "patches": np.array(len(t))}
