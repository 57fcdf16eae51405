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


def _format_model_evaluation(metrics: dict, directory: Path) -> str:
    lines = [f"{metrics['songs']} songs of {metrics['data']} (song level, 95% bootstrap intervals)",
             f"  model: {metrics['model']}"]  # fmt: skip
    for name, entry in metrics["quadrant_scores"].items():
        cells = "  ".join(f"{label} {entry[key]['value']:.3f} [{entry[key]['ci95_low']:.3f}, {entry[key]['ci95_high']:.3f}]"
                          if entry[key]["ci95_low"] is not None else f"{label} {entry[key]['value']:.3f}"
                          for key, label in (("macro_f1", "macro-F1"), ("valence_sign", "valence sign"),
                                             ("arousal_sign", "arousal sign")))  # fmt: skip
        lines.append(f"  {name} ({entry['songs']}): {cells}")
    for d in ("valence", "arousal"):
        m = metrics["metrics"][d]
        lines.append(f"  {d:8} CCC {m['ccc']:.3f}  RMSE {m['rmse']:.3f}")
    timelines = metrics.get("timelines")
    if timelines:
        lines.append("  timelines vs curves (per song, mean): " + ", ".join(
            f"{d} r {timelines[d]['pearson_mean']:.3f} RMSE {timelines[d]['rmse_mean']:.3f}" for d in ("valence", "arousal")))
    if metrics.get("failed"):
        lines.append(f"  {len(metrics['failed'])} file(s) left out: {directory / 'errors.csv'}")
    lines.append(f"  report: {directory / metrics['files']['report_html']}")
    return "\n".join(lines)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    if args.model is None:
        from ..eval.run import evaluate_run

        metrics = evaluate_run(args.path, split=args.split, progress=not args.quiet)
        print(_format_evaluation(metrics, args.path / "evaluation" / metrics["split"]))
        return 0
    from ..errors import ConfigError
    from ..experiments.model_evaluation import Groups, evaluate_model

    if args.split:
        raise ConfigError("--split scores a run folder's own split; with --model, PATH is the labelled data to score")
    if (args.metadata is None) != (args.train_metadata is None):
        raise ConfigError("--metadata and --train-metadata go together: the groups (artists) of the evaluated songs "
                          "and of the songs the model was trained on")  # fmt: skip
    groups = None if args.metadata is None else Groups(args.metadata, args.train_metadata, column=args.group_column,
                                                       id_column=args.id_column)  # fmt: skip
    out = args.out or Path("evaluations") / f"{Path(str(args.model)).name}-on-{args.path.stem}"
    metrics = evaluate_model(args.model, args.path, out_dir=out, layout=args.layout, csv_scale=args.csv_scale,
                             groups=groups, hop_seconds=args.hop, threads=args.threads, bootstrap=args.bootstrap,
                             progress=not args.quiet)  # fmt: skip
    print(_format_model_evaluation(metrics, out))
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
        "network in RUN_DIR/best/fusion/ (replacing the one a run with teacher.fuse_descriptors trained), where "
        "evaluate, export and predict use it. On 4q-dev the configs/real-music.yaml network averaged with the floor "
        "reached macro-F1 0.766 in cross-validation and the probe added nothing (0.767, BENCHMARKS.md); with the "
        "probe, predict also runs both taggers again in PyTorch, several times slower. Run `moodscape evaluate "
        "RUN_DIR` afterwards to score it on held-out songs.",
    )
    fuse.add_argument("run_dir", type=Path, help="run folder written by `moodscape train` or `moodscape distill`")
    fuse.add_argument("--no-probe", dest="probe", action="store_false",
                      help="the network and the descriptor floor only (any store; no musicnn)")  # fmt: skip
    fuse.set_defaults(func=_cmd_fuse)

    evaluate = commands.add_parser(
        "evaluate",
        help="score a trained run on its held-out split, or any model on any labelled data",
        description="Two forms. `moodscape evaluate RUN_DIR [--split val|test]` scores RUN_DIR/best per song on a "
        "split of its own data: CCC with a bootstrap 95% interval, Pearson, R2, MSE, MAE, RMSE (on [-1, 1] and 1-9), "
        "quadrant confusion matrix, the cheap floors (evaluate.floors) on the same songs, plots, report.html and "
        "report.md, in RUN_DIR/evaluation/SPLIT/. `moodscape evaluate --model MODEL DATA` predicts every labelled file "
        "of DATA (a CSV of path,quadrant or path,valence,arousal, a DEAM or emoMusic folder) with MODEL (a shipped "
        "model's name from `moodscape models`, a run or checkpoint folder, an .onnx file or export folder) exactly as "
        "`moodscape predict` does, and writes the same metrics with the quadrant scores (macro-F1, accuracy, valence "
        "and arousal sign, with intervals), the confusion matrix, the songs furthest off and report.html into --out; "
        "with --metadata and --train-metadata also the scores on songs by artists the model heard and on new artists; "
        "where DATA has time-continuous curves (emoMusic), the timelines' per-song Pearson r and RMSE against them.",
    )
    evaluate.add_argument("path", type=Path, metavar="RUN_DIR|DATA",
                          help="a run folder written by `moodscape train`, or with --model the labelled data to score")  # fmt: skip
    evaluate.add_argument("--split", choices=["val", "test"], help="RUN_DIR only: split to score (default: evaluate.split)")
    evaluate.add_argument("--model", help="score this model on DATA: a shipped model's name, a run or checkpoint "
                          "folder, an .onnx file or export folder")  # fmt: skip
    evaluate.add_argument("--out", type=Path, help="--model: output folder (default evaluations/MODEL-on-DATA)")
    evaluate.add_argument("--layout", choices=["auto", "deam", "emomusic", "csv"], default="auto",
                          help="--model: DATA's layout (default: detected)")  # fmt: skip
    evaluate.add_argument("--csv-scale", choices=["1-9", "0-1", "-1-1"], default="1-9",
                          help="--model: scale of a CSV's valence/arousal columns (default 1-9)")  # fmt: skip
    evaluate.add_argument("--metadata", type=Path, help="--model: a CSV naming each evaluated song's group (e.g. 4Q's "
                          "metadata.csv), to score songs by groups the model heard apart from new ones")  # fmt: skip
    evaluate.add_argument("--train-metadata", type=Path,
                          help="--model: the same kind of CSV for the songs the model was trained on")  # fmt: skip
    evaluate.add_argument("--group-column", default="Artist", help="--model: the group column (default Artist)")
    evaluate.add_argument("--id-column", default="Song",
                          help="--model: the metadata's song id column, the audio file names without extension "
                          "(default Song)")  # fmt: skip
    evaluate.add_argument("--hop", type=float, help="--model: seconds between windows (default: the model's own)")
    evaluate.add_argument("--threads", type=int, help="--model: CPU threads (default: every core)")
    evaluate.add_argument("--bootstrap", type=int, default=1000,
                          help="--model: bootstrap resamples of songs for the intervals (0: none; default 1000)")  # fmt: skip
    evaluate.set_defaults(func=_cmd_evaluate)
