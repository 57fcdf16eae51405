"""The pipeline's stages: what each runs, which configuration it depends on, what it writes."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config, load_config
from ..errors import ConfigError

log = logging.getLogger(__name__)

STAGES = ("features", "split", "gan", "generate", "teacher", "distill", "evaluate", "export", "predict")


def resolve_run_config(config: Config) -> Config:
    """The configuration with every output placed inside ``pipeline.out_dir``."""
    run = Path(config.pipeline.out_dir)
    teacher = config.teacher.model_copy(update={"out_dir": run / "teacher"})
    if config.pipeline.gan and config.teacher.synthetic_ratio > 0:
        teacher = teacher.model_copy(update={"synthetic_dir": run / "gan" / "synthetic"})
    elif config.teacher.synthetic_ratio > 0 and config.teacher.synthetic_dir is None:
        raise ConfigError("teacher.synthetic_ratio > 0 needs pipeline.gan=true (or teacher.synthetic_dir)")
    return config.model_copy(update={
        "store": config.store.model_copy(update={"out_dir": run / "features"}),
        "gan": config.gan.model_copy(update={"out_dir": run / "gan"}),
        "teacher": teacher,
        "student": config.student.model_copy(update={"out_dir": run / "student"}),
    })  # fmt: skip


@dataclass(frozen=True)
class Context:
    """What a stage gets: the resolved config, the run folder, earlier stages' outputs, whether to resume."""

    config: Config
    run: Path
    done: dict[str, Any]
    resume: bool
    progress: bool


@dataclass(frozen=True)
class Stage:
    name: str
    sections: tuple[str, ...]  # dotted config paths the stage's outputs depend on
    outputs: tuple[str, ...]  # folders (relative to the run) the stage writes; removed when it is redone
    enabled: Callable[[Config], bool]
    run: Callable[[Context], dict[str, Any]]
    # Runs every time (cheaply when nothing changed); its outputs' "content" joins the hash of every later
    # stage, so an edited label or replaced audio file redoes what depends on the data.
    always: bool = False
    # The same dependencies under the old section names (model, train, distill): a run folder made
    # then matches its markers and is not redone (see moodscape.config.migrate.legacy_view).
    legacy: tuple[str, ...] | None = None

    @property
    def legacy_sections(self) -> tuple[str, ...]:
        return self.sections if self.legacy is None else self.legacy


def _prepared(ctx: Context):
    """The split store of the features stage, prepared once more cheaply than from the dataset (no rescan)."""
    from ..features.prepare import split_store
    from ..features.store import FeatureStore

    return split_store(FeatureStore(ctx.done["features"]["store"]), ctx.config)


def _value(tree: dict[str, Any], dotted: str) -> Any:
    node: Any = tree
    for key in dotted.split("."):
        node = node[key]
    return node


