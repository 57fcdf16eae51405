"""``Predictor``: load a model of any kind (run folder, checkpoint folder, ONNX file, Hub name) and
predict valence and arousal for audio files, per song and, on request, per window.

    from moodscape import Predictor
    result = Predictor.load("runs/teacher/student").predict("song.mp3", timeline=True)
    print(result.valence, result.arousal, result.mood)

Finding and running the model is in :mod:`moodscape.inference.backends`; writing predictions to files
in :mod:`moodscape.inference.outputs`.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data.quadrants import QUADRANT_NAMES, quadrant
from ..data.records import from_unit
from ..errors import ConfigError, MoodscapeError
from ..models.floors.fusion import DESCRIPTOR_MAX_SECONDS
from .backends import load_backend
from .stream import StreamInfo, stream_windows

log = logging.getLogger(__name__)


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
    tags: list[dict[str, Any]] = field(default_factory=list)  # with tags=True: musicnn's top tags

    def to_dict(self, *, timeline: bool = True) -> dict[str, Any]:
        data = asdict(self)
        if not timeline:
            data.pop("timeline")
        if not self.tags:
            data.pop("tags")
        return data


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
        # Audio at another rate is resampled as the model's training store resampled it.
        self.resampler = getattr(backend, "resampler", "HQ")
        if self.hop < 1:
            raise ConfigError(f"hop_seconds={hop_seconds}: under one sample at {self.sample_rate} Hz; give a larger hop")
        audio = backend.audio
        self.min_samples = int(math.ceil(audio.min_seconds * self.sample_rate))
        self.short_policy = audio.short_policy
        self._tagger = None
        self._summariser = None  # the musicnn taggers of a fusion with the probe, loaded on first use
        self._loading = threading.Lock()

    @classmethod
    def load(cls, source: str | Path, *, threads: int | None = None, batch_size: int = 32, hop_seconds: float | None = None,
             device: str = "cpu", files_at_once: int | None = 1) -> Predictor:  # fmt: skip
        """From a run folder (its ``student/best`` when present, then ``best/``, then a pipeline run's
        ``teacher/best``), a checkpoint folder, an exported ``.onnx`` file (waveform or log-mel input), a
        folder of exported files (its ``model-logmel.int8.onnx``, else ``model-logmel.onnx``, else
        ``model.int8.onnx``, else ``model.onnx``), or a Hub name. A path that does not exist is an error
        at once; only a name of the form ``owner/name`` is looked up on the Hub. ``device`` (e.g. ``cuda``)
        runs a PyTorch model there; exported ONNX models run on the CPU. ``files_at_once``: how many files
        :meth:`predict_many` predicts side by side with an exported model, sharing ``threads`` (None: one
        per thread; the fastest for a batch of files, on a core each)."""
        _positive("threads", threads)
        _positive("files_at_once", files_at_once)
        _positive("batch_size", batch_size, allow_none=False)
        _positive("hop_seconds", hop_seconds)
        if device != "cpu":
            from ..models.device import resolve_device

            device = str(resolve_device(device, key="--device"))
        backend = load_backend(source, threads, device, files_at_once)
        log.info("predicting with %s", backend.description)
        return cls(backend, batch_size=batch_size, hop_seconds=hop_seconds)

    @classmethod
    def default(cls, *, threads: int | None = None, batch_size: int = 32, hop_seconds: float | None = None,
                device: str = "cpu", files_at_once: int | None = 1) -> Predictor:  # fmt: skip
        """The model shipped inside the package (see ``moodscape models`` and its model card)."""
        from .catalog import default_model_dir

        return cls.load(default_model_dir(), threads=threads, batch_size=batch_size, hop_seconds=hop_seconds,
                        device=device, files_at_once=files_at_once)  # fmt: skip

    def predict(self, path: str | Path, *, timeline: bool = False, tags: bool = False) -> SongPrediction:
        """Predict one file; raises AudioError for unreadable, truncated or silent audio, and for audio
        shorter than the model's ``audio.min_seconds`` when its short-clip policy is 'skip'. Under 'pad' or
        'loop' such a clip is predicted and ``warning`` says so. ``tags``: also the top five tags of each
        shipped musicnn tagger (:class:`~moodscape.inference.tags.Tagger`; decodes the file once more)."""
        fusion = getattr(self.backend, "fusion", None)
        # A fusion's descriptors read the clip from the same decode as the windows.
        info = StreamInfo(keep=int(DESCRIPTOR_MAX_SECONDS * self.sample_rate) if fusion is not None else 0)
        outputs, batch = [], []
        windows = stream_windows(path, sample_rate=self.sample_rate, window=self.window, hop=self.hop, info=info,
                                 min_samples=self.min_samples, short_policy=self.short_policy,
                                 quality=self.resampler)  # fmt: skip
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
        if fusion is not None:  # the song value fuses the network with the descriptor floor; windows shift with it
            descriptors, summary = self._fusion_inputs(path, info, notes, fusion)
            fused = fusion.combine(song, descriptors[None], None if summary is None else summary[None])[0]
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
        if tags:
            if self._tagger is None:
                from .tags import Tagger

                self._tagger = Tagger()
            result.tags = self._tagger(path)
        if timeline:
            centre = min(self.window, info.samples) / 2  # each point sits at its window's middle
            result.timeline = [
                {"time": (start + centre) / self.sample_rate, "valence": float(v), "arousal": float(a)}
                for start, (v, a) in zip(info.starts, values)
            ]
        return result

    def _fusion_inputs(self, path: str | Path, info: StreamInfo, notes: list[str], fusion) -> tuple[np.ndarray, np.ndarray | None]:
        """The clip descriptors the fused floor reads and, when the probe is a member, the musicnn summary it reads,
        each from (at most the first ten minutes of) the audio as its member learnt from it: the floor from HQ
        resampling at its own rate (the model's when it records none), the probe at musicnn's rate resampled as its store was. Where that is the
        audio the windows were cut from, it is reused (the same samples as decoding the file again)."""
        from ..audio.descriptors import clip_descriptors
        from ..audio.io import fit_length, load_audio

        audio = self.backend.audio

        def heard(rate: int, quality: str) -> np.ndarray:
            resampled = info.native_rate != self.sample_rate
            if rate == self.sample_rate and (quality == self.resampler or not resampled):
                return fit_length(info.head(), path, sample_rate=rate, min_seconds=audio.min_seconds,
                                  policy=audio.short_policy)  # fmt: skip
            return load_audio(path, sample_rate=rate, duration=DESCRIPTOR_MAX_SECONDS, min_seconds=audio.min_seconds,
                              short_policy=audio.short_policy, quality=quality)[0]  # fmt: skip

        if info.samples / self.sample_rate > DESCRIPTOR_MAX_SECONDS + 1:
            notes.append(f"descriptors from the first {DESCRIPTOR_MAX_SECONDS:g} s")
        summary = None
        if fusion.probe is not None:
            from ..models.floors.probe import Summariser

            with self._loading:  # files predicted side by side share one
                if self._summariser is None:
                    self._summariser = Summariser(fusion.probe.taggers)
            summary = self._summariser(heard(Summariser.SAMPLE_RATE, fusion.probe.resampler))
        rate = fusion.floor.sample_rate or self.sample_rate
        return clip_descriptors(heard(rate, "HQ"), rate), summary

    def predict_many(
        self, paths: Iterable[str | Path], *, timeline: bool = False, tags: bool = False, progress: bool = True
    ) -> Iterator[tuple[Path, SongPrediction | None, str | None]]:
        """(path, prediction, None) for each file that worked, (path, None, reason) for each that failed, in
        the order given. An exported model loaded with ``files_at_once`` > 1 predicts that many files side by
        side, a fused one too (its descriptors then overlap the other file's network: 2.65 files/s against 1.96 for
        the shipped model on 2 cores); not with ``tags``, whose extra decoding runs one file at a time.

        A failure of one file, expected (bad audio) or not, never ends the batch.
        """
        from tqdm.auto import tqdm

        paths = list(paths)
        at_once = getattr(self.backend, "files_at_once", 1)
        if tags:
            at_once = 1
        with tqdm(total=len(paths), desc="predict", unit="file", disable=not progress) as bar:
            for outcome in self._outcomes(paths, timeline=timeline, tags=tags, at_once=at_once):
                bar.update(1)
                yield outcome

    def _outcomes(self, paths: list, *, timeline: bool, tags: bool, at_once: int) -> Iterator[tuple]:
        def one(path: str | Path) -> tuple[Path, SongPrediction | None, str | None]:
            try:
                return Path(path), self.predict(path, timeline=timeline, tags=tags), None
            except MoodscapeError as exc:
                log.warning("skipped %s", exc)
                return Path(path), None, str(exc)
            except Exception as exc:  # noqa: BLE001 - reported per file; the others still complete
                log.warning("skipped %s: unexpected %s: %s", path, type(exc).__name__, exc,
                            exc_info=log.isEnabledFor(logging.DEBUG))  # fmt: skip
                return Path(path), None, f"{path}: unexpected {type(exc).__name__}: {exc}"

        if at_once <= 1:
            yield from map(one, paths)
            return
        # A few files ahead at most, in order; a consumer that stops early leaves no work queued behind it.
        with ThreadPoolExecutor(at_once, thread_name_prefix="moodscape-predict") as pool:
            pending: deque[Future] = deque()
            try:
                for path in paths:
                    pending.append(pool.submit(one, path))
                    if len(pending) >= 2 * at_once:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:
                for future in pending:
                    future.cancel()
