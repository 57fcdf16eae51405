"""Fixed-size windows of normalised log-mel: random crops for training, full coverage for evaluation."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import Config
from ..errors import ConfigError, DataError
from .normalize import Normalization, normalize
from .store import FeatureStore

log = logging.getLogger(__name__)


def window_frames(window_seconds: float, *, sample_rate: int, hop_length: int, multiple: int = 1) -> int:
    """Frames in a window of ``window_seconds``, rounded to a multiple of the patch width."""
    frames = window_seconds * sample_rate / hop_length
    return max(multiple, int(round(frames / multiple)) * multiple)


def window_geometry(config: Config, store: FeatureStore) -> tuple[int, int]:
    """(window frames, evaluation hop frames) of ``config.windows`` on this store's front end. The window
    is rounded to the teacher's patch width (a transformer teacher's; musicnn has no patches), for every
    model (the GAN's windows are the teacher's input)."""
    audio, features = store.audio, store.features
    multiple = 1 if config.teacher.kind == "musicnn" else config.teacher.patch_size[1]
    frames = window_frames(config.windows.seconds, sample_rate=audio.sample_rate, hop_length=features.hop_length,
                           multiple=multiple)  # fmt: skip
    hop = max(1, round(config.windows.eval_hop_seconds * audio.sample_rate / features.hop_length))
    return frames, hop


def fit_frames(logmel: np.ndarray, frames: int) -> np.ndarray:
    """Clips shorter than one window are repeated to fill it (no artificial silence)."""
    if logmel.shape[1] >= frames:
        return logmel
    return np.pad(logmel, ((0, 0), (0, frames - logmel.shape[1])), mode="wrap")


def window_starts(total: int, frames: int, hop: int) -> np.ndarray:
    """Starts of windows covering ``total`` frames; the last window ends at the clip's end."""
    if total <= frames:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, total - frames + 1, max(hop, 1))
    if starts[-1] != total - frames:
        starts = np.append(starts, total - frames)
    return starts


def song_windows(logmel: np.ndarray, frames: int, hop: int) -> np.ndarray:
    """(n_mels, T) -> (W, n_mels, frames) windows covering the whole clip."""
    logmel = fit_frames(logmel, frames)
    starts = window_starts(logmel.shape[1], frames, hop)
    return np.stack([logmel[:, s : s + frames] for s in starts])


@dataclass(frozen=True)
class Batch:
    """Training windows (batch, n_mels, frames) and their labels (batch, 2)."""

    inputs: np.ndarray
    targets: np.ndarray


