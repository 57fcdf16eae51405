"""``Predictor``: load a model of any kind (run folder, checkpoint folder, ONNX file, Hub name) and
predict valence and arousal for audio files, per song and, on request, per window.

    from moodscape import Predictor
    result = Predictor.load("runs/teacher/student").predict("song.mp3", timeline=True)
    print(result.valence, result.arousal, result.mood)
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.quadrants import QUADRANT_NAMES, quadrant
from ..data.records import from_unit
from ..errors import CheckpointError, ConfigError, MoodscapeError
from ..models.fusion import DESCRIPTOR_MAX_SECONDS, Fusion
from .stream import StreamInfo, stream_windows

log = logging.getLogger(__name__)

# What the Hub tier fetches for prediction: a moodscape checkpoint folder or exported ONNX files.
PREDICT_HUB_PATTERNS = ("config.json", "*.safetensors", "moodscape.json", "*.onnx")
# In a folder of exported files: the fastest on CPU first (own front end + int8 network).
EXPORTED_PREFERENCE = ("model-logmel.int8.onnx", "model-logmel.onnx", "model.int8.onnx", "model.onnx")
# In a run folder: a distilled student first, then the run's own best/, then a pipeline run's teacher.
RUN_PREFERENCE = ("student/best", "best", "teacher/best")
META_FILE = "moodscape.json"
OUTPUT_SUFFIXES = (".csv", ".json")


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
    warning: str = ""
    timeline: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self, *, timeline: bool = True) -> dict[str, Any]:
        data = asdict(self)
        if not timeline:
            data.pop("timeline")
        return data


class _TorchBackend:
    def __init__(self, folder: Path, threads: int | None) -> None:
        from ..config import AudioConfig
        from ..models.waveform import WaveformRegressor

        self.model = WaveformRegressor.from_checkpoint(folder)
        self.audio = AudioConfig(**self.model.meta["audio"])
        self.fusion = Fusion.find(folder)
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

        self.threads = threads
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own unrelated types for bad files
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(
                f"{path}: not a loadable ONNX model ({first}); re-export it with `moodscape export RUN --format onnx`"
            ) from exc
        props = self.session.get_modelmeta().custom_metadata_map
        try:
            spec = json.loads(props["moodscape.spec"])
            self.audio = AudioConfig(**json.loads(props.get("moodscape.audio") or "{}"))
            self.sample_rate, self.window = int(spec["sample_rate"]), int(spec["window_samples"])
            self.hop = int(spec["hop_samples"])
            features = FeaturesConfig(**json.loads(props["moodscape.features"])) if spec.get("input") == "logmel" else None
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(
                f"{path}: an ONNX model without moodscape's metadata ({type(exc).__name__}: {exc}); export it with "
                "`moodscape export RUN --format onnx`"
            ) from exc
        self.frontend = LogMel.from_config(features, self.audio).eval() if features is not None else None
        self.fusion = Fusion.find(path.parent)
        self.input = self.session.get_inputs()[0].name
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


def looks_like_path(text: str) -> bool:
    """True unless ``text`` reads as a Hub name ``owner/name`` (one slash, no file suffix, and no local
    folder called ``owner``): a missing local path must not wait on network retries."""
    if text.startswith((".", "~", "/")) or "\\" in text or os.path.isabs(text):
        return True
    parts = text.split("/")
    return len(parts) != 2 or Path(parts[0]).is_dir() or Path(text).suffix.lower() in (".onnx", ".json", ".safetensors", ".pt")


def _locate(source: str | Path) -> Path:
    """A local path, or a Hugging Face Hub name fetched through the same tiers as pretrained weights."""
    text = str(source)
    path = Path(text).expanduser()
    if path.exists():
        return path
    if looks_like_path(text):
        raise CheckpointError(
            f"--model {text}: not found ({path.absolute()} does not exist); give a run folder, a checkpoint folder, "
            "an exported .onnx file or export folder, or a Hugging Face Hub name of the form owner/name"
        )
    from ..models.hub import resolve_pretrained

    return resolve_pretrained(text, key="--model", patterns=PREDICT_HUB_PATTERNS, random_init=False)


def _backend(source: str | Path, path: Path, threads: int | None) -> Any:
    """The model in ``path``: an .onnx file, a checkpoint folder, a run folder or a folder of exported files."""
    if path.is_file():
        if path.suffix.lower() == ".onnx":
            return _OnnxBackend(path, threads)
        raise CheckpointError(f"{source}: a file but not an .onnx model; give an exported .onnx or a model folder")
    for folder in (path, *(path / sub for sub in RUN_PREFERENCE)):
        if (folder / META_FILE).is_file():
            return _TorchBackend(folder, threads)
    exported = next((path / n for n in EXPORTED_PREFERENCE if (path / n).is_file()), None)
    if exported is not None:
        return _OnnxBackend(exported, threads)
    raise CheckpointError(
        f"{source}: no model found; looked for {META_FILE} in it and in {', '.join(RUN_PREFERENCE)}, and for "
        f"{', '.join(EXPORTED_PREFERENCE)}. Give a run folder (with best/ or student/), a checkpoint folder (with "
        f"{META_FILE}), an exported model.onnx, or a Hugging Face Hub name holding one of these"
    )


def _positive(name: str, value: float | None, *, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if value is None or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name}={value}: must be a positive number")


class Predictor:
    """Valence/arousal prediction with one loaded model; see :meth:`load`."""

    def __init__(self, backend: Any, *, batch_size: int = 32, hop_seconds: float | None = None) -> None:
        _positive("batch_size", batch_size, allow_none=False)
        _positive("hop_seconds", hop_seconds)
        self.backend = backend
        self.batch_size = int(batch_size)
        self.sample_rate, self.window = backend.sample_rate, backend.window
        self.hop = int(round(hop_seconds * self.sample_rate)) if hop_seconds else backend.hop
        if self.hop < 1:
            raise ConfigError(f"hop_seconds={hop_seconds}: under one sample at {self.sample_rate} Hz; give a larger hop")
        audio = backend.audio
        self.min_samples = int(math.ceil(audio.min_seconds * self.sample_rate))
        self.short_policy = audio.short_policy

    @classmethod
    def load(cls, source: str | Path, *, threads: int | None = None, batch_size: int = 32,
             hop_seconds: float | None = None) -> Predictor:  # fmt: skip
        """From a run folder (its ``student/best`` when present, then ``best/``, then a pipeline run's
        ``teacher/best``), a checkpoint folder, an exported ``.onnx`` file (waveform or log-mel input), a
        folder of exported files (its ``model-logmel.int8.onnx``, else ``model-logmel.onnx``, else
        ``model.int8.onnx``, else ``model.onnx``), or a Hub name. A path that does not exist is an error
        at once; only a name of the form ``owner/name`` is looked up on the Hub."""
        _positive("threads", threads)
        _positive("batch_size", batch_size, allow_none=False)
        _positive("hop_seconds", hop_seconds)
        backend = _backend(source, _locate(source), threads)
        log.info("predicting with %s", backend.description)
        return cls(backend, batch_size=batch_size, hop_seconds=hop_seconds)

    @classmethod
    def default(cls, *, threads: int | None = None, batch_size: int = 32, hop_seconds: float | None = None) -> Predictor:
        """The model shipped inside the package (see ``moodscape models`` and its model card)."""
        from .catalog import default_model_dir

        return cls.load(default_model_dir(), threads=threads, batch_size=batch_size, hop_seconds=hop_seconds)

    def predict(self, path: str | Path, *, timeline: bool = False) -> SongPrediction:
        """Predict one file; raises AudioError for unreadable, truncated or silent audio, and for audio
        shorter than the model's ``audio.min_seconds`` when its short-clip policy is 'skip'. Under 'pad' or
        'loop' such a clip is predicted and ``warning`` says so."""
        info = StreamInfo()
        outputs, batch = [], []
        windows = stream_windows(path, sample_rate=self.sample_rate, window=self.window, hop=self.hop, info=info,
                                 min_samples=self.min_samples, short_policy=self.short_policy)  # fmt: skip
        for window in windows:
            batch.append(window)
            if len(batch) == self.batch_size:
                outputs.append(self.backend(np.stack(batch)))
                batch = []
        if batch:
            outputs.append(self.backend(np.stack(batch)))
        values = np.concatenate(outputs).astype(np.float64)
        if not np.isfinite(values).all():
            raise MoodscapeError(f"{path}: the model returned NaN or Inf; the model file may be damaged")
        notes = [info.note] if info.note else []
        song = values.mean(axis=0)
        fusion = getattr(self.backend, "fusion", None)
        if fusion is not None:  # the song value fuses the network with the descriptor floor; windows shift with it
            fused = fusion.combine(song, self._descriptors(path, info, notes)[None])[0]
            values, song = np.clip(values + (fused - song), -1.0, 1.0), fused
        valence, arousal = (float(v) for v in song)
        q = quadrant(valence, arousal)
        result = SongPrediction(
            path=str(path), valence=valence, arousal=arousal, valence_1_9=float(from_unit(valence)),
            arousal_1_9=float(from_unit(arousal)), quadrant=f"Q{q}", mood=QUADRANT_NAMES[q],
            seconds=info.samples / self.sample_rate, windows=len(values), warning="; ".join(notes),
        )  # fmt: skip
        if notes:
            log.warning("%s: %s", path, result.warning)
        if timeline:
            centre = min(self.window, info.samples) / 2  # each point sits at its window's middle
            result.timeline = [
                {"time": (start + centre) / self.sample_rate, "valence": float(v), "arousal": float(a)}
                for start, (v, a) in zip(info.starts, values)
            ]
        return result

    def _descriptors(self, path: str | Path, info: StreamInfo, notes: list[str]) -> np.ndarray:
        """The clip descriptors the fused floor reads, from (at most the first ten minutes of) the file."""
        from ..audio.descriptors import clip_descriptors
        from ..audio.io import load_audio

        audio = self.backend.audio
        samples, rate = load_audio(path, sample_rate=self.sample_rate, duration=DESCRIPTOR_MAX_SECONDS,
                                   min_seconds=audio.min_seconds, short_policy=audio.short_policy, quality="HQ")  # fmt: skip
        if info.samples / self.sample_rate > DESCRIPTOR_MAX_SECONDS + 1:
            notes.append(f"descriptors from the first {DESCRIPTOR_MAX_SECONDS:g} s")
        return clip_descriptors(samples, rate)

    def predict_many(
        self, paths: Iterable[str | Path], *, timeline: bool = False, progress: bool = True
    ) -> Iterator[tuple[Path, SongPrediction | None, str | None]]:
        """(path, prediction, None) for each file that worked, (path, None, reason) for each that failed.

        A failure of one file, expected (bad audio) or not, never ends the batch.
        """
        from tqdm.auto import tqdm

        paths = list(paths)
        for path in tqdm(paths, desc="predict", unit="file", disable=not progress):
            try:
                yield Path(path), self.predict(path, timeline=timeline), None
            except MoodscapeError as exc:
                log.warning("skipped %s", exc)
                yield Path(path), None, str(exc)
            except Exception as exc:  # noqa: BLE001 - reported per file; the others still complete
                log.warning("skipped %s: unexpected %s: %s", path, type(exc).__name__, exc, exc_info=log.isEnabledFor(logging.DEBUG))
                yield Path(path), None, f"{path}: unexpected {type(exc).__name__}: {exc}"


def check_output(out: Path) -> None:
    """Refuse an output file before any work: a .csv or .json name in a place that can be written."""
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ConfigError(f"--out {out}: the name must end in .csv or .json (e.g. --out moods.csv)")
    targets = [out] + ([timeline_path(out)] if out.suffix.lower() == ".csv" else [])
    for target in targets:
        if target.is_dir():
            raise ConfigError(f"--out {out}: {target} is a folder; give a file name ending in .csv or .json")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            existed = target.exists()
            with target.open("a", encoding="utf-8"):
                pass
            if not existed:
                target.unlink()
        except OSError as exc:
            raise ConfigError(f"--out {out}: cannot write {target} ({exc.strerror or exc}); choose a writable folder") from exc


def timeline_path(out: Path) -> Path:
    """Where a CSV output's per-window rows go: ``<stem>_timeline.csv`` beside it."""
    return out.with_name(out.stem + "_timeline.csv")


