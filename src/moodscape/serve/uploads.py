"""One request's files: each upload checked (size, first bytes) and staged on disk, then predicted on its own,
so that one bad file is its own error while the others complete."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import UploadFile

from ..audio.io import probe_audio
from ..errors import MoodscapeError
from ..inference.predictor import Predictor
from .limits import SNIFF_BYTES, Limits, sniff_audio

log = logging.getLogger("moodscape.serve.app")

_CHUNK = 1 << 20


class FileError(Exception):
    """One uploaded file that cannot be predicted, with the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def save_upload(upload: UploadFile, folder: Path, index: int, limits: Limits) -> tuple[str, Path]:
    """Copy one upload into ``folder`` after checking its size and its first bytes; (name, path)."""
    name = Path(upload.filename or f"file {index + 1}").name
    source = upload.file
    source.seek(0)
    head = source.read(SNIFF_BYTES)
    if not head:
        raise FileError(400, f"{name}: empty file (0 bytes)")
    kind = sniff_audio(head)
    if kind is None:
        raise FileError(415, f"{name}: not an audio file moodscape reads (WAV, FLAC, MP3, OGG/Opus, AIFF, AU, CAF)")
    path = folder / f"{index}.{kind}"
    size = 0
    source.seek(0)
    with path.open("wb") as out:
        while chunk := source.read(_CHUNK):
            size += len(chunk)
            if size > limits.max_file_bytes:
                raise FileError(413, f"{name}: larger than the server's limit of {limits.max_file_mb:g} MB")
            out.write(chunk)
    return name, path


def predict_files(predictor: Predictor, files: list[tuple[str, Path]], limits: Limits, timeline: bool,
                  tags: bool = False) -> list[dict[str, Any] | FileError]:  # fmt: skip
    """Each file's prediction dict (``path`` is the uploaded name) or its FileError; never raises."""
    out: list[dict[str, Any] | FileError] = []
    for name, path in files:
        try:
            seconds = probe_audio(path).duration
            if seconds > limits.max_seconds:
                raise FileError(422, f"{name}: {seconds / 60:.1f} minutes long; this server takes up to "
                                     f"{limits.max_seconds / 60:g} minutes per file")  # fmt: skip
            result = predictor.predict(path, timeline=timeline, tags=tags)
            result.path = name
            out.append(result.to_dict(timeline=timeline))
        except FileError as exc:
            out.append(exc)
        except MoodscapeError as exc:
            out.append(FileError(422, str(exc).replace(str(path), name)))
        except Exception as exc:  # noqa: BLE001 - one file's crash is its own error; the others and the server go on
            log.exception("prediction of %s failed", name)
            out.append(FileError(500, f"{name}: prediction failed ({type(exc).__name__}); see the server log"))
    return out
