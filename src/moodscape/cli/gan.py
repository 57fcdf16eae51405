"""GAN commands (train, generate, evaluate, ablation) and listen."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .common import add_config_options, add_distributed_options, config_flag, config_from, positive_float, positive_int

log = logging.getLogger("moodscape")


def _cmd_gan_train(args: argparse.Namespace) -> int:
    from ..training.distributed import is_main_process
    from ..training.gan import train_gan

    config = config_from(args)
    run_dir = train_gan(config, out_dir=config.gan.out_dir, resume=args.resume, progress=not args.quiet)
    if not is_main_process():
        return 0
    print(f"GAN run folder: {run_dir} (EMA generator in {run_dir / 'generator'})")
    return 0


def _cmd_gan_generate(args: argparse.Namespace) -> int:
    from ..inference.synthetic import generate_synthetic_store

    config = config_from(args)
    run_dir = args.run_dir or config.gan.out_dir
    out = generate_synthetic_store(
        run_dir, args.out or Path(run_dir) / "synthetic", n=config.gan.samples, labels=args.labels,
        grid=tuple(args.point or ()), seed=args.seed, progress=not args.quiet,
    )  # fmt: skip
    print(out)
    return 0


def _cmd_gan_evaluate(args: argparse.Namespace) -> int:
    from ..experiments.gan_eval import evaluate_gan

    config = config_from(args)
    run_dir = args.run_dir or config.gan.out_dir
    metrics = evaluate_gan(run_dir, teacher_dir=config.teacher.out_dir, windows=args.windows, seed=args.seed)
    for space in ("frechet_teacher_embedding", "frechet_band_statistics"):
        d = metrics[space]
        print(f"{space}: real vs synthetic {d['real_vs_synthetic']:.3f}   real vs real {d['real_vs_real']:.3f}")
    fidelity = metrics["condition_fidelity_ccc"]
    print(f"condition fidelity (CCC): valence {fidelity['valence']:.3f}, arousal {fidelity['arousal']:.3f}")
    print(f"report: {Path(run_dir) / 'evaluation' / 'report.html'}")
    return 0


def _cmd_gan_ablation(args: argparse.Namespace) -> int:
    from ..experiments.ablation import ARMS, run_ablation

    config = config_from(args)
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
    from ..inference.listen import PRESET_POINTS, listen_to_clip, listen_to_generator

    if args.generator:
        points = tuple(args.point) if args.point else PRESET_POINTS
        for path in listen_to_generator(args.generator, args.out, points=points, seed=args.seed, n_iter=args.iterations):
            print(path)
        return 0
    if not (args.store and args.song):
        from ..errors import ConfigError

        raise ConfigError("moodscape listen: give --store and --song for a real clip, or --generator for generated ones")
    print(listen_to_clip(args.store, args.song, args.out, start=args.start, seconds=args.seconds, n_iter=args.iterations))
    return 0


def add_commands(commands) -> None:
    """Register this group's subcommands on the top-level subparsers."""
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
    config_flag(gan_train, "--out", "gan.out_dir", type=Path)
    gan_train.add_argument("--resume", action="store_true", help="continue from OUT/last/ with the same config")
    add_distributed_options(gan_train)
    add_config_options(gan_train)
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
    config_flag(gan_generate, "--n", "gan.samples", type=positive_int)
    gan_generate.add_argument("--labels", choices=["kde", "uniform", "grid"], default="kde")
    gan_generate.add_argument("--point", type=_parse_point, action="append", metavar="V,A", help="grid point; repeatable (write --point=-0.5,-0.5 when valence is negative)")
    gan_generate.add_argument("--seed", type=int, default=0)
    gan_generate.add_argument("--out", type=Path, help="output folder (default: RUN_DIR/synthetic)")
    add_config_options(gan_generate)
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
    config_flag(gan_evaluate, "--teacher", "teacher.out_dir", type=Path, help="teacher run folder")
    gan_evaluate.add_argument("--windows", type=positive_int, default=1000, help="real and generated windows compared")
    gan_evaluate.add_argument("--seed", type=int, default=0)
    add_config_options(gan_evaluate)
    gan_evaluate.set_defaults(func=_cmd_gan_evaluate)
    gan_ablation = gan_commands.add_parser(
        "ablation",
        help="teacher trained real-only vs real+synthetic, on the same real test songs",
        description="Train the teacher of the config twice: on real training windows only, and with --ratio "
        "generated windows per real one added from a synthetic store (training set only). Both are scored on the "
        "same real test songs (CCC with 95% intervals); OUT/report.html says plainly whether synthetic data helps.",
    )
    gan_ablation.add_argument("--synthetic", type=Path, help="synthetic store (default: gan.out_dir/synthetic)")
    gan_ablation.add_argument("--ratio", type=positive_float, default=0.5, help="synthetic windows per real window (default 0.5)")
    gan_ablation.add_argument("--out", type=Path, help="output folder (default: gan.out_dir/ablation)")
    add_config_options(gan_ablation)
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
    listen.add_argument("--seconds", type=positive_float, default=10.0, help="length in seconds (default 10)")
    listen.add_argument("--generator", type=Path, help="generator folder written by `moodscape gan train`")
    listen.add_argument("--point", type=_parse_point, action="append", metavar="V,A", help="a (valence, arousal) point; repeatable (write --point=-0.8,-0.6 when valence is negative)")
    listen.add_argument("--seed", type=int, default=0, help="latent seed for generated clips")
    listen.add_argument("--iterations", type=positive_int, default=32, help="Griffin-Lim iterations (default 32)")
    listen.set_defaults(func=_cmd_listen)
