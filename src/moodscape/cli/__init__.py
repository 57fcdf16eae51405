"""The ``moodscape`` command line: a package with one module per command group. Each subcommand parses
arguments and calls one library function."""

from __future__ import annotations

import argparse
import logging

from ..errors import MoodscapeError
from ..version import __version__
from . import data, gan, predict, serve, train
from .common import add_verbosity, subparsers

log = logging.getLogger("moodscape")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moodscape",
        description="Predict how music feels: valence (negative to positive) and arousal (calm to energetic).",
        epilog="Typical flow: demo-data (or your DEAM copy) -> features -> split -> baseline. "
        "Run `moodscape COMMAND --help` for each command's options.",
    )
    parser.add_argument("--version", action="version", version=f"moodscape {__version__}")
    add_verbosity(parser, default=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in (data, train, predict, serve, gan):
        group.add_commands(commands)
    for sub in subparsers(parser):
        add_verbosity(sub, default=argparse.SUPPRESS)
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

