"""What every command shares: config options, verbosity flags, checked numbers, loading the config."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML config file (see configs/); defaults apply when omitted")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config value, e.g. --set features.n_mels=64 (repeatable)",
    )


def add_verbosity(parser: argparse.ArgumentParser, *, default: object) -> None:
    """-v/-q; on subcommands with a suppressed default, so `moodscape -q predict` and `moodscape predict -q`
    both work and a subcommand never resets what was given before it."""
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true", default=default, help="debug logging")
    verbosity.add_argument("-q", "--quiet", action="store_true", default=default,
                           help="warnings and errors only; no progress bars")  # fmt: skip


def subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield sub
                yield from subparsers(sub)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def config_from(args: argparse.Namespace):
    from ..config import load_config

    return load_config(args.config, args.overrides)
