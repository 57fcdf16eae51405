"""Feature extraction throughput and memory, measured against baselines in the same run.

(a) the seed's path, one process, file by file: librosa.load(sr=22050) + melspectrogram + power_to_db
(b) moodscape's feature store build with default workers (every core)
(c) decode only: soundfile.read of every file over every core -- the floor

Each variant runs in its own subprocess; wall time is measured inside it (interpreter start-up
excluded, worker start-up included). Peak memory is the peak of the summed PSS (proportional set size: shared pages
split between the processes sharing them, so forked workers are not counted twice) of its process tree, sampled in a
round of its own: reading PSS walks every page table of the tree, and sampling it every 20 ms during the timed
rounds took a share of the two cores from the multi-process variants (b) and (c) but hardly from (a).
(a), (b) and (c) run on generated clips and, with ``--clips``, on a folder of real ones (4q-dev: 30 s MP3s,
mostly stereo at 32 or 22.05 kHz).
Usage: python benchmarks/features.py --cache DIR [--files 64] [--deam-size] [--clips DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import psutil

SEED_PATH = """
import glob, sys, time, librosa
files = sorted(glob.glob(sys.argv[1], recursive=True))
start = time.perf_counter()
for f in files:
    y, sr = librosa.load(f, sr=22050)
    librosa.power_to_db(librosa.feature.melspectrogram(
        y=y, sr=sr, n_fft=2048, hop_length=512, n_mels=128, fmin=20, fmax=8000), ref=1.0, amin=1e-10, top_db=None)
print(len(files), time.perf_counter() - start)
"""

MOODSCAPE = """
import sys, time, logging
from moodscape.features.build import build_feature_store
from moodscape.config import load_config
from moodscape.data.dataset import load_dataset
config = load_config(None, ["features.mode=" + sys.argv[3]])
dataset = load_dataset(sys.argv[1])
start = time.perf_counter()
build_feature_store(dataset, sys.argv[2], config=config, progress=False)
print(len(dataset.records), time.perf_counter() - start)
"""

DECODE_ONLY = """
import glob, os, sys, time, soundfile as sf
from multiprocessing import get_context
def read(f):
    return sf.read(f, dtype="float32")[0].size
if __name__ == "__main__":
    files = sorted(glob.glob(sys.argv[1], recursive=True))
    start = time.perf_counter()
    with get_context("fork").Pool(os.cpu_count()) as pool:
        list(pool.imap(read, files, chunksize=2))
    print(len(files), time.perf_counter() - start)
