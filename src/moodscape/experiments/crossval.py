"""Cross-validation on real music: folds grouped by artist and stratified by quadrant; every model is
trained on a fold's training songs through the library's own trainers, scored on the fold's held-out
songs, and set against the floor on the same folds.

Each fold's training part is split once more, by artist, into the songs a model learns from and the
validation songs that choose its epoch (and its fusion weights); held-out songs are never seen before
they are scored. Normalisation statistics come from the fold's training songs only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import Config
from ..data.folds import grouped_folds, groups_for
from ..data.quadrants import quadrant
from ..data.splits import Splits
from ..eval.baseline import fit_floor
from ..eval.quadrant_analysis import analyse_quadrants
from ..eval.scoring import macro_f1
from ..export.onnx import export_onnx, quantize_int8
from ..export.parity import onnx_outputs
from ..features.normalize import Normalization
from ..features.prepare import PreparedData
from ..features.store import FeatureStore
from ..features.windows import SongFeatures, song_windows
from ..inference.synthetic import generate_synthetic_store
from ..metrics.regression import ccc
from ..models.checkpoint import read_meta
from ..models.floors.fusion import Fusion
from ..models.floors.probe import MusicnnProbe, store_summaries
from ..models.loading import REGRESSORS, load_model
from ..models.predict import predict_songs
from ..models.waveform import WaveformRegressor
from ..training.distill import DistillTrainer
from ..training.gan import GanTrainer
from ..training.teacher import TeacherTrainer

log = logging.getLogger(__name__)

VALIDATION_FOLDS = 6  # a sixth of a fold's training songs (by artist) validates
# How reports name the cheap floors (the --kind of `moodscape baseline`) and the frozen musicnn probe.
ROW_LABELS = {"floor": "descriptor floor (SVR on librosa descriptors)", "ridge": "pooled log-mel ridge",
              "musicnn-probe": "frozen musicnn linear probe (ridge on MSD+MTT song summaries)"}


@dataclass(frozen=True)
class Fold:
    """One fold: songs to learn from, validation songs, held-out songs (disjoint, no shared artist)."""

    index: int
    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]


def song_quadrants(store: FeatureStore, song_ids: Sequence[str]) -> np.ndarray:
    labels = store.labels(song_ids)
    return quadrant(labels[:, 0], labels[:, 1])


def make_folds(store: FeatureStore, groups: Mapping[str, str], *, k: int = 5, seed: int = 0) -> list[Fold]:
    """``k`` folds of the store's songs (see :func:`moodscape.data.folds.grouped_folds`), each with its
    training part split by artist into training and validation songs."""
    ids = store.song_ids
    artist = dict(zip(ids, groups_for(ids, groups, source="the group metadata")))
    quads = dict(zip(ids, song_quadrants(store, ids).tolist()))
    folds = []
    for index, test in enumerate(grouped_folds(ids, [quads[s] for s in ids], [artist[s] for s in ids], k=k, seed=seed)):
        rest = [s for s in ids if s not in set(test)]
        val = grouped_folds(rest, [quads[s] for s in rest], [artist[s] for s in rest], k=VALIDATION_FOLDS,
                            seed=seed + 1 + index)[0]  # fmt: skip
        train = tuple(s for s in rest if s not in set(val))
        folds.append(Fold(index, train, val, test))
    return folds


def prepared_fold(store: FeatureStore, fold: Fold, *, merge_validation: bool = False) -> PreparedData:
    """The fold as the trainers take it, with normalisation fitted on its training songs (in memory).
    ``merge_validation``: the validation songs train too (a recipe that keeps its last epoch chooses nothing on
    them, and is shipped trained on every song)."""
    train, val = (tuple(sorted((*fold.train, *fold.val))), ()) if merge_validation else (fold.train, fold.val)
    mean, std = store.band_statistics(train)
    splits = Splits(train=train, val=val, test=fold.test, settings={"fold": fold.index})
    stats = Normalization(mean=mean, std=std, songs=len(train), splits_hash=f"fold{fold.index}")
    return PreparedData(store=store, splits=splits, normalization=stats)


def floor_fold(kind: str, prepared: PreparedData, config: Config) -> np.ndarray:
    """A cheap floor fitted on the fold's training songs: (n_test, 2) held-out predictions."""
    store, splits = prepared.store, prepared.splits
    floor = fit_floor(store, splits, kind=kind, alphas=config.baseline.alphas, seed=config.seed,
                      workers=config.store.workers, progress=False,
                      descriptor_rate=config.baseline.descriptor_sample_rate)  # fmt: skip
    return floor.predict(splits.test)


