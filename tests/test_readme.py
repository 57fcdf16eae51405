"""The README's commands as written: every `moodscape` line of its shell blocks parses with the real CLI,
names files that exist and stages that exist. (The example that needs a trained model runs in
test_pipeline against the demo run.)"""

from __future__ import annotations

import re
import shlex

import pytest

from moodscape.cli import build_parser
from moodscape.pipeline import STAGES

from .conftest import REPO


def readme_commands() -> list[list[str]]:
    """argv of every `moodscape ...` command in the README's ```bash blocks (also inside $(...))."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            for command in re.findall(r"(?:^|\$\()\s*(moodscape [^)#]*)", line):
                commands.append(shlex.split(command)[1:])
    return commands


COMMANDS = readme_commands()


def test_the_readme_has_commands_to_check():
    assert len(COMMANDS) >= 8 and any(c[0] == "predict" for c in COMMANDS)


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_a_readme_command_parses_and_names_what_exists(argv):
    args = build_parser().parse_args(argv)
    if getattr(args, "config", None) is not None:
        assert (REPO / args.config).is_file(), args.config
    if getattr(args, "start", None) is not None:
        assert args.start in STAGES
