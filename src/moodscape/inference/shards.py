"""Prediction of a library too large for one machine: ``--shard K/N`` picks a fixed part of the files,
and :func:`merge_predictions` joins the shards' tables into one.

A file's shard comes from a hash of its path relative to the folder it was found in (its name when it
was given directly), so every machine agrees whatever the mount point, and a file keeps its shard when
others are added. Each shard's table has a ``<out>.shard.json`` beside it that says which shard, which
model (a hash of its files) and which settings made it; merging refuses tables that disagree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..data.shards import check_complete
from ..errors import ConfigError
from ..files import write_json
from ..version import __version__
from .outputs import PredictionWriter, read_predictions

SHARD_SUFFIX = ".shard.json"


def model_fingerprint(files: Sequence[Path]) -> str:
    """SHA-256 over a model's files (names and bytes): the same model wherever it is installed."""
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.name):
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def shard_meta_path(out: Path) -> Path:
    return out.with_name(out.name + SHARD_SUFFIX)


def write_shard_meta(out: Path, *, shard: tuple[int, int], model: str, settings: dict[str, Any], files: int) -> Path:
    """What made this shard's table (read by :func:`merge_predictions`)."""
    path = shard_meta_path(out)
    payload = {"shard": list(shard), "model": model, "settings": settings, "files": files,
               "moodscape_version": __version__}  # fmt: skip
    write_json(path, payload)
    return path


def check_same_shard(meta_path: Path, *, shard: tuple[int, int], model: str, settings: dict[str, Any]) -> None:
    """A shard resumed with another shard number, model or options would mix two runs: refuse it."""
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    for key, now in (("shard", list(shard)), ("model", model), ("settings", settings)):
        if meta.get(key) != now:
            raise ConfigError(f"{meta_path}: this table was started with another {key} ({meta.get(key)} vs {now}); "
                              "resume with the same --model, --shard and options, or choose another --out")  # fmt: skip


def merge_predictions(inputs: Sequence[Path], out: Path) -> dict[str, Any]:
    """One table (CSV or JSON by ``out``'s suffix) from the tables of shards 1..N, rows ordered by path.

    Refuses a missing or repeated shard, tables made with different models or settings, and a file
    predicted in two shards. Timelines come along when every shard has them.
    """
    metas = []
    for path in inputs:
        meta_path = shard_meta_path(Path(path))
        if not meta_path.is_file():
            raise ConfigError(f"{path}: no {meta_path.name} beside it; merge takes tables written by "
                              "`moodscape predict --shard K/N --out FILE`")  # fmt: skip
        metas.append(json.loads(meta_path.read_text(encoding="utf-8")))
    for path, meta in zip(inputs, metas):
        for key in ("model", "settings"):
            if meta[key] != metas[0][key]:
                raise ConfigError(f"{path} was made with another {key} than {inputs[0]} "
                                  f"({meta[key]} vs {metas[0][key]}); predict every shard with the same model "
                                  "and options")  # fmt: skip
    n = check_complete([(path, tuple(meta["shard"])) for path, meta in zip(inputs, metas)])
    timeline = all(meta["settings"].get("timeline") for meta in metas)
    tags = all(meta["settings"].get("tags") for meta in metas)
    songs: dict[str, Any] = {}
    for path in inputs:
        for song in read_predictions(Path(path), timeline=timeline):
            if song.path in songs:
                raise ConfigError(f"{song.path} was predicted in two shards (again in {path}); merge tables of "
                                  "one sharded run only")  # fmt: skip
            songs[song.path] = song
    with PredictionWriter(out, timeline=timeline, tags=tags) as writer:
        for key in sorted(songs, key=Path):  # the order of one unsharded run over the same folders
            writer.write(songs[key])
    return {"out": str(out), "songs": len(songs), "shards": n, "timeline": timeline,
            "files": [str(p) for p in writer.written]}  # fmt: skip

