"""The command line: version, help on every subcommand, errors as messages with exit code 2."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from moodscape import __version__
from moodscape.cli import build_parser, main


def _subcommands(parser, prefix=()):
    """Every command path of the parser (["gan"], ["gan", "train"], ...), so a new one is covered too."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield [*prefix, name]
                yield from _subcommands(sub, (*prefix, name))


SUBCOMMANDS = list(_subcommands(build_parser()))


def test_the_command_list_is_complete():
    assert {"train", "run", "distill", "export", "predict", "evaluate"} <= {c[0] for c in SUBCOMMANDS}
    assert ["gan", "ablation"] in SUBCOMMANDS and ["data", "check"] in SUBCOMMANDS


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and __version__ in capsys.readouterr().out


@pytest.mark.parametrize("command", SUBCOMMANDS, ids=" ".join)
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    text = capsys.readouterr().out
    assert exit_info.value.code == 0 and "usage: moodscape" in text and len(text) > 200
    assert "%%" not in text, "argparse does not %-format descriptions: write a plain %"


def test_console_script_runs():
    done = subprocess.run([sys.executable, "-m", "moodscape.cli", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "features" in done.stdout and "demo-data" in done.stdout


def test_errors_become_messages_not_tracebacks(tmp_path, caplog):
    assert main(["features", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2
    assert "missing" in caplog.text
    assert main(["split", str(tmp_path)]) == 2
    assert "moodscape features ROOT --out DIR" in caplog.text
    assert main(["features", str(tmp_path), "--set", "features.n_mels=zero"]) == 2
    assert "n_mels" in caplog.text


def test_parser_lists_commands():
    text = build_parser().format_help()
    for name in ("demo-data", "data", "features", "split", "baseline"):
        assert name in text
