"""musicnn's view of whole songs: tag probabilities and embeddings (:func:`moodscape.models.pretrained.musicnn.song_summary`),
for the top tags of `moodscape predict --tags` and the frozen linear probe of the quality benchmark.

The summaries of a feature store's songs are cached beside it (``musicnn.npz``), by song and audio content
hash, like the descriptors; the store must hold musicnn's input (``configs/real-music.yaml``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..files import atomic_path
from ..models.pretrained.musicnn import SHIPPED, check_musicnn_store, load_musicnn, song_summary

log = logging.getLogger(__name__)

SUMMARY_FILE = "musicnn.npz"
PARTS = ("tags", "embedding_mean", "embedding_std")


def store_summaries(store, song_ids: Sequence[str], *, names: Sequence[str] = SHIPPED,
                    progress: bool = True) -> np.ndarray:  # fmt: skip
    """(N, features) per song: for each of ``names``, the mean tag probabilities and the mean and spread of
    the 200-unit embedding over 3 s patches (50 + 200 + 200 values per model), cached in ``STORE/musicnn.npz``."""
    from tqdm.auto import tqdm

    check_musicnn_store(store)
    path = store.directory / SUMMARY_FILE
    key = ",".join(names)
    cache: dict[str, tuple[str, np.ndarray]] = {}
    if path.exists():
        with np.load(path, allow_pickle=False) as saved:
            if str(saved["key"]) == key:
                cache = {str(i): (str(h), v) for i, h, v in zip(saved["ids"], saved["sha"], saved["vectors"])}
    todo = [s for s in dict.fromkeys(song_ids) if s not in cache or cache[s][0] != store.entry(s).audio_sha256]
    if todo:
        models = [load_musicnn(name) for name in names]
        for song in tqdm(todo, desc="musicnn", unit="song", disable=not progress):
            mel = store.get(song)
            parts = [song_summary(model, mel) for model in models]
            cache[song] = (store.entry(song).audio_sha256, np.concatenate([p[k] for p in parts for k in PARTS]))
        ids = sorted(cache)
        with atomic_path(path) as tmp:
            np.savez(tmp, key=np.array(key), ids=np.array(ids), sha=np.array([cache[i][0] for i in ids]),
                     vectors=np.stack([cache[i][1] for i in ids]))  # fmt: skip
    return np.stack([cache[s][1] for s in song_ids])


def top_tags(probabilities: np.ndarray, names: Sequence[str], k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` most probable tags, most probable first, as (tag, probability)."""
    order = np.argsort(-np.asarray(probabilities))[:k]
    return [(str(names[i]), float(probabilities[i])) for i in order]


class Tagger:
    """The top tags of whole files from the shipped musicnn taggers: MSD_musicnn's last.fm tags (genres,
    moods, decades) and MTT_musicnn's MagnaTagATune tags (instruments, voices, tempo words)."""

    SAMPLE_RATE = 16000
    MAX_SECONDS = 600.0  # tags of a long file come from its first ten minutes

    def __init__(self, *, top: int = 5, names: Sequence[str] = SHIPPED) -> None:
        import torch

        from ..audio.frontend import LogMel

        self.top = int(top)
        self.models = [load_musicnn(name) for name in names]
        self.frontend = LogMel(sample_rate=self.SAMPLE_RATE, n_fft=512, hop_length=256, n_mels=96, fmin=0.0, fmax=8000.0,
                               compression="logc").eval()  # fmt: skip
        self._torch = torch

    def __call__(self, path) -> list[dict[str, Any]]:
        """[{"tag", "probability", "source"}], the ``top`` of each model, most probable first."""
        from ..audio.io import load_audio

        samples, _ = load_audio(path, sample_rate=self.SAMPLE_RATE, duration=self.MAX_SECONDS, min_seconds=0.0)
        with self._torch.inference_mode():
            mel = self.frontend(self._torch.from_numpy(samples)).numpy()
        tags = []
        for model in self.models:
            summary = song_summary(model, mel)
            tags += [{"tag": tag, "probability": round(p, 3), "source": model.name}
                     for tag, p in top_tags(summary["tags"], model.tag_names, self.top)]  # fmt: skip
        return tags

