"""Scaling out on one machine: distributed training and sharded prediction with 1 and 2 processes.

Training: the tiny teacher of configs/demo.yaml on generated demo songs, `moodscape train` in one process
and with `--devices N` (ddp and fsdp), the same global batch; training windows per second over the epochs
after the first (each epoch's time includes validation on process 0), beside the wall time of the command
(start-up and data loading included) and the final validation CCC.

Prediction: `moodscape predict --shard K/N` in N processes at once (N = 1 is the whole library in one
process) and `moodscape merge`; files per second over the wall time of the slowest shard, and whether
the merged table equals the unsharded one byte for byte.

Usage: python benchmarks/scale.py [--part training prediction] [--clips DIR] [--files 40] [--processes 1 2]
       [--threads 1] [--songs 120] [--epochs 5]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
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


def train(data: Path, out: Path, *, processes: int, strategy: str, threads: int, epochs: int) -> dict:
    """One `moodscape train` run; its wall time and history."""
    settings = [f"data.root={data}", f"store.out_dir={data.parent / 'features'}", f"runtime.threads={threads}",
                f"teacher.epochs={epochs}", "teacher.patience=null"]  # fmt: skip
    command = [sys.executable, "-m", "moodscape.cli", "-q", "train", "--config", str(REPO / "configs" / "demo.yaml"),
               "--out", str(out), "--no-evaluate", "--devices", str(processes), "--strategy", strategy,
               *[x for item in settings for x in ("--set", item)]]  # fmt: skip
    began = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=REPO)
    wall = time.perf_counter() - began
    with (out / "history.csv").open() as handle:
        history = list(csv.DictReader(handle))
    return {"wall": wall, "history": history}


def training(args: argparse.Namespace, tmp: Path) -> None:
    data = tmp / "demo" / "data"
    subprocess.run([sys.executable, "-m", "moodscape.cli", "-q", "demo-data", str(data), "--songs", str(args.songs),
                    "--seconds", "15", "--seed", "5"], check=True, capture_output=True)  # fmt: skip
    subprocess.run([sys.executable, "-m", "moodscape.cli", "-q", "features", str(data), "--out",
                    str(data.parent / "features"), "--config", str(REPO / "configs" / "demo.yaml")], check=True,
                   capture_output=True)  # fmt: skip
    cores = os.cpu_count() or 1
    # One process on every core is the baseline; one process on one core shows what each added process adds.
    runs = [("1 process", 1, "ddp", cores), ("1 process, 1 core", 1, "ddp", 1)] + [
        (f"{n} processes, {s}", n, s, max(1, cores // n)) for n in args.processes if n > 1 for s in ("ddp", "fsdp")
    ]
    print(f"Training: tiny teacher (configs/demo.yaml), {args.songs} demo songs of 15 s, {args.epochs} epochs, global "
          f"batch 32, {cores} cores shared by the processes\n")  # fmt: skip
    print("| run | threads per process | windows/epoch | windows/s | vs 1 process | command wall s | final val CCC |")
    print("|---|---|---|---|---|---|---|")
    base = None
    for name, processes, strategy, threads in runs:
        result = train(data, tmp / f"train-{processes}-{strategy}", processes=processes, strategy=strategy,
                       threads=threads, epochs=args.epochs)  # fmt: skip
        meta = (tmp / f"train-{processes}-{strategy}" / "best" / "moodscape.json").read_text()
        songs = int(json.loads(meta)["network_songs"])
        windows = songs * 8  # configs/demo.yaml: teacher.windows_per_song 8
        later = [float(row["seconds"]) for row in result["history"][1:]]
        rate = windows / (sum(later) / len(later))
        base = base or rate
        final = float(result["history"][-1]["val_ccc_mean"])
        print(f"| {name} | {threads} | {windows} | {rate:.0f} | {rate / base:.2f}x | {result['wall']:.1f} | {final:.3f} |")
    print()


def prediction(args: argparse.Namespace, tmp: Path) -> None:
    """Sharded prediction of real clips with 1 and N processes, merged and compared with one unsharded run."""
    songs = library(args.clips, args.files, tmp / "songs")
    whole = tmp / "whole.csv"
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
        out = tmp / f"n{n}"
        out.mkdir()
        seconds, merged = sharded(songs, out, n, args.threads)
        same = merged.read_bytes() == whole.read_bytes()
        print(f"| {n} (--shard K/{n}) | {seconds:.1f} | {files / seconds:.2f} | {baseline / seconds:.2f}x | "
              f"{'yes' if same else 'NO'} |")  # fmt: skip
        shutil.rmtree(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", nargs="+", choices=["training", "prediction"], default=["training", "prediction"])
    parser.add_argument("--clips", type=Path, default=DEFAULT_CLIPS)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=1, help="model threads per prediction process")
    parser.add_argument("--songs", type=int, default=120, help="demo songs for the training part")
    parser.add_argument("--epochs", type=int, default=5, help="teacher epochs for the training part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="moodscape-scale-") as tmp:
        for part in args.part:
            (training if part == "training" else prediction)(args, Path(tmp))


if __name__ == "__main__":
    main()
