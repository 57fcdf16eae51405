"""One training loop shared by every trainer (:class:`EpochLoop`): epochs, per-epoch seeding, exact
resume, checkpoints, early stopping, history and logging. :class:`Trainer` adds one optimiser's steps
(warm-up + cosine schedule, gradient accumulation and clipping, an optional weight average) for the
teacher and the student; the GAN trainer brings its two optimisers' steps.

Trainers implement only what differs: the model, one epoch's batches, the loss of a batch, the
validation metrics, and what goes into ``moodscape.json``.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import logging
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn
from tqdm.auto import tqdm

from ..config import Config, RuntimeConfig, TrainingConfig, config_to_dict, load_config, save_config
from ..errors import CheckpointError, ConfigError
from ..faults import crash_point
from ..features.prepare import PreparedData, prepare_data
from ..models.checkpoint import EMA_DIR, read_training_state, recover, write_checkpoint
from ..models.device import resolve_device
from ..models.ema import EMA
from ..models.serialization import load_exact
from .distributed import SINGLE, Cluster, resolve_distributed, start_cluster

log = logging.getLogger(__name__)

EMA_UNSHARDABLE = ("ema_decay with distributed.strategy=fsdp: the weight average would need every step's whole "
                   "weights; use distributed.strategy=ddp, or no weight average")  # fmt: skip


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """Mixed precision on CUDA only (CPU runs stay exact and deterministic)."""
    if device.type != "cuda" or precision == "fp32":
        return None
    if precision == "fp16":
        return torch.float16
    if precision == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def warmup_cosine(total_steps: int, warmup_steps: int):
    """LR multiplier: linear warm-up, then cosine decay to zero."""

    def factor(step: int) -> float:
        if warmup_steps > 0 and step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


class EpochLoop(ABC):
    """The epochs every trainer runs: per-epoch seeding, resume from ``last/``, the model kept on
    improvement, ``last/`` and ``history.csv`` written after every epoch, early stopping and the log.

    Subclasses provide the steps (:meth:`train_epoch`), what is measured after them (:meth:`end_epoch`),
    and how their models and optimisers are written to and read from a folder.

    Across several processes (``cluster``), training numbers are averaged over them, :meth:`end_epoch`
    runs on process 0 and its numbers reach every process (so they stop together), and only process 0
    writes; each process draws its own random numbers (process 0 those of a run of one process).
    """

    #: Extra words of the per-epoch numpy seed, so that two trainers of one run draw different windows.
    rng_stream: tuple[int, ...] = ()

    def __init__(
        self,
        *,
        epochs: int,
        patience: int | None,
        device: str,
        threads: int | None,
        seed: int,
        out_dir: str | Path,
        progress: bool = True,
        cluster: Cluster = SINGLE,
    ) -> None:
        self.epochs, self.patience, self.seed, self.cluster = epochs, patience, seed, cluster
        self.progress = progress and cluster.is_main
        self.out_dir = Path(out_dir)
        self.device = cluster.device if cluster.distributed else resolve_device(device)
        if threads is not None:
            torch.set_num_threads(threads)

    # --- what a trainer provides ---------------------------------------------------------------
    def start(self) -> None:
        """Called once before the first epoch (and before resuming): models to the device, optimisers."""

    @abstractmethod
    def train_epoch(self, epoch: int, rng: np.random.Generator) -> dict[str, float]:
        """One epoch of steps; ``rng`` is seeded from (seed, epoch, *rng_stream), torch's from (seed, epoch).
        Returns the epoch's training numbers (they open its history row)."""

    def gather(self) -> None:
        """Called on every process after the steps: collect what process 0 measures and writes when each
        process holds only a shard of it."""

    def end_epoch(self) -> dict[str, float]:
        """What is measured after the steps (validation, monitors); follows the training numbers in history."""
        return {}

    def score(self, record: dict[str, float]) -> float | None:
        """Higher is better; drives best/ and early stopping. None: no model selection."""
        return None

    def log_epoch(self, record: dict[str, float], improved: bool) -> None:
        """One log line per epoch."""
        log.info("epoch %d/%d %s", record["epoch"], self.epochs, record)

    @abstractmethod
    def save_model(self, record: dict[str, float], improved: bool) -> None:
        """Write the model people use (best/, or the GAN's generator/) when it should change."""

    @abstractmethod
    def save_last(self, directory: Path, state: dict[str, Any]) -> None:
        """Write everything needed to go on training, with the loop's ``state`` (epoch, history, best, stale)."""

    @abstractmethod
    def load_last(self, directory: Path) -> dict[str, Any]:
        """Restore what :meth:`save_last` wrote; return the loop's state."""

    # --- the loop --------------------------------------------------------------------------------
    def fit(self, *, resume: bool = False) -> list[dict[str, float]]:
        """Train; returns the history. ``resume`` continues from ``last/`` with identical results."""
        cluster = self.cluster
        with cluster.main_first():
            self.out_dir.mkdir(parents=True, exist_ok=True)
            last_dir = recover(self.out_dir / "last")
        self.start()
        history: list[dict[str, float]] = []
        best, stale, start = -math.inf, 0, 0
        if resume:
            if not last_dir.exists():
                raise CheckpointError(f"nothing to resume in {self.out_dir}: no last/ checkpoint; run without --resume")
            state = self.load_last(last_dir)
            saved_world = state.get("world_size", 1)
            if saved_world != cluster.world_size:
                raise CheckpointError(
                    f"{last_dir} was written by a run of {saved_world} process(es); resume it with the same number "
                    f"(now {cluster.world_size}: set --devices/--num-nodes as before), or start a new run folder"
                )
            history, start = state["history"], state["epoch"]
            best, stale = state.get("best", -math.inf), state.get("stale", 0)
            log.info("resuming %s at epoch %d of %d", self.out_dir, start + 1, self.epochs)
            if start >= self.epochs or (self.patience is not None and stale >= self.patience):
                log.info("%s already finished", self.out_dir)
                return history

        with cluster.failures(last_dir):
            for epoch in range(start, self.epochs):
                began = time.perf_counter()
                torch.manual_seed(self.seed * 100_003 + epoch + 1_000_003 * cluster.rank)
                rng = np.random.default_rng([self.seed, epoch, *self.rng_stream])
                record = {"epoch": epoch + 1, **cluster.mean(self.train_epoch(epoch, rng))}
                self.gather()
                record.update(cluster.broadcast(self.end_epoch() if cluster.is_main else None))
                record["seconds"] = time.perf_counter() - began
                history.append(record)
                score = self.score(record)
                improved = score is not None and score > best
                if improved:
                    best, stale = score, 0
                elif score is not None:
                    stale += 1
                if cluster.is_main:
                    self.log_epoch(record, improved)
                    self.save_model(record, improved)
                    crash_point(f"epoch {epoch + 1} best")
                    state = {"epoch": epoch + 1, "history": history, "best": best, "stale": stale}
                    self.save_last(last_dir, {**state, "world_size": cluster.world_size} if cluster.distributed else state)
                    write_history(self.out_dir / "history.csv", history)
                crash_point(f"epoch {epoch + 1} saved", cluster.rank)
                if self.patience is not None and stale >= self.patience:
                    log.info("early stop: no better validation score for %d epochs", stale)
                    break
        cluster.barrier()
        return history


