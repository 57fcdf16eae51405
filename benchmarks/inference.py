"""Inference speed and size: the base ViT teacher against the MobileViT student in PyTorch and ONNX
(fp32 and int8), per window on one CPU thread, all on the same log-mel windows; the same for the
real-music profile's input (the shipped musicnn under its pooled head against the student); and
`predict` throughput on generated 45 s MP3s against the decode-only floor measured in the same run.

Weights are random (speed and size do not depend on training). Usage:
    python benchmarks/inference.py --cache DIR [--student xxs] [--songs 50] [--repeats 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import soundfile as sf
import torch

from moodscape.config import AudioConfig, FeaturesConfig, StudentConfig, TeacherConfig, load_config
from moodscape.export.onnx import export_onnx, quantize_int8
from moodscape.features.windows import window_frames
from moodscape.inference.predictor import Predictor
from moodscape.models.checkpoint import write_checkpoint
from moodscape.models.exported import open_onnx
from moodscape.models.student.mobilevit import build_student
from moodscape.models.teacher.build import build_teacher
from moodscape.models.waveform import WaveformRegressor

sys.path.insert(0, str(Path(__file__).parent))
from features import ensure_dataset  # noqa: E402
from serve import clips  # noqa: E402

AUDIO, FEATURES = AudioConfig(), FeaturesConfig()
FRAMES = 208  # 5 s at 22050 Hz / 512, a multiple of the 16-frame patch
REAL_MUSIC = load_config(Path(__file__).parents[1] / "configs" / "real-music.yaml")


def median_ms(run, repeats: int) -> float:
    for _ in range(3):
        run()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return 1000 * statistics.median(times)


def checkpoint(model: torch.nn.Module, folder: Path, kind: str, config=None, frames: int = FRAMES) -> Path:
    audio, features = (AUDIO, FEATURES) if config is None else (config.audio, config.features)
    bands = features.n_mels
    meta = {"kind": kind, "moodscape_version": "bench", "audio": audio.model_dump(mode="json"),
            "features": features.model_dump(mode="json"),
            "normalization": {"mean": [-40.0] * bands, "std": [12.0] * bands, "songs": 1},
            "window_frames": frames, "eval_hop_frames": frames // 2, "store": "", "config": {}}  # fmt: skip
    return write_checkpoint(folder, model, meta=meta)


def real_music_rows(work: Path, repeats: int) -> list[tuple[str, float, int]]:
    """The real-music profile's teacher (shipped MSD_musicnn, pooled head) against its student, on one
    window of its input (96 mels x 188 frames, 3 s at 16 kHz), in PyTorch and as int8 ONNX (the teacher's
    is the shipped model's form)."""
    cfg = REAL_MUSIC
    frames = window_frames(cfg.windows.seconds, sample_rate=cfg.audio.sample_rate,
                           hop_length=cfg.features.hop_length, multiple=1)  # fmt: skip
    teacher = build_teacher(cfg.teacher, n_mels=cfg.features.n_mels, frames=frames).eval()
    student = build_student(cfg.student, n_mels=cfg.features.n_mels, frames=frames).eval()
    teacher_dir = checkpoint(teacher, work / "musicnn-teacher", "teacher", cfg, frames)
    student_dir = checkpoint(student, work / "musicnn-student", "student", cfg, frames)
    logmel = np.random.default_rng(0).uniform(0, 3, (1, cfg.features.n_mels, frames)).astype(np.float32)
    rows = []
    with torch.inference_mode():
        for name, model, folder in (("musicnn teacher, pooled head (PyTorch)", teacher, teacher_dir),
                                    (f"{cfg.student.preset} student (PyTorch)", student, student_dir)):  # fmt: skip
            rows.append((name, median_ms(lambda: model(torch.from_numpy(logmel)), repeats),
                         (folder / "model.safetensors").stat().st_size))  # fmt: skip
    for name, folder in (("musicnn teacher ONNX int8 (log-mel input; the shipped model's form)", teacher_dir),
                         ("student ONNX int8 (log-mel input)", student_dir)):  # fmt: skip
        wave = WaveformRegressor.from_checkpoint(folder)
        int8 = quantize_int8(export_onnx(wave, work / f"{folder.name}.onnx", input_kind="logmel"),
                             work / f"{folder.name}.int8.onnx")  # fmt: skip
        s = session(int8)
        feed = {s.get_inputs()[0].name: logmel}
        rows.append((name, median_ms(lambda: s.run(None, feed), repeats), int8.stat().st_size))
    return rows


def print_rows(rows: list[tuple[str, float, int]], baseline: str) -> None:
    base = rows[0][1]
    print(f"| model | ms per window | speed-up vs {baseline} | size on disk (MB) |\n|---|---|---|---|")
    for name, ms, size in rows:
        print(f"| {name} | {ms:.2f} | {base / ms:.1f}x | {size / 1e6:.2f} |")


def session(path: Path) -> ort.InferenceSession:
    return open_onnx(path, threads=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, required=True, help="where generated audio is kept between runs")
    parser.add_argument("--student", default="xxs", help="student preset (default xxs)")
    parser.add_argument("--songs", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--clips", type=Path, help="also the `predict` table on this folder of real MP3s (4q-dev)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    work = Path(tempfile.mkdtemp(prefix="moodscape-bench-"))
    teacher = build_teacher(TeacherConfig(preset="base"), n_mels=128, frames=FRAMES).eval()
    student = build_student(StudentConfig(preset=args.student), n_mels=128, frames=FRAMES).eval()
    student_dir = checkpoint(student, work / "student", "student")
    teacher_dir = checkpoint(teacher, work / "teacher", "teacher")
    wave = WaveformRegressor.from_checkpoint(student_dir)
    files = {
        "student ONNX fp32": export_onnx(wave, work / "logmel.onnx", input_kind="logmel"),
        "student ONNX int8": quantize_int8(work / "logmel.onnx", work / "logmel.int8.onnx"),
        "student ONNX int8, waveform in (front end in the graph)": quantize_int8(
            export_onnx(wave, work / "model.onnx", input_kind="waveform"), work / "model.int8.onnx"
        ),
    }
    rng = np.random.default_rng(0)
    logmel = (-40 + 12 * rng.standard_normal((1, 128, FRAMES))).astype(np.float32)
    waveform = (0.1 * rng.standard_normal((1, wave.window_samples))).astype(np.float32)
    normalized = torch.from_numpy((logmel + 40) / 12)

    rows = []
    with torch.inference_mode():
        rows.append(("base teacher (PyTorch)", median_ms(lambda: teacher(normalized), args.repeats),
                     (teacher_dir / "model.safetensors").stat().st_size))  # fmt: skip
        rows.append((f"{args.student} student (PyTorch)", median_ms(lambda: student(normalized), args.repeats),
                     (student_dir / "model.safetensors").stat().st_size))  # fmt: skip
    for name, path in files.items():
        s = session(path)
        feed = {s.get_inputs()[0].name: waveform if "waveform" in name else logmel}
        rows.append((name, median_ms(lambda: s.run(None, feed), args.repeats), path.stat().st_size))
    print("Per window (1 x 128 x 208 log-mel, 5 s), batch 1, one thread, median of", args.repeats)
    print_rows(rows, "base teacher")
    print(f"\nreal-music profile: per window (1 x 96 x 188, 3 s at 16 kHz), batch 1, one thread, median of {args.repeats}")
    print_rows(real_music_rows(work, args.repeats), "musicnn teacher")

    root = ensure_dataset(args.cache / f"bench-{args.songs}", args.songs)
    generated = sorted((root / "DEAM_audio" / "MEMD_audio").glob("*.mp3"))
    predict_table(work, wave, generated, f"{len(generated)} generated 45 s MP3s (44.1 kHz)")
    if args.clips:
        real = clips(args.clips, args.songs)
        predict_table(work, wave, real, f"{len(real)} real 30 s clips of {args.clips} (mostly 32/22.05 kHz stereo)")


def predict_table(work: Path, wave: WaveformRegressor, mp3s: list[Path], what: str) -> None:
    """`predict` with the student's exports on ``mp3s``, against decoding them alone, in one run."""
    began = time.perf_counter()
    for path in mp3s:
        sf.read(str(path), dtype="float32")
    decode = time.perf_counter() - began
    print(f"\n`predict` on {what}, int8 student, windows every {wave.eval_hop_samples / wave.sample_rate:.2f} s:")
    print("| step | seconds | songs/s | share of the decode-only floor |\n|---|---|---|---|")
    print(f"| decode only (soundfile) | {decode:.2f} | {len(mp3s) / decode:.1f} | 100% |")
    for label, model, threads, at_once in (
        ("model.int8.onnx (front end in ONNX), 1 thread", work / "model.int8.onnx", 1, 1),
        ("model-logmel.int8.onnx + moodscape front end, 1 thread", work / "logmel.int8.onnx", 1, 1),
        ("model-logmel.int8.onnx + moodscape front end, 2 threads", work / "logmel.int8.onnx", 2, 1),
        ("model-logmel.int8.onnx + moodscape front end, 2 files side by side", work / "logmel.int8.onnx", 2, 2),
    ):
        predictor = Predictor.load(model, threads=threads, files_at_once=at_once)
        began = time.perf_counter()
        for _ in predictor.predict_many(mp3s, progress=False):
            pass
        predict = time.perf_counter() - began
        print(f"| predict with {label} | {predict:.2f} | {len(mp3s) / predict:.1f} | {100 * decode / predict:.0f}% |")


if __name__ == "__main__":
    main()
