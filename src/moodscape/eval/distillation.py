"""Teacher vs student on the same real songs: CCC with intervals, retention, size and CPU latency."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..files import write_json
from ..models.loading import REGRESSORS, load_model
from ..models.serialization import to_jsonable
from ..models.student.mobilevit import count_parameters
from .report import Section, Table, Text, write_report
from .run import evaluate_run

DIMENSIONS = ("valence", "arousal")


def window_latency_ms(model: nn.Module, shape: tuple[int, int], *, repeats: int = 20, threads: int = 1) -> float:
    """Median milliseconds for one window (batch 1) on the CPU with ``threads`` threads, after a warm-up."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model = model.to("cpu").eval()
        x = torch.randn(1, *shape, generator=torch.Generator().manual_seed(0))
        times = []
        with torch.inference_mode():
            for i in range(repeats + 3):
                began = time.perf_counter()
                model(x)
                if i >= 3:
                    times.append(time.perf_counter() - began)
        return 1000.0 * statistics.median(times)
    finally:
        torch.set_num_threads(before)


def model_profile(folder: Path) -> dict[str, Any]:
    """Parameters (what is exported: the student's distillation projection excluded), file size, latency."""
    model = load_model(folder, expect=REGRESSORS)
    params = count_parameters(model)
    return {
        "parameters": params,
        "file_mb": (folder / "model.safetensors").stat().st_size / 1e6,
        "latency_ms": window_latency_ms(model, model.input_shape),
    }


def compare_distillation(teacher_run: str | Path, student_run: str | Path, *, split: str = "test",
                         progress: bool = True) -> dict[str, Any]:  # fmt: skip
    """Evaluate both runs on ``split`` and write ``student_run/comparison/`` (JSON and report)."""
    teacher_run, student_run = Path(teacher_run), Path(student_run)
    results = {name: evaluate_run(run, split=split, progress=progress)
               for name, run in (("teacher", teacher_run), ("student", student_run))}  # fmt: skip
    profiles = {name: model_profile(run / "best") for name, run in (("teacher", teacher_run), ("student", student_run))}
    retention = {
        d: 100.0 * results["student"]["metrics"][d]["ccc"] / results["teacher"]["metrics"][d]["ccc"]
        if results["teacher"]["metrics"][d]["ccc"] > 0 else float("nan")
        for d in DIMENSIONS
    }  # fmt: skip
    summary = {
        "split": split,
        "songs": results["student"]["songs"],
        "metrics": {name: {d: results[name]["metrics"][d] for d in DIMENSIONS} for name in results},
        "retention_percent": retention,
        "profile": profiles,
        "speedup": profiles["teacher"]["latency_ms"] / profiles["student"]["latency_ms"],
        "size_ratio": profiles["teacher"]["file_mb"] / profiles["student"]["file_mb"],
    }
    out = student_run / "comparison"
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "comparison.json", to_jsonable(summary))
    rows = []
    for d in DIMENSIONS:
        for name in ("teacher", "student"):
            m = results[name]["metrics"][d]
            rows.append({"dimension": d, "model": name, "CCC": m["ccc"], "low": m["ccc_ci95_low"],
                         "high": m["ccc_ci95_high"], "RMSE": m["rmse"]})  # fmt: skip
    size_rows = [{"model": name, "parameters": f"{p['parameters']:,}", "file (MB)": p["file_mb"],
                  "latency per window (ms, 1 thread)": p["latency_ms"]} for name, p in profiles.items()]  # fmt: skip
    sentence = (
        f"The student keeps {retention['valence']:.0f}% of the teacher's valence CCC and {retention['arousal']:.0f}% "
        f"of its arousal CCC on the same {summary['songs']} real {split} songs, with "
        f"{profiles['student']['parameters'] / max(profiles['teacher']['parameters'], 1):.1%} of its parameters and "
        f"{summary['speedup']:.1f}x its speed per window on one CPU thread."
    )
    write_report(out, title="Distillation: teacher vs student", sections=[
        Section("Result", [Text(sentence), Table(rows, caption=f"Song-level {split} CCC with 95% bootstrap interval")]),
        Section("Size and speed", [Table(size_rows, caption="Measured on this machine's CPU, batch 1")]),
    ])  # fmt: skip
    summary["report"] = str(out / "report.html")
    return summary
