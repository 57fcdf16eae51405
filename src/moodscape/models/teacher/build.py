"""Building a teacher from ``teacher`` settings: a preset with random weights, or pretrained weights
adapted to the spectrogram grid.

Weights (``teacher.pretrained`` in the config, see :func:`build_teacher`)
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
    the checkpoint's patch size is kept: a different ``teacher.patch_size`` raises an error (resizing
    patch kernels degrades them); position embeddings (CLS + 14x14 for 224 px) are resampled with
    2-D bicubic interpolation to the ``ceil(n_mels/ph) x ceil(frames/pw)`` grid; the pooler is
    ignored. Loaded/missing/unexpected keys are logged; any missing backbone weight is an error.

AST checkpoints (e.g. ``MIT/ast-finetuned-audioset-10-10-0.4593``)
    Supported: architecture, strides and weights come from the checkpoint. Front-end settings:
    ``features.n_mels`` must equal the checkpoint's ``num_mel_bins`` (128; checked) and
    ``teacher.patch_size`` its patch (16x16; checked). To match AST's kaldi fbank use
    ``audio.sample_rate=16000``, ``features.n_fft=400`` (25 ms), ``features.hop_length=160`` (10 ms),
    ``features.fmin=20``, ``features.fmax=8000``, ``features.normalization=global``. AudioSet AST saw
    1024 frames (10.24 s); a shorter window keeps the centre of its time position embeddings (as the
    AST reference code does), a longer one interpolates them. Remaining differences (kaldi's povey
    window and natural log vs librosa's Hann and dB, AST's global mean -4.27 / std 4.57 scaled to
    std ~0.5 vs moodscape's per-band z-scores) are left to fine-tuning.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from torch import nn
from transformers import PreTrainedConfig

from ...config import TeacherConfig
from ...errors import CheckpointError, ConfigError, ParameterError
from ..pretrained.hub import resolve_pretrained, short_error
from ..pretrained.musicnn import MUSICNN_JOIN, SHIPPED, load_musicnn
from ..serialization import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    load_exact,
    read_json,
    read_weights,
)
from .files import Source, pickle_hint, read_source
from .kinds import KIND_BY_HF_TYPE, TEACHER_KINDS, TEACHER_PRESETS, BackboneSize, Kind, pair
from .musicnn_head import MusicnnRegressor
from .transformer import TeacherRegressor

__all__ = ["build_teacher", "resize_position_embeddings"]

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------- the builder


def build_teacher(model_cfg: TeacherConfig, *, n_mels: int, frames: int) -> TeacherRegressor | MusicnnRegressor:
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
    if model_cfg.kind == "musicnn":
        return _musicnn_teacher(model_cfg, n_mels=n_mels, frames=frames)
    spec = TEACHER_KINDS.get(model_cfg.kind)
    size = TEACHER_PRESETS.get(model_cfg.preset)
    pretrained = model_cfg.pretrained.strip()
    if not pretrained:
        raise ConfigError("teacher.pretrained is empty; give a local folder, a Hugging Face Hub name, or none")
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
            logger.warning("teacher.freeze_blocks=%d freezes randomly initialised blocks", model_cfg.freeze_blocks)
        model = TeacherRegressor(n_mels=n_mels, frames=frames, **size.as_kwargs(), **options)
        logger.info(
            "teacher: %s %s, random initialisation (teacher.pretrained=none), %.2fM parameters",
            spec.name, model_cfg.preset, _count(model) / 1e6,
        )  # fmt: skip
        return model

    path = resolve_pretrained(pretrained)
    source = read_source(path)
    if source.moodscape is not None:
        model, report = _from_moodscape_source(source, pretrained, options, n_mels=n_mels, frames=frames)
    else:
        model, report = _from_hf_source(source, pretrained, options, n_mels=n_mels, frames=frames)
    checkpoint_size = BackboneSize(
        model.hidden_size, model.num_layers, model.init_args["num_heads"], model.init_args["intermediate_size"]
    )
    if checkpoint_size != size:
        logger.warning(
            "teacher.preset=%s ignored: the checkpoint %s defines the backbone (%s)",
            model_cfg.preset, pretrained, _describe_size(checkpoint_size),
        )  # fmt: skip
    logger.info(
        "teacher: %s from %s (%s), %.2fM parameters; %s", spec.name, pretrained, path, _count(model) / 1e6, report
    )
    return model


def _musicnn_teacher(model_cfg: TeacherConfig, *, n_mels: int, frames: int) -> MusicnnRegressor:
    """musicnn (shipped weights, a saved musicnn folder, or a musicnn teacher to continue) under the config's head."""
    if n_mels != 96:
        raise ConfigError(f"teacher.kind=musicnn reads 96 mel bands, the store has {n_mels}; build the store with "
                          "musicnn's front end (configs/real-music.yaml)")  # fmt: skip
    size = TEACHER_PRESETS.get(model_cfg.preset)
    options = dict(frames=frames, head=model_cfg.head, trainable=model_cfg.trainable, head_hidden=model_cfg.head_hidden,
                   dropout=model_cfg.dropout, transformer_dim=size.hidden_size, transformer_layers=size.num_layers,
                   transformer_heads=size.num_heads)  # fmt: skip
    name = model_cfg.pretrained.strip()
    if name.lower() == "none":
        logger.warning("teacher: musicnn with random weights (teacher.pretrained=none); MSD_musicnn or MTT_musicnn "
                       "are shipped with moodscape")  # fmt: skip
        return MusicnnRegressor(backbone={"tags": [f"tag{i}" for i in range(50)]}, **options)
    path = Path(name).expanduser()
    config = path / CONFIG_NAME
    if name not in SHIPPED and config.is_file() and read_json(config).get("model_type") == MusicnnRegressor.MODEL_TYPE:
        saved = MusicnnRegressor.from_pretrained(path)
        model = MusicnnRegressor(backbone=saved.backbone.init_args, extra=[b.init_args for b in saved.extra], **options)
        for mine, theirs in zip(model.taggers, saved.taggers):
            load_exact(mine, theirs.state_dict(), path)
        logger.info("teacher: musicnn from the teacher %s (its backbone; a new %s head)", path, model_cfg.head)
        return model
    taggers = [load_musicnn(part.strip()) for part in name.split(MUSICNN_JOIN)]
    model = MusicnnRegressor(backbone=taggers[0].init_args, extra=[t.init_args for t in taggers[1:]], **options)
    for mine, pretrained in zip(model.taggers, taggers):
        mine.load_state_dict(pretrained.state_dict())
    logger.info("teacher: musicnn %s, %s head, training %s, %.2fM parameters (%.2fM trainable)",
                " + ".join(t.name for t in taggers), model_cfg.head, model_cfg.trainable, _count(model) / 1e6,
                sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6)  # fmt: skip
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
        raise ConfigError(f"teacher.freeze_blocks={freeze_blocks} but {what} has only {num_layers} blocks")


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
        raise ParameterError(
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
        raise ParameterError(f"unknown mode {mode!r}; valid: bicubic, crop")
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
                f"{want[2]}x{want[3]} patches; set teacher.patch_size=[{proj.shape[2]}, {proj.shape[3]}]"
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
        image = pair(config.image_size, "image_size")
        patch = pair(config.patch_size, "patch_size")
        return image[0] // patch[0], image[1] // patch[1]
    return (
        (config.num_mel_bins - config.patch_size) // config.frequency_stride + 1,
        (config.max_length - config.patch_size) // config.time_stride + 1,
    )


def _from_hf_source(
    source: Source, name: str, options: dict[str, Any], *, n_mels: int, frames: int
) -> tuple[TeacherRegressor, str]:
    """A teacher whose backbone starts from a Hugging Face ViT/AST checkpoint."""
    kind_name = KIND_BY_HF_TYPE[source.hf_type]
    if kind_name != options["kind"]:
        raise CheckpointError(
            f"{name} is a {source.hf_type} checkpoint but teacher.kind={options['kind']}; set teacher.kind={kind_name}"
        )
    spec = TEACHER_KINDS.get(kind_name)
    assert source.hf_folder is not None
    config = spec.config_class.from_dict(read_json(source.hf_folder / CONFIG_NAME))
    patch = pair(config.patch_size, "patch_size")
    if patch != tuple(options["patch_size"]):
        raise CheckpointError(
            f"{name} uses {patch[0]}x{patch[1]} patches but teacher.patch_size={list(options['patch_size'])}; set "
            f"teacher.patch_size=[{patch[0]}, {patch[1]}] (pretrained patch projections are not resized)"
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


def _hf_backbone_state(spec: Kind, source: Source, name: str) -> tuple[dict[str, torch.Tensor], list[str]]:
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
                f"{name} ({source.path}): transformers could not load the checkpoint ({short_error(exc)})."
                f"{pickle_hint(source.hf_folder)}"
            ) from exc
    problems = {k: sorted(v) for k, v in info.items() if k in ("missing_keys", "mismatched_keys") and v}
    if problems or info.get("error_msgs"):
        raise CheckpointError(
            f"{name} ({source.path}): incomplete checkpoint, transformers reports {problems or info['error_msgs']}; "
            "re-download it (a partial download leaves weights missing)"
        )
    return {k: v.detach() for k, v in loaded.state_dict().items()}, sorted(info.get("unexpected_keys") or ())


def _from_moodscape_source(
    source: Source, name: str, options: dict[str, Any], *, n_mels: int, frames: int
) -> tuple[TeacherRegressor, str]:
    """A teacher that starts from a moodscape teacher (backbone and head), e.g. to fine-tune it further."""
    payload = source.moodscape or {}
    args = payload.get("args") if isinstance(payload.get("args"), dict) else {}
    saved_kind = payload.get("kind", args.get("kind"))
    if saved_kind != options["kind"]:
        raise CheckpointError(
            f"{name} is a moodscape {saved_kind} teacher but teacher.kind={options['kind']}; set teacher.kind={saved_kind}"
        )
    if args.get("n_mels") != n_mels:
        raise CheckpointError(
            f"{name} was trained on {args.get('n_mels')} mel bands but features.n_mels={n_mels}; set "
            f"features.n_mels={args.get('n_mels')} (and the rest of its front-end settings)"
        )
    if tuple(args.get("patch_size", ())) != tuple(options["patch_size"]):
        raise CheckpointError(
            f"{name} uses patch_size={args.get('patch_size')} but teacher.patch_size={list(options['patch_size'])}; "
            f"set teacher.patch_size={args.get('patch_size')}"
        )
    if args.get("head_hidden") != options["head_hidden"]:
        logger.warning("teacher.head_hidden=%s ignored: %s keeps its own head (head_hidden=%s)",
                       options["head_hidden"], name, args.get("head_hidden"))  # fmt: skip
    _check_freeze(options["freeze_blocks"], int(args.get("num_layers", 0)), f"checkpoint {name}")
    saved = TeacherRegressor.from_payload(payload, source.path)
    load_exact(saved, read_weights(source.weights), source.path)
    model = TeacherRegressor.from_payload(
        payload, source.path, frames=frames, dropout=options["dropout"], freeze_blocks=options["freeze_blocks"]
    )
    backbone = {k: v for k, v in saved.backbone.state_dict().items()}
    state, notes = _adapt_backbone(model, backbone, old_grid=saved.grid, source=name)
    report = _load_backbone(model, state, name, notes, head_note="head: {n} tensors loaded from the teacher")
    model.head.load_state_dict(saved.head.state_dict())
    return model, report
