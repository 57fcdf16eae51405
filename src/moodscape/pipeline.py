"""``moodscape run``: the whole pipeline as resumable stages in one run folder.

features -> split -> gan -> generate -> teacher -> distill -> evaluate -> export -> predict

Each stage leaves ``RUN/stages/<stage>.json`` with a hash of the configuration it depends on (its
own sections plus every earlier stage's hash), its time and its peak memory. A stage whose marker
matches the current configuration is skipped, so a killed run continues where it stopped; the
trainers inside a stage resume from their ``last/`` checkpoint with identical results. ``--from``
redoes a stage and everything after it. Everything lands in the run folder: the resolved
``config.yaml``, each stage's outputs, ``summary.json`` and one ``report.html``.
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import json
import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from .config import Config, config_to_dict, load_config, save_config
from .errors import ConfigError

log = logging.getLogger(__name__)

STAGES = ("features", "split", "gan", "generate", "teacher", "distill", "evaluate", "export", "predict")


def _pss(process: psutil.Process) -> int:
    """Proportional set size where Linux gives it (shared pages split between the processes that map
    them, so forked workers are not counted twice), else the resident set size."""
    try:
        with open(f"/proc/{process.pid}/smaps_rollup", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return process.memory_info().rss


def _reset_high_water_mark() -> bool:
    """Reset this process's peak resident size (VmHWM) so that it covers only what follows; False
    where the kernel does not offer it."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _high_water_mark() -> int:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