class PredictionWriter:
    """Writes each song as soon as it is predicted, so an interrupted batch keeps what was done.

    ``.csv``: one row per song (plus ``<stem>_timeline.csv`` with ``timeline``); ``.json``: a list of
    songs that is valid JSON after every song (the closing bracket is rewritten each time).
    """

    COLUMNS = [k for k in SongPrediction.__dataclass_fields__ if k != "timeline"]
    _CLOSE = b"\n]\n"

    def __init__(self, out: str | Path, *, timeline: bool) -> None:
        self.out, self.timeline, self.count = Path(out), timeline, 0
        check_output(self.out)
        self.written = [self.out]
        self._timeline_writer = None
        if self.out.suffix.lower() == ".json":
            self._json = self.out.open("w+b")
            self._json.write(b"[" + self._CLOSE)
            self._json.flush()
            return
        self._json = None
        self._csv_handle = self.out.open("w", newline="", encoding="utf-8")
        self._csv = csv.DictWriter(self._csv_handle, fieldnames=self.COLUMNS)
        self._csv.writeheader()
        if timeline:
            path = timeline_path(self.out)
            self._timeline_handle = path.open("w", newline="", encoding="utf-8")
            self._timeline_writer = csv.writer(self._timeline_handle)
            self._timeline_writer.writerow(["path", "time", "valence", "arousal"])
            self.written.append(path)

    def write(self, result: SongPrediction) -> None:
        if self._json is not None:
            text = textwrap.indent(json.dumps(result.to_dict(timeline=self.timeline), indent=2), "  ").encode()
            self._json.seek(-len(self._CLOSE), os.SEEK_END)
            self._json.write((b",\n" if self.count else b"\n") + text + self._CLOSE)
            self._json.truncate()
            self._json.flush()
        else:
            row = result.to_dict(timeline=False)
            self._csv.writerow({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})
            self._csv_handle.flush()
            if self._timeline_writer is not None:
                for point in result.timeline:
                    self._timeline_writer.writerow([result.path, f"{point['time']:.3f}", f"{point['valence']:.4f}",
                                                    f"{point['arousal']:.4f}"])  # fmt: skip
                self._timeline_handle.flush()
        self.count += 1

    def close(self) -> None:
        for handle in (self._json, getattr(self, "_csv_handle", None), getattr(self, "_timeline_handle", None)):
            if handle is not None:
                handle.close()

    def __enter__(self) -> PredictionWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_predictions(results: list[SongPrediction], out: Path, *, timeline: bool) -> list[Path]:
    """All of ``results`` at once; see :class:`PredictionWriter` for the formats."""
    with PredictionWriter(out, timeline=timeline) as writer:
        for result in results:
            writer.write(result)
    return writer.written


def plot_names(paths: Iterable[Path]) -> dict[Path, str]:
    """A distinct picture name per input: the stem, else the file name when stems clash (``clip.flac``,
    ``clip.ogg``), else a numbered name when whole names clash (same name in two folders)."""
    paths = list(paths)
    stems: dict[str, int] = {}
    for p in paths:
        stems[p.stem] = stems.get(p.stem, 0) + 1
    names: dict[Path, str] = {}
    used: set[str] = set()
    for p in paths:
        name = p.stem if stems[p.stem] == 1 else p.name
        candidate, n = name, 1
        while candidate in used:
            n += 1
            candidate = f"{name}-{n}"
        used.add(candidate)
        names[p] = candidate + ".png"
    return names
