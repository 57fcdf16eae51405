"""Training across processes, GPUs and machines, through Lightning Fabric.

Fabric starts the processes (or finds them started by ``torchrun`` or ``srun``), sets up the process group
and wraps each model for data parallelism; our own loop (:class:`~moodscape.training.loop.EpochLoop`) keeps
the epochs, the steps and the checkpoints. A run of one process never imports Fabric and runs exactly as
before. What changes from 1 to N processes:

- each process trains on its own songs of the epoch (a seeded split of the training songs, new every epoch,
  the same on every process), and the configured batch size stays the global batch: every step, each
  process takes its share of it and the gradients are averaged, so learning rates mean the same at any N;
- validation runs on process 0 and its numbers are sent to the others (they decide early stopping together);
- only process 0 writes files; every process reads ``last/`` to resume, so it must sit on a shared disk.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ..config import Config
from ..errors import ConfigError, DistributedError

log = logging.getLogger(__name__)

# This process's rank for its whole life; read by the commands, which evaluate and print on process 0 only.
_rank = 0


def is_main_process() -> bool:
    """True in a run of one process and in process 0 of a distributed one."""
    return _rank == 0


@dataclass
class Cluster:
    """The processes of one training run; a run of one process has no Fabric and every method is trivial."""

    fabric: Any = None
    #: FSDP: every process holds a shard of the weights, gradients and optimiser state (else a full copy).
    sharded: bool = False

    @property
    def distributed(self) -> bool:
        return self.fabric is not None

    @property
    def rank(self) -> int:
        return self.fabric.global_rank if self.fabric else 0

    @property
    def world_size(self) -> int:
        return self.fabric.world_size if self.fabric else 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def device(self) -> torch.device | None:
        """The device Fabric gave this process (cuda:LOCAL_RANK on GPUs); None in a run of one process."""
        return self.fabric.device if self.fabric else None

    def wrap(self, module: nn.Module, *, forward_methods: tuple[str, ...] = ()) -> nn.Module:
        """``module`` wrapped for data-parallel training (gradients averaged over processes in backward);
        ``forward_methods`` are other methods that must go through the wrapper too. The module itself keeps
        the weights: save and validate it, train through what this returns."""
        if not self.fabric:
            return module
        wrapped = self.fabric.setup_module(module)
        for name in forward_methods:
            wrapped.mark_forward_method(name)  # through DDP's forward
            if self.sharded:  # FSDP gathers the root's weights around these too (a no-op for DDP)
                from torch.distributed.fsdp import register_fsdp_forward_method

                register_fsdp_forward_method(module, name)
        return wrapped

    # Sharded weights only (fsdp): with a whole copy per process the trainers use the module's own methods.
    def full_state(self, module: nn.Module) -> dict[str, torch.Tensor]:
        """The whole weights of sharded ``module``, on the CPU: a collective that every process calls and after
        which process 0 alone holds them (the others get an empty dict)."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        return get_model_state_dict(module, options=StateDictOptions(full_state_dict=True, cpu_offload=True))

    def load_full_state(self, module: nn.Module, state: dict[str, torch.Tensor]) -> None:
        """Load whole weights (every process read them) into sharded ``module``, each process keeping its shard."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        set_model_state_dict(module, state, options=StateDictOptions(full_state_dict=True))

    def full_optimizer_state(self, module: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        """The optimiser's whole state over sharded weights, parameters by index as ``optimizer.state_dict()`` has
        them: a collective after which process 0 alone holds it (the others get an empty dict)."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

        full = get_optimizer_state_dict(module, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        if not full:
            return {}
        index = {name: i for i, name in enumerate(name for group in full["param_groups"] for name in group["params"])}
        return {
            "state": {index[name]: value for name, value in full["state"].items()},
            "param_groups": [{**g, "params": [index[n] for n in g["params"]]} for g in full["param_groups"]],
        }

    def load_optimizer_state(self, module: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
        """Load a whole optimiser state (parameters by index; every process read it) over sharded weights."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        names = {id(p): name for name, p in module.named_parameters()}
        order = [names[id(p)] for group in optimizer.param_groups for p in group["params"]]
        full = {
            "state": {order[int(i)]: value for i, value in state["state"].items()},
            "param_groups": [{**g, "params": [order[int(i)] for i in g["params"]]} for g in state["param_groups"]],
        }
        set_optimizer_state_dict(module, optimizer, full, options=StateDictOptions(full_state_dict=True))

    def no_sync(self, wrapped: nn.Module, *, skip: bool) -> contextlib.AbstractContextManager:
        """Skip the gradient exchange of this backward (``skip``): gradient accumulation sends only once per step."""
        if not self.fabric:
            return contextlib.nullcontext()
        return self.fabric.no_backward_sync(wrapped, enabled=skip)

    def gather(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Each tensor's rows from every process, concatenated in rank order, with gradients flowing back to
        each process's own rows: a loss of the gathered batch is the loss of the global batch (CCC is a batch
        statistic: its mean over per-process batches is not the CCC of their union). Every process computes
        the same loss; the wrapper's averaging over processes then gives exactly the global batch's gradient.
        Local batches may differ in size by a few rows."""
        if not self.fabric:
            return tensors
        counts = [torch.zeros(1, dtype=torch.long, device=self.device) for _ in range(self.world_size)]
        dist.all_gather(counts, torch.tensor([len(tensors[0])], device=self.device))
        sizes = [int(n) for n in torch.cat(counts).tolist()]
        return tuple(_GatherRows.apply(tensor, sizes, self.rank) for tensor in tensors)

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """The mean over processes of each number (every process gets it)."""
        if not self.fabric or not values:
            return values
        keys = list(values)  # the same order on every process: the same code made them
        total = self.fabric.all_reduce(torch.tensor([float(values[k]) for k in keys], dtype=torch.float64), reduce_op="mean")
        return {k: float(v) for k, v in zip(keys, total.tolist())}

    def broadcast(self, value: Any) -> Any:
        """Process 0's ``value`` on every process."""
        return self.fabric.broadcast(value, src=0) if self.fabric else value

    def barrier(self) -> None:
        if self.fabric:
            self.fabric.barrier()

    @contextlib.contextmanager
    def failures(self, last_dir: Path) -> Iterator[None]:
        """A collective that fails (a process died or hangs) becomes an error that says what to do next."""
        try:
            yield
        except RuntimeError as error:
            said = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
            if not self.fabric or not any(mark in said for mark in _LOST_CONTACT):
                raise
            raise DistributedError(
                f"process {self.rank} of {self.world_size} lost contact with the others ({said}); when another "
                f"process failed, its message is above. Every finished epoch is in {last_dir}: run the same command "
                "with --resume (and the same --devices/--num-nodes)"
            ) from error

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        """Process 0 runs the block first (e.g. builds the feature store), the others after it (and read it);
        when it fails there, the others stop too instead of waiting for it."""
        if not self.fabric:
            yield
            return
        if not self.is_main:
            if not self.fabric.broadcast(None, src=0):
                raise DistributedError("process 0 stopped before training (its message is above)")
            yield
            return
        try:
            yield
        except BaseException:
            self.fabric.broadcast(False, src=0)
            raise
        self.fabric.broadcast(True, src=0)


SINGLE = Cluster()

# What the collectives' backends say when a peer process died or stopped answering.
_LOST_CONTACT = ("gloo", "NCCL", "Connection", "connection", "timed out", "Timed out", "Socket", "socket")


class _GatherRows(torch.autograd.Function):
    """Every process's rows (``sizes`` per process) concatenated; the gradient of this process's rows is the
    sum of every process's gradient for them (each computed its own copy of the loss of the gathered rows)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor, sizes: list[int], rank: int) -> torch.Tensor:
        ctx.sizes, ctx.rank = sizes, rank
        padded = nn.functional.pad(tensor, (0, 0) * (tensor.dim() - 1) + (0, max(sizes) - len(tensor)))
        parts = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(parts, padded.contiguous())
        return torch.cat([part[:n] for part, n in zip(parts, sizes)])

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        total = grad.contiguous().clone()
        dist.all_reduce(total)
        first = sum(ctx.sizes[: ctx.rank])
        return total[first : first + ctx.sizes[ctx.rank]], None, None


def launcher_world() -> tuple[int, int] | None:
    """(processes per machine, machines) when this process was started by torchrun or srun, else None."""
    if os.environ.get("TORCHELASTIC_RUN_ID") and "LOCAL_WORLD_SIZE" in os.environ:
        local = int(os.environ["LOCAL_WORLD_SIZE"])
        return local, max(1, int(os.environ["WORLD_SIZE"]) // local)
    if "SLURM_NTASKS" in os.environ and os.environ.get("SLURM_JOB_NAME") not in ("bash", "interactive"):
        if "SLURM_STEP_ID" not in os.environ:  # inside an allocation but not started by srun
            return None
        nodes = int(os.environ.get("SLURM_NNODES", "1"))
        return max(1, int(os.environ["SLURM_NTASKS"]) // nodes), nodes
    return None


def resolve_distributed(config: Config) -> Config:
    """``config`` with ``distributed.devices`` and ``num_nodes`` taken from torchrun or srun when they started
    this process, so the same command runs under them unchanged; a conflicting explicit value is refused."""
    found = launcher_world()
    if found is None:
        return config
    devices, nodes = found
    wanted = config.distributed
    for key, value, given in (("devices", devices, wanted.devices), ("num_nodes", nodes, wanted.num_nodes)):
        if given not in (1, value):
            raise ConfigError(
                f"distributed.{key}={given}, but the launcher (torchrun or srun) started {value}; leave --{key.replace('_', '-')} "
                "out under a launcher (it is read from the launcher), or make them agree"
            )
    return config.model_copy(update={"distributed": wanted.model_copy(update={"devices": devices, "num_nodes": nodes})})


# Seconds process 0 is given, after another process it started died, to notice (at its next collective) and say
# what to do, before Lightning's watcher kills it; the watcher's own 5 s often cut that message off.
OBSERVER_GRACE_SECONDS = 20.0


def _patient_observer() -> None:
    """Make Fabric's watcher of the processes it starts wait :data:`OBSERVER_GRACE_SECONDS` after a death before it
    kills process 0 (and the rest): a hang is still ended, but process 0 first reports the failure itself."""
    try:
        from lightning_fabric.strategies.launchers import subprocess_script as launcher

        base = launcher._ChildProcessObserver
    except (ImportError, AttributeError):  # another Lightning version: its own watcher, as it comes
        return

    class PatientObserver(base):
        failed_at: float | None = None

        def _run(self) -> bool:
            for process in self._child_processes:
                process.poll()
            if any(process.returncode for process in self._child_processes):
                self.failed_at = self.failed_at or time.monotonic()
                if time.monotonic() - self.failed_at < OBSERVER_GRACE_SECONDS:
                    return False
            return super()._run()

    def launch_observer(child_processes) -> None:
        PatientObserver(child_processes=child_processes, main_pid=os.getpid()).start()

    launcher._launch_process_observer = launch_observer


def start_cluster(config: Config) -> Cluster:
    """Launch (or join) the processes ``config.distributed`` asks for; one process needs nothing."""
    global _rank
    settings = config.distributed
    if settings.world_size == 1:
        return SINGLE
    try:
        from lightning_fabric import Fabric
        from lightning_fabric.strategies import DDPStrategy, ModelParallelStrategy
    except ImportError:
        raise ConfigError(
            f"distributed.devices={settings.devices}, num_nodes={settings.num_nodes} needs Lightning Fabric: "
            "pip install 'moodscape[distributed]'"
        ) from None
    device = config.runtime.device
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise ConfigError(f"runtime.device={device} with several processes: use cuda (one GPU each), cpu or auto")
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if device.startswith("cuda:"):
        raise ConfigError(f"runtime.device={device}: with several processes each takes its own GPU; use runtime.device=cuda")
    if cuda and not torch.cuda.is_available():
        raise ConfigError(f"runtime.device={device} but CUDA is not available here; use runtime.device=cpu or auto")
    # Fabric's own logger says as much as ours: nothing but warnings under -q.
    logging.getLogger("lightning_fabric").setLevel(logging.getLogger("moodscape").getEffectiveLevel())
    backend, timeout = "nccl" if cuda else "gloo", timedelta(minutes=settings.timeout_minutes)
    if settings.strategy == "fsdp":
        import torch.distributed.fsdp as fsdp

        if not hasattr(fsdp, "register_fsdp_forward_method"):
            raise ConfigError(f"distributed.strategy=fsdp needs torch >= 2.6 (FSDP2), this is {torch.__version__}; "
                              "upgrade torch or use distributed.strategy=ddp")  # fmt: skip
        # FSDP2 (fully_shard) through Fabric's ModelParallelStrategy: unlike Fabric's FSDP strategy (FSDP1) it
        # also runs on CPUs, so the same code is tested here and used on GPUs.
        strategy = ModelParallelStrategy(parallelize_fn=shard_blocks, data_parallel_size=settings.world_size,
                                         tensor_parallel_size=1, process_group_backend=backend, timeout=timeout)  # fmt: skip
    else:
        strategy = DDPStrategy(process_group_backend=backend, timeout=timeout)
    fabric = Fabric(accelerator="cuda" if cuda else "cpu", devices=settings.devices, num_nodes=settings.num_nodes,
                    strategy=strategy)  # fmt: skip
    _patient_observer()
    fabric.launch()
    _rank = fabric.global_rank
    package = logging.getLogger("moodscape")
    if _rank and package.getEffectiveLevel() > logging.DEBUG:
        package.setLevel(logging.WARNING)  # one voice: the others say only what goes wrong (all of it under -v)
    if not cuda and config.runtime.threads is None:
        # Processes on one machine share its cores; torch's default (all cores each) would oversubscribe them.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // settings.devices))
    log.info("process %d of %d (%s)", fabric.global_rank, fabric.world_size, fabric.device)
    return Cluster(fabric, sharded=settings.strategy == "fsdp")


def shard_blocks(module: nn.Module, mesh: Any) -> nn.Module:
    """FSDP2 units: every block of the model's layer lists (transformer layers, MobileViT stages and the
    blocks inside them) on its own, innermost first, then the rest with the root, so that only one block's
    whole weights exist at a time."""
    from torch.distributed.fsdp import fully_shard

    data_parallel = mesh["data_parallel"]
    for child in reversed(list(module.modules())):  # descendants before their ancestors
        if isinstance(child, nn.ModuleList):
            for block in child:
                fully_shard(block, mesh=data_parallel)
    fully_shard(module, mesh=data_parallel)
    return module
