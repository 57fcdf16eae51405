"""Training and prediction speed on one device (a GPU, or this machine's CPU) with the real-music recipe
(configs/real-music.yaml) on real clips: the musicnn teacher's and the MobileViT student's training windows
per second (every epoch's steps and its validation), and `predict`'s files per second with the student.
On CUDA the trainers run in bf16 autocast (runtime.precision=bf16).

Usage: python benchmarks/device.py --clips labels.csv --device cuda [--epochs 3] [--out results.json]
(``--clips``: a CSV of path,quadrant or path,valence,arousal, e.g. a subset of 4q-dev's labels.csv).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from moodscape import Predictor
from moodscape.config import load_config
from moodscape.features.prepare import prepare_data
from moodscape.training.distill import distill
from moodscape.training.teacher import train_teacher

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=Path, required=True, help="labels CSV of the clips")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--windows-per-song", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--work", type=Path, default=Path("/tmp/moodscape-device-bench"))
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()

    cuda = args.device.startswith("cuda")
    threads = torch.get_num_threads()
    common = [f"data.root={args.clips}", "data.csv_scale=1-9", f"store.out_dir={args.work / 'features'}",
              f"runtime.device={args.device}", f"runtime.precision={'bf16' if cuda else 'fp32'}",
              f"runtime.threads={threads}", "store.workers=null", "split.test=0.15"]  # fmt: skip
    per_model = [f"{m}.{k}={v}" for m in ("teacher", "student")
                 for k, v in (("epochs", args.epochs), ("patience", "null"), ("windows_per_song", args.windows_per_song),
                              ("batch_size", args.batch_size))]  # fmt: skip
    config = load_config(REPO / "configs" / "real-music.yaml", [*common, *per_model, "student.precise_bn=0"])
    results: dict = {"device": torch.cuda.get_device_name() if cuda else f"cpu ({threads} threads)",
                     "torch": torch.__version__, "epochs": args.epochs}  # fmt: skip

    began = time.perf_counter()
    prepared = prepare_data(config, progress=False)
    results["features_s"] = time.perf_counter() - began
    songs = len(prepared.splits.train)
    windows = args.epochs * songs * args.windows_per_song
    teacher_dir = args.work / "teacher"
    for name, train in (("teacher", lambda: train_teacher(config, out_dir=teacher_dir, prepared=prepared, progress=False)),
                        ("student", lambda: distill(teacher_dir, config, prepared=prepared, progress=False))):  # fmt: skip
        began = time.perf_counter()
        train()
        seconds = time.perf_counter() - began
        results[name] = {"seconds": seconds, "windows": windows, "windows_per_s": windows / seconds}
        print(f"{name}: {windows} training windows in {seconds:.1f} s ({windows / seconds:.1f} windows/s, with "
              "validation)", flush=True)  # fmt: skip

    files = sorted(prepared.store.entry(s).path for s in prepared.store.song_ids)
    predictor = Predictor.load(teacher_dir / "student" / "best", device=args.device)
    predictor.predict(files[0])  # warm-up: the first call pays one-time set-up
    began = time.perf_counter()
    for path in files:
        predictor.predict(path)
    seconds = time.perf_counter() - began
    results["predict"] = {"files": len(files), "seconds": seconds, "files_per_s": len(files) / seconds}
    print(f"predict (student): {len(files)} files in {seconds:.1f} s ({len(files) / seconds:.2f} files/s)")
    print(json.dumps(results, indent=2))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
