"""The ``moodscape`` command line. Each subcommand parses arguments and calls one library function."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .errors import MoodscapeError
from .version import __version__

log = logging.getLogger("moodscape")


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML config file (see configs/); defaults apply when omitted")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config value, e.g. --set features.n_mels=64 (repeatable)",
    )


def _add_verbosity(parser: argparse.ArgumentParser, *, default: object) -> None:
    """-v/-q; on subcommands with a suppressed default, so `moodscape -q predict` and `moodscape predict -q`
    both work and a subcommand never resets what was given before it."""
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true", default=default, help="debug logging")
    verbosity.add_argument("-q", "--quiet", action="store_true", default=default,
                           help="warnings and errors only; no progress bars")  # fmt: skip


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield sub
                yield from _subparsers(sub)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _config(args: argparse.Namespace):
    from .config import load_config

    return load_config(args.config, args.overrides)


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from .data.demo import generate_demo_dataset

    summary = generate_demo_dataset(
        args.out, songs=args.songs, seconds=args.seconds, seed=args.seed, workers=args.workers, progress=not args.quiet
    )
    print(f"wrote {summary.songs} demo songs in DEAM layout to {summary.root}")
    return 0


def _cmd_data_check(args: argparse.Namespace) -> int:
    from .data.check import check_dataset, format_check
    from .data.dataset import load_dataset

    dataset = load_dataset(args.root, layout=args.layout, csv_scale=args.csv_scale, annotations=args.annotations)
    report = check_dataset(dataset, probe=not args.no_probe, workers=args.workers, progress=not args.quiet)
    print(format_check(report))
    if args.json:
        args.json.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return 0 if report.ok else 1


def _cmd_features(args: argparse.Namespace) -> int:
    from .data.dataset import load_dataset
    from .features.store import build_feature_store

    config = _config(args)
    dataset = load_dataset(
        args.root,
        layout=args.layout or config.data.layout,
        csv_scale=config.data.csv_scale,
        annotations=args.annotations or config.data.annotations,
    )
    out = args.out or config.store.out_dir
    store_dir = build_feature_store(
        dataset, out, config=config, workers=args.workers or config.store.workers, progress=not args.quiet,
        force=args.force,
    )
    print(store_dir)
    return 0


def _cmd_split(args: argparse.Namespace) -> int:
    from .features.prepare import split_store
    from .features.store import FeatureStore

    config = _config(args)
    prepared = split_store(FeatureStore(args.store), config, force=args.force)
    splits = prepared.splits
    print(f"train {len(splits.train)}, val {len(splits.val)}, test {len(splits.test)} songs -> {args.store / 'splits.json'}")
    return 0


def _cmd_baseline(args: argparse.Namespace) -> int:
    from .eval.baseline import format_baseline, run_baseline

    config = _config(args)
    result = run_baseline(args.store, out_dir=args.out, config=config, kind=args.kind, progress=not args.quiet)
    print(format_baseline(result))
    return 0


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
    from .eval.run import evaluate_run
    from .training.teacher import train_teacher

    config = _config(args)
    out = args.out or config.train.out_dir
    run_dir = train_teacher(config, out_dir=out, resume=args.resume, progress=not args.quiet)
    print(f"run folder: {run_dir}")
    if not args.no_evaluate:
        metrics = evaluate_run(run_dir, progress=not args.quiet)
        print(_format_evaluation(metrics, Path(run_dir) / "evaluation" / metrics["split"]))
    return 0


def _cmd_distill(args: argparse.Namespace) -> int:
    from .eval.distillation import compare_distillation
    from .training.distill import distill, distill_config

    config = distill_config(args.run_dir, args.config, args.overrides)
    out = distill(args.run_dir, config, out_dir=args.out, resume=args.resume, progress=not args.quiet)
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


def _cmd_export(args: argparse.Namespace) -> int:
    from .export.run import export_run

    summary = export_run(args.run_dir, formats=args.format or ["onnx"], quantize=args.quantize, out_dir=args.out)
    out = Path(summary["out_dir"])
    for name, info in summary["files"].items():
        print(f"{name:20} {out / info['path']}  ({info['mb']:.2f} MB)")
    parity = summary["parity"]
    print(f"parity with PyTorch on {parity['source']} ({parity['windows']} windows):")
    for name, entry in parity.items():
        if isinstance(entry, dict) and "max_abs_diff" in entry:
            drop = entry.get("ccc_drop")
            extra = f", song CCC drop valence {drop['valence']:+.4f} arousal {drop['arousal']:+.4f}" if drop else ""
            print(f"  {name:20} max abs diff {entry['max_abs_diff']:.2e}{extra}  "
                  f"[{'ok' if entry['passed'] else 'FAILED'}: {entry['tolerance']}]")  # fmt: skip
    print(f"model card: {out / 'model_card.md'}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from .audio.io import find_audio_files
    from .inference.predictor import PredictionWriter, Predictor, check_output, plot_names

    files = [f for p in args.paths for f in (find_audio_files(p) if p.is_dir() else [p])]
    if not files:
        log.error("no audio files found in %s", ", ".join(map(str, args.paths)))
        return 1
    if args.out:
        check_output(args.out)  # before any decoding: a bad name must not cost the work
    options = {"threads": args.threads, "batch_size": args.batch_size, "hop_seconds": args.hop}
    predictor = Predictor.load(args.model, **options) if args.model else Predictor.default(**options)
    names = plot_names(files) if args.plot else {}
    writer = PredictionWriter(args.out, timeline=args.timeline) if args.out else None
    done, failed = 0, []
    if writer is None:
        print(f"{'file':40} {'valence':>8} {'arousal':>8} {'V 1-9':>6} {'A 1-9':>6}  quadrant")
    try:
        for path, result, error in predictor.predict_many(files, timeline=args.timeline or bool(args.plot),
                                                          progress=not args.quiet):  # fmt: skip
            if result is None:
                failed.append((path, error))
                continue
            done += 1
            if writer is not None:
                writer.write(result)
            else:
                print(f"{Path(result.path).name[:40]:40} {result.valence:8.3f} {result.arousal:8.3f} "
                      f"{result.valence_1_9:6.2f} {result.arousal_1_9:6.2f}  {result.quadrant} {result.mood}"
                      + (f"  ({result.warning})" if result.warning else ""), flush=True)  # fmt: skip
            if args.plot:
                from .eval.plots import plot_trajectory

                points = result.timeline
                plot_trajectory([p["time"] for p in points], [p["valence"] for p in points], [p["arousal"] for p in points],
                                args.plot / names[path], title=f"{path.name}: {result.mood}")  # fmt: skip
    finally:
        if writer is not None:
            writer.close()
            for written in writer.written:
                print(f"wrote {written} ({writer.count} songs)")
    for path, error in failed:  # each reason names its file
        print(f"skipped: {error}", file=sys.stderr)
    print(f"{done} of {len(files)} files predicted", file=sys.stderr)
    return 1 if not done else 0


def _cmd_models(args: argparse.Namespace) -> int:
    from .errors import CheckpointError
    from .inference.catalog import find_models, shipped_model

    rows = []
    try:
        rows.append(shipped_model())
    except CheckpointError as exc:
        log.warning("%s", exc)
    rows += find_models(args.paths or [Path(".")], max_depth=args.depth)
    print(f"{'model':28} {'kind':8} {'fused':5} {'MB':>6}  {'form':34} path")
    for m in rows:
        print(f"{m.name[:28]:28} {m.kind[:8]:8} {'yes' if m.fused else 'no':5} {m.mb:6.2f}  {m.form[:34]:34} {m.path}")
        if m.summary:
            print(f"{'':28} {m.summary}")
    print(f"{len(rows)} model(s); predict with one: moodscape predict SONG --model PATH (no --model: the default)")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from .pipeline import run_pipeline

    summary = run_pipeline(_config(args), start=args.start, progress=not args.quiet)
    print(f"{'stage':10} {'status':24} {'seconds':>8} {'peak MB':>12}")
    for name, stage in summary["stages"].items():
        seconds, peak = stage.get("seconds"), stage.get("peak_memory_mb")
        print(f"{name:10} {stage['status']:24} {seconds if seconds is not None else '':>8} {peak if peak is not None else '':>12}")
    print(f"run folder: {summary['run']}  (summary.json, config.yaml)")
    print(f"report: {summary['report']}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .eval.run import evaluate_run

    metrics = evaluate_run(args.run_dir, split=args.split, progress=not args.quiet)
    print(_format_evaluation(metrics, args.run_dir / "evaluation" / metrics["split"]))
    return 0


def _cmd_gan_train(args: argparse.Namespace) -> int:
    from .training.gan import train_gan

    config = _config(args)
    run_dir = train_gan(config, out_dir=args.out or config.gan.out_dir, resume=args.resume, progress=not args.quiet)
    print(f"GAN run folder: {run_dir} (EMA generator in {run_dir / 'generator'})")
    return 0


def _cmd_gan_generate(args: argparse.Namespace) -> int:
    from .inference.synthetic import generate_synthetic_store

    config = _config(args)
    run_dir = args.run_dir or config.gan.out_dir
    out = generate_synthetic_store(
        run_dir, args.out or Path(run_dir) / "synthetic", n=args.n or config.gan.samples, labels=args.labels,
        grid=tuple(args.point or ()), seed=args.seed, progress=not args.quiet,
    )  # fmt: skip
    print(out)
    return 0


def _cmd_gan_evaluate(args: argparse.Namespace) -> int:
    from .experiments.gan_eval import evaluate_gan

    config = _config(args)
    run_dir = args.run_dir or config.gan.out_dir
    metrics = evaluate_gan(run_dir, teacher_dir=args.teacher or config.train.out_dir, windows=args.windows, seed=args.seed)
    for space in ("frechet_teacher_embedding", "frechet_band_statistics"):
        d = metrics[space]
        print(f"{space}: real vs synthetic {d['real_vs_synthetic']:.3f}   real vs real {d['real_vs_real']:.3f}")
    fidelity = metrics["condition_fidelity_ccc"]
    print(f"condition fidelity (CCC): valence {fidelity['valence']:.3f}, arousal {fidelity['arousal']:.3f}")
    print(f"report: {Path(run_dir) / 'evaluation' / 'report.html'}")
    return 0


def _cmd_gan_ablation(args: argparse.Namespace) -> int:
    from .experiments.ablation import ARMS, run_ablation

    config = _config(args)
    synthetic = args.synthetic or Path(config.gan.out_dir) / "synthetic"
    out = args.out or Path(config.gan.out_dir) / "ablation"
    summary = run_ablation(config, synthetic_dir=synthetic, ratio=args.ratio, out_dir=out, progress=not args.quiet)
    for dim in ("valence", "arousal"):
        cells = [f"{arm} {summary['arms'][arm]['metrics'][dim]['ccc']:.3f}" for arm in ARMS]
        print(f"{dim:8} test CCC: " + "   ".join(cells))
    print(f"report: {out / 'report.html'}")
    return 0


def _parse_point(text: str) -> tuple[float, float]:
    try:
        valence, arousal = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected VALENCE,AROUSAL on [-1, 1], e.g. 0.8,0.7; got '{text}'") from None
    return valence, arousal


def _cmd_listen(args: argparse.Namespace) -> int:
    from .inference.listen import PRESET_POINTS, listen_to_clip, listen_to_generator

    if args.generator:
        points = tuple(args.point) if args.point else PRESET_POINTS
        for path in listen_to_generator(args.generator, args.out, points=points, seed=args.seed, n_iter=args.iterations):
            print(path)
        return 0
    if not (args.store and args.song):
        from .errors import ConfigError

        raise ConfigError("moodscape listen: give --store and --song for a real clip, or --generator for generated ones")
    print(listen_to_clip(args.store, args.song, args.out, start=args.start, seconds=args.seconds, n_iter=args.iterations))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moodscape",
        description="Predict how music feels: valence (negative to positive) and arousal (calm to energetic).",
        epilog="Typical flow: demo-data (or your DEAM copy) -> features -> split -> baseline. "
        "Run `moodscape COMMAND --help` for each command's options.",
    )
    parser.add_argument("--version", action="version", version=f"moodscape {__version__}")
    _add_verbosity(parser, default=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo-data",
        help="write a synthetic dataset in DEAM's layout",
        description="Synthesise music whose sound follows hidden valence/arousal targets, written as MP3s "
        "plus DEAM-format static and dynamic annotation CSVs. For tests, demos and benchmarks.",
    )
    demo.add_argument("out", type=Path, help="output folder (becomes a DEAM root)")
    demo.add_argument("--songs", type=_positive_int, default=60, help="number of songs (default 60)")
    demo.add_argument("--seconds", type=_positive_float, default=30.0, help="clip length in seconds (default 30; DEAM uses 45)")
    demo.add_argument("--seed", type=int, default=0, help="random seed; same seed, same files (default 0)")
    demo.add_argument("--workers", type=_positive_int, default=None, help="worker processes (default: all cores)")
    demo.set_defaults(func=_cmd_demo_data)

    data = commands.add_parser("data", help="inspect a dataset", description="Inspect a dataset on disk.")
    data_commands = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    check = data_commands.add_parser(
        "check",
        help="counts, label statistics, unreadable files, swapped-column check",
        description="Load a dataset (DEAM, emoMusic or a CSV of your own) and report: songs usable, labels "
        "without audio and audio without labels, label statistics per dimension, unreadable files, and, "
        "where static and time-continuous annotations both exist, which static column tracks which curve. Every "
        "audio file is decoded in full (as `features` would), so truncated, corrupt and silent files are found; "
        "audio paths outside the dataset's folder are counted. Exit status 0 when the check is OK, 1 when it "
        "found problems (unreadable audio, a swapped-looking header, no usable songs), 2 for a bad option.",
    )
    check.add_argument("root", type=Path, help="dataset root folder, or a CSV with path,valence,arousal")
    check.add_argument("--layout", default="auto", choices=["auto", "deam", "emomusic", "csv"])
    check.add_argument("--csv-scale", default="1-9", choices=["1-9", "0-1", "-1-1"], help="scale of a CSV's labels")
    check.add_argument("--annotations", type=Path, help="DEAM annotations folder, when not next to the audio")
    check.add_argument("--no-probe", action="store_true", help="only check that the audio files exist (fast)")
    check.add_argument("--workers", type=_positive_int, help="threads decoding audio (default 4)")
    check.add_argument("--json", type=Path, help="also write the report as JSON here")
    check.set_defaults(func=_cmd_data_check)

    features = commands.add_parser(
        "features",
        help="compute and cache log-mel spectrograms",
        description="Decode every song, compute its log-mel spectrogram and store it (float16, memory-mapped) "
        "in OUT/<dataset>-<settings hash>/. Parallel and resumable after a kill. Run again, it brings the store up "
        "to date: songs whose audio changed (path, size or modification time) are recomputed, songs no longer in "
        "the dataset are dropped, edited labels are rewritten, and nothing is done when nothing changed. Unusable "
        "files are listed in errors.csv and skipped. Prints the store folder.",
    )
    features.add_argument("root", type=Path, help="dataset root folder, or a CSV with path,valence,arousal")
    features.add_argument("--out", type=Path, help="folder holding feature stores (default: store.out_dir)")
    features.add_argument("--workers", type=_positive_int, help="worker processes (default: all cores)")
    features.add_argument("--layout", choices=["auto", "deam", "emomusic", "csv"], help="dataset layout")
    features.add_argument("--annotations", type=Path, help="DEAM annotations folder, when not next to the audio")
    features.add_argument("--force", action="store_true", help="recompute every song (splits.json is kept)")
    _add_config_options(features)
    features.set_defaults(func=_cmd_features)

    split = commands.add_parser(
        "split",
        help="split a feature store by song; fit normalisation on train songs",
        description="Draw a song-level train/val/test split (seeded, stratified by quadrant; optional k folds), "
        "write STORE/splits.json, and fit per-band normalisation on the training songs only. An existing "
        "splits.json is reused; if its settings or songs differ the command stops (use --force to redraw).",
    )
    split.add_argument("store", type=Path, help="feature store folder printed by `moodscape features`")
    split.add_argument("--force", action="store_true", help="redraw even if splits.json exists with other settings")
    _add_config_options(split)
    split.set_defaults(func=_cmd_split)

    baseline = commands.add_parser(
        "baseline",
        help="a cheap floor (ridge on pooled log-mel, or SVR on classical descriptors) on the test songs",
        description="Fit a cheap floor on the training songs and report its CCC, Pearson, R2, MSE, MAE, RMSE, "
        "quadrant accuracy and macro-F1 on the test songs. --kind ridge: ridge regression on per-band mean/std of "
        "each song's log-mel (alpha chosen on val). --kind descriptors: an RBF SVR per dimension on librosa "
        "descriptors of the audio (MFCC and deltas, spectral shape and contrast, dynamics, tempo and pulse, "
        "chroma, key clarity and mode, tonnetz; C and gamma by cross-validation on the training songs); each "
        "clip is decoded once and its descriptors cached in STORE/descriptors.npz.",
    )
    baseline.add_argument("store", type=Path, help="feature store folder, already split")
    baseline.add_argument("--kind", choices=["ridge", "descriptors"], default="ridge", help="which floor (default ridge)")
    baseline.add_argument("--out", type=Path, help="output folder (default: runs/baseline-<kind>-<store name>)")
    _add_config_options(baseline)
    baseline.set_defaults(func=_cmd_baseline)

    train = commands.add_parser(
        "train",
        help="train the ViT teacher",
        description="Build (or reuse) the feature store and split of data.root, then train the teacher on random "
        "windows of the training songs, validating per song (mean over windows) and keeping the best epoch by "
        "mean validation CCC. Writes OUT/config.yaml, history.csv, best/ and last/ (safetensors + JSON), then "
        "evaluates best/ on evaluate.split (unless --no-evaluate). --resume continues a killed run exactly.",
    )
    train.add_argument("--out", type=Path, help="run folder (default: train.out_dir)")
    train.add_argument("--resume", action="store_true", help="continue from OUT/last/ with the same config")
    train.add_argument("--no-evaluate", action="store_true", help="skip the evaluation after training")
    _add_config_options(train)
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
    _add_config_options(run)
    run.set_defaults(func=_cmd_run)

    distill = commands.add_parser(
        "distill",
        help="distil a teacher run into a small MobileViT student",
        description="Train a MobileViT student (student.*) on the teacher run's songs, split and front end, with "
        "loss = alpha * L(student, labels) + (1 - alpha) * L(student, teacher) [+ feature_weight * feature "
        "matching] on the same augmented crops (distill.*); the teacher RUN_DIR/best stays frozen. Writes "
        "OUT (default RUN_DIR/student) with best/, last/, history.csv, config.yaml, then evaluates teacher and "
        "student on the same real songs: OUT/comparison/report.html (CCC with intervals, retention, parameters, "
        "file sizes, CPU latency). The config defaults to RUN_DIR/config.yaml; --set changes student.* and distill.*.",
    )
    distill.add_argument("run_dir", type=Path, help="teacher run folder written by `moodscape train`")
    distill.add_argument("--out", type=Path, help="student run folder (default: distill.out_dir or RUN_DIR/student)")
    distill.add_argument("--resume", action="store_true", help="continue from OUT/last/ with the same config")
    distill.add_argument("--no-evaluate", action="store_true", help="skip the teacher vs student comparison")
    _add_config_options(distill)
    distill.set_defaults(func=_cmd_distill)

    export = commands.add_parser(
        "export",
        help="export a trained model to ONNX / TorchScript (with int8)",
        description="Export RUN_DIR/best (a teacher or student run, or a checkpoint folder) with the log-mel front "
        "end and normalisation inside the model: model.onnx takes (batch, window samples) of mono audio at the "
        "model's rate and returns (valence, arousal); model-logmel.onnx takes dB log-mel instead; "
        "model.torchscript.pt is a traced TorchScript module; --quantize int8 adds model.int8.onnx (dynamic int8). "
        "Every file is checked against PyTorch on the run's real test songs (fp32 within 1e-3; int8 by its "
        "song-level CCC change) and OUT/export.json and OUT/model_card.md are written (default OUT: RUN_DIR/export).",
    )
    export.add_argument("run_dir", type=Path, help="run folder (teacher or student) or checkpoint folder")
    export.add_argument("--format", action="append", choices=["onnx", "torchscript"],
                        help="repeatable (default: onnx)")  # fmt: skip
    export.add_argument("--quantize", choices=["int8"], help="also write a dynamic int8 ONNX model")
    export.add_argument("--out", type=Path, help="output folder (default: RUN_DIR/export)")
    export.set_defaults(func=_cmd_export)

    predict = commands.add_parser(
        "predict",
        help="valence and arousal of audio files and folders",
        description="Predict valence and arousal for audio files, and folders searched recursively (any format "
        "soundfile reads, any sample rate and channel count, any length: files are decoded and resampled in "
        "blocks, so memory stays flat). Each song gets values on [-1, 1] and 1-9, a quadrant of Russell's "
        "circumplex and a mood word; --timeline adds the per-window curve. Without --model, the model shipped with "
        "moodscape is used (trained on the 4Q set; `moodscape models` shows its card). A model fused with the "
        "descriptor floor also decodes the file once more for its descriptors. A file that cannot be read is reported "
        "and skipped. Exit status: 0 when at least one file was predicted, 1 when every file failed (or none was "
        "found), 2 for a bad model or option.",
    )
    predict.add_argument("paths", type=Path, nargs="+", help="audio files or folders")
    predict.add_argument("--model", help="run folder (teacher or student), checkpoint folder, exported .onnx or export "
                         "folder, or Hub name (default: the model shipped with moodscape; see `moodscape models`)")
    predict.add_argument("--out", type=Path, help="write results to F.csv (plus F_timeline.csv) or F.json")
    predict.add_argument("--timeline", action="store_true", help="per-window values (time, valence, arousal)")
    predict.add_argument("--plot", type=Path, metavar="DIR", help="draw each song's trajectory on the VA plane")
    predict.add_argument("--hop", type=_positive_float,
                         help="seconds between windows (default: the model's evaluation hop)")  # fmt: skip
    predict.add_argument("--batch-size", type=_positive_int, default=32,
                         help="windows per model call (default 32); memory grows with it")  # fmt: skip
    predict.add_argument("--threads", type=_positive_int, help="CPU threads for the model (default: the runtime's)")
    predict.set_defaults(func=_cmd_predict)

    models = commands.add_parser(
        "models",
        help="list the shipped model and trained ones on disk",
        description="List the model shipped with moodscape (the default of `moodscape predict`, with its cross-validated "
        "scores) and the models found under PATHs (default: the current folder): checkpoint folders (moodscape.json) "
        "and folders of exported ONNX files, with kind, whether the song value is fused with the descriptor floor, "
        "and size.",
    )
    models.add_argument("paths", type=Path, nargs="*", help="folders to search (default: .)")
    models.add_argument("--depth", type=_positive_int, default=5, help="how deep to search (default 5)")
    models.set_defaults(func=_cmd_models)

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

    gan = commands.add_parser("gan", help="conditional GAN augmentation", description="Conditional GAN augmentation.")
    gan_commands = gan.add_subparsers(dest="gan_command", metavar="SUBCOMMAND", required=True)
    gan_train = gan_commands.add_parser(
        "train",
        help="train the conditional GAN on training songs only",
        description="Build (or reuse) the feature store and split of data.root, then train a conditional GAN "
        "(generator with channel attention, spectral-normalised projection discriminator, hinge or WGAN-GP "
        "loss, EMA generator) on random windows of the TRAINING songs only; validation and test songs never "
        "reach it (their ids are absent from OUT/songs.json). Writes OUT/generator/ (EMA weights), last/ "
        "(resumable state), history.csv and config.yaml.",
    )
    gan_train.add_argument("--out", type=Path, help="run folder (default: gan.out_dir)")
    gan_train.add_argument("--resume", action="store_true", help="continue from OUT/last/ with the same config")
    _add_config_options(gan_train)
    gan_train.set_defaults(func=_cmd_gan_train)
    gan_generate = gan_commands.add_parser(
        "generate",
        help="write labelled synthetic windows as a feature store",
        description="Generate N windows with the EMA generator of a GAN run and write them, with their labels, "
        "as a feature store (dB, marked synthetic) in OUT (default RUN_DIR/synthetic), chunk by chunk. Labels: "
        "kde (default: a KDE over the training songs' labels), uniform (the whole plane, as the seed did) or "
        "grid (the --point values, cycled).",
    )
    gan_generate.add_argument("run_dir", type=Path, nargs="?", help="GAN run folder (default: gan.out_dir)")
    gan_generate.add_argument("--n", type=_positive_int, help="number of windows (default: gan.samples, 3200)")
    gan_generate.add_argument("--labels", choices=["kde", "uniform", "grid"], default="kde")
    gan_generate.add_argument("--point", type=_parse_point, action="append", metavar="V,A", help="grid point; repeatable (write --point=-0.5,-0.5 when valence is negative)")
    gan_generate.add_argument("--seed", type=int, default=0)
    gan_generate.add_argument("--out", type=Path, help="output folder (default: RUN_DIR/synthetic)")
    _add_config_options(gan_generate)
    gan_generate.set_defaults(func=_cmd_gan_generate)
    gan_evaluate = gan_commands.add_parser(
        "evaluate",
        help="Frechet distances, condition fidelity, spectra and pictures of a GAN run",
        description="Compare real training windows with generated ones: Frechet distance in the embedding of a "
        "teacher trained on real songs only (--teacher RUN, the FID idea) and in per-band log-mel statistics, each "
        "beside the real-vs-real distance of two disjoint halves of the real windows (the scale); condition "
        "fidelity (the teacher's CCC on generated windows against their labels); band-profile correlation; "
        "spectrograms per quadrant, losses, label distributions; RUN_DIR/evaluation/report.html.",
    )
    gan_evaluate.add_argument("run_dir", type=Path, nargs="?", help="GAN run folder (default: gan.out_dir)")
    gan_evaluate.add_argument("--teacher", type=Path, help="teacher run folder (default: train.out_dir)")
    gan_evaluate.add_argument("--windows", type=_positive_int, default=1000, help="real and generated windows compared")
    gan_evaluate.add_argument("--seed", type=int, default=0)
    _add_config_options(gan_evaluate)
    gan_evaluate.set_defaults(func=_cmd_gan_evaluate)
    gan_ablation = gan_commands.add_parser(
        "ablation",
        help="teacher trained real-only vs real+synthetic, on the same real test songs",
        description="Train the teacher of the config twice: on real training windows only, and with --ratio "
        "generated windows per real one added from a synthetic store (training set only). Both are scored on the "
        "same real test songs (CCC with 95% intervals); OUT/report.html says plainly whether synthetic data helps.",
    )
    gan_ablation.add_argument("--synthetic", type=Path, help="synthetic store (default: gan.out_dir/synthetic)")
    gan_ablation.add_argument("--ratio", type=_positive_float, default=0.5, help="synthetic windows per real window (default 0.5)")
    gan_ablation.add_argument("--out", type=Path, help="output folder (default: gan.out_dir/ablation)")
    _add_config_options(gan_ablation)
    gan_ablation.set_defaults(func=_cmd_gan_ablation)

    listen = commands.add_parser(
        "listen",
        help="turn spectrograms back into audio (Griffin-Lim)",
        description="Write WAV files from log-mel spectrograms so that you can hear them: a real clip from a "
        "feature store (--store STORE --song ID, OUT is a .wav file), or generator output at (valence, arousal) "
        "points (--generator RUN/generator, OUT is a folder; default points: the seed's presets (-0.8,-0.6), "
        "(0.8,0.7), (-0.3,0.8), (0.5,-0.5), (0,0)). The dB scale and normalisation are inverted exactly; the "
        "phase is estimated by Griffin-Lim, so expect a phasey but recognisable sound.",
    )
    listen.add_argument("out", type=Path, help="output .wav (real clip) or folder (generator)")
    listen.add_argument("--store", type=Path, help="feature store folder")
    listen.add_argument("--song", help="song id in the store")
    listen.add_argument("--start", type=float, default=0.0, help="seconds into the clip (default 0)")
    listen.add_argument("--seconds", type=_positive_float, default=10.0, help="length in seconds (default 10)")
    listen.add_argument("--generator", type=Path, help="generator folder written by `moodscape gan train`")
    listen.add_argument("--point", type=_parse_point, action="append", metavar="V,A", help="a (valence, arousal) point; repeatable (write --point=-0.8,-0.6 when valence is negative)")
    listen.add_argument("--seed", type=int, default=0, help="latent seed for generated clips")
    listen.add_argument("--iterations", type=_positive_int, default=32, help="Griffin-Lim iterations (default 32)")
    listen.set_defaults(func=_cmd_listen)
    for sub in _subparsers(parser):
        _add_verbosity(sub, default=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except MoodscapeError as exc:
        log.error("%s", exc)
        return 2
    except KeyboardInterrupt:
        log.error("interrupted; work already finished is kept (feature builds resume where they stopped)")
        return 130


if __name__ == "__main__":
    sys.exit(main())
