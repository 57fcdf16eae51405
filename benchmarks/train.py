"""Teacher training throughput: windows per second (forward, backward, optimiser step) per preset.

Random normalised log-mel windows of the default shape (128 mels x 5 s = 208 frames); the first
steps warm up and are not counted. Usage: python benchmarks/train.py [--presets tiny small] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import time

import torch

from moodscape.config import TeacherConfig
from moodscape.models.teacher.build import build_teacher


def windows_per_second(preset: str, *, threads: int, batch: int, steps: int, frames: int) -> float:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_teacher(TeacherConfig(preset=preset), n_mels=128, frames=frames).train()
    optimizer = torch.optim.AdamW(model.parameter_groups(lr_backbone=1e-4, lr_head=1e-3))
    inputs, targets = torch.randn(batch, 128, frames), torch.rand(batch, 2) * 2 - 1

    def step() -> None:
        loss = torch.nn.functional.mse_loss(model(inputs), targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(2):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["tiny", "small"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--frames", type=int, default=208)
    args = parser.parse_args()
    print("| preset | threads | batch | windows/s |\n|---|---|---|---|")
    for preset in args.presets:
        for threads in args.threads:
            rate = windows_per_second(preset, threads=threads, batch=args.batch, steps=args.steps, frames=args.frames)
            print(f"| {preset} | {threads} | {args.batch} | {rate:.1f} |", flush=True)


if __name__ == "__main__":
    main()
