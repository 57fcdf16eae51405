"""``Predictor``: load a model of any kind (run folder, checkpoint folder, ONNX file, Hub name) and
predict valence and arousal for audio files, per song and, on request, per window.

    from moodscape import Predictor
    result = Predictor.load("runs/teacher/student").predict("song.mp3", timeline=True)
    print(result.valence, result.arousal, result.mood)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.quadrants import QUADRANT_NAMES, quadrant
from ..data.records import from_unit
from ..errors import CheckpointError, MoodscapeError
from .stream import StreamInfo, stream_windows

log = logging.getLogger(__name__)

# What the Hub tier fetches for prediction: a moodscape checkpoint folder or exported ONNX files.
PREDICT_HUB_PATTERNS = ("config.json", "*.safetensors", "moodscape.json", "*.onnx")
# In a folder of exported files: the fastest on CPU first (own front end + int8 network).
EXPORTED_PREFERENCE = ("model-logmel.int8.onnx", "model-logmel.onnx", "model.int8.onnx", "model.onnx")


@dataclass
class SongPrediction:
    """One song: values on [-1, 1] and on the 1-9 scale, quadrant and mood word, and the timeline."""

    path: str
    valence: float
    arousal: float
    valence_1_9: float
    arousal_1_9: float
    quadrant: str
    mood: str
    seconds: float
    windows: int
    timeline: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self, *, timeline: bool = True) -> dict[str, Any]:
        data = asdict(self)
        if not timeline:
            data.pop("timeline")
        return data


class _TorchBackend:
    def __init__(self, folder: Path, threads: int | None) -> None:
        from ..models.waveform import WaveformRegressor

        self.model = WaveformRegressor.from_checkpoint(folder)
        self.sample_rate, self.window, self.hop = self.model.sample_rate, self.model.window_samples, self.model.eval_hop_samples
        self.threads = threads
        self.description = f"{self.model.meta.get('kind', 'model')} {folder} (PyTorch)"

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        before = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                return self.model(torch.from_numpy(windows)).numpy()
        finally:
            torch.set_num_threads(before)


class _OnnxBackend:
    """An exported model. A log-mel model gets its input from moodscape's own front end (the settings are
    in the file's metadata), which on CPUs is several times faster than ONNX Runtime's STFT."""

    def __init__(self, path: Path, threads: int | None) -> None:
        import onnxruntime as ort

        from ..audio.frontend import LogMel
        from ..config import AudioConfig, FeaturesConfig
        from ..export.onnx import read_spec

        spec = read_spec(path)
        self.frontend = None
        if spec.get("input") == "logmel":
            props = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
            features = FeaturesConfig(**json.loads(props["moodscape.features"]))
            self.frontend = LogMel.from_config(features, AudioConfig(**json.loads(props["moodscape.audio"]))).eval()
        self.threads = threads
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.sample_rate, self.window, self.hop = int(spec["sample_rate"]), int(spec["window_samples"]), int(spec["hop_samples"])
        self.description = f"{spec.get('kind', 'model')} {path} (ONNX Runtime)"

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        if self.frontend is not None:
            before = torch.get_num_threads()
            if self.threads:
                torch.set_num_threads(self.threads)
            try:
                with torch.inference_mode():
                    windows = self.frontend(torch.from_numpy(windows)).numpy()
            finally:
                torch.set_num_threads(before)
        return self.session.run(None, {self.input: windows})[0]


def _locate(source: str | Path) -> Path:
    """A local path, or a Hugging Face Hub name fetched through the same tiers as pretrained weights."""
    path = Path(source).expanduser()
    if path.exists():
        return path
    from ..models.teacher import resolve_pretrained

    return resolve_pretrained(str(source), key="--model", patterns=PREDICT_HUB_PATTERNS)


class Predictor:
    """Valence/arousal prediction with one loaded model; see :meth:`load`."""

    def __init__(self, backend: Any, *, batch_size: int = 32, hop_seconds: float | None = None) -> None:
        self.backend = backend
        self.batch_size = int(batch_size)
        self.sample_rate, self.window = backend.sample_rate, backend.window
        self.hop = int(round(hop_seconds * self.sample_rate)) if hop_seconds else backend.hop
        if self.hop < 1:
            raise MoodscapeError(f"hop_seconds={hop_seconds}: the hop between windows must be positive")

    @classmethod
    def load(cls, source: str | Path, *, threads: int | None = None, batch_size: int = 32,
             hop_seconds: float | None = None) -> Predictor:  # fmt: skip
        """From a run folder (its student/ is preferred when present, then best/), a checkpoint folder,
        an exported ``.onnx`` file (waveform or log-mel input), a folder of exported files (its
        ``model-logmel.int8.onnx``, else ``model-logmel.onnx``, else ``model.onnx``), or a Hub name."""
        path = _locate(source)
        if path.is_file() and path.suffix == ".onnx":
            backend: Any = _OnnxBackend(path, threads)
        elif path.is_dir() and (path / "moodscape.json").exists():
            backend = _TorchBackend(path, threads)
        elif path.is_dir() and (path / "best" / "moodscape.json").exists():
            backend = _TorchBackend(path / "best", threads)
        elif path.is_dir() and any((path / name).exists() for name in EXPORTED_PREFERENCE):
            backend = _OnnxBackend(next(path / n for n in EXPORTED_PREFERENCE if (path / n).exists()), threads)
        else:
            raise CheckpointError(
                f"{source}: no model found; give a run folder (with best/), a checkpoint folder (with "
                "moodscape.json), an exported model.onnx, or a Hugging Face Hub name holding one of these"
            )
        log.info("predicting with %s", backend.description)
        return cls(backend, batch_size=batch_size, hop_seconds=hop_seconds)

    def predict(self, path: str | Path, *, timeline: bool = False) -> SongPrediction:
        """Predict one file; raises AudioError for unreadable, truncated or silent audio."""
        info = StreamInfo()
        outputs, batch = [], []
        for window in stream_windows(path, sample_rate=self.sample_rate, window=self.window, hop=self.hop, info=info):
            batch.append(window)
            if len(batch) == self.batch_size:
                outputs.append(self.backend(np.stack(batch)))
                batch = []
        if batch:
            outputs.append(self.backend(np.stack(batch)))
        values = np.concatenate(outputs).astype(np.float64)
        valence, arousal = (float(v) for v in values.mean(axis=0))
        q = quadrant(valence, arousal)
        result = SongPrediction(
            path=str(path), valence=valence, arousal=arousal, valence_1_9=float(from_unit(valence)),
            arousal_1_9=float(from_unit(arousal)), quadrant=f"Q{q}", mood=QUADRANT_NAMES[q],
            seconds=info.samples / self.sample_rate, windows=len(values),
        )  # fmt: skip
        if timeline:
            centre = min(self.window, info.samples) / 2  # each point sits at its window's middle
            result.timeline = [
                {"time": (start + centre) / self.sample_rate, "valence": float(v), "arousal": float(a)}
                for start, (v, a) in zip(info.starts, values)
            ]
        return result

    def predict_many(
        self, paths: Iterable[str | Path], *, timeline: bool = False, progress: bool = True
    ) -> Iterator[tuple[Path, SongPrediction | None, str | None]]:
        """(path, prediction, None) for each file that worked, (path, None, reason) for each that failed."""
        from tqdm.auto import tqdm

        paths = list(paths)
        for path in tqdm(paths, desc="predict", unit="file", disable=not progress):
            try:
                yield Path(path), self.predict(path, timeline=timeline), None
            except MoodscapeError as exc:
                log.warning("skipped %s: %s", path, exc)
                yield Path(path), None, str(exc)


def write_predictions(results: list[SongPrediction], out: Path, *, timeline: bool) -> list[Path]:
    """``.json``: a list of songs (with timelines); ``.csv``: one row per song, plus ``<stem>_timeline.csv``."""
    import csv

    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".json":
        out.write_text(json.dumps([r.to_dict(timeline=timeline) for r in results], indent=2) + "\n", encoding="utf-8")
        return [out]
    if out.suffix.lower() != ".csv":
        raise MoodscapeError(f"--out {out}: write .csv or .json")
    columns = [k for k in SongPrediction.__dataclass_fields__ if k != "timeline"]
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for r in results:
            writer.writerow({k: round(v, 4) if isinstance(v, float) else v for k, v in r.to_dict(timeline=False).items()})
    written = [out]
    if timeline:
        path = out.with_name(out.stem + "_timeline.csv")
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "time", "valence", "arousal"])
            for r in results:
                for point in r.timeline:
                    writer.writerow([r.path, f"{point['time']:.3f}", f"{point['valence']:.4f}", f"{point['arousal']:.4f}"])
        written.append(path)
    return written
