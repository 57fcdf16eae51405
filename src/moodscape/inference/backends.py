"""Where a model to predict with comes from (path or Hub name) and how it runs (PyTorch or ONNX Runtime).

Apart from :mod:`moodscape.inference.predictor` so that adding a model format or a place to look touches
only this module: the predictor sees a backend that turns a batch of waveform windows into (valence,
arousal) rows and carries the model's audio settings and optional fusion.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError, ConfigError
from ..models.exported import open_onnx
from ..models.floors.fusion import FUSION_DIR, Fusion

# What the Hub tier fetches for prediction: a moodscape checkpoint folder or exported ONNX files.
PREDICT_HUB_PATTERNS = ("config.json", "*.safetensors", "moodscape.json", "*.onnx")
# In a folder of exported files: the fastest on CPU first (own front end + int8 network).
EXPORTED_PREFERENCE = ("model-logmel.int8.onnx", "model-logmel.onnx", "model.int8.onnx", "model.onnx")
# In a run folder: a distilled student first, then the run's own best/, then a pipeline run's teacher.
RUN_PREFERENCE = ("student/best", "best", "teacher/best")
META_FILE = "moodscape.json"


def _fusion_files(folder: Path) -> list[Path]:
    """The fusion's files beside a model (they change its song values, so they are part of the model)."""
    return sorted(p for p in (folder / FUSION_DIR).glob("*") if p.is_file())


class _TorchBackend:
    def __init__(self, folder: Path, threads: int | None, device: str = "cpu") -> None:
        import torch

        from ..config import AudioConfig, FeaturesConfig
        from ..models.waveform import WaveformRegressor

        self.device = torch.device(device)
        self.model = WaveformRegressor.from_checkpoint(folder).to(self.device)
        self.audio = AudioConfig(**self.model.meta["audio"])
        self.resampler = FeaturesConfig(**self.model.meta["features"]).resampler
        self.fusion = Fusion.find(folder)
        self.files = [folder / "model.safetensors", folder / "moodscape.json", *_fusion_files(folder)]
        self.sample_rate, self.window, self.hop = self.model.sample_rate, self.model.window_samples, self.model.eval_hop_samples
        self.threads = threads
        self.files_at_once = 1  # torch's thread count is global: one file at a time, on its threads
        self.description = f"{self.model.meta.get('kind', 'model')} {folder} (PyTorch, {self.device})"

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        import torch

        before = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                return self.model(torch.from_numpy(windows).to(self.device)).float().cpu().numpy()
        finally:
            torch.set_num_threads(before)


