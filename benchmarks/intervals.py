"""Bootstrap intervals over songs: the batched metrics against the resample-by-resample path.

Both paths draw the same index matrix (same seed), so they compute the same interval; the baseline
passes CCC as a plain callable, which :func:`bootstrap_distribution` evaluates one resample at a
time. DEAM-sized test sets (2,000 songs) with 1,000 resamples, the evaluation default.
Usage: python benchmarks/intervals.py [--songs 2000] [--resamples 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from moodscape.metrics import regression as M
from moodscape.metrics.intervals import bootstrap_interval


def best_seconds(run, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=2000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="each path runs this often; the fastest counts")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    truth = np.clip(rng.normal(0.0, 0.4, args.songs), -1, 1)
    pred = np.clip(0.6 * truth + rng.normal(0.0, 0.2, args.songs), -1, 1)

    def batched():
        return bootstrap_interval(truth, pred, "ccc", n=args.resamples, seed=0)

    def per_resample():
        return bootstrap_interval(truth, pred, lambda t, p: M.ccc(t, p), n=args.resamples, seed=0)

    np.testing.assert_allclose(batched(), per_resample(), rtol=1e-9)  # same interval, else the timing means nothing
    fast, slow = best_seconds(batched, args.rounds), best_seconds(per_resample, args.rounds)
    print(f"{args.songs} songs, {args.resamples} resamples, best of {args.rounds}\n")
    print("| path | seconds |\n|---|---|")
    print(f"| batched CCC (what evaluation uses) | {fast:.3f} |")
    print(f"| resample by resample (callable metric) | {slow:.3f} |")
    print(f"\nbatched / per-resample speed-up: {slow / fast:.1f}x")


if __name__ == "__main__":
    main()
