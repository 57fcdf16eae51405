"""`moodscape predict` on real MP3s, side by side in one run with vibenet's `predict` (another CPU music-mood
tool, its model in its wheel) and the decode-only floor; and the first result of one file from a shell.

Every row runs the same real 30 s clips of 4q-dev (mixed 22.05/44.1 kHz, mono and stereo), each command in
a fresh process as a user runs it (interpreter start, imports and model load included), timed from outside.
Rounds are interleaved and the fastest of each row counts. vibenet comes from its own virtual environment
(`make bench-predict` makes .vibenet-venv); without it its row says so.

Usage: python benchmarks/predict.py [--clips DIR] [--files 120] [--rounds 2] [--vibenet .vibenet-venv/bin/vibenet]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CLIPS = REPO.parent / "shared" / "data" / "4q-dev"
MOODSCAPE = Path(sys.executable).parent / "moodscape"

sys.path.insert(0, str(Path(__file__).parent))
from serve import clips  # noqa: E402  (every k-th clip of the folder: the same picks as bench-serve)


def _decode(path: Path) -> int:
    samples, _ = sf.read(str(path), dtype="float32", always_2d=True)
    return int(samples.mean(axis=1).size)


def decode_only(files: list[Path]) -> float:
    """The floor: every file decoded to mono float32 by soundfile, one process per core."""
    began = time.perf_counter()
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(_decode, files, chunksize=4))
    return time.perf_counter() - began


def timed(command: list[str]) -> float:
    began = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if run.returncode != 0:
        sys.exit(f"{' '.join(command[:3])} ... failed:\n{run.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=Path, default=DEFAULT_CLIPS, help="folder of real MP3s (default: 4q-dev)")
    parser.add_argument("--files", type=int, default=120, help="clips per row (default 120)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the fastest counts (default 2)")
    parser.add_argument("--vibenet", type=Path, default=REPO / ".vibenet-venv" / "bin" / "vibenet",
                        help="vibenet's command (default: .vibenet-venv/bin/vibenet)")  # fmt: skip
    args = parser.parse_args()
    files = clips(args.clips, args.files)
    rates = {}
    for path in files[:40]:
        info = sf.info(str(path))
        rates[(info.samplerate, info.channels)] = rates.get((info.samplerate, info.channels), 0) + 1
    out = Path(tempfile.mkdtemp(prefix="moodscape-bench-predict-"))
    rows = {
        "decode only (soundfile to mono, one process per core)": lambda: decode_only(files),
        "`moodscape predict` (shipped model)": lambda: timed(
            [str(MOODSCAPE), "predict", *map(str, files), "--out", str(out / "moods.csv"), "--quiet"]),
    }
    if args.vibenet.exists():
        rows["vibenet 0.1.0 `vibenet predict` (its defaults: a thread per core)"] = lambda: timed(
            [str(args.vibenet), "predict", *map(str, files), "--format", "csv", "--quiet"])
    else:
        print(f"vibenet not found at {args.vibenet}: its row is left out (make bench-predict installs it)")
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, run in rows.items():
            best[name] = min(best.get(name, float("inf")), run())
    one = [timed([str(MOODSCAPE), "predict", str(files[0])]) for _ in range(3)]

    floor = best[next(iter(rows))]
    vibenet = next((seconds for name, seconds in best.items() if name.startswith("vibenet")), None)
    print(f"{len(files)} real clips of {args.clips} (sample rate, channels of the first 40: {dict(rates)}), "
          f"{os.cpu_count()} cores, fastest of {args.rounds} interleaved rounds, each a fresh process\n")
    print("| command | seconds | files/s | share of the decode-only floor | vs vibenet |\n|---|---|---|---|---|")
    for name, seconds in best.items():
        ratio = f"{vibenet / seconds:.2f}x" if vibenet else "-"
        print(f"| {name} | {seconds:.2f} | {len(files) / seconds:.1f} | {100 * floor / seconds:.0f}% | {ratio} |")
    print(f"\nfirst result, `moodscape predict {files[0].name}` from a shell: median {statistics.median(one):.2f} s "
          f"(runs: {', '.join(f'{s:.2f}' for s in one)})")


if __name__ == "__main__":
    main()
