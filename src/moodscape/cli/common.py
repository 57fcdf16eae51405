"""What every command shares: config options, verbosity flags, checked numbers, loading the config."""

from __future__ import annotations

import argparse
import typing
from pathlib import Path
from typing import Any

# Namespace attributes of the flags that mirror config keys: "config:KEY=FLAG".
_FLAG_PREFIX = "config:"


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


def add_distributed_options(parser: argparse.ArgumentParser) -> None:
    """--devices, --num-nodes, --strategy: train with several processes (Lightning Fabric; README "Scaling out")."""
    config_flag(parser, "--devices", "distributed.devices", type=positive_int)
    config_flag(parser, "--num-nodes", "distributed.num_nodes", type=positive_int)
    config_flag(parser, "--strategy", "distributed.strategy")


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


def config_flag(parser: argparse.ArgumentParser, flag: str, key: str, *, type: Any = None, help: str | None = None) -> None:
    """A flag that sets one config key (``--layout`` for ``data.layout``): its choices and help come from the
    schema, so flag and config cannot drift apart, and :func:`config_from` applies it over the config file
    and ``--set``, in the saved config too."""
    from ..config import schema_field

    field = schema_field(key)
    text = (help or field.description or key).rstrip(".")
    default = "" if field.default is None else f", default {field.default}"
    kwargs: dict[str, Any] = {"dest": f"{_FLAG_PREFIX}{key}={flag}", "default": None,
                              "help": f"{text} (config: {key}{default})"}  # fmt: skip
    choices = _choices(field.annotation)
    if choices:
        kwargs["choices"] = choices
    else:
        kwargs["metavar"] = flag.lstrip("-").upper().replace("-", "_")
        if type is not None:
            kwargs["type"] = type
    parser.add_argument(flag, **kwargs)


def _choices(annotation: Any) -> list[Any] | None:
    """The values of a ``Literal[...]`` annotation (also inside ``Literal[...] | None``)."""
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is typing.Literal:
            return list(typing.get_args(arg))
    return None


def flag_values(args: argparse.Namespace) -> dict[str, tuple[str, Any]]:
    """The config keys given through their own flags: dotted key -> (flag, value)."""
    values = {}
    for dest, value in vars(args).items():
        if dest.startswith(_FLAG_PREFIX) and value is not None:
            key, flag = dest.removeprefix(_FLAG_PREFIX).split("=", 1)
            values[key] = (flag, value)
    return values


def config_from(args: argparse.Namespace):
    """The config file (or the defaults), then ``--set``, then the flags that mirror config keys."""
    from ..config import load_config

    return load_config(args.config, args.overrides, values=flag_values(args))