class SongFeatures:
    """Normalised log-mel and labels of a set of songs, held in memory as float32.

    Clip-level arrays for a few thousand songs fit easily (DEAM: ~1 GB at float32); windows are
    views, so an epoch allocates only its batches.
    """

    def __init__(
        self, store: FeatureStore, song_ids: Sequence[str], *, normalization: Normalization | None, mode: str
    ) -> None:
        self.song_ids = list(song_ids)
        self.labels = store.labels(self.song_ids).astype(np.float32)
        self.clips = [normalize(store.get(s), mode=mode, stats=normalization) for s in self.song_ids]

    def __len__(self) -> int:
        return len(self.song_ids)

    def random_batches(
        self,
        rng: np.random.Generator,
        *,
        frames: int,
        windows_per_song: int,
        batch_size: int,
        synthetic: SyntheticWindows | None = None,
        synthetic_ratio: float = 0.0,
        rank: int = 0,
        world: int = 1,
    ) -> Iterator[Batch]:
        """One epoch: ``windows_per_song`` random crops of every song, plus ``synthetic_ratio`` generated
        windows per real one when ``synthetic`` is given, shuffled together, in batches.

        With ``world`` > 1 processes, this is process ``rank``'s part of the epoch: its songs (see
        :func:`shard_songs`, same ``rng`` state on every process) and share of the synthetic windows, in as many
        batches as one process would make of the whole epoch (``batch_size`` is the global batch), so every
        process takes the same number of steps.
        """
        real = np.repeat(np.arange(len(self)), windows_per_song)
        extra = 0 if synthetic is None else int(round(synthetic_ratio * real.size))
        picks = rng.integers(0, len(synthetic), size=extra) if extra else np.zeros(0, dtype=np.int64)
        # Negative codes are synthetic windows, so one permutation shuffles both kinds together.
        codes = np.concatenate([real, -1 - picks])
        if world == 1:
            order = rng.permutation(codes)
            chunks = [order[first : first + batch_size] for first in range(0, order.size, batch_size)]
        else:
            # The same check on every process (on the smallest share), so that none waits for one that stopped.
            fewest = (len(self) // world) * windows_per_song + picks.size // world
            steps = -(-codes.size // batch_size)
            if fewest < steps:
                raise ConfigError(
                    f"{world} processes: the smallest share, {fewest} windows, cannot fill the {steps} steps of an "
                    f"epoch: raise the batch size ({batch_size}, the global batch) or windows_per_song, or use fewer "
                    "processes"
                )
            mine = shard_songs(len(self), rng, rank=rank, world=world)
            log.debug("process %d of %d trains on %d songs: %s", rank, world, len(mine),
                      " ".join(str(self.song_ids[i]) for i in mine))  # fmt: skip
            # The shared draws end here: crops and order come from this process's own stream.
            rng = np.random.default_rng([int(rng.integers(2**32)), rank])
            own = np.concatenate([real[np.isin(real, mine)], (-1 - picks)[rank::world]])
            chunks = np.array_split(rng.permutation(own), steps)
        for chunk in chunks:
            windows, targets = [], []
            for code in chunk:
                if code < 0:
                    window, target = synthetic.window(-1 - int(code))
                else:
                    clip = fit_frames(self.clips[code], frames)
                    start = int(rng.integers(0, clip.shape[1] - frames + 1))
                    window, target = clip[:, start : start + frames], self.labels[code]
                windows.append(window)
                targets.append(target)
            yield Batch(inputs=np.stack(windows), targets=np.stack(targets))


def shard_songs(count: int, rng: np.random.Generator, *, rank: int, world: int) -> np.ndarray:
    """The songs (indices) process ``rank`` of ``world`` trains on this epoch: a fresh seeded permutation cut
    in ``world`` interleaved parts, disjoint and together every song, once. ``rng`` must be in the same state
    on every process (it is: seeded from the seed and the epoch)."""
    return np.sort(rng.permutation(count)[rank::world])


class UnlabelledWindows:
    """Windows of songs without labels (targets NaN: only the teacher scores them), on a fixed grid of
    offsets every ``stride`` frames, normalised like the training songs."""

    def __init__(self, store: FeatureStore, *, normalization: Normalization | None, mode: str, frames: int,
                 stride: int) -> None:  # fmt: skip
        self.frames = frames
        self.clips = [fit_frames(normalize(store.get(s), mode=mode, stats=normalization), frames) for s in store.song_ids]
        self.starts = [(i, s) for i, clip in enumerate(self.clips)
                       for s in range(0, clip.shape[1] - frames + 1, max(1, stride))]  # fmt: skip
        if not self.starts:
            raise DataError(f"{store.directory} holds no usable song for unlabelled windows")

    def __len__(self) -> int:
        return len(self.starts)

    def window(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        song, start = self.starts[index]
        return self.clips[song][:, start : start + self.frames], np.full(2, np.nan, dtype=np.float32)


class MixedWindows:
    """Several sources of extra windows as one, each drawn in proportion to its weight: a uniform pick over
    ``len(self)`` lands in a source's block (of a size set by its weight), then on one of its windows."""

    SPAN = 1_000_000

    def __init__(self, sources: Sequence[tuple[Any, float]]) -> None:
        total = sum(w for _, w in sources)
        self.sources = [s for s, w in sources if w > 0]
        self.ends = np.cumsum([round(self.SPAN * w / total) for _, w in sources if w > 0])

    def __len__(self) -> int:
        return int(self.ends[-1])

    def window(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        k = int(np.searchsorted(self.ends, index, side="right"))
        offset = index - (int(self.ends[k - 1]) if k else 0)
        source = self.sources[k]
        return source.window(offset % len(source))


class SyntheticWindows:
    """Generated windows of a synthetic store, normalised with the real training statistics on access."""

    def __init__(self, store: FeatureStore, *, normalization: Normalization | None, mode: str, frames: int) -> None:
        if not store.settings.get("synthetic"):
            raise DataError(f"{store.directory} is not a synthetic store (write one with `moodscape gan generate`)")
        self.store, self.normalization, self.mode = store, normalization, mode
        self.ids = store.song_ids
        self.labels = store.labels(self.ids).astype(np.float32)
        if self.ids and store.entry(self.ids[0]).frames != frames:
            raise DataError(
                f"{store.directory}: windows of {store.entry(self.ids[0]).frames} frames, the teacher uses {frames}; "
                "generate them with a GAN trained with the same windows.seconds"
            )

    def __len__(self) -> int:
        return len(self.ids)

    def window(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        logmel = np.asarray(self.store.get(self.ids[index]), dtype=np.float32)
        return normalize(logmel, mode=self.mode, stats=self.normalization), self.labels[index]
