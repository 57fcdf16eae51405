"""Data commands: demo-data, data check, features, split, baseline."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..files import write_json
from .common import add_config_options, config_flag, config_from, positive_float, positive_int

log = logging.getLogger("moodscape")


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from ..data.demo import generate_demo_dataset

    summary = generate_demo_dataset(
        args.out, songs=args.songs, seconds=args.seconds, seed=args.seed, workers=args.workers, progress=not args.quiet
    )
    print(f"wrote {summary.songs} demo songs in DEAM layout to {summary.root}")
    return 0


def _cmd_data_check(args: argparse.Namespace) -> int:
    from ..data.check import check_dataset, format_check
    from ..data.dataset import load_dataset

    data = config_from(args).data
    dataset = load_dataset(args.root, layout=data.layout, csv_scale=data.csv_scale, annotations=data.annotations)
    report = check_dataset(dataset, probe=not args.no_probe, workers=args.workers, progress=not args.quiet)
    print(format_check(report))
    if args.json:
        write_json(args.json, report.to_dict())
    return 0 if report.ok else 1


def _cmd_features(args: argparse.Namespace) -> int:
    from ..data.dataset import load_dataset
    from ..data.shards import parse_shard
    from ..features.build import build_feature_store

    config = config_from(args)
    data = config.data
    dataset = load_dataset(args.root, layout=data.layout, csv_scale=data.csv_scale, annotations=data.annotations)
    store_dir = build_feature_store(
        dataset, config.store.out_dir, config=config, workers=config.store.workers, progress=not args.quiet,
        force=args.force, shard=parse_shard(args.shard) if args.shard else None,
    )
    print(store_dir)
    return 0


def _cmd_split(args: argparse.Namespace) -> int:
    from ..features.prepare import split_store
    from ..features.store import FeatureStore

    config = config_from(args)
    prepared = split_store(FeatureStore(args.store), config, force=args.force)
    splits = prepared.splits
    print(f"train {len(splits.train)}, val {len(splits.val)}, test {len(splits.test)} songs -> {args.store / 'splits.json'}")
    return 0


def _cmd_baseline(args: argparse.Namespace) -> int:
    from ..eval.baseline import format_baseline, run_baseline

    config = config_from(args)
    result = run_baseline(args.store, out_dir=args.out, config=config, kind=args.kind, progress=not args.quiet)
    print(format_baseline(result))
    return 0


def _dataset_flags(parser: argparse.ArgumentParser) -> None:
    config_flag(parser, "--layout", "data.layout", help="dataset layout; auto detects it")
    config_flag(parser, "--csv-scale", "data.csv_scale")
    config_flag(parser, "--annotations", "data.annotations", type=Path)


def add_commands(commands) -> None:
    """Register this group's subcommands on the top-level subparsers."""
    demo = commands.add_parser(
        "demo-data",
        help="write a synthetic dataset in DEAM's layout",
        description="Synthesise music whose sound follows hidden valence/arousal targets, written as MP3s "
        "plus DEAM-format static and dynamic annotation CSVs. For tests, demos and benchmarks.",
    )
    demo.add_argument("out", type=Path, help="output folder (becomes a DEAM root)")
    demo.add_argument("--songs", type=positive_int, default=60, help="number of songs (default 60)")
    demo.add_argument("--seconds", type=positive_float, default=30.0, help="clip length in seconds (default 30; DEAM uses 45)")
    demo.add_argument("--seed", type=int, default=0, help="random seed; same seed, same files (default 0)")
    demo.add_argument("--workers", type=positive_int, default=None, help="worker processes (default: all cores)")
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
    _dataset_flags(check)
    check.add_argument("--no-probe", action="store_true", help="only check that the audio files exist (fast)")
    check.add_argument("--workers", type=positive_int, help="threads decoding audio (default 4)")
    check.add_argument("--json", type=Path, help="also write the report as JSON here")
    add_config_options(check)
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
    config_flag(features, "--out", "store.out_dir", type=Path, help="folder holding feature stores")
    config_flag(features, "--workers", "store.workers", type=positive_int)
    _dataset_flags(features)
    features.add_argument("--force", action="store_true", help="recompute every song (splits.json is kept)")
    features.add_argument("--shard", metavar="K/N", help="only shard K of N of the songs (by a hash of each audio path "
                          "relative to the dataset folder), into OUT/<store>.shard-K-of-N; resumable like any build; "
                          "join the shards with `moodscape merge OUT SHARD_STORES...`")
    add_config_options(features)
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
    add_config_options(split)
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
    add_config_options(baseline)
    baseline.set_defaults(func=_cmd_baseline)