def stage_hash(previous: str, tree: dict[str, Any], sections: tuple[str, ...]) -> str:
    """The hash of a stage's configuration (``sections`` of the resolved ``tree``) after ``previous``'s."""
    payload = json.dumps([previous, {s: _value(tree, s) for s in sections}], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------- stages


def _features(ctx: Context) -> dict[str, Any]:
    from ..data.dataset import load_dataset
    from ..features.build import build_feature_store
    from ..features.store import FeatureStore

    config = ctx.config
    if config.data.root is None:
        raise ConfigError("data.root is not set: give the dataset folder in the config or with --set data.root=PATH")
    dataset = load_dataset(config.data.root, layout=config.data.layout, csv_scale=config.data.csv_scale,
                           annotations=config.data.annotations)  # fmt: skip
    store = build_feature_store(dataset, Path(config.store.out_dir), config=config, workers=config.store.workers,
                                progress=ctx.progress)  # fmt: skip
    built = FeatureStore(store)
    content = f"{built.settings.get('revision')}-{built.settings.get('labels_revision')}"
    return {"store": str(store), "songs": len(built.song_ids), "dataset": str(config.data.root), "content": content}


def _split(ctx: Context) -> dict[str, Any]:
    from ..features.prepare import split_store
    from ..features.store import FeatureStore

    # The stage runs only when no split exists for these settings: draw it (again) rather than refuse.
    prepared = split_store(FeatureStore(ctx.done["features"]["store"]), ctx.config, force=True)
    return {"train": len(prepared.splits.train), "val": len(prepared.splits.val), "test": len(prepared.splits.test)}


def _gan(ctx: Context) -> dict[str, Any]:
    from ..training.gan import train_gan

    out = train_gan(ctx.config, out_dir=ctx.run / "gan", resume=ctx.resume, progress=ctx.progress, prepared=_prepared(ctx))
    return {"dir": str(out)}


def _generate(ctx: Context) -> dict[str, Any]:
    from ..inference.synthetic import generate_synthetic_store

    out = generate_synthetic_store(ctx.run / "gan", ctx.run / "gan" / "synthetic", n=ctx.config.gan.samples,
                                   labels="kde", seed=ctx.config.seed, progress=ctx.progress)  # fmt: skip
    return {"store": str(out), "windows": ctx.config.gan.samples}


def _teacher(ctx: Context) -> dict[str, Any]:
    from ..training.teacher import train_teacher

    out = train_teacher(ctx.config, out_dir=ctx.run / "teacher", resume=ctx.resume, progress=ctx.progress,
                        prepared=_prepared(ctx))  # fmt: skip
    return {"dir": str(out)}


def _distill(ctx: Context) -> dict[str, Any]:
    from ..training.distill import distill

    out = distill(ctx.run / "teacher", ctx.config, out_dir=ctx.run / "student", resume=ctx.resume,
                  progress=ctx.progress, prepared=_prepared(ctx))  # fmt: skip
    return {"dir": str(out)}


def _evaluate(ctx: Context) -> dict[str, Any]:
    from ..eval.run import evaluate_run

    config, run = ctx.config, ctx.run
    split = config.evaluate.split
    result: dict[str, Any] = {"split": split}
    if config.pipeline.distill:  # evaluates both models on the same songs
        from ..eval.distillation import compare_distillation

        comparison = compare_distillation(run / "teacher", run / "student", split=split, progress=ctx.progress)
        for model in ("teacher", "student"):
            result[model] = {d: comparison["metrics"][model][d] for d in ("valence", "arousal")}
        result["comparison"] = {k: comparison[k] for k in ("retention_percent", "profile", "speedup", "size_ratio")}
    else:
        result["teacher"] = _brief(evaluate_run(run / "teacher", split=split, progress=ctx.progress))
    if config.pipeline.gan and config.pipeline.gan_evaluate:
        result["gan"] = _gan_quality(ctx)
    if config.pipeline.reconstructions:
        result["reconstructions"] = _reconstructions(ctx)
    return result


def _brief(metrics: dict[str, Any]) -> dict[str, Any]:
    return {d: metrics["metrics"][d] for d in ("valence", "arousal")} | {"quadrants": {
        k: metrics["quadrants"][k] for k in ("accuracy", "macro_f1")}, "floor": metrics.get("floor")}  # fmt: skip


def _gan_quality(ctx: Context) -> dict[str, Any]:
    """Frechet distances need an encoder trained on real songs only: the teacher, unless it saw synthetic windows."""
    from ..experiments.gan_eval import evaluate_gan
    from ..training.teacher import train_teacher

    config, run = ctx.config, ctx.run
    encoder = run / "teacher"
    if config.teacher.synthetic_ratio > 0:
        encoder = run / "gan" / "encoder"
        real_only = config.model_copy(update={"teacher": config.teacher.model_copy(
            update={"synthetic_ratio": 0.0, "synthetic_dir": None, "out_dir": encoder})})  # fmt: skip
        saved = encoder / "config.yaml"
        resume = (encoder / "last").exists() and saved.exists() and load_config(saved) == real_only
        train_teacher(real_only, out_dir=encoder, resume=resume, progress=ctx.progress)
    metrics = evaluate_gan(run / "gan", teacher_dir=encoder, seed=config.seed)
    keys = ("frechet_teacher_embedding", "frechet_band_statistics", "condition_fidelity_ccc")
    return {k: metrics[k] for k in keys} | {"report": str(run / "gan" / "evaluation" / "report.html"),
                                            "encoder": str(encoder)}  # fmt: skip


def _reconstructions(ctx: Context) -> list[str]:
    from ..data.splits_file import load_splits
    from ..inference.listen import PRESET_POINTS, listen_to_clip, listen_to_generator

    config, out = ctx.config, ctx.run / "reconstructions"
    count = config.pipeline.reconstructions
    store = Path(ctx.done["features"]["store"])
    test = load_splits(store / "splits.json").test[:count]
    paths = [listen_to_clip(store, song, out / f"real_{song}.wav", seconds=config.windows.seconds) for song in test]
    if config.pipeline.gan:
        paths += listen_to_generator(ctx.run / "gan" / "generator", out, points=PRESET_POINTS[:count], seed=config.seed)
    return [str(p) for p in paths]


def _final_model(config: Config, run: Path) -> Path:
    return run / ("student" if config.pipeline.distill else "teacher")


def _export(ctx: Context) -> dict[str, Any]:
    from ..export.run import export_run

    pipeline = ctx.config.pipeline
    summary = export_run(_final_model(ctx.config, ctx.run), formats=list(pipeline.export_formats),
                         quantize=pipeline.quantize, out_dir=ctx.run / "export")  # fmt: skip
    return {"files": summary["files"], "parity": summary["parity"], "dir": str(ctx.run / "export")}


def _predict(ctx: Context) -> dict[str, Any]:
    from ..data.splits_file import load_splits
    from ..eval.plots import plot_prediction
    from ..features.store import FeatureStore
    from ..inference.outputs import write_predictions
    from ..inference.predictor import Predictor

    config = ctx.config
    store = FeatureStore(ctx.done["features"]["store"])
    splits = load_splits(store.directory / "splits.json")
    songs = (splits.test or getattr(splits, config.evaluate.split))[: config.pipeline.predict_songs]
    predictor = Predictor.load(ctx.run / "export" if config.pipeline.export else _final_model(config, ctx.run))
    out = ctx.run / "predictions"
    results = []
    for path, result, error in predictor.predict_many([store.entry(s).path for s in songs], timeline=True,
                                                      progress=False):  # fmt: skip
        if result is None:
            log.warning("prediction of %s failed: %s", path, error)
            continue
        results.append(result)
        plot_prediction(result, out / f"{path.stem}.png")
    written = write_predictions(results, out / "predictions.csv", timeline=True) if results else []
    return {"model": predictor.backend.description, "songs": [r.to_dict(timeline=False) for r in results],
            "files": [str(p) for p in written]}  # fmt: skip


_ALWAYS = lambda config: True  # noqa: E731
STAGE_LIST = (
    Stage("features", ("data", "audio", "features"), ("features",), _ALWAYS, _features, always=True),
    Stage("split", ("split", "evaluate.quadrant_threshold"), (), _ALWAYS, _split),
    Stage("gan", ("seed", "gan", "windows.seconds", "pipeline.gan"), ("gan",), lambda c: c.pipeline.gan, _gan,
          legacy=("seed", "gan", "train.window_seconds", "pipeline.gan")),
    Stage("generate", ("gan.samples",), ("gan/synthetic",), lambda c: c.pipeline.gan, _generate),
    Stage("teacher", ("seed", "teacher", "windows", "runtime"), ("teacher",), _ALWAYS, _teacher,
          legacy=("seed", "model", "train")),
    Stage("distill", ("student", "runtime", "pipeline.distill"), ("student",), lambda c: c.pipeline.distill, _distill,
          legacy=("student", "distill", "pipeline.distill")),
    Stage("evaluate", ("evaluate", "pipeline.gan_evaluate", "pipeline.reconstructions"), ("reconstructions",),
          _ALWAYS, _evaluate),  # fmt: skip
    Stage("export", ("pipeline.export_formats", "pipeline.quantize"), ("export",), lambda c: c.pipeline.export, _export),
    Stage("predict", ("pipeline.predict_songs",), ("predictions",), lambda c: c.pipeline.predict_songs > 0, _predict),
)
assert tuple(s.name for s in STAGE_LIST) == STAGES
