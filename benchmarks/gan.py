"""GAN training step on CPU: the trainer's channels_last layout against the default (contiguous) one.

One step as the trainer runs it (discriminator on real and generated windows, then the generator
through the discriminator, DiffAugment on every discriminator input), random normalised windows of
the default shape (128 mels x 208 frames). Rounds alternate the two layouts so that load on a shared
machine hits both alike; the best round of each is reported with the ratio.
Usage: python benchmarks/gan.py [--preset tiny] [--threads 1] [--rounds 3] [--steps 4]
"""

from __future__ import annotations

import argparse
import time

import torch

from moodscape.models.gan.build import build_gan
from moodscape.models.gan.losses import hinge_d_loss, hinge_g_loss
from moodscape.training.augment import DIFF_AUGMENTS, diff_augment


def seconds_per_step(preset: str, *, channels_last: bool, batch: int, steps: int) -> float:
    torch.manual_seed(0)
    generator, discriminator = build_gan(preset, n_mels=128, frames=208, latent_film=True, pooling="mean")
    if channels_last:
        generator.to(memory_format=torch.channels_last)
        discriminator.to(memory_format=torch.channels_last)
    opt_g = torch.optim.Adam(generator.parameters(), lr=1e-4, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=4e-4, betas=(0.0, 0.9))
    real, labels = torch.randn(batch, 128, 208), torch.rand(batch, 2) * 2 - 1

    def step() -> None:
        fake = generator(torch.randn(batch, generator.z_dim), labels).detach()
        d_loss = hinge_d_loss(discriminator(diff_augment(real, DIFF_AUGMENTS), labels),
                              discriminator(diff_augment(fake, DIFF_AUGMENTS), labels))  # fmt: skip
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        fake = generator(torch.randn(batch, generator.z_dim), labels)
        g_loss = hinge_g_loss(discriminator(diff_augment(fake, DIFF_AUGMENTS), labels))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    best = {False: float("inf"), True: float("inf")}
    for _ in range(args.rounds):
        for layout in (False, True):
            seconds = seconds_per_step(args.preset, channels_last=layout, batch=args.batch, steps=args.steps)
            best[layout] = min(best[layout], seconds)
    print(f"| layout | seconds per step ({args.preset}, batch {args.batch}, {args.threads} thread(s)) |\n|---|---|")
    print(f"| contiguous (baseline) | {best[False]:.3f} |\n| channels_last (the trainer's) | {best[True]:.3f} |")
    print(f"speed-up: {best[False] / best[True]:.2f}x")


if __name__ == "__main__":
    main()
