"""The command line: version, help on every subcommand, errors as messages with exit code 2."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from moodscape import __version__
from moodscape.cli import build_parser, main
from moodscape.errors import ConfigError


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


def _bad_input(tmp_path):
    """For every leaf command, an invocation with input a user gets wrong (missing file or folder, a model
    setting out of range); each must end as a message with exit code 2, never a traceback."""
    missing = str(tmp_path / "missing")
    song = tmp_path / "song.wav"
    song.write_bytes(b"RIFF")
    demo = ["--config", "configs/demo.yaml"]
    return {
        "demo-data": ["demo-data", str(song / "below-a-file")],
        "data check": ["data", "check", missing],
        "features": ["features", missing, "--out", str(tmp_path / "f")],
        "split": ["split", missing],
        "baseline": ["baseline", missing],
        "train": ["train", *demo, "--set", f"data.root={missing}"],
        "run": ["run", *demo, "--set", f"data.root={missing}", "--set", f"pipeline.out_dir={tmp_path / 'run'}"],
        "distill": ["distill", missing],
        "export": ["export", missing],
        "predict": ["predict", str(song), "--model", str(tmp_path / "no-model.onnx")],
        "serve": ["serve", "--model", missing],
        "merge": ["merge", str(tmp_path / "merged.csv"), missing],
        "models": ["models", missing],
        "evaluate": ["evaluate", missing],
        "fuse": ["fuse", missing],
        "gan train": ["gan", "train", *demo, "--set", f"data.root={missing}"],
        "gan generate": ["gan", "generate", missing],
        "gan evaluate": ["gan", "evaluate", missing],
        "gan ablation": ["gan", "ablation", *demo, "--set", f"data.root={missing}"],
        "listen": ["listen", str(tmp_path / "out"), "--generator", missing],
    }


def test_every_command_reports_bad_input_without_a_traceback(tmp_path, caplog, capsys):
    cases = _bad_input(tmp_path)
    leaves = {" ".join(c) for c in SUBCOMMANDS if not any(o[: len(c)] == c and len(o) > len(c) for o in SUBCOMMANDS)}
    assert set(cases) == leaves, "give each new command a bad-input case here"
    for name, argv in cases.items():
        caplog.clear()
        assert main(argv) == 2, name
        assert "Traceback" not in caplog.text + capsys.readouterr().err, name
        assert caplog.records and caplog.records[-1].levelname == "ERROR", name


def test_a_model_setting_out_of_range_is_a_config_error():
    from moodscape.models.student.mobilevit import StudentRegressor
    from moodscape.models.teacher.transformer import TeacherRegressor

    with pytest.raises(ConfigError, match="multiple of num_heads"):
        TeacherRegressor(n_mels=32, frames=32, hidden_size=30, num_heads=4, num_layers=1)
    with pytest.raises(ConfigError, match="needs windows of at least"):
        StudentRegressor(n_mels=16, frames=16)


def test_flags_that_mirror_config_keys_come_from_the_schema_and_land_in_the_config(tmp_path):
    from typing import get_args

    from moodscape.cli.common import config_from, flag_values
    from moodscape.config import DataConfig

    parser = build_parser()
    layouts = list(get_args(DataConfig.model_fields["layout"].annotation))
    for command in (["features", "root"], ["data", "check", "root"]):
        with pytest.raises(SystemExit):
            parser.parse_args([*command, "--layout", "nope"])
        assert flag_values(parser.parse_args([*command, "--layout", layouts[-1]]))["data.layout"][1] == layouts[-1]
    args = parser.parse_args(["features", "root", "--out", str(tmp_path), "--workers", "3", "--csv-scale", "0-1",
                              "--set", "store.workers=1"])  # fmt: skip
    config = config_from(args)  # the flag is the last word, after --set
    assert (config.store.out_dir, config.store.workers, config.data.csv_scale) == (tmp_path, 3, "0-1")
    args = parser.parse_args(["train", "--out", str(tmp_path / "t"), "--set", "teacher.epochs=0"])
    with pytest.raises(ConfigError, match="(?s)--set teacher.epochs=0.*greater than or equal to 1") as info:
        config_from(args)
    assert "--out" not in str(info.value)
    assert config_from(parser.parse_args(["train", "--out", str(tmp_path / "t")])).teacher.out_dir == tmp_path / "t"
    help_text = " ".join(parser._subparsers._group_actions[0].choices["features"].format_help().split())
    assert "(config: store.workers)" in help_text and "(config: store.out_dir, default features)" in help_text
