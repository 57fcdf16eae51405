"""Write the CPU install's lock from the environment that runs this script (``make lock`` builds it).

Every installed distribution at its installed version, moodscape itself left out and local version
labels dropped (``torch==2.13.0`` also matches the ``2.13.0+cpu`` build on this machine's disk).
``make venv`` installs with this file as pip's constraints, so a fresh clone gets what CI tested.
"""

from __future__ import annotations

import argparse
import re
from importlib.metadata import distributions
from pathlib import Path

HEADER = """\
# The CPU install's lock: every package `make venv` installs, at the version CI tested (pip constraints).
# Written by `make lock` (scripts/write_lock.py), which resolves pyproject.toml's ranges afresh: refresh it
# on purpose, run `make test`, and commit it. GPU users: skip this file (see README, "GPU install").
"""


def main(out: Path) -> None:
    pins = {}
    for dist in distributions():
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        if name != "moodscape":
            pins[name] = dist.version.split("+")[0]
    out.write_text(HEADER + "".join(f"{name}=={pins[name]}\n" for name in sorted(pins)), encoding="utf-8")
    print(f"{out}: {len(pins)} packages pinned")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the lock file to write (make lock: constraints-cpu.txt)")
    main(parser.parse_args().out)
