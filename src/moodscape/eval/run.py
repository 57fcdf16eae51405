"""Evaluate a trained run on one split: per-song predictions, metrics with intervals, quadrant
analysis, the cheap floors on the same songs, plots and the report.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import torch

from ..config import load_config
from ..errors import CheckpointError
from ..features.prepare import prepare_data
from ..features.windows import SongFeatures
from ..models.checkpoint import read_meta
from ..models.floors.fusion import Fusion
from ..models.loading import REGRESSORS, load_model
from ..models.predict import predict_songs
from .baseline import floor_predictions
from .evaluation import evaluate_predictions
from .evaluation_report import fusion_summary

log = logging.getLogger(__name__)


def read_history(path: Path) -> list[dict[str, Any]]:
    """history.csv as a list of dicts with numbers parsed."""
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return [{k: float(v) if v not in ("", None) else None for k, v in row.items()} for row in csv.DictReader(handle)]


def describe_model(config, meta: dict[str, Any]) -> str:
    """'teacher vit/tiny' or 'student mobilevit/xxs', from a checkpoint's metadata."""
    if meta.get("kind") == "student":
        return f"student {config.student.kind}/{config.student.preset}"
    return f"teacher {config.teacher.kind}/{config.teacher.preset}"


def evaluate_run(run_dir: str | Path, *, split: str | None = None, progress: bool = True) -> dict[str, Any]:
    """Score ``run_dir/best`` on ``split`` (default: evaluate.split) into ``run_dir/evaluation/<split>``."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").exists():
        raise CheckpointError(f"{run_dir} is not a run folder (no config.yaml); train one with `moodscape train`")
    config = load_config(run_dir / "config.yaml")
    split = split or config.evaluate.split
    best = run_dir / "best"
    meta = read_meta(best)
    prepared = prepare_data(config, progress=progress)
    store, splits = prepared.store, prepared.splits
    song_ids = {"val": splits.val, "test": splits.test, "train": splits.train}[split]
    if not song_ids:
        raise CheckpointError(f"split '{split}' of {store.directory} has no songs to evaluate")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = load_model(best, expect=REGRESSORS).to(device)
    data = SongFeatures(store, song_ids, normalization=prepared.normalization, mode=store.features.normalization)
    predicted, _ = predict_songs(
        model, data, frames=meta["window_frames"], hop=meta["eval_hop_frames"], device=device
    )
    floors = floor_predictions(store, splits, song_ids, kinds=config.evaluate.floors, config=config, progress=progress)
    fusion = Fusion.find(best)
    extra, sections = {}, []
    if fusion is not None:
        network = predicted
        predicted = fusion.combine(network, *fusion.store_inputs(store, song_ids, progress=progress))
        extra["fusion"], sections = fusion_summary(fusion, data.labels, network, config.evaluate.quadrant_threshold)
    songs = {"train": len(splits.train), "val": len(splits.val), "test": len(splits.test)}
    return evaluate_predictions(
        song_ids,
        data.labels,
        predicted,
        split=split,
        config=config.evaluate,
        out_dir=run_dir / "evaluation" / split,
        history=read_history(run_dir / "history.csv"),
        floors=floors,
        extra=extra,
        extra_sections=sections,
        model=f"{describe_model(config, meta)} (best epoch {meta.get('epoch')})",
        data=f"{store.settings['dataset']} ({store.directory})",
        songs_per_split=songs,
        seed=config.seed,
    )
