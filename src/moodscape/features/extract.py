"""The log-mel of each clip for the feature store, computed in worker processes.

Apart from :mod:`moodscape.features.build` because this is the code that runs in the workers: one
front end per process, built once, and results returned in input order.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import torch

from ..audio.frontend import LogMel
from ..audio.io import load_audio
from ..config import AudioConfig, FeaturesConfig
from ..errors import AudioError
from ..parallel import ordered_map

_WORKER: dict[str, object] = {}


def prepare_frontend(audio: AudioConfig, features: FeaturesConfig) -> None:
    """Build the front end once in the parent: forked workers inherit it, and the FFT library's
    one-time set-up (about 0.1 s) that a first call pays, instead of paying it once each.
    """
    _WORKER["audio"], _WORKER["features"] = audio, features
    frontend = LogMel.from_config(features, audio).eval()
    with torch.inference_mode():
        frontend(torch.zeros(audio.sample_rate))
    _WORKER["frontend"] = frontend


def _init_worker(audio: AudioConfig, features: FeaturesConfig) -> None:
    torch.set_num_threads(1)
    if _WORKER.get("audio") != audio or _WORKER.get("features") != features:
        prepare_frontend(audio, features)


def _extract(path: str) -> tuple[np.ndarray | None, str]:
    """Log-mel of one file as float16 (n_mels, frames), or (None, reason)."""
    audio: AudioConfig = _WORKER["audio"]  # type: ignore[assignment]
    features: FeaturesConfig = _WORKER["features"]  # type: ignore[assignment]
    try:
        samples, _ = load_audio(
            path,
            sample_rate=audio.sample_rate,
            offset=audio.offset,
            duration=audio.duration,
            min_seconds=audio.min_seconds,
            short_policy=audio.short_policy,
            quality=features.resampler,
        )
        with torch.inference_mode():
            logmel = _WORKER["frontend"](torch.from_numpy(samples))  # type: ignore[operator]
        return logmel.numpy().astype(np.float16), ""
    except AudioError as exc:
        return None, str(exc)


def extract_logmels(
    paths: list[str], audio: AudioConfig, features: FeaturesConfig, workers: int | None, labels: list[str] | None = None
) -> Iterator[tuple[np.ndarray | None, str]]:
    """Results in input order, so that a resumed build writes what an uninterrupted one would. ``labels``
    (e.g. ``"song 7"``) name the files in a worker crash error; raises WorkerCrashed (see moodscape.parallel)."""
    workers = min(workers or os.cpu_count() or 1, max(len(paths), 1))
    prepare_frontend(audio, features)
    if workers == 1:
        previous = torch.get_num_threads()
        _init_worker(audio, features)
        try:
            yield from map(_extract, paths)
        finally:
            torch.set_num_threads(previous)
        return
    # fork starts workers in milliseconds (no re-import of torch); they run single-threaded.
    yield from ordered_map(_extract, paths, stage="features", labels=labels, files=paths, workers=workers,
                           initializer=_init_worker, initargs=(audio, features),
                           hint="The songs before it are kept in the store: run the command again to go on, and "
                                "if the same file fails again, check or replace it, or move it out of the dataset.")  # fmt: skip
