"""The package's layers (../shared/DESIGN.md) hold: every import points down, siblings stay apart, no circles."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_in_pyproject_are_kept():
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}  # this checkout's sources, whatever is installed
    lint = Path(sys.executable).parent / "lint-imports"
    run = subprocess.run([str(lint)], cwd=REPO, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "5 kept, 0 broken" in run.stdout
