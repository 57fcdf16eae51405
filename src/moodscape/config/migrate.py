"""Configurations written with the old section names, read as today's.

The teacher used to be configured in ``model`` (the network) and ``train`` (its training, the window
and the runtime), the student in ``student`` (the network) and ``distill`` (its training). Profiles,
the ``config.yaml`` saved in every run folder and ``--set train.epochs=3`` overrides written that way
keep working: each old key moves to its section by concept (``teacher``, ``student``, ``windows``,
``runtime``), and :func:`legacy_views` give the old shape back so that a pipeline run folder made
before the rename is not redone.
"""

from __future__ import annotations

import itertools
from typing import Any

from ..errors import ConfigError
from .schema import _StudentNetwork, _TeacherNetwork

LEGACY_SECTIONS = ("model", "train", "distill")
_WINDOWS = {"window_seconds": "seconds", "eval_hop_seconds": "eval_hop_seconds"}
_RUNTIME = {"device": "device", "threads": "threads", "amp": "precision"}
_PRECISION = {"off": "fp32"}  # the old train.amp's "off" (YAML reads a bare off as false); other values kept


def new_key(dotted: str) -> str:
    """Today's dotted key for an old one (``train.epochs`` -> ``teacher.epochs``); others unchanged."""
    section, _, rest = dotted.partition(".")
    if section == "model":
        return f"teacher.{rest}" if rest else "teacher"
    if section not in ("train", "distill") or not rest:
        return dotted
    head, _, tail = rest.partition(".")
    if head in _WINDOWS and not tail:
        return f"windows.{_WINDOWS[head]}"
    if head in _RUNTIME and not tail:
        return f"runtime.{_RUNTIME[head]}"
    return ("teacher." if section == "train" else "student.") + rest


def new_value(dotted: str, value: Any) -> Any:
    """An old value under its new key (the old ``amp: off`` is ``precision: fp32``)."""
    if new_key(dotted) != "runtime.precision" or dotted == "runtime.precision":
        return value
    return "fp32" if value is False else _PRECISION.get(value, value) if isinstance(value, str) else value


def migrate_tree(tree: dict[str, Any], source: str) -> tuple[dict[str, Any], list[str]]:
    """``tree`` with its old sections moved to today's, and one note per decision worth telling.

    The teacher's window and runtime win over the old ``distill`` copies: the student always used the
    teacher's window, and one runtime now serves every trainer (a differing ``distill.threads`` is noted).
    """
    old = [name for name in LEGACY_SECTIONS if name in tree]
    if not old:
        return tree, []
    moved = {k: v for k, v in tree.items() if k not in LEGACY_SECTIONS}
    notes = [f"{source}: old section names ({', '.join(old)}) read as teacher / student / windows / runtime"]
    origin: dict[str, str] = {}  # new dotted key -> the old key that gave its value
    for section in old:  # model, train, distill: the teacher's keys come first, so they win
        body = tree[section]
        if body is None:
            continue
        if not isinstance(body, dict):
            raise ConfigError(f"{source}: '{section}' must be a mapping of settings, got {body!r}")
        for key, value in body.items():
            dotted = f"{section}.{key}"
            target = new_key(dotted)
            value = new_value(dotted, value)
            head, field = target.split(".", 1)
            if section == "distill" and head == "windows" and value is None:
                continue  # the old "take the teacher's window"
            node = moved.setdefault(head, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{source}: '{head}' must be a mapping of settings, got {node!r}")
            if field not in node:
                node[field] = value
                origin[target] = dotted
            elif section == "distill" and head in ("windows", "runtime"):
                if value is not None and value != node[field]:
                    notes.append(f"{source}: {dotted}={value!r} ignored: {target} is shared by every model "
                                 f"({origin.get(target, target)}={node[field]!r} kept)")  # fmt: skip
            else:
                raise ConfigError(
                    f"{source}: {dotted} and {origin.get(target, target)} both set {target}; keep only {target}"
                )
    return moved, notes


_TEACHER_NETWORK = tuple(k for k in _TeacherNetwork.model_fields if k != "out_dir")
_STUDENT_NETWORK = tuple(k for k in _StudentNetwork.model_fields if k != "out_dir")


_OLD_RUNTIME_DEFAULTS = {"device": "auto", "threads": None, "amp": "auto"}


def legacy_views(tree: dict[str, Any]) -> list[dict[str, Any]]:
    """A resolved configuration (``config_to_dict``) in the old shape, as a run made before the rename
    saved it: the old sections added back (model, train, distill, and student as the network alone).

    Several views, since the old ``distill`` held its own runtime, which today's config no longer tells:
    each of its device, threads and amp is the teacher's (a profile that set both alike) or the old
    default (a profile that set only ``train``'s).
    """
    shared = _legacy_view(tree)
    views: list[dict[str, Any]] = []
    for picks in itertools.product((False, True), repeat=len(_OLD_RUNTIME_DEFAULTS)):
        old = {k: v for (k, v), pick in zip(_OLD_RUNTIME_DEFAULTS.items(), picks) if pick}
        view = {**shared, "distill": {**shared["distill"], **old}}
        if view not in views:
            views.append(view)
    return views


def _legacy_view(tree: dict[str, Any]) -> dict[str, Any]:
    teacher, student = tree["teacher"], tree["student"]
    windows = {old: tree["windows"][new] for old, new in _WINDOWS.items()}
    runtime = {old: tree["runtime"][new] for old, new in _RUNTIME.items()}
    runtime["amp"] = {v: k for k, v in _PRECISION.items()}.get(runtime["amp"], runtime["amp"])
    train = {k: v for k, v in teacher.items() if k not in _TEACHER_NETWORK}
    distill = {k: v for k, v in student.items() if k not in _STUDENT_NETWORK}
    return {
        **tree,
        "model": {k: teacher[k] for k in _TEACHER_NETWORK if k in teacher},  # hash_view leaves out settings added later
        "train": {**train, **windows, **runtime},
        "student": {k: student[k] for k in _STUDENT_NETWORK if k in student},
        "distill": {**distill, **dict.fromkeys(_WINDOWS), **runtime},
    }
