"""``moodscape predict`` on many files: finding them, taking one shard of them, resuming a table, and
writing each result as it comes; the command only prints. A library caller gets the same run:

    with PredictionBatch.open(["songs/"], out=Path("moods.csv")) as batch:
        for path, result, error in batch.run():
            ...
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..audio.io import find_audio_files
from ..data.shards import parse_shard, shard_files
from ..errors import ConfigError
from .outputs import PredictionWriter, check_output
from .predictor import Predictor, SongPrediction
from .shards import check_same_shard, model_fingerprint, shard_meta_path, write_shard_meta

log = logging.getLogger("moodscape")


class PredictionBatch:
    """The files of one run, the loaded model and the table being written (if any); see :meth:`open`."""

    def __init__(self, files: list[Path], predictor: Predictor | None, writer: PredictionWriter | None, *,
                 timeline: bool, tags: bool) -> None:  # fmt: skip
        self.files, self.predictor, self.writer = files, predictor, writer
        self.timeline, self.tags = timeline, tags
        self.done, self.failed = 0, []

    @classmethod
    def open(
        cls, paths: Sequence[Path], *, model: str | None = None, out: Path | None = None, timeline: bool = False,
        tags: bool = False, shard: str | None = None, resume: bool = False, threads: int | None = None,
        batch_size: int = 32, hop_seconds: float | None = None, device: str = "cpu",
    ) -> PredictionBatch:  # fmt: skip
        """Audio files of ``paths`` (folders searched recursively; with ``shard`` "K/N", shard K of them), the
        model (``model``: anything :meth:`Predictor.load` takes; None: the shipped one) and, with ``out``,
        the table (``resume``: keep its finished rows and skip their files). Bad options fail here, before
        any audio is decoded. No files found: ``files`` is empty and no model is loaded."""
        found = [(f, str(f.relative_to(p)) if p.is_dir() else p.name) for p in map(Path, paths)
                 for f in (find_audio_files(p) if p.is_dir() else [p])]  # fmt: skip
        if not found:
            return cls([], None, None, timeline=timeline, tags=tags)
        if shard and not out:
            raise ConfigError("--shard needs --out: each shard writes its own table (e.g. --out moods-2-of-3.csv)")
        if resume and not out:
            raise ConfigError("--resume continues the table of --out; give --out")
        files = [f for f, _ in found]
        if shard:
            part = parse_shard(shard)
            files = shard_files(found, *part)
            log.info("shard %d/%d: %d of %d files", *part, len(files), len(found))
        if out:
            check_output(out)  # before any decoding: a bad name must not cost the work
        # Several files: side by side, one per thread (an exported model; a PyTorch one takes them in turn).
        options = {"threads": threads, "batch_size": batch_size, "hop_seconds": hop_seconds, "device": device,
                   "files_at_once": None if len(files) > 1 else 1}  # fmt: skip
        predictor = Predictor.load(model, **options) if model else Predictor.default(**options)
        if shard:
            settings = {"timeline": timeline, "hop_samples": predictor.hop, "window_samples": predictor.window,
                        "sample_rate": predictor.sample_rate, **({"tags": True} if tags else {})}  # fmt: skip
            fingerprint = model_fingerprint(predictor.backend.files)
            previous = shard_meta_path(out)
            if resume and previous.is_file():
                check_same_shard(previous, shard=part, model=fingerprint, settings=settings)
            write_shard_meta(out, shard=part, model=fingerprint, settings=settings, files=len(files))
        writer = PredictionWriter(out, timeline=timeline, resume=resume, tags=tags) if out else None
        if writer is not None and writer.done:
            before = len(files)
            files = [f for f in files if str(f) not in writer.done]
            log.info("resuming %s: %d files done earlier, %d to go", out, before - len(files), len(files))
        return cls(files, predictor, writer, timeline=timeline, tags=tags)

    def run(
        self, *, timeline: bool = False, progress: bool = True
    ) -> Iterator[tuple[Path, SongPrediction | None, str | None]]:
        """(path, prediction, None) or (path, None, reason) per file, each written to the table first;
        ``timeline`` computes the per-window curve even when the table does not keep it (e.g. to plot it)."""
        if self.predictor is None:
            return
        results = self.predictor.predict_many(self.files, timeline=self.timeline or timeline, tags=self.tags,
                                              progress=progress)  # fmt: skip
        for path, result, error in results:
            if result is None:
                self.failed.append((path, error))
            else:
                self.done += 1
                if self.writer is not None:
                    self.writer.write(result)
            yield path, result, error

    @property
    def written(self) -> list[Path]:
        """The files of the table (empty without ``out``)."""
        return list(self.writer.written) if self.writer is not None else []

    def close(self) -> None:
        """Finish the table (a JSON table is closed, so a batch cut short still leaves valid files)."""
        if self.writer is not None:
            self.writer.close()

    def __enter__(self) -> PredictionBatch:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
