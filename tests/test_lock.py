"""The CPU install's lock (constraints-cpu.txt) pins every package moodscape needs, at the version this
environment runs: a fresh clone's `make venv` installs what CI tested."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement

LOCK = Path(__file__).resolve().parents[1] / "constraints-cpu.txt"


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def _needed(root: str, extras: frozenset[str]) -> dict[str, str]:
    """The installed version of every distribution ``root[extras]`` needs, directly or not, on this platform."""
    found: dict[str, str] = {}
    todo, seen = [(root, extras)], set()
    while todo:
        name, wanted = todo.pop()
        if (name, wanted) in seen:
            continue
        seen.add((name, wanted))
        for line in distribution(name).requires or []:
            requirement = Requirement(line)
            if requirement.marker and not any(requirement.marker.evaluate({"extra": e}) for e in wanted | {""}):
                continue
            key = _name(requirement.name)
            try:
                found[key] = distribution(key).version.split("+")[0]
            except PackageNotFoundError:  # an optional dependency this environment does not install
                continue
            todo.append((key, frozenset(requirement.extras)))
    return found


def test_the_lock_pins_every_package_moodscape_needs_at_the_version_installed():
    pins = dict(line.strip().split("==") for line in LOCK.read_text().splitlines() if line and not line.startswith("#"))
    if pins.get("torch") != distribution("torch").version.split("+")[0]:
        pytest.skip("this environment was not installed from the CPU lock (a GPU install skips it)")
    needed = _needed("moodscape", frozenset({"dev"}))
    assert {"numba", "llvmlite", "librosa", "numpy", "onnxruntime", "torch"} <= set(needed)
    missing = sorted(set(needed) - set(pins))
    assert not missing, f"not in {LOCK.name}: {missing}; run `make lock`"
    differ = {name: (pins[name], version) for name, version in needed.items() if pins[name] != version}
    assert not differ, f"{LOCK.name} pins (lock, installed) {differ}; run `make venv` (or `make lock` on purpose)"
