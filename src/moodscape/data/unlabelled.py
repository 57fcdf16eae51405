"""Audio without labels, as a dataset: a folder (searched recursively) or single files, for the student's
transfer set (windows the teacher scores; see moodscape.training.distill)."""

from __future__ import annotations

from pathlib import Path

from ..audio.io import find_audio_files
from ..errors import DataError
from .corpus import Dataset
from .records import SongRecord

LAYOUT = "unlabelled"


def unlabelled_audio(root: str | Path) -> Dataset:
    """Every audio file under ``root`` as a song without labels; ids are the paths relative to ``root``."""
    root = Path(root).expanduser()
    if not root.exists():
        raise DataError(f"{root}: no such folder or file; give a folder of audio (student.transfer)")
    files = find_audio_files(root)
    if not files:
        raise DataError(f"{root}: no audio files found (looked for the extensions moodscape reads, recursively)")
    base = root if root.is_dir() else root.parent
    records = tuple(SongRecord(song_id=str(f.relative_to(base)), path=f, valence=None, arousal=None) for f in files)
    return Dataset(name=f"{root.name or 'audio'}-unlabelled", root=root, layout=LAYOUT, records=records)