class Trainer(EpochLoop):
    """One model, one AdamW optimiser: warm-up + cosine schedule, gradient accumulation and clipping, an
    optional weight average (EMA); best/ by validation CCC. Subclasses set ``self.model`` and implement
    the abstract methods.

    With ``ema_decay`` set, the weight average is what is validated and kept as ``best/``; ``last/``
    holds the live weights (to go on training) and the average in ``last/ema/``.
    """

    model: nn.Module
    #: Methods of ``self.model`` that training calls besides ``forward`` (they must pass the data-parallel wrapper).
    forward_methods: tuple[str, ...] = ()

    def __init__(
        self,
        train: TrainingConfig,
        runtime: RuntimeConfig,
        *,
        seed: int,
        out_dir: str | Path,
        progress: bool = True,
        cluster: Cluster = SINGLE,
    ) -> None:
        super().__init__(epochs=train.epochs, patience=train.patience, device=runtime.device, threads=runtime.threads,
                         seed=seed, out_dir=out_dir, progress=progress, cluster=cluster)  # fmt: skip
        self.cfg = train
        self.amp_dtype = autocast_dtype(runtime.precision, self.device)

    @abstractmethod
    def parameter_groups(self) -> list[dict[str, Any]]:
        """AdamW parameter groups with their learning rates and weight decay."""

    @abstractmethod
    def batches(self, epoch: int, rng: np.random.Generator) -> Iterator[Any]:
        """One epoch of training batches."""

    @abstractmethod
    def batches_per_epoch(self) -> int:
        """Number of batches :meth:`batches` yields."""

    @abstractmethod
    def loss(self, batch: Any) -> torch.Tensor:
        """Loss of one batch, model in train mode."""

    @abstractmethod
    def validate(self, model: nn.Module) -> dict[str, float]:
        """Validation metrics of ``model`` (the live model, or its weight average); must include
        ``val_ccc_mean`` (higher is better)."""

    @abstractmethod
    def checkpoint_meta(self) -> dict[str, Any]:
        """What ``moodscape.json`` holds besides metrics: front end, normalisation, config."""

    def start(self) -> None:
        self.start_checks()
        self.model.to(self.device)
        if self.cluster.sharded:
            if self.cfg.ema_decay is not None:
                raise ConfigError(EMA_UNSHARDABLE)
            # Process 0 validates and writes a whole copy, refreshed from the shards after every epoch.
            self.whole = copy.deepcopy(self.model) if self.cluster.is_main else None
        # What the steps call: the model itself, or its data-parallel wrapper (same weights) across processes.
        self.net = self.cluster.wrap(self.model, forward_methods=self.forward_methods)
        self.ema = EMA(self.model, decay=self.cfg.ema_decay) if self.cfg.ema_decay is not None else None
        self.optimizer = torch.optim.AdamW(self.parameter_groups())
        steps_per_epoch = math.ceil(self.batches_per_epoch() / self.cfg.grad_accum)
        schedule = warmup_cosine(self.cfg.epochs * steps_per_epoch, round(self.cfg.warmup_epochs * steps_per_epoch))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)

    @property
    def evaluated(self) -> nn.Module:
        """The model that is validated and kept: the weight average when there is one (with sharded weights:
        process 0's whole copy)."""
        if self.cluster.sharded:
            return self.whole
        return self.model if self.ema is None else self.ema.model

    def gather(self) -> None:
        if self.cluster.sharded:
            weights = self.cluster.full_state(self.model)
            self.optimizer_state = self.cluster.full_optimizer_state(self.model, self.optimizer)
            if self.cluster.is_main:
                self.whole.load_state_dict(weights)

    def has_validation(self) -> bool:
        """Whether there are validation songs to measure after each epoch."""
        return True

    def start_checks(self) -> None:
        if self.cfg.select == "best" and not self.has_validation():
            raise ConfigError("no validation songs to choose the best epoch by: set select=last (and patience=null) "
                              "to keep the final epoch, or give split.val > 0")  # fmt: skip

    def end_epoch(self) -> dict[str, float]:
        self.metrics = self.validate(self.evaluated) if self.has_validation() else {}
        return {**self.metrics, "lr": self.optimizer.param_groups[0]["lr"]}

    def score(self, record: dict[str, float]) -> float | None:
        """The validation CCC that picks best/, or None with select=last (best/ follows every epoch)."""
        return record["val_ccc_mean"] if self.cfg.select == "best" else None

    def log_epoch(self, record: dict[str, float], improved: bool) -> None:
        log.info(
            "epoch %d/%d  loss %.4f  val CCC valence %.3f arousal %.3f%s",
            record["epoch"], self.epochs, record["train_loss"], record.get("val_ccc_valence", math.nan),
            record.get("val_ccc_arousal", math.nan), "  (best)" if improved else "",
        )  # fmt: skip

    def _meta(self, record: dict[str, float]) -> dict[str, Any]:
        return {**self.checkpoint_meta(), "epoch": record["epoch"], "metrics": self.metrics}

    def save_model(self, record: dict[str, float], improved: bool) -> None:
        if improved or self.cfg.select == "last":
            write_checkpoint(self.out_dir / "best", self.evaluated, meta=self._meta(record))

    def save_last(self, directory: Path, state: dict[str, Any]) -> None:
        state = {**state, "scheduler": self.scheduler.state_dict()}
        if self.ema is not None:
            state["ema_updates"] = self.ema.updates
        sharded = self.cluster.sharded
        write_checkpoint(directory, self.whole if sharded else self.model, meta=self._meta(state["history"][-1]),
                         optimizers={"optimizer": self.optimizer_state if sharded else self.optimizer}, training_state=state,
                         ema=None if self.ema is None else self.ema.model)  # fmt: skip

    def load_last(self, directory: Path) -> dict[str, Any]:
        if self.cluster.sharded:  # every process reads the whole state and keeps its shard
            weights = load_file(str(directory / "model.safetensors"))
            self.cluster.load_full_state(self.model, weights)
            state = read_training_state(directory, {"optimizer": lambda saved: self.cluster.load_optimizer_state(
                self.model, self.optimizer, saved)})  # fmt: skip
        else:
            self.load_weights(directory)
            state = read_training_state(directory, {"optimizer": self.optimizer})
        if self.ema is not None:
            self._load_ema(directory, state)
        self.scheduler.load_state_dict(state["scheduler"])
        return state

    def load_weights(self, directory: Path) -> None:
        """Load a checkpoint's weights into ``self.model`` (strict: every tensor must match)."""
        load_exact(self.model, load_file(str(directory / "model.safetensors"), device=str(self.device)), directory)

    def _load_ema(self, last_dir: Path, state: dict[str, Any]) -> None:
        weights = last_dir / EMA_DIR / "model.safetensors"
        if not weights.exists() or "ema_updates" not in state:
            raise CheckpointError(
                f"{last_dir} holds no weight average ({weights} missing) although ema_decay is set; "
                "resume with the options the run was started with, or start a new run"
            )
        load_exact(self.ema.model, load_file(str(weights), device=str(self.device)), weights.parent)
        self.ema.updates = int(state["ema_updates"])

    def train_epoch(self, epoch: int, rng: np.random.Generator) -> dict[str, float]:
        self.model.train()
        optimizer, scheduler, scaler = self.optimizer, self.scheduler, self.scaler
        total, count = 0.0, 0
        optimizer.zero_grad(set_to_none=True)
        batches = self.batches_per_epoch()
        bar = tqdm(total=batches, desc=f"epoch {epoch + 1}", unit="batch", leave=False, disable=not self.progress)
        for index, batch in enumerate(self.batches(epoch, rng)):
            autocast = (
                torch.autocast(self.device.type, dtype=self.amp_dtype)
                if self.amp_dtype is not None
                else contextlib.nullcontext()
            )
            last_in_step = (index + 1) % self.cfg.grad_accum == 0 or index + 1 == batches
            with self.cluster.no_sync(self.net, skip=not last_in_step):
                with autocast:
                    loss = self.loss(batch)
                scaler.scale(loss / self.cfg.grad_accum).backward()
            crash_point(f"epoch {epoch + 1} batch {index + 1}", self.cluster.rank)
            if last_in_step:
                if self.cfg.grad_clip is not None:
                    scaler.unscale_(optimizer)
                    nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                scheduler.step()
                if self.ema is not None:
                    self.ema.update(self.model)
            total += float(loss.detach())
            count += 1
            bar.update(1)
        bar.close()
        return {"train_loss": total / max(count, 1)}


