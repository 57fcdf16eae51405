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

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from ..config import Config, hash_view, legacy_views, save_config
from ..errors import ConfigError
from ..files import write_json
from .memory import PeakMemory, release_memory
from .stages import STAGE_LIST, STAGES, Context, Stage, resolve_run_config, stage_hash

log = logging.getLogger(__name__)


def run_pipeline(config: Config, *, start: str | None = None, progress: bool = True) -> dict[str, Any]:
    """Run every enabled stage that is not already done for this configuration; returns the summary."""
    if start is not None and start not in STAGES:
        raise ConfigError(f"--from {start}: unknown stage; valid: {', '.join(STAGES)}")
    from ..training.distributed import resolve_distributed

    if resolve_distributed(config).distributed.world_size > 1:  # asked for, or started so by torchrun or srun
        raise ConfigError(
            "moodscape run trains in one process; to train on several, run the stages as their own commands "
            "(`moodscape gan train`, `train`, `distill` with --devices N [--num-nodes M]; README: Scaling out)"
        )
    import torch

    config = resolve_run_config(config)
    threads = torch.get_num_threads()  # trainers set their own; every stage starts from the same count
    run = Path(config.pipeline.out_dir)
    markers = run / "stages"
    markers.mkdir(parents=True, exist_ok=True)
    save_config(config, run)
    summary: dict[str, Any] = {"run": str(run), "stages": {}}
    done: dict[str, Any] = {}
    tree = hash_view(config)
    old_trees = legacy_views(tree)  # the hashes a run folder made before the config's sections were renamed holds
    digest, old_digests, redo = "", [""] * len(old_trees), False
    for stage in STAGE_LIST:
        digest = stage_hash(digest, tree, stage.sections)
        old_digests = [stage_hash(d, t, stage.legacy_sections) for d, t in zip(old_digests, old_trees)]
        marker = markers / f"{stage.name}.json"
        redo = redo or stage.name == start
        if not stage.enabled(config):
            marker.unlink(missing_ok=True)
            summary["stages"][stage.name] = {"status": "disabled"}
            continue
        recorded = json.loads(marker.read_text(encoding="utf-8")) if marker.exists() else {}
        if recorded.get("hash") in old_digests and recorded["hash"] != digest:
            recorded["hash"] = digest
            write_json(marker, recorded, default=str)
        same = recorded.get("hash") == digest and not redo
        if same and recorded.get("status") == "done" and stage.always:
            outputs = stage.run(Context(config, run, done, False, progress))
            if outputs == recorded.get("outputs"):
                log.info("stage %s: up to date", stage.name)
                done[stage.name] = outputs
                summary["stages"][stage.name] = {**recorded, "status": "up to date"}
                digest = f"{digest}:{outputs.get('content', '')}"
                old_digests = [f"{d}:{outputs.get('content', '')}" for d in old_digests]
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
        write_json(marker, {"hash": digest, "status": "running"}, indent=None)
        log.info("stage %s: %s", stage.name, "resuming" if resume else "running")
        began = time.perf_counter()
        torch.set_num_threads(threads)
        with PeakMemory() as memory:
            outputs = stage.run(Context(config, run, done, resume and _resumable(run, stage), progress))
        release_memory()
        entry = {"hash": digest, "status": "done", "seconds": round(time.perf_counter() - began, 2),
                 "peak_memory_mb": round(memory.peak / 2**20, 1), "outputs": outputs}  # fmt: skip
        write_json(marker, entry, default=str)
        done[stage.name] = outputs
        summary["stages"][stage.name] = {**entry, "status": "ran"}
        if stage.always:
            digest = f"{digest}:{outputs.get('content', '')}"
            old_digests = [f"{d}:{outputs.get('content', '')}" for d in old_digests]
    ran = [s for s in summary["stages"].values() if "peak_memory_mb" in s]
    summary["peak_memory_mb"] = max((s["peak_memory_mb"] for s in ran), default=0.0)
    from ..eval.run_report import write_run_report

    summary["report"] = str(write_run_report(run, config, summary))
    write_json(run / "summary.json", summary, default=str)
    return summary


def _resumable(run: Path, stage: Stage) -> bool:
    """A trainer stage with a ``last/`` checkpoint to continue from."""
    return any((run / folder / "last").exists() for folder in stage.outputs)
