"""``moodscape export``: the files, their parity with PyTorch on real test songs, and a model card."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, ExportError
from ..files import write_json
from ..models.floors.fusion import FUSION_DIR, Fusion
from ..models.serialization import to_jsonable
from ..models.student.mobilevit import count_parameters
from ..models.waveform import WaveformRegressor
from .card import pretrained_attribution, write_model_card
from .onnx import export_onnx, quantize_int8
from .parity import check_parity, real_song_windows
from .torchscript import export_torchscript

log = logging.getLogger(__name__)

FORMATS = ("onnx", "torchscript")


def checkpoint_folder(run_dir: Path) -> tuple[Path, Path]:
    """(run folder, checkpoint folder) from a run folder or a checkpoint folder such as RUN/best."""
    if (run_dir / "best" / "moodscape.json").exists():
        return run_dir, run_dir / "best"
    if (run_dir / "moodscape.json").exists():
        return run_dir.parent, run_dir
    raise CheckpointError(f"{run_dir}: neither a run folder with best/ nor a checkpoint folder (no moodscape.json)")


def export_run(
    run_dir: str | Path, *, formats: list[str], quantize: str | None = None, out_dir: str | Path | None = None
) -> dict[str, Any]:
    """Export RUN/best in ``formats`` (and int8 ONNX when ``quantize='int8'``) into ``out_dir``
    (default RUN/export); check parity; write ``export.json`` and ``model_card.md``."""
    run, folder = checkpoint_folder(Path(run_dir))
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise ExportError(f"unknown format(s) {unknown or formats}; valid: {', '.join(FORMATS)}")
    if quantize not in (None, "int8"):
        raise ExportError(f"unknown quantisation {quantize!r}; valid: int8")
    if quantize and "onnx" not in formats:
        raise ExportError("--quantize int8 applies to ONNX; add --format onnx")
    out = Path(out_dir) if out_dir is not None else run / "export"
    out.mkdir(parents=True, exist_ok=True)
    model = WaveformRegressor.from_checkpoint(folder)
    files: dict[str, Path] = {}
    if "onnx" in formats:
        files["onnx_waveform"] = export_onnx(model, out / "model.onnx", input_kind="waveform")
        files["onnx_logmel"] = export_onnx(model, out / "model-logmel.onnx", input_kind="logmel")
        if quantize == "int8":
            files["onnx_waveform_int8"] = quantize_int8(out / "model.onnx", out / "model.int8.onnx")
            files["onnx_logmel_int8"] = quantize_int8(out / "model-logmel.onnx", out / "model-logmel.int8.onnx")
    if "torchscript" in formats:
        files["torchscript"] = export_torchscript(model, out / "model.torchscript.pt")
    fusion = Fusion.find(folder)
    shutil.rmtree(out / FUSION_DIR, ignore_errors=True)  # a fusion left by an earlier export of another model
    if fusion is not None:
        shutil.copytree(folder / FUSION_DIR, out / FUSION_DIR)
    parity = check_parity(model, files, real_song_windows(run, model))
    members = fusion.describe() if fusion is not None else {}
    summary = {
        "checkpoint": str(folder),
        "kind": model.meta.get("kind"),
        "parameters": count_parameters(model.regressor),
        "files": {name: {"path": path.name, "mb": path.stat().st_size / 1e6} for name, path in files.items()},
        "parity": parity,
        "fusion": None if fusion is None else {"weights": members["network"], "members": members, "folder": FUSION_DIR},
        "input": {"sample_rate": model.sample_rate, "window_samples": model.window_samples,
                  "window_seconds": model.window_samples / model.sample_rate, "hop_samples": model.eval_hop_samples,
                  "n_mels": model.frontend.n_mels, "frames": model.frames,
                  "compression": model.frontend.compression},  # fmt: skip
        "pretrained": pretrained_attribution(model.meta.get("config", {})),
    }
    write_json(out / "export.json", to_jsonable(summary))
    write_model_card(out / "model_card.md", summary, run)
    failed = [n for n, e in parity.items() if isinstance(e, dict) and e.get("passed") is False and "int8" not in n]
    if failed:
        raise ExportError(
            f"exported files differ from the PyTorch model beyond 1e-3: {', '.join(failed)} (see {out / 'export.json'})"
        )
    summary["out_dir"] = str(out)
    return summary
