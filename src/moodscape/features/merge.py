"""Joining the stores of ``moodscape features --shard K/N`` into the store one unsharded build writes.

The clips are laid out in the dataset's order (as a build computes them), so the joined store has the
bytes of an unsharded build over the same data and settings; shards built with other settings, of
another dataset, incomplete, missing or repeated are refused.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from ..config import load_config
from ..data.dataset import load_dataset
from ..data.shards import check_complete
from ..errors import ConfigError
from ..files import write_text
from .build import store_name
from .store import (
    ERRORS_FILE,
    FEATURES_FILE,
    SETTINGS_FILE,
    FeatureStore,
)
from .writer import StoreWriter, read_errors

log = logging.getLogger("moodscape.features.store")

_SAME = ("dataset", "layout", "root", "audio", "features", "hash", "dtype")


def _read_shard(folder: Path) -> dict:
    settings_path = folder / SETTINGS_FILE
    if not settings_path.is_file():
        raise ConfigError(f"{folder}: not a feature store (no {SETTINGS_FILE})")
    settings = json.loads(settings_path.read_text(encoding="utf-8"))
    if "shard" not in settings:
        raise ConfigError(f"{folder}: not a shard (built without --shard K/N)")
    if not settings.get("complete"):
        raise ConfigError(f"{folder}: shard {settings['shard'][0]}/{settings['shard'][1]} is not finished; run its "
                          "`moodscape features ... --shard` again (it resumes)")  # fmt: skip
    return settings


def merge_stores(inputs: Sequence[Path], out_dir: str | Path) -> Path:
    """The store of every shard's songs in ``out_dir`` (named as an unsharded build names it)."""
    folders = [Path(p) for p in inputs]
    shards = [_read_shard(f) for f in folders]
    first = shards[0]
    for folder, settings in zip(folders, shards):
        for key in _SAME:
            if settings.get(key) != first.get(key):
                raise ConfigError(f"{folder} was built with another {key} than {folders[0]}; build every shard with "
                                  "the same dataset and audio/features settings")  # fmt: skip
    n = check_complete([(folder, tuple(settings["shard"])) for folder, settings in zip(folders, shards)])
    config = load_config(folders[0] / "config.yaml")
    dataset = load_dataset(first["root"], layout=first["layout"], csv_scale=config.data.csv_scale,
                           annotations=config.data.annotations)  # fmt: skip
    stores = {}
    for folder in folders:
        store = FeatureStore(folder)
        for entry in store.entries:
            if entry.song_id in stores:
                raise ConfigError(f"song {entry.song_id} is in two shards (again in {folder})")
            stores[entry.song_id] = (store, entry)
    order = [r.song_id for r in dataset.records]
    absent = [song for song in order if song not in stores]
    if absent or len(stores) != len(order):
        raise ConfigError(f"the shards hold {len(stores)} songs, the dataset {first['root']} {len(order)} "
                          f"(missing {absent[:5]}); rebuild the shards from the same dataset")  # fmt: skip
    target = Path(out_dir) / store_name(dataset.name, config.audio, config.features)
    writer = StoreWriter(target, config.features.n_mels)
    writer.begin({k: v for k, v in first.items() if k != "shard"})
    merged = writer.copy_clips((stores[song][0].directory / FEATURES_FILE, stores[song][1]) for song in order)
    errors: dict[str, str] = {}
    for folder in folders:
        errors.update(read_errors(folder / ERRORS_FILE))
    write_text(target / "config.yaml", (folders[0] / "config.yaml").read_text(encoding="utf-8"))
    writer.finish(merged, errors)
    log.info("merged %d shards into %s: %d songs", n, target, len(merged))
    return target