def _held_out(run: Path, prepared: PreparedData, frames: int, hop: int) -> dict[str, np.ndarray]:
    """The best checkpoint's held-out song values: the network's, and fused when the run has a fusion."""
    store, splits = prepared.store, prepared.splits
    data = SongFeatures(store, splits.test, normalization=prepared.normalization, mode=store.features.normalization)
    network, _ = predict_songs(load_model(run / "best", expect=REGRESSORS), data, frames=frames, hop=hop, device=torch.device("cpu"))
    out = {"network": network}
    fusion = Fusion.find(run / "best")
    if fusion is not None:
        out["fused"] = fusion.combine(network, *fusion.store_inputs(store, splits.test, progress=False))
    return out


def probe_fold(prepared: PreparedData) -> np.ndarray:
    """The frozen linear probe (:class:`~moodscape.models.floors.probe.MusicnnProbe`), fitted on the fold's
    training and validation songs; (n_test, 2) held-out predictions."""
    store, splits = prepared.store, prepared.splits
    train = [*splits.train, *splits.val]
    probe = MusicnnProbe().fit(store_summaries(store, train, progress=False), store.labels(train))
    return probe.predict(store_summaries(store, splits.test, progress=False))


def teacher_fold(config: Config, prepared: PreparedData, out_dir: Path) -> dict[str, np.ndarray]:
    """Train the teacher of ``config`` on the fold (resuming a killed run); held-out song values, and those of
    its int8 export for a musicnn teacher (small enough to ship, as the default model is): the network alone, and
    fused as it ships when the run fuses (``int8_fused``). ``checks`` holds :func:`model_checks` of the fold model."""
    trainer = TeacherTrainer(prepared, config, out_dir=out_dir, progress=False)
    trainer.fit(resume=(out_dir / "last").exists())
    if config.teacher.fuse_descriptors and Fusion.find(out_dir / "best") is None:
        trainer.fuse()
    held = _held_out(out_dir, prepared, trainer.frames, trainer.hop)
    if config.teacher.kind == "musicnn":
        held["int8"] = int8_held_out(out_dir, prepared, trainer.frames, trainer.hop)
        fusion = Fusion.find(out_dir / "best")
        if fusion is not None:
            held["int8_fused"] = fusion.combine(held["int8"], *fusion.store_inputs(prepared.store, prepared.splits.test,
                                                                                   progress=False))  # fmt: skip
    held["checks"] = model_checks(out_dir, prepared, trainer.frames, trainer.hop)
    return held


def model_checks(run: Path, prepared: PreparedData, frames: int, hop: int) -> dict[str, Any]:
    """What tells a properly trained model of a recipe from a stray one, measured on its own training songs: the
    epoch it kept, its quadrant macro-F1 on them (an under-trained model fits them poorly) and the share of them it
    puts in each quadrant (a model leaning to one quadrant). The packaging step holds the shipped model to the
    folds' range of each (scripts/package_default_model.py)."""
    songs = prepared.splits.train
    fit = _held_out(run, replace(prepared, splits=replace(prepared.splits, test=songs)), frames, hop)
    values = fit.get("fused", fit["network"])
    truth = prepared.store.labels(songs)
    predicted = quadrant(values[:, 0], values[:, 1])
    return {"epoch": int(read_meta(run / "best")["epoch"]), "train_macro_f1": macro_f1(quadrant(truth[:, 0], truth[:, 1]), predicted),
            "train_quadrant_shares": [float(np.mean(predicted == q)) for q in (1, 2, 3, 4)]}  # fmt: skip


