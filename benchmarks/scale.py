"""Scaling out on one machine: sharded prediction with 1 and 2 processes on the same files, then merged.

Each row runs `moodscape predict --shard K/N` in N processes at once (N = 1 is the whole library in one
process) and `moodscape merge`; files per second over the wall time of the slowest shard, and whether
the merged table equals the unsharded one byte for byte. Distributed training is not measured yet.

Usage: python benchmarks/scale.py [--clips DIR] [--files 40] [--processes 1 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CLIPS = REPO.parent / "shared" / "data" / "4q-dev"


def library(source: Path, count: int, into: Path) -> Path:
    """``count`` clips of ``source`` (every k-th, so all quadrants) linked into one folder."""
    found = sorted(source.rglob("*.mp3"))
    if not found:
        sys.exit(f"no .mp3 clips under {source}; give --clips DIR")
    step = max(1, len(found) // count)
    into.mkdir(parents=True)
    for path in found[::step][:count]:
        (into / path.name).symlink_to(path.resolve())
    return into


def sharded(songs: Path, out: Path, processes: int, threads: int) -> tuple[float, Path]:
    """Wall time of ``processes`` shard processes run at once, and the merged table."""
    command = [sys.executable, "-m", "moodscape.cli", "-q", "predict", str(songs), "--threads", str(threads)]
    began = time.perf_counter()
    running = [subprocess.Popen([*command, "--shard", f"{k}/{processes}", "--out", str(out / f"part-{k}.csv")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for k in range(1, processes + 1)]  # fmt: skip
    for proc in running:
        if proc.wait() != 0:
            sys.exit(f"a shard failed: {proc.stderr.read().decode()[-2000:]}")
    seconds = time.perf_counter() - began
    merged = out / "merged.csv"
    parts = [str(out / f"part-{k}.csv") for k in range(1, processes + 1)]
    subprocess.run([sys.executable, "-m", "moodscape.cli", "-q", "merge", str(merged), *parts], check=True,
                   capture_output=True)
    return seconds, merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=Path, default=DEFAULT_CLIPS)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=1, help="model threads per process")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="moodscape-scale-") as tmp:
        songs = library(args.clips, args.files, Path(tmp) / "songs")
        whole = Path(tmp) / "whole.csv"
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "moodscape.cli", "-q", "predict", str(songs), "--threads",
                        str(args.threads), "--out", str(whole)], check=True, capture_output=True)  # fmt: skip
        baseline = time.perf_counter() - began
        files = len(list(songs.iterdir()))
        print(f"{files} clips from {args.clips}, the shipped model, {args.threads} model thread(s) per process\n")
        print("| processes | wall s | files/s | vs unsharded | merged table equals the unsharded one |")
        print("|---|---|---|---|---|")
        print(f"| 1 (no --shard) | {baseline:.1f} | {files / baseline:.2f} | 1.00x | - |")
        for n in args.processes:
            out = Path(tmp) / f"n{n}"
            out.mkdir()
            seconds, merged = sharded(songs, out, n, args.threads)
            same = merged.read_bytes() == whole.read_bytes()
            print(f"| {n} (--shard K/{n}) | {seconds:.1f} | {files / seconds:.2f} | {baseline / seconds:.2f}x | "
                  f"{'yes' if same else 'NO'} |")  # fmt: skip
            shutil.rmtree(out)


if __name__ == "__main__":
    main()
