"""Does synthetic data help? The same teacher trained twice, real-only and real+synthetic, scored on
the same real test songs, with intervals, and said plainly either way.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import ConfigError
from ..training.teacher import train_teacher
from .evaluation import to_jsonable
from .report import Section, Table, Text, write_report
from .run import evaluate_run

log = logging.getLogger(__name__)

ARMS = ("real", "real+synthetic")


def run_ablation(config: Config, *, synthetic_dir: str | Path, ratio: float, out_dir: str | Path,
                 progress: bool = True) -> dict[str, Any]:  # fmt: skip
    """Train and evaluate both arms into ``out_dir/<arm>``; write ``out_dir/ablation.json`` and a report."""
    if ratio <= 0:
        raise ConfigError("the ablation needs a synthetic ratio above 0 (--ratio)")
    out_dir = Path(out_dir)
    results = {}
    for arm in ARMS:
        train = config.train.model_copy(
            update={"synthetic_dir": Path(synthetic_dir) if arm != "real" else None,
                    "synthetic_ratio": ratio if arm != "real" else 0.0, "out_dir": out_dir / arm}
        )  # fmt: skip
        arm_config = config.model_copy(update={"train": train})
        log.info("ablation: training the %s arm", arm)
        run_dir = train_teacher(arm_config, out_dir=out_dir / arm, progress=progress)
        results[arm] = evaluate_run(run_dir, split="test", progress=progress)
    summary = {
        "ratio": ratio,
        "synthetic_dir": str(synthetic_dir),
        "arms": {arm: {"metrics": results[arm]["metrics"], "songs": results[arm]["songs"]} for arm in ARMS},
    }
    (out_dir / "ablation.json").write_text(json.dumps(to_jsonable(summary), indent=2) + "\n", encoding="utf-8")
    rows, sentences = [], []
    for dim in ("valence", "arousal"):
        values = {}
        for arm in ARMS:
            m = results[arm]["metrics"][dim]
            values[arm] = m["ccc"]
            rows.append({"dimension": dim, "training data": arm, "CCC": m["ccc"], "low": m["ccc_ci95_low"],
                         "high": m["ccc_ci95_high"], "RMSE": m["rmse"]})  # fmt: skip
        verb = "helps" if values["real+synthetic"] > values["real"] else "does not help"
        sentences.append(
            f"{dim.capitalize()}: synthetic data {verb} (CCC {values['real+synthetic']:.3f} with it, "
            f"{values['real']:.3f} without, on the same {results['real']['songs']} real test songs)."
        )
    write_report(out_dir, title="Augmentation ablation: real-only vs real+synthetic", sections=[
        Section("Result", [Text(s) for s in sentences] + [Table(rows, caption="Song-level test CCC, 95% bootstrap interval")]),
        Section("Set-up", [Text(f"Both arms: the same config, seed and real songs; the second adds {ratio:g} generated "
                                f"windows per real training window each epoch, from {synthetic_dir}. Validation and "
                                "test songs are real only.")]),
    ])  # fmt: skip
    return to_jsonable(summary)