class PeakMemory:
    """Highest memory of this process and its children while the block runs.

    This process: the kernel's own high-water mark (VmHWM, reset on entry), exact and free of cost;
    where the kernel lacks it, the resident size sampled every 50 ms. Children (feature workers): their
    PSS, added to this process's resident size, sampled every 50 ms while any exist. PSS is not read for
    this process: the kernel walks every page table to give it (about 30 ms for 0.5 GB), and sampled
    every 20 ms beside a trainer it halved the training speed (demo distillation: 2.3 against 1.15 s
    per batch).
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval, self.peak = interval, 0
        self._process = psutil.Process()
        self._kernel_mark = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        total = self._process.memory_info().rss
        for child in self._process.children(recursive=True):
            try:
                total += _pss(child)
            except psutil.Error:  # a worker that ended between listing and reading
                continue
        self.peak = max(self.peak, total)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> PeakMemory:
        self._kernel_mark = _reset_high_water_mark()
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        if self._kernel_mark:
            self.peak = max(self.peak, _high_water_mark())


def resolve_run_config(config: Config) -> Config:
    """The configuration with every output placed inside ``pipeline.out_dir``."""
    run = Path(config.pipeline.out_dir)
    train = config.train.model_copy(update={"out_dir": run / "teacher"})
    if config.pipeline.gan and config.train.synthetic_ratio > 0:
        train = train.model_copy(update={"synthetic_dir": run / "gan" / "synthetic"})
    elif config.train.synthetic_ratio > 0 and config.train.synthetic_dir is None:
        raise ConfigError("train.synthetic_ratio > 0 needs pipeline.gan=true (or train.synthetic_dir)")
    return config.model_copy(update={
        "store": config.store.model_copy(update={"out_dir": run / "features"}),
        "gan": config.gan.model_copy(update={"out_dir": run / "gan"}),
        "train": train,
        "distill": config.distill.model_copy(update={"out_dir": run / "student"}),
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


def _value(config: Config, dotted: str) -> Any:
    node: Any = config
    for key in dotted.split("."):
        node = getattr(node, key)
    return config_to_dict(node) if hasattr(node, "model_dump") else json.loads(json.dumps(node, default=str))


def _hash(previous: str, config: Config, sections: tuple[str, ...]) -> str:
    payload = json.dumps([previous, {s: _value(config, s) for s in sections}], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------- stages


def _features(ctx: Context) -> dict[str, Any]:
    from .data.dataset import load_dataset
    from .features.build import build_feature_store
    from .features.store import FeatureStore

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
    from .features.prepare import split_store
    from .features.store import FeatureStore

    # The stage runs only when no split exists for these settings: draw it (again) rather than refuse.
    prepared = split_store(FeatureStore(ctx.done["features"]["store"]), ctx.config, force=True)
    return {"train": len(prepared.splits.train), "val": len(prepared.splits.val), "test": len(prepared.splits.test)}


def _gan(ctx: Context) -> dict[str, Any]:
    from .training.gan import train_gan

    return {"dir": str(train_gan(ctx.config, out_dir=ctx.run / "gan", resume=ctx.resume, progress=ctx.progress))}


def _generate(ctx: Context) -> dict[str, Any]:
    from .inference.synthetic import generate_synthetic_store

    out = generate_synthetic_store(ctx.run / "gan", ctx.run / "gan" / "synthetic", n=ctx.config.gan.samples,
                                   labels="kde", seed=ctx.config.seed, progress=ctx.progress)  # fmt: skip
    return {"store": str(out), "windows": ctx.config.gan.samples}


def _teacher(ctx: Context) -> dict[str, Any]:
    from .training.teacher import train_teacher

    return {"dir": str(train_teacher(ctx.config, out_dir=ctx.run / "teacher", resume=ctx.resume, progress=ctx.progress))}


def _distill(ctx: Context) -> dict[str, Any]:
    from .training.distill import distill

    out = distill(ctx.run / "teacher", ctx.config, out_dir=ctx.run / "student", resume=ctx.resume, progress=ctx.progress)
    return {"dir": str(out)}


def _evaluate(ctx: Context) -> dict[str, Any]:
    from .eval.run import evaluate_run

    config, run = ctx.config, ctx.run
    split = config.evaluate.split
    result: dict[str, Any] = {"split": split}
    if config.pipeline.distill:  # evaluates both models on the same songs
        from .eval.distillation import compare_distillation

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
    from .experiments.gan_eval import evaluate_gan
    from .training.teacher import train_teacher

    config, run = ctx.config, ctx.run
    encoder = run / "teacher"
    if config.train.synthetic_ratio > 0:
        encoder = run / "gan" / "encoder"
        real_only = config.model_copy(update={"train": config.train.model_copy(
            update={"synthetic_ratio": 0.0, "synthetic_dir": None, "out_dir": encoder})})  # fmt: skip
        saved = encoder / "config.yaml"
        resume = (encoder / "last").exists() and saved.exists() and load_config(saved) == real_only
        train_teacher(real_only, out_dir=encoder, resume=resume, progress=ctx.progress)
    metrics = evaluate_gan(run / "gan", teacher_dir=encoder, seed=config.seed)
    keys = ("frechet_teacher_embedding", "frechet_band_statistics", "condition_fidelity_ccc")
    return {k: metrics[k] for k in keys} | {"report": str(run / "gan" / "evaluation" / "report.html"),
                                            "encoder": str(encoder)}  # fmt: skip


def _reconstructions(ctx: Context) -> list[str]:
    from .data.splits_file import load_splits
    from .inference.listen import PRESET_POINTS, listen_to_clip, listen_to_generator

    config, out = ctx.config, ctx.run / "reconstructions"
    count = config.pipeline.reconstructions
    store = Path(ctx.done["features"]["store"])
    test = load_splits(store / "splits.json").test[:count]
    paths = [listen_to_clip(store, song, out / f"real_{song}.wav", seconds=config.train.window_seconds) for song in test]
    if config.pipeline.gan:
        paths += listen_to_generator(ctx.run / "gan" / "generator", out, points=PRESET_POINTS[:count], seed=config.seed)
    return [str(p) for p in paths]


def _final_model(config: Config, run: Path) -> Path:
    return run / ("student" if config.pipeline.distill else "teacher")


def _export(ctx: Context) -> dict[str, Any]:
    from .export.run import export_run

    pipeline = ctx.config.pipeline
    summary = export_run(_final_model(ctx.config, ctx.run), formats=list(pipeline.export_formats),
                         quantize=pipeline.quantize, out_dir=ctx.run / "export")  # fmt: skip
    return {"files": summary["files"], "parity": summary["parity"], "dir": str(ctx.run / "export")}


def _predict(ctx: Context) -> dict[str, Any]:
    from .data.splits_file import load_splits
    from .eval.plots import plot_prediction
    from .features.store import FeatureStore
    from .inference.outputs import write_predictions
    from .inference.predictor import Predictor

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
    Stage("gan", ("seed", "gan", "train.window_seconds", "pipeline.gan"), ("gan",), lambda c: c.pipeline.gan, _gan),
    Stage("generate", ("gan.samples",), ("gan/synthetic",), lambda c: c.pipeline.gan, _generate),
    Stage("teacher", ("seed", "model", "train"), ("teacher",), _ALWAYS, _teacher),
    Stage("distill", ("student", "distill", "pipeline.distill"), ("student",), lambda c: c.pipeline.distill, _distill),
    Stage("evaluate", ("evaluate", "pipeline.gan_evaluate", "pipeline.reconstructions"), ("reconstructions",),
          _ALWAYS, _evaluate),  # fmt: skip
    Stage("export", ("pipeline.export_formats", "pipeline.quantize"), ("export",), lambda c: c.pipeline.export, _export),
    Stage("predict", ("pipeline.predict_songs",), ("predictions",), lambda c: c.pipeline.predict_songs > 0, _predict),
)
assert tuple(s.name for s in STAGE_LIST) == STAGES


def run_pipeline(config: Config, *, start: str | None = None, progress: bool = True) -> dict[str, Any]:
    """Run every enabled stage that is not already done for this configuration; returns the summary."""
    if start is not None and start not in STAGES:
        raise ConfigError(f"--from {start}: unknown stage; valid: {', '.join(STAGES)}")
    import torch

    config = resolve_run_config(config)
    threads = torch.get_num_threads()  # trainers set their own; every stage starts from the same count
    run = Path(config.pipeline.out_dir)
    markers = run / "stages"
    markers.mkdir(parents=True, exist_ok=True)
    save_config(config, run)
    summary: dict[str, Any] = {"run": str(run), "stages": {}}
    done: dict[str, Any] = {}
    digest, redo = "", False
    for stage in STAGE_LIST:
        digest = _hash(digest, config, stage.sections)
        marker = markers / f"{stage.name}.json"
        redo = redo or stage.name == start
        if not stage.enabled(config):
            marker.unlink(missing_ok=True)
            summary["stages"][stage.name] = {"status": "disabled"}
            continue
        recorded = json.loads(marker.read_text(encoding="utf-8")) if marker.exists() else {}
        same = recorded.get("hash") == digest and not redo
        if same and recorded.get("status") == "done" and stage.always:
            outputs = stage.run(Context(config, run, done, False, progress))
            if outputs == recorded.get("outputs"):
                log.info("stage %s: up to date", stage.name)
                done[stage.name] = outputs
                summary["stages"][stage.name] = {**recorded, "status": "up to date"}
                digest = f"{digest}:{outputs.get('content', '')}"
                continue
            log.info("stage %s: the data changed; this stage and every later one are redone", stage.name)
            redo, same = True, False
        if same and recorded.get("status") == "done":
            log.info("stage %s: done earlier for this configuration, skipped", stage.name)
            done[stage.name] = recorded["outputs"]
            summary["stages"][stage.name] = {**recorded, "status": "skipped (done earlier)"}
            continue
        # Interrupted with this very configuration: continue from the trainers' checkpoints.
        # Anything else (new configuration, --from, changed data): start the stage afresh.
        resume = same and recorded.get("status") == "running"
        if not resume:
            for folder in stage.outputs:
                shutil.rmtree(run / folder, ignore_errors=True)
        marker.write_text(json.dumps({"hash": digest, "status": "running"}) + "\n", encoding="utf-8")
        log.info("stage %s: %s", stage.name, "resuming" if resume else "running")
        began = time.perf_counter()
        torch.set_num_threads(threads)
        with PeakMemory() as memory:
            outputs = stage.run(Context(config, run, done, resume and _resumable(run, stage), progress))
        _release_memory()
        entry = {"hash": digest, "status": "done", "seconds": round(time.perf_counter() - began, 2),
                 "peak_memory_mb": round(memory.peak / 2**20, 1), "outputs": outputs}  # fmt: skip
        marker.write_text(json.dumps(entry, indent=2, default=str) + "\n", encoding="utf-8")
        done[stage.name] = outputs
        summary["stages"][stage.name] = {**entry, "status": "ran"}
        if stage.always:
            digest = f"{digest}:{outputs.get('content', '')}"
    ran = [s for s in summary["stages"].values() if "peak_memory_mb" in s]
    summary["peak_memory_mb"] = max((s["peak_memory_mb"] for s in ran), default=0.0)
    from .eval.run_report import write_run_report

    summary["report"] = str(write_run_report(run, config, summary))
    (run / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    return summary


def _release_memory() -> None:
    """Free what a finished stage left: Python garbage, then the C heap's free pages (glibc keeps them)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the allocator keeps its own policy
        pass


def _resumable(run: Path, stage: Stage) -> bool:
    """A trainer stage with a ``last/`` checkpoint to continue from."""
    return any((run / folder / "last").exists() for folder in stage.outputs)