def student_fold(config: Config, prepared: PreparedData, teacher_dir: Path, out_dir: Path) -> dict[str, np.ndarray]:
    """Distil the fold's teacher into the student of ``config``; held-out song values."""
    trainer = DistillTrainer(prepared, config, teacher_dir=teacher_dir / "best", out_dir=out_dir, progress=False)
    trainer.fit(resume=(out_dir / "last").exists())
    if config.student.fuse_descriptors and Fusion.find(out_dir / "best") is None:
        trainer.fuse()
    return {**_held_out(out_dir, prepared, trainer.frames, trainer.hop),
            "int8": int8_held_out(out_dir, prepared, trainer.frames, trainer.hop)}  # fmt: skip


def int8_held_out(run: Path, prepared: PreparedData, frames: int, hop: int) -> np.ndarray:
    """A run's model as it ships: its log-mel ONNX export with int8 weights (moodscape.export), run by ONNX
    Runtime on the held-out songs' raw log-mel windows (the graph normalises them); (n_test, 2) song values."""
    target = run / "int8" / "model-logmel.int8.onnx"
    if not target.exists():
        exported = export_onnx(WaveformRegressor.from_checkpoint(run / "best"), target.with_name("model-logmel.onnx"),
                               input_kind="logmel")  # fmt: skip
        quantize_int8(exported, target)
    clips = SongFeatures(prepared.store, prepared.splits.test, normalization=None, mode="none").clips
    windows = [song_windows(clip, frames, hop) for clip in clips]
    outputs = onnx_outputs(target, np.concatenate(windows))
    ends = np.cumsum([len(w) for w in windows])
    return np.stack([part.mean(axis=0) for part in np.split(outputs, ends[:-1])])


def gan_teacher_fold(config: Config, prepared: PreparedData, out_dir: Path, *, ratio: float) -> dict[str, np.ndarray]:
    """A GAN trained on the fold's training songs only, its windows added to the teacher's at ``ratio``."""
    gan_dir = out_dir / "gan"
    if not (gan_dir / "generator" / "moodscape.json").exists():
        GanTrainer(prepared, config, out_dir=gan_dir, progress=False).fit()
    synthetic = gan_dir / "synthetic"
    if not (synthetic / "settings.json").exists():
        generate_synthetic_store(gan_dir, synthetic, n=config.gan.samples, seed=config.seed, progress=False)
    teacher = config.teacher.model_copy(update={"synthetic_dir": synthetic, "synthetic_ratio": ratio})
    return teacher_fold(config.model_copy(update={"teacher": teacher}), prepared, out_dir / "teacher")


def scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Quadrant accuracy and macro-F1, sign accuracy per dimension, and CCC per dimension."""
    quads = analyse_quadrants(truth, predicted)
    return {
        "accuracy": float(quads.accuracy),
        "macro_f1": float(quads.macro_f1),
        "valence_sign": float(np.mean((predicted[:, 0] >= 0) == (truth[:, 0] >= 0))),
        "arousal_sign": float(np.mean((predicted[:, 1] >= 0) == (truth[:, 1] >= 0))),
        "ccc_valence": ccc(truth[:, 0], predicted[:, 0]),
        "ccc_arousal": ccc(truth[:, 1], predicted[:, 1]),
    }


def paired_gain(truth: np.ndarray, model: np.ndarray, floor: np.ndarray, *, n: int = 1000,
                seed: int = 0) -> tuple[float, float, float]:  # fmt: skip
    """Macro-F1 of ``model`` minus the floor's on the same out-of-fold songs, with a paired bootstrap
    95% interval over songs (both scored on each resample): (difference, low, high)."""
    t = quadrant(truth[:, 0], truth[:, 1])
    a, b = quadrant(model[:, 0], model[:, 1]), quadrant(floor[:, 0], floor[:, 1])
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(t), len(t)) for _ in range(n)]
    gains = np.array([macro_f1(t[i], a[i]) - macro_f1(t[i], b[i]) for i in draws])
    low, high = np.percentile(gains, [2.5, 97.5])
    return macro_f1(t, a) - macro_f1(t, b), float(low), float(high)
