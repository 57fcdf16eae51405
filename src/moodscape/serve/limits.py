"""What the server accepts: upload and duration limits, and audio recognised by its first bytes.

A file's extension is the client's claim; the bytes decide. Only containers that moodscape's decoder
(libsndfile) reads are accepted, so a file that passes the sniff fails later only when it is damaged.
"""

from __future__ import annotations

from dataclasses import dataclass

# (offset, magic bytes, format); WAVE-like RIFF containers are checked by their form type below.
_MAGIC = (
    (0, b"fLaC", "flac"),
    (0, b"OggS", "ogg"),
    (0, b"ID3", "mp3"),
    (0, b".snd", "au"),
    (0, b"caff", "caf"),
    (0, b"riff\x2e\x91\xcf\x11", "w64"),
)
_FORM_TYPES = {b"WAVE": "wav", b"AIFF": "aiff", b"AIFC": "aiff"}
SNIFF_BYTES = 16


@dataclass(frozen=True)
class Limits:
    """Per-request limits of ``moodscape serve`` (sensible for songs: a 15-minute track in WAV at 44.1 kHz
    stereo is about 160 MB, as MP3 about 20 MB)."""

    max_file_mb: float = 100.0
    max_seconds: float = 20 * 60.0
    max_files: int = 20
    workers: int = 1
    queue: int = 8
    timeout_seconds: float = 300.0

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1e6)

    @property
    def max_request_bytes(self) -> int:
        """A whole multipart request: every file at its limit, plus room for the form's own framing."""
        return self.max_file_bytes * self.max_files + 1_000_000


def sniff_audio(head: bytes) -> str | None:
    """The audio format that ``head`` (a file's first bytes) starts, or None when it is not audio we read."""
    for offset, magic, name in _MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return name
    if head[:4] in (b"RIFF", b"RF64", b"FORM") and head[8:12] in _FORM_TYPES:
        return _FORM_TYPES[head[8:12]]
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:  # an MPEG audio frame
        return "mp3"
    return None
