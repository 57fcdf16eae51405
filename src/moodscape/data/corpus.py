"""One ``Dataset`` for every corpus layout, and :func:`build_dataset`, which every loader ends with.

Conventions shared by all loaders:

* song ids are strings (``"2"``, not ``2``); records are sorted by id, numerically when ids are
  numbers;
* header names are normalised: surrounding and inner whitespace removed, lower case
  (DEAM's ``" valence_ max_mean"`` reads as ``valence_max_mean``); fields are stripped;
* a row whose value cannot be used (not a number, outside the scale of a fixed-scale corpus,
  too few fields) is reported in ``Dataset.warnings`` with file and line, and that song is left
  out; loading goes on (a user CSV's value outside its declared scale is a DataError instead:
  the scale setting is then probably wrong for the whole file);
* a song id repeated with the same values is kept once with a warning; repeated with different
  values it is a :class:`~moodscape.errors.DataError` naming the file(s), lines and ids;
* songs with labels but no audio, and audio without labels, are counted and listed, never fatal.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..audio.io import find_audio_files
from ..errors import DataError
from .records import DynamicLabels, SongRecord

logger = logging.getLogger("moodscape.data.dataset")


@dataclass(frozen=True)
class Dataset:
    """A corpus turned into records, plus what was left out and what the data check needs.

    Attributes:
        name: short name (the root folder's name, or the CSV file's stem).
        root: the path the dataset was loaded from.
        layout: ``"deam"``, ``"emomusic"`` or ``"csv"``.
        records: songs with BOTH audio and usable labels, sorted by id. Labels on [-1, 1].
        labels_without_audio: ids of songs with usable labels but no audio file.
        audio_without_labels: audio files with no (usable) labels.
        warnings: one line per problem found while loading (bad rows, repeated ids, ...).
        static: raw static annotation columns per song id, as read (the file's own scale and
            normalised column names), for every annotated song, with or without audio.
        static_value_columns: the static columns that hold a label, in file order, mapped to the
            dimension the header says they hold (``{"mean_arousal": "arousal", ...}``).
        static_scale: scale of the raw static values (``"1-9"``, ``"0-1"``, ``"-1-1"``,
            ``"quadrant"``).
        dynamic: time-continuous curves per song id for every song in the dynamic files
            (also songs without audio); empty when the corpus has none.
        groups: named subsets of song ids that the check also examines on their own
            (DEAM: ids up to 1000, whose header is suspect, and later ids).
    """

    name: str
    root: Path
    layout: str
    records: tuple[SongRecord, ...]
    labels_without_audio: tuple[str, ...] = ()
    audio_without_labels: tuple[Path, ...] = ()
    warnings: tuple[str, ...] = ()
    static: Mapping[str, Mapping[str, float]] = field(default_factory=dict, compare=False, repr=False)
    static_value_columns: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    static_scale: str | None = None
    dynamic: Mapping[str, DynamicLabels] = field(default_factory=dict, compare=False, repr=False)
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def song_ids(self) -> tuple[str, ...]:
        return tuple(r.song_id for r in self.records)


# ----------------------------------------------------------------------------------------------
# Entry point


def sort_key(song_id: str) -> tuple[int, int, str]:
    """Numeric ids in numeric order, then the others alphabetically."""
    return (0, int(song_id), "") if song_id.isdigit() else (1, 0, song_id)


def audio_by_id(files: Iterable[Path]) -> dict[str, Path]:
    """``{file stem: path}``; DataError when two audio files share a stem (which one is the song?)."""
    found: dict[str, Path] = {}
    clashes = []
    for path in files:
        if path.stem in found:
            clashes.append(f"{found[path.stem]} and {path}")
            continue
        found[path.stem] = path
    if clashes:
        raise DataError(
            f"{len(clashes)} audio file name(s) used twice, so the song id is ambiguous: "
            f"{'; '.join(clashes[:5])}. Keep one file per song id."
        )
    return found


def build_dataset(
    *,
    name: str,
    root: Path,
    layout: str,
    labels: Mapping[str, SongRecord],
    audio: Mapping[str, Path],
    warnings: Sequence[str] = (),
    static: Mapping[str, Mapping[str, float]] | None = None,
    static_value_columns: Mapping[str, str] | None = None,
    static_scale: str | None = None,
    dynamic: Mapping[str, DynamicLabels] | None = None,
    groups: Mapping[str, tuple[str, ...]] | None = None,
    extra_audio: Iterable[Path] = (),
) -> Dataset:
    """Match labels (records without paths) to audio by song id, and log one summary line.

    ``extra_audio``: audio files that belong to no song id at all (listed as without labels).
    """
    dynamic = dict(dynamic or {})
    records = tuple(
        replace(labels[song_id], path=audio[song_id], dynamic=dynamic.get(song_id))
        for song_id in sorted(set(labels) & set(audio), key=sort_key)
    )
    labels_without_audio = tuple(sorted(set(labels) - set(audio), key=sort_key))
    audio_without_labels = tuple(audio[i] for i in sorted(set(audio) - set(labels), key=sort_key)) + tuple(extra_audio)
    dataset = Dataset(
        name=name,
        root=root,
        layout=layout,
        records=records,
        labels_without_audio=labels_without_audio,
        audio_without_labels=audio_without_labels,
        warnings=tuple(warnings),
        static=dict(static or {}),
        static_value_columns=dict(static_value_columns or {}),
        static_scale=static_scale,
        dynamic=dynamic,
        groups=dict(groups or {}),
    )
    for message in dataset.warnings:
        logger.warning(message)
    left_out = len(labels_without_audio) + len(audio_without_labels)
    (logger.warning if left_out or not records else logger.info)(
        "%s (%s): %d songs with audio and labels; left out %d with labels but no audio, "
        "%d audio files without labels%s",
        name,
        layout,
        len(records),
        len(labels_without_audio),
        len(audio_without_labels),
        f"; {len(dataset.warnings)} warnings" if dataset.warnings else "",
    )
    return dataset


def preview(items: Sequence[object], limit: int = 10, *, sep: str = ", ") -> str:
    """First ``limit`` items joined by ``sep``, with a count of the rest."""
    shown = sep.join(str(i) for i in items[:limit])
    return shown + (f"{sep}... ({len(items) - limit} more)" if len(items) > limit else "")


def audio_files(folder: Path) -> list[Path]:
    """Audio files under ``folder`` (recursive, sorted by path); empty when the folder does not exist."""
    return find_audio_files(folder) if folder.is_dir() else []
