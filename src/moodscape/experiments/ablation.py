"""Does synthetic data help? The same teacher trained twice, real-only and real+synthetic, scored on
the same real test songs, with intervals, and said plainly either way.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import ConfigError
from ..eval.evaluation import read_predictions
from ..eval.report import Section, Table, Text, write_report
from ..eval.run import evaluate_run
from ..files import write_json
from ..metrics.intervals import paired_difference_interval
from ..models.serialization import to_jsonable
from ..training.teacher import train_teacher

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
        train = config.teacher.model_copy(
            update={"synthetic_dir": Path(synthetic_dir) if arm != "real" else None,
                    "synthetic_ratio": ratio if arm != "real" else 0.0, "out_dir": out_dir / arm}
        )  # fmt: skip
        arm_config = config.model_copy(update={"teacher": train})
        log.info("ablation: training the %s arm", arm)
        run_dir = train_teacher(arm_config, out_dir=out_dir / arm, progress=progress)
        results[arm] = evaluate_run(run_dir, split="test", progress=progress)
    ids, truth, base = read_predictions(out_dir / "real" / "evaluation" / "test" / "predictions.csv")
    other_ids, _, augmented = read_predictions(out_dir / "real+synthetic" / "evaluation" / "test" / "predictions.csv")
    if other_ids != ids:
        raise ConfigError(f"the two arms in {out_dir} were scored on different songs; run the ablation again")
    songs = len(ids)
    rows, sentences, gains = [], [], {}
    for j, dim in enumerate(("valence", "arousal")):
        for arm in ARMS:
            m = results[arm]["metrics"][dim]
            rows.append({"dimension": dim, "training data": arm, "CCC": m["ccc"], "low": m["ccc_ci95_low"],
                         "high": m["ccc_ci95_high"], "RMSE": m["rmse"]})  # fmt: skip
        gain, low, high = paired_difference_interval(
            truth[:, j], base[:, j], augmented[:, j], n=config.evaluate.bootstrap, seed=config.seed
        )
        gains[dim] = {"ccc_gain": gain, "ccc_gain_ci95_low": low, "ccc_gain_ci95_high": high}
        verdict = _verdict(low, high)
        sentences.append(
            f"{dim.capitalize()}: {verdict} (CCC {gain:+.3f} with synthetic windows, 95% paired interval "
            f"[{low:+.3f}, {high:+.3f}] over the same {songs} real test songs)."
        )
    summary = {
        "ratio": ratio,
        "synthetic_dir": str(synthetic_dir),
        "arms": {arm: {"metrics": results[arm]["metrics"], "songs": results[arm]["songs"]} for arm in ARMS},
        "gain": gains,
    }
    write_json(out_dir / "ablation.json", to_jsonable(summary))
    write_report(out_dir, title="Augmentation ablation: real-only vs real+synthetic", sections=[
        Section("Result", [Text(s) for s in sentences] + [Table(rows, caption="Song-level test CCC, 95% bootstrap interval")]),
        Section("Set-up", [Text(f"Both arms: the same config, seed and real songs; the second adds {ratio:g} generated "
                                f"windows per real training window each epoch, from {synthetic_dir}. Validation and "
                                "test songs are real only.")]),
    ])  # fmt: skip
    return to_jsonable(summary)


def _verdict(low: float, high: float) -> str:
    """Helps or hurts only when the paired interval of the gain excludes 0; NaN bounds decide nothing."""
    if low > 0:
        return "synthetic data helps"
    if high < 0:
        return "synthetic data hurts"
    return "no clear difference"