class _OnnxBackend:
    """An exported model. A log-mel model gets its input from moodscape's own front end (the settings are
    in the file's metadata), which on CPUs is several times faster than ONNX Runtime's STFT; its numpy form,
    so that running an export never imports torch."""

    def __init__(self, path: Path, threads: int | None, files_at_once: int | None = 1) -> None:
        from ..audio.logmel_numpy import LogMelNumpy
        from ..config import AudioConfig, FeaturesConfig

        # Files predicted at once share the CPU threads: a session runs from each with its share (ONNX
        # Runtime sessions can run from several threads at once). None: one file per thread.
        cores = os.cpu_count() or 1
        self.files_at_once = files_at_once or min(threads or cores, cores)
        self.threads = threads if self.files_at_once == 1 else max(1, (threads or cores) // self.files_at_once)
        self.session = open_onnx(path, self.threads)
        props = self.session.get_modelmeta().custom_metadata_map
        try:
            spec = json.loads(props["moodscape.spec"])
            self.audio = AudioConfig(**json.loads(props.get("moodscape.audio") or "{}"))
            self.sample_rate, self.window = int(spec["sample_rate"]), int(spec["window_samples"])
            self.hop = int(spec["hop_samples"])
            stored = json.loads(props.get("moodscape.features") or "{}")
            features = FeaturesConfig(**stored) if stored else None
            if features is None and spec.get("input") == "logmel":
                raise KeyError("moodscape.features")
            # An export without its features (older files) predates `fast` mode: it was trained on HQ resampling.
            self.resampler = features.resampler if features is not None else "HQ"
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(
                f"{path}: an ONNX model without moodscape's metadata ({type(exc).__name__}: {exc}); export it with "
                "`moodscape export RUN --format onnx`"
            ) from exc
        self.frontend = LogMelNumpy(features, self.audio) if spec.get("input") == "logmel" else None
        self.fusion = Fusion.find(path.parent)
        self.files = [path, *_fusion_files(path.parent)]
        self.input = self.session.get_inputs()[0].name
        self.description = f"{spec.get('kind', 'model')} {path} (ONNX Runtime)"

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        if self.frontend is not None:
            windows = self.frontend(windows)
        return self.session.run(None, {self.input: windows})[0]


def looks_like_path(text: str) -> bool:
    """True unless ``text`` reads as a Hub name ``owner/name`` (one slash, no file suffix, and no local
    folder called ``owner``): a missing local path must not wait on network retries."""
    if text.startswith((".", "~", "/")) or "\\" in text or os.path.isabs(text):
        return True
    parts = text.split("/")
    return len(parts) != 2 or Path(parts[0]).is_dir() or Path(text).suffix.lower() in (".onnx", ".json", ".safetensors", ".pt")


def _locate(source: str | Path) -> Path:
    """A local path, the name of a model shipped with moodscape, or a Hugging Face Hub name fetched through the
    same tiers as pretrained weights."""
    from .catalog import shipped_model_dir

    text = str(source)
    path = Path(text).expanduser()
    if path.exists():
        return path
    shipped = shipped_model_dir(text)
    if shipped is not None:
        return shipped
    if looks_like_path(text):
        raise CheckpointError(
            f"--model {text}: not found ({path.absolute()} does not exist); give a run folder, a checkpoint folder, "
            "an exported .onnx file or export folder, the name of a shipped model (`moodscape models`), or a Hugging "
            "Face Hub name of the form owner/name"
        )
    from ..models.pretrained.hub import resolve_pretrained

    return resolve_pretrained(text, key="--model", patterns=PREDICT_HUB_PATTERNS, random_init=False)


def _backend(source: str | Path, path: Path, threads: int | None, device: str = "cpu",
             files_at_once: int | None = 1) -> Any:  # fmt: skip
    """The model in ``path``: an .onnx file, a checkpoint folder, a run folder or a folder of exported files."""

    def onnx(file: Path) -> _OnnxBackend:
        if device != "cpu":
            raise ConfigError(f"--device {device}: exported ONNX models ({file}) run on the CPU here; give a run or "
                              "checkpoint folder to predict on another device")  # fmt: skip
        return _OnnxBackend(file, threads, files_at_once)

    if path.is_file():
        if path.suffix.lower() == ".onnx":
            return onnx(path)
        raise CheckpointError(f"{source}: a file but not an .onnx model; give an exported .onnx or a model folder")
    for folder in (path, *(path / sub for sub in RUN_PREFERENCE)):
        if (folder / META_FILE).is_file():
            return _TorchBackend(folder, threads, device)
    exported = next((path / n for n in EXPORTED_PREFERENCE if (path / n).is_file()), None)
    if exported is not None:
        return onnx(exported)
    raise CheckpointError(
        f"{source}: no model found; looked for {META_FILE} in it and in {', '.join(RUN_PREFERENCE)}, and for "
        f"{', '.join(EXPORTED_PREFERENCE)}. Give a run folder (with best/ or student/), a checkpoint folder (with "
        f"{META_FILE}), an exported model.onnx, or a Hugging Face Hub name holding one of these"
    )


def load_backend(source: str | Path, threads: int | None, device: str = "cpu", files_at_once: int | None = 1) -> Any:
    """The model ``source`` names, found locally or on the Hub, ready to run on ``device`` (a PyTorch model;
    exported ONNX models run on the CPU) with ``threads`` CPU threads (default: every core). An exported
    model can take ``files_at_once`` files side by side, sharing those threads (None: one file per thread);
    a PyTorch model takes one at a time."""
    return _backend(source, _locate(source), threads, device, files_at_once)
