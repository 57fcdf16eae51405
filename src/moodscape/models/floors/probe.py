"""The frozen musicnn probe: a ridge regression on song summaries of the shipped musicnn taggers.

Nothing of musicnn is trained: each song is summarised by both taggers (mean tag probabilities, mean and
spread of the 200-unit embedding over 3 s patches; :func:`store_summaries` for a feature store's songs,
:class:`Summariser` for audio) and a standardised ridge maps the summary to valence and arousal, its
``alpha`` chosen by leave-one-out cross-validation on the training songs. On 4q-dev it places more songs in the right
quadrant than the single-tagger teacher, about as many as the teacher on both taggers; as a third member beside
that teacher and the descriptor floor it adds nothing (BENCHMARKS.md).
A fitted probe saves as safetensors (scaler, coefficients) plus JSON and predicts with numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...errors import ParameterError
from ...files import atomic_path
from ..pretrained.musicnn_spec import MUSICNN_INPUT, SHIPPED
from .storage import load_arrays, save_arrays

ALPHAS = tuple(np.logspace(1, 4, 7))
WEIGHTS_FILE = "musicnn_probe.safetensors"
CONFIG_FILE = "musicnn_probe.json"
SUMMARY_FILE = "musicnn.npz"
PARTS = ("tags", "embedding_mean", "embedding_std")


def summary_vector(models, mel: np.ndarray) -> np.ndarray:
    """One song's summary: for each model, mean tags, then mean and spread of the embedding (50 + 200 + 200)."""
    from ..pretrained.musicnn import song_summary

    parts = [song_summary(model, mel) for model in models]
    return np.concatenate([p[k] for p in parts for k in PARTS])


def store_summaries(store, song_ids: Sequence[str], *, names: Sequence[str] = SHIPPED,
                    progress: bool = True) -> np.ndarray:  # fmt: skip
    """(N, features) per song: :func:`summary_vector` of each of ``names``, cached in ``STORE/musicnn.npz`` by song
    and audio content hash, like the descriptors; the store must hold musicnn's input (``configs/real-music.yaml``)."""
    from tqdm.auto import tqdm

    from ..pretrained.musicnn import check_musicnn_store, load_musicnn

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
            cache[song] = (store.entry(song).audio_sha256, summary_vector(models, store.get(song)))
        ids = sorted(cache)
        with atomic_path(path) as tmp:
            np.savez(tmp, key=np.array(key), ids=np.array(ids), sha=np.array([cache[i][0] for i in ids]),
                     vectors=np.stack([cache[i][1] for i in ids]))  # fmt: skip
    return np.stack([cache[s][1] for s in song_ids])


class Summariser:
    """:func:`summary_vector` of audio at musicnn's rate: its log-mel (moodscape's front end with musicnn's input
    settings, as a feature store of ``configs/real-music.yaml`` computes it), then the taggers."""

    SAMPLE_RATE = int(MUSICNN_INPUT["audio.sample_rate"])

    def __init__(self, names: Sequence[str] = SHIPPED) -> None:
        from ...audio.frontend import LogMel
        from ..pretrained.musicnn import load_musicnn

        self.models = [load_musicnn(name) for name in names]
        settings = {key.split(".")[1]: value for key, value in MUSICNN_INPUT.items() if key.startswith("features.")}
        settings.pop("normalization")
        self.frontend = LogMel(sample_rate=self.SAMPLE_RATE, **settings).eval()

    def mel(self, samples: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.frontend(torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))).numpy()

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        """The summary of mono ``samples`` at :data:`SAMPLE_RATE`."""
        return summary_vector(self.models, self.mel(samples))


class MusicnnProbe:
    """``fit(X, y)`` with X (N, summary values) and y (N, 2) on [-1, 1]; ``predict(X)`` -> (N, 2) on [-1, 1]."""

    def __init__(self, *, taggers: tuple[str, ...] = SHIPPED, resampler: str = "HQ") -> None:
        self.taggers = tuple(taggers)
        # soxr's quality for audio decoded at another rate, as the store the probe learnt from resampled it (a
        # feature store's `fast` mode resamples with LQ, whose gentler filter keeps more of the top mel bands).
        self.resampler = resampler
        self.alpha_: float | None = None
        self.arrays_: dict[str, np.ndarray] = {}

    def fit(self, X: np.ndarray, y: np.ndarray) -> MusicnnProbe:
        from sklearn.linear_model import RidgeCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if X.ndim != 2 or y.shape != (X.shape[0], 2) or X.shape[0] < 3:
            raise ParameterError(f"expected X (N, features), y (N, 2) with N >= 3; got {X.shape}, {y.shape}")
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=ALPHAS)).fit(X, y)
        scaler, ridge = model.named_steps["standardscaler"], model.named_steps["ridgecv"]
        self.alpha_ = float(ridge.alpha_)
        self.arrays_ = {"mean": scaler.mean_, "scale": scaler.scale_, "coef": ridge.coef_,
                        "intercept": np.asarray(ridge.intercept_, dtype=np.float64)}  # fmt: skip
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        if not self.arrays_:
            raise RuntimeError("MusicnnProbe.predict before fit")
        a = self.arrays_
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if X.shape[1] != a["mean"].shape[0]:
            raise ParameterError(f"the probe reads {a['mean'].shape[0]} summary values per song; got {X.shape[1]}")
        return np.clip((X - a["mean"]) / a["scale"] @ a["coef"].T + a["intercept"], -1.0, 1.0)

    def save(self, folder: str | Path) -> Path:
        """``musicnn_probe.safetensors`` + ``musicnn_probe.json`` in ``folder``."""
        payload = {"kind": "musicnn-probe", "taggers": list(self.taggers), "alpha": self.alpha_, "resampler": self.resampler}
        return save_arrays(folder, WEIGHTS_FILE, CONFIG_FILE, self.arrays_, payload)

    @classmethod
    def load(cls, folder: str | Path) -> MusicnnProbe:
        def build(payload: dict, arrays: dict) -> MusicnnProbe:
            probe = cls(taggers=tuple(payload["taggers"]), resampler=str(payload["resampler"]))
            probe.alpha_, probe.arrays_ = float(payload["alpha"]), arrays
            return probe

        return load_arrays(folder, WEIGHTS_FILE, CONFIG_FILE, build, what="musicnn probe",
                           fix="fit it again with `moodscape fuse`")  # fmt: skip
