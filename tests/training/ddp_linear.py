"""A fixed-data Trainer run with WORLD processes (Lightning Fabric on CPU), for test_distributed.py.

Usage: python ddp_linear.py WORLD OUT [ddp|fsdp] [--resume]. Every step's global batch is the same 16 rows whatever WORLD is;
each process takes its contiguous share and the loss (MSE + CCC, a batch statistic) is computed on the
gathered batch, as the real trainers do. Process 0 writes OUT/best and OUT/last.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from safetensors.torch import save_file

from moodscape.config import Config
from moodscape.metrics.regression import ccc_loss
from moodscape.training.distributed import start_cluster
from moodscape.training.loop import Trainer

STEPS, BATCH = 4, 16


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))

    def forward(self, x):
        return self.layers(x)

    def save_pretrained(self, directory):
        directory.mkdir(parents=True, exist_ok=True)
        save_file(self.state_dict(), str(directory / "model.safetensors"))
        (directory / "config.json").write_text("{}")


class FixedTrainer(Trainer):
    def __init__(self, config, out_dir, cluster):
        super().__init__(config.teacher, config.runtime, seed=0, out_dir=out_dir, progress=False, cluster=cluster)
        torch.manual_seed(0)
        self.model = Net()
        data = np.random.default_rng(0)
        self.x = torch.from_numpy(data.standard_normal((STEPS * BATCH, 4)).astype(np.float32))
        self.y = torch.tanh(self.x @ torch.tensor([[0.5, -0.2], [0.1, 0.3], [0.0, 0.4], [-0.3, 0.0]]))

    def parameter_groups(self):
        return [{"params": list(self.model.parameters()), "lr": 0.05, "weight_decay": 0.01}]

    def batches(self, epoch, rng):
        share = BATCH // self.cluster.world_size
        for step in range(STEPS):
            first = step * BATCH + self.cluster.rank * share
            yield self.x[first : first + share], self.y[first : first + share]

    def batches_per_epoch(self):
        return STEPS

    def loss(self, batch):
        prediction, target = self.cluster.gather(self.net(batch[0]), batch[1])
        return torch.nn.functional.mse_loss(prediction, target) + ccc_loss(prediction, target)

    def validate(self, model):
        with torch.no_grad():
            return {"val_ccc_mean": -float(torch.nn.functional.mse_loss(model(self.x), self.y))}

    def checkpoint_meta(self):
        return {"kind": "test"}


def config(world: int, strategy: str = "ddp") -> Config:
    return Config.model_validate({
        "runtime": {"device": "cpu"},
        "distributed": {"devices": world, "strategy": strategy},
        "teacher": {"epochs": 3, "warmup_epochs": 0, "patience": None, "grad_accum": 2, "grad_clip": 1.0},
    })  # fmt: skip


if __name__ == "__main__":
    world, out, strategy = int(sys.argv[1]), sys.argv[2], (sys.argv[3:] or ["ddp"])[0]
    chosen = config(world, strategy)
    FixedTrainer(chosen, out, start_cluster(chosen)).fit(resume="--resume" in sys.argv)