def begin_run(
    config: Config,
    out_dir: Path,
    *,
    resume: bool,
    progress: bool,
    prepared: PreparedData | None,
    unshardable: str | None = None,
) -> tuple[Config, Cluster, PreparedData]:
    """What every trainer does before its first epoch: take the world size from torchrun or srun when they
    started us, refuse a resume with another config (and ``unshardable``, the reason this run cannot shard
    its weights, when fsdp is asked for), start the processes, prepare the data (process 0 first: it may
    build the feature store the others then read) and save ``config.yaml`` (process 0)."""
    config = resolve_distributed(config)
    if unshardable and config.distributed.strategy == "fsdp" and config.distributed.world_size > 1:
        raise ConfigError(unshardable)
    check_resume_config(out_dir, config, resume)
    cluster = start_cluster(config)
    with cluster.main_first():
        prepared = prepared or prepare_data(config, progress=progress and cluster.is_main)
        if cluster.is_main:
            save_config(config, out_dir)
    return config, cluster, prepared


def check_resume_config(out_dir: Path, config: Config, resume: bool) -> None:
    """Resuming with another configuration would mix two runs: refuse it."""
    saved = out_dir / "config.yaml"
    if not (resume and saved.exists()):
        return
    before = load_config(saved)
    if before.distributed.world_size != config.distributed.world_size:
        raise ConfigError(
            f"{out_dir} was trained by {before.distributed.world_size} process(es), now {config.distributed.world_size}"
            f": resume with the same number (--devices x --num-nodes as in {saved}), or start a new run folder"
        )
    # How the processes are arranged and wait (same world size) changes neither the checkpoint nor the result.
    changed = [k for k in changed_keys(config_to_dict(before), config_to_dict(config)) if not k.startswith("distributed.")]
    if changed:
        raise ConfigError(
            f"{saved} differs from the configuration given now ({', '.join(changed)}); resume with the same "
            "--config, --set and --devices/--num-nodes options (or start a new run folder)"
        )


def changed_keys(before: dict[str, Any], now: dict[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two config trees."""
    keys = []
    for key in sorted(before.keys() | now.keys()):
        a, b = before.get(key), now.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += changed_keys(a, b, f"{prefix}{key}.")
        elif a != b:
            keys.append(prefix + key)
    return keys


def write_history(path: Path, history: list[dict[str, float]]) -> None:
    """history.csv, one row per epoch, columns in first-seen order."""
    columns: list[str] = []
    for row in history:
        columns += [k for k in row if k not in columns]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(history)
