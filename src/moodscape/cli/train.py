"""Training commands: train (teacher), run (the whole pipeline), distill (student), fuse, evaluate."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .common import add_config_options, add_distributed_options, config_flag, config_from, flag_values

log = logging.getLogger("moodscape")


def _format_evaluation(metrics: dict, directory: Path) -> str:
    lines = [f"{metrics['split']} split, {metrics['songs']} songs (song level, 95% bootstrap intervals)"]
    floors = (metrics.get("floor") or {}).get("floors") or {}
    for name in ("valence", "arousal"):
        m = metrics["metrics"][name]
        low, high = m.get("ccc_ci95_low"), m.get("ccc_ci95_high")
        interval = f" [{low:.3f}, {high:.3f}]" if low is not None and high is not None else ""
        beside = "".join(f"   {floor} {f['metrics'][name]['ccc']:.3f}" for floor, f in floors.items())
        lines.append(f"  {name:8} CCC {m['ccc']:.3f}{interval}  RMSE {m['rmse']:.3f}{beside}")
    quadrants = metrics.get("quadrants") or {}
    if quadrants:
        beside = "".join(f"   {floor} {f['quadrants']['macro_f1']:.3f}" for floor, f in floors.items())
        lines.append(f"  quadrants: accuracy {quadrants.get('accuracy', float('nan')):.3f}, macro-F1 "
                     f"{quadrants.get('macro_f1', float('nan')):.3f}{beside}")  # fmt: skip
    files = metrics.get("files") or {}
    if "report_html" in files:
        lines.append(f"  report: {directory / files['report_html']}")
    return "\n".join(lines)


def _cmd_train(args: argparse.Namespace) -> int:
    from ..eval.run import evaluate_run
    from ..training.distributed import is_main_process
    from ..training.teacher import train_teacher

    config = config_from(args)
    run_dir = train_teacher(config, out_dir=config.teacher.out_dir, resume=args.resume, progress=not args.quiet)
    if not is_main_process():
        return 0
    print(f"run folder: {run_dir}")
    if not args.no_evaluate:
        metrics = evaluate_run(run_dir, progress=not args.quiet)
        print(_format_evaluation(metrics, Path(run_dir) / "evaluation" / metrics["split"]))
    return 0


def _cmd_distill(args: argparse.Namespace) -> int:
    from ..eval.distillation import compare_distillation
    from ..training.distill import distill, distill_config
    from ..training.distributed import is_main_process

    config = distill_config(args.run_dir, args.config, args.overrides, values=flag_values(args))
    out = distill(args.run_dir, config, resume=args.resume, progress=not args.quiet)
    if not is_main_process():
        return 0
    print(f"student run folder: {out}")
    if args.no_evaluate:
        return 0
    summary = compare_distillation(args.run_dir, out, split=config.evaluate.split, progress=not args.quiet)
    print(f"{summary['split']} split, {summary['songs']} songs: teacher vs student (song-level CCC)")
    for d in ("valence", "arousal"):
        t, st = summary["metrics"]["teacher"][d], summary["metrics"]["student"][d]
        print(f"  {d:8} teacher {t['ccc']:.3f}  student {st['ccc']:.3f} [{st['ccc_ci95_low']:.3f}, "
              f"{st['ccc_ci95_high']:.3f}]  retention {summary['retention_percent'][d]:.0f}%")  # fmt: skip
    p = summary["profile"]
    print(f"  parameters {p['teacher']['parameters']:,} -> {p['student']['parameters']:,}; latency per window "
          f"{p['teacher']['latency_ms']:.1f} -> {p['student']['latency_ms']:.1f} ms (1 thread)")  # fmt: skip
    print(f"  report: {summary['report']}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from ..pipeline import run_pipeline

    summary = run_pipeline(config_from(args), start=args.start, progress=not args.quiet)
    print(f"{'stage':10} {'status':24} {'seconds':>8} {'peak MB':>12}")
    for name, stage in summary["stages"].items():
        seconds, peak = stage.get("seconds"), stage.get("peak_memory_mb")
        print(f"{name:10} {stage['status']:24} {seconds if seconds is not None else '':>8} {peak if peak is not None else '':>12}")
    print(f"run folder: {summary['run']}  (summary.json, config.yaml)")
    print(f"report: {summary['report']}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from ..eval.run import evaluate_run

    metrics = evaluate_run(args.run_dir, split=args.split, progress=not args.quiet)
    print(_format_evaluation(metrics, args.run_dir / "evaluation" / metrics["split"]))
    return 0


def _cmd_fuse(args: argparse.Namespace) -> int:
    from ..training.fusion import fuse_run

    fusion = fuse_run(args.run_dir, probe=args.probe, progress=not args.quiet)
    members = ", ".join(fusion.describe())
    print(f"{args.run_dir / 'best' / 'fusion'}: equal-weight fusion of {members}")
    return 0


def add_commands(commands) -> None:
    """Register this group's subcommands on the top-level subparsers."""
    train = commands.add_parser(
        "train",
        help="train the ViT teacher",
        description="Build (or reuse) the feature store and split of data.root, then train the teacher on random "
        "windows of the training songs, validating per song (mean over windows) and keeping the best epoch by "
        "mean validation CCC. Writes OUT/config.yaml, history.csv, best/ and last/ (safetensors + JSON), then "
        "evaluates best/ on evaluate.split (unless --no-evaluate). --resume continues a killed run exactly.",
    )
    config_flag(train, "--out", "teacher.out_dir", type=Path)
    train.add_argument("--resume", action="store_true", help="continue from OUT/last/ with the same config")
    train.add_argument("--no-evaluate", action="store_true", help="skip the evaluation after training")
    add_distributed_options(train)
    add_config_options(train)
    train.set_defaults(func=_cmd_train)

    run = commands.add_parser(
        "run",
        help="the whole pipeline, resumable, into one run folder with one report",
        description="Run the stages features -> split -> gan -> generate -> teacher -> distill -> evaluate -> export "
        "-> predict into pipeline.out_dir (optional stages follow pipeline.*). A stage is skipped when it already ran "
        "with the same configuration (a hash of the settings it depends on), so a killed run continues where it "
        "stopped (trainers resume from their last checkpoint). --from STAGE redoes that stage and the ones after it. "
        "The run folder holds the resolved config.yaml, every stage's outputs, summary.json (times and peak memory "
        "per stage) and report.html. Profiles: configs/demo.yaml, configs/deam-lean.yaml, configs/deam-full.yaml.",
    )
    run.add_argument("--from", dest="start", metavar="STAGE", help="redo from this stage on")
    add_config_options(run)
    run.set_defaults(func=_cmd_run)

    distill = commands.add_parser(
        "distill",
        help="distil a teacher run into a small MobileViT student",
        description="Train a MobileViT student (student.*) on the teacher run's songs, split and front end, with "
        "loss = alpha * L(student, labels) + (1 - alpha) * L(student, teacher) [+ feature_weight * feature "
        "matching] on the same augmented crops (student.*); the teacher RUN_DIR/best stays frozen. Writes "
        "OUT (default RUN_DIR/student) with best/, last/, history.csv, config.yaml, then evaluates teacher and "
        "student on the same real songs: OUT/comparison/report.html (CCC with intervals, retention, parameters, "
        "file sizes, CPU latency). The config defaults to RUN_DIR/config.yaml; --set changes student.* (a changed windows.*, data.* or features.* is refused).",
    )
    distill.add_argument("run_dir", type=Path, help="teacher run folder written by `moodscape train`")
    config_flag(distill, "--out", "student.out_dir", type=Path)
    distill.add_argument("--resume", action="store_true", help="continue from OUT/last/ with the same config")
    distill.add_argument("--no-evaluate", action="store_true", help="skip the teacher vs student comparison")
    add_distributed_options(distill)
    add_config_options(distill)
    distill.set_defaults(func=_cmd_distill)
    fuse = commands.add_parser(
        "fuse",
        help="average a trained run with the descriptor floor and the musicnn probe",
        description="Fit the descriptor floor (an SVR on librosa descriptors) and the musicnn probe (a ridge on the "
        "shipped musicnn taggers' song summaries; needs a store with musicnn's input, as configs/real-music.yaml "
        "builds) on the run's training and validation songs, and save an equal-weight fusion of them and the "
        "network in RUN_DIR/best/fusion/, where evaluate, export and predict use it. On 4q-dev the average of the "
        "musicnn teacher, the probe and the floor reached macro-F1 0.758 against 0.707 for the teacher alone "
        "(BENCHMARKS.md); predict then also computes each file's descriptors and runs both taggers, about "
        "ten times slower. Run `moodscape evaluate RUN_DIR` afterwards to score it on held-out songs.",
    )
    fuse.add_argument("run_dir", type=Path, help="run folder written by `moodscape train` or `moodscape distill`")
    fuse.add_argument("--no-probe", dest="probe", action="store_false",
                      help="the network and the descriptor floor only (any store; no musicnn)")  # fmt: skip
    fuse.set_defaults(func=_cmd_fuse)

    evaluate = commands.add_parser(
        "evaluate",
        help="metrics, quadrant analysis, plots and report of a trained run",
        description="Score RUN_DIR/best per song on a split: CCC with a bootstrap 95% interval, Pearson, R2, MSE, "
        "MAE, RMSE (on [-1, 1] and 1-9), quadrant confusion matrix, the cheap floors (evaluate.floors) on the same songs, plots, "
        "report.html and report.md, in RUN_DIR/evaluation/SPLIT/.",
    )
    evaluate.add_argument("run_dir", type=Path, help="run folder written by `moodscape train`")
    evaluate.add_argument("--split", choices=["val", "test"], help="split to score (default: evaluate.split)")
    evaluate.set_defaults(func=_cmd_evaluate)