"""


def run_measured(code: str, *args: str, memory: bool = False) -> dict:
    """Run a snippet in a subprocess; return files, seconds, files/s and, with ``memory``, peak tree PSS in MiB
    (then the seconds are not comparable: the sampling takes CPU from the snippet)."""
    proc = psutil.Popen([sys.executable, "-c", textwrap.dedent(code), *args], stdout=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()
    if not memory:
        done.set()

    def poll() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                tree = [proc, *proc.children(recursive=True)]
                peak = max(peak, sum(p.memory_full_info().pss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.02)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    out, _ = proc.communicate()
    done.set()
    thread.join()
    if proc.returncode != 0:
        raise SystemExit(f"benchmark step failed with exit code {proc.returncode}")
    files, seconds = out.split()[-2:]
    files, seconds = int(files), float(seconds)
    return {"files": files, "seconds": seconds, "files_per_s": files / seconds, "peak_pss_mib": peak / 2**20 if memory else None}


def ensure_dataset(root: Path, songs: int) -> Path:
    """Generated 45 s, 44.1 kHz MP3s in DEAM layout, made once and cached."""
    marker = root / ".complete"
    if not marker.exists():
        from moodscape.data.demo import generate_demo_dataset

        print(f"generating {songs} demo clips of 45 s in {root} (once) ...", flush=True)
        generate_demo_dataset(root, songs=songs, seconds=45.0, seed=1, progress=True)
        marker.write_text("ok\n")
    return root


def row(name: str, result: dict) -> str:
    memory = "-" if result["peak_pss_mib"] is None else f"{result['peak_pss_mib']:.0f}"
    return f"| {name} | {result['files']} | {result['seconds']:.2f} | {result['files_per_s']:.1f} | {memory} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, required=True, help="where generated audio is kept between runs")
    parser.add_argument("--files", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the fastest of each variant counts")
    parser.add_argument("--deam-size", action="store_true", help="also measure peak memory of (b) on 1,802 clips")
    parser.add_argument("--clips", type=Path, help="also (a), (b), (c) on this dataset of real clips (e.g. 4q-dev)")
    args = parser.parse_args()

    small = ensure_dataset(args.cache / f"bench-{args.files}", args.files)
    mp3s = f"{small}/DEAM_audio/MEMD_audio/*.mp3"
    variants = {
        "a": (SEED_PATH, lambda tmp, r: (mp3s,)),
        "b": (MOODSCAPE, lambda tmp, r: (str(small), f"{tmp}/fast{r}", "fast")),
        "b_exact": (MOODSCAPE, lambda tmp, r: (str(small), f"{tmp}/exact{r}", "exact")),
        "c": (DECODE_ONLY, lambda tmp, r: (mp3s,)),
        "b_noop": (MOODSCAPE, lambda tmp, r: (str(small), f"{tmp}/fast{r}", "fast")),
    }
    if args.clips:
        real = f"{args.clips}/**/*.mp3"
        table = args.clips / "labels.csv"  # 4q-dev: the csv layout, its table beside the quadrant folders
        root = str(table if table.is_file() else args.clips)
        variants |= {
            "real_a": (SEED_PATH, lambda tmp, r: (real,)),
            "real_b": (MOODSCAPE, lambda tmp, r: (root, f"{tmp}/real{r}", "fast")),
            "real_c": (DECODE_ONLY, lambda tmp, r: (real,)),
        }
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Rounds interleave the variants, and the fastest round of each counts: on a shared machine,
        # noise only ever adds time.
        for round_ in range(args.repeat):
            for name, (code, make_args) in variants.items():
                result = run_measured(code, *make_args(tmp, round_))
                if name not in results or result["seconds"] < results[name]["seconds"]:
                    results[name] = result
        for name, (code, make_args) in variants.items():
            if name != "b_noop":  # its store is complete: nothing to hold in memory
                results[name]["peak_pss_mib"] = run_measured(code, *make_args(tmp, "-memory"), memory=True)["peak_pss_mib"]
        if args.deam_size:
            big = ensure_dataset(args.cache / "bench-1802", 1802)
            results["b_deam"] = run_measured(MOODSCAPE, str(big), f"{tmp}/deam", "fast", memory=True)

    print(f"\ncores: {os.cpu_count()}; {args.files} generated 45 s MP3s at 44.1 kHz; best of {args.repeat} rounds\n")
    print("| variant | files | seconds | files/s | peak PSS (MiB) |")
    print("|---|---|---|---|---|")
    print(row("(a) seed path: librosa, one process", results["a"]))
    print(row("(b) moodscape features (fast mode)", results["b"]))
    print(row("(b') moodscape features (exact mode)", results["b_exact"]))
    print(row("(c) decode only, every core", results["c"]))
    print(row("(b) again, store complete (no-op)", results["b_noop"]))
    if "b_deam" in results:
        print(row("(b) on a DEAM-sized set, 1,802 clips (sampled for memory: slower)", results["b_deam"]))
    a, b, be, c = (results[k]["files_per_s"] for k in ("a", "b", "b_exact", "c"))
    print(f"\n(b)/(a) = {b / a:.2f}x   (b')/(a) = {be / a:.2f}x   (b)/(c) = {100 * b / c:.0f}%   (b')/(c) = {100 * be / c:.0f}%")
    if args.clips:
        print(f"\nreal clips of {args.clips}\n\n| variant | files | seconds | files/s | peak PSS (MiB) |\n|---|---|---|---|---|")
        print(row("(a) seed path: librosa, one process", results["real_a"]))
        print(row("(b) moodscape features (fast mode)", results["real_b"]))
        print(row("(c) decode only, every core", results["real_c"]))
        a, b, c = (results[k]["files_per_s"] for k in ("real_a", "real_b", "real_c"))
        print(f"\n(b)/(a) = {b / a:.2f}x   (b)/(c) = {100 * b / c:.0f}%")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
