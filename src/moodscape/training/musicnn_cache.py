"""musicnn's frozen pooled features of each window, computed once: what makes the musicnn teacher (and the
student learning from it) practical on a CPU.

With the pooled head and musicnn training at most its back end, everything up to the pooled features (the
front end's large convolutions: about 2.6 GFLOP per 3 s window, nine tenths of a training step) is frozen
and deterministic. So the features of every window on a grid of starts (every ``step`` frames, plus the
window that ends at the clip's end) are computed once per song and kept beside the store, and training
reads them: windows are crops on that grid instead of at any frame (every 0.75 s for 3 s windows), and
evaluation windows, every ``hop`` frames, fall on the grid. The model itself is unchanged: checkpoints,
export and prediction run the whole network on audio.

Files: ``STORE/musicnn-pooled-<key>/<audio sha>.npy`` (float16, one row per grid start), the key naming
the backbone's weights, the window, the grid and the front end, so any change computes anew.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence

import numpy as np
import torch

from ..features.store import FeatureStore
from ..features.windows import fit_frames, window_starts
from ..files import atomic_path
from ..models.teacher.musicnn_head import MusicnnRegressor

log = logging.getLogger(__name__)

GRID_PER_HOP = 4  # grid starts per evaluation hop
BACK_END = ("pool_bn.", "dense.", "dense_bn.", "classifier.")  # musicnn's layers after the pooling


class PooledWindows:
    """The pooled features of each song's grid windows (see the module docstring)."""

    def __init__(self, model: MusicnnRegressor, store: FeatureStore, song_ids: Sequence[str], *, frames: int, hop: int,
                 device: torch.device, batch_size: int = 64, progress: bool = True) -> None:  # fmt: skip
        from tqdm.auto import tqdm

        self.frames, self.step = frames, max(1, hop // GRID_PER_HOP)
        if hop % self.step:
            raise ValueError(f"evaluation hop {hop} is not a multiple of the grid step {self.step}")
        folder = store.directory / f"musicnn-pooled-{self._key(model, store)}"
        folder.mkdir(exist_ok=True)
        self.starts: dict[str, np.ndarray] = {}
        self.rows: dict[str, np.ndarray] = {}
        todo = []
        for song in dict.fromkeys(song_ids):
            total = max(store.entry(song).frames, frames)
            self.starts[song] = np.unique(np.append(np.arange(0, total - frames + 1, self.step), total - frames))
            path = folder / f"{store.entry(song).audio_sha256 or hashlib.sha1(song.encode()).hexdigest()[:16]}.npy"
            if path.exists():
                self.rows[song] = np.load(path)
            else:
                todo.append((song, path))
        if len(todo) < len(self.starts):
            log.info("musicnn's pooled features of %d songs' windows read from %s", len(self.starts) - len(todo), folder)
        if not todo:
            return
        log.info("musicnn's pooled features of %d songs' windows (every %d frames), computed once into %s",
                 len(todo), self.step, folder)  # fmt: skip
        model.eval()
        with torch.inference_mode():
            for song, path in tqdm(todo, desc="musicnn windows", unit="song", disable=not progress):
                clip = fit_frames(store.get(song).astype(np.float32), frames)
                windows = np.stack([clip[:, s : s + frames] for s in self.starts[song]])
                rows = [model.pooled(torch.from_numpy(windows[i : i + batch_size]).to(device)).float().cpu().numpy()
                        for i in range(0, len(windows), batch_size)]  # fmt: skip
                self.rows[song] = np.concatenate(rows).astype(np.float16)
                with atomic_path(path) as tmp:
                    np.save(tmp, self.rows[song])

    @staticmethod
    def _key(model: MusicnnRegressor, store: FeatureStore) -> str:
        """The weights below the pooling (not the back end, which may train), the window and the front end."""
        digest = hashlib.sha256()
        below = {f"{'' if i == 0 else f'extra{i}.'}{k}": v for i, tagger in enumerate(model.taggers)
                 for k, v in tagger.state_dict().items() if not k.startswith(BACK_END)}  # fmt: skip
        for name, tensor in sorted(below.items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().numpy().tobytes())
        digest.update(json.dumps([model.frames, store.settings.get("hash"), GRID_PER_HOP]).encode())
        return digest.hexdigest()[:16]

    def random_rows(self, song: str, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` random grid windows of ``song`` (with repeats when it has fewer)."""
        rows = self.rows[song]
        return rows[rng.integers(0, len(rows), size=count)]

    def evaluation_rows(self, song: str, total_frames: int, hop: int) -> np.ndarray:
        """The rows of the windows evaluation scores (every ``hop`` frames and one ending at the clip's end)."""
        wanted = window_starts(max(total_frames, self.frames), self.frames, hop)
        index = np.searchsorted(self.starts[song], wanted)
        if not np.array_equal(self.starts[song][np.minimum(index, len(self.starts[song]) - 1)], wanted):
            raise ValueError(f"song {song}: evaluation windows off the cached grid")
        return self.rows[song][index]


def cache_obstacles(train, world_size: int, *, teacher: bool) -> list[str]:
    """Why the pooled features cannot stand in for the windows of this run (empty: they can). A teacher's
    inputs must be the clean windows; a student's may be masked, but mixup would mix its inputs apart from
    the teacher's; extra windows (generated, unlabelled) are not on the grid."""
    aug = train.augment
    reasons = [] if world_size == 1 else ["several processes"]
    if aug.mixup_alpha > 0:
        reasons.append("mixup")
    if teacher and (aug.time_masks or aug.freq_masks or aug.gain_db):
        reasons.append("input augmentation")
    if train.synthetic_ratio > 0 or getattr(train, "transfer", None):
        reasons.append("extra windows")
    return reasons


def cached_song_values(model: MusicnnRegressor, cache: PooledWindows, store: FeatureStore, songs: Sequence[str],
                       hop: int, device: torch.device) -> tuple[np.ndarray, list[np.ndarray]]:  # fmt: skip
    """Song values (N, 2) and each song's window values, as predict_songs gives them, from cached features."""
    model.eval()
    values, windows = [], []
    with torch.inference_mode():
        for song in songs:
            rows = torch.from_numpy(cache.evaluation_rows(song, store.entry(song).frames, hop).astype(np.float32))
            out = model.regress(model.embed_pooled(rows.to(device))).float().cpu().numpy().astype(np.float64)
            windows.append(out)
            values.append(out.mean(axis=0))
    return np.stack(values), windows
