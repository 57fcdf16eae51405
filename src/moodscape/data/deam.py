"""DEAM (MediaEval Database for Emotional Analysis in Music) in its shipped layout.

::

    ROOT/DEAM_audio/MEMD_audio/<song_id>.mp3
    ROOT/DEAM_Annotations/annotations/annotations averaged per song/
        song_level/static_annotations_averaged_songs_1_2000.csv
            song_id, valence_mean, valence_std, arousal_mean, arousal_std
        song_level/static_annotations_averaged_songs_2000_2058.csv
            the same plus max/min columns (one spelled "valence_ max_mean")
        dynamic (per second annotations)/{arousal,valence}.csv       (optional)
            song_id,sample_15000ms,sample_15500ms,...

Static labels are on 1-9 and map to [-1, 1] with (x - 5) / 4 (std columns with / 4); the
per-second curves are already on [-1, 1]. Every static file matching
``static_annotations_averaged_songs_*.csv`` is read, so a download with only the first file works.

Where the annotations are looked for (first match wins):

1. ``annotations=`` when given: the ``DEAM_Annotations`` folder, its ``annotations`` folder, the
   ``annotations averaged per song`` folder, or the ``song_level`` folder itself;
2. ``ROOT/DEAM_Annotations`` and ``ROOT`` itself (at any level of the annotations tree).
   When ROOT is the audio folder itself (``X/DEAM_audio/MEMD_audio``, ``X/MEMD_audio``, or any
   folder holding the audio files directly), X (its parent) is taken as the dataset folder, so
   ``X/DEAM_Annotations`` is found from the audio folder too.

Labels are read as the header names them, never swapped behind the user's back. For song ids up
to 1000, emoMusic ships the same numbers with the two label columns named the other way round
(arousal first). When DEAM's per-second curves are present the loader compares each static column
with the song-mean curves for those ids and warns only if a column tracks the other dimension's
curve better than its own; without curves it warns that the header cannot be verified.
:mod:`moodscape.data.check` shows the full comparison (all songs, ids <= 1000, ids > 1000).
"""

from __future__ import annotations

from pathlib import Path

from ..audio.io import AUDIO_EXTENSIONS
from ..errors import DataError
from .check import correlate_static_with_curves
from .corpus import Dataset, audio_by_id, audio_files, build_dataset, sort_key
from .tables import StaticSpec, label_columns, read_dynamic, read_static, static_to_records

AVERAGED = Path("annotations") / "annotations averaged per song"
SONG_LEVEL = AVERAGED / "song_level"
DYNAMIC = "dynamic (per second annotations)"
STATIC_PATTERN = "static_annotations_averaged_songs_*.csv"
STATIC_FILES = ("static_annotations_averaged_songs_1_2000.csv", "static_annotations_averaged_songs_2000_2058.csv")
AUDIO = Path("DEAM_audio") / "MEMD_audio"
SPEC = StaticSpec(
    valence="valence_mean", arousal="arousal_mean", valence_std="valence_std", arousal_std="arousal_std", scale="1-9"
)
# Ids of the 2013 songs that emoMusic also ships (with the label header the other way round).
EMOMUSIC_IDS_UP_TO = 1000
_FIX = "the DEAM static files need song_id, valence_mean and arousal_mean (std columns optional)"


def _song_level_dir(base: Path) -> Path | None:
    """The folder holding the static files, for ``base`` at any level of the annotations tree."""
    for relative in (SONG_LEVEL, Path("annotations averaged per song") / "song_level", Path("song_level"), Path()):
        folder = base / relative
        if folder.is_dir() and any(folder.glob(STATIC_PATTERN)):
            return folder
    return None


def _find_annotations(dataset_root: Path, audio_root: bool, annotations: Path | None) -> Path:
    bases = [annotations] if annotations is not None else [dataset_root / "DEAM_Annotations", dataset_root]
    for base in bases:
        found = _song_level_dir(base)
        if found is not None:
            return found
    expected = dataset_root / "DEAM_Annotations" / SONG_LEVEL
    if annotations is not None:
        raise DataError(
            f"{annotations}: no DEAM static annotations ({STATIC_PATTERN}) in it or in its "
            f"'{SONG_LEVEL}' / 'song_level' subfolders. Point annotations= at the unpacked DEAM_Annotations folder."
        )
    where = "its parent folders" if audio_root else str(dataset_root)
    raise DataError(
        f"{dataset_root}: DEAM annotations not found. Expected {expected / STATIC_FILES[0]} "
        f"(and {STATIC_FILES[1]}); looked in {', '.join(str(b) for b in bases)}. "
        f"Fix: unpack DEAM_Annotations.zip into {where} next to DEAM_audio/, "
        "or pass the annotations folder with --annotations PATH (config: data.annotations)."
    )


def _locate(root: Path) -> tuple[Path, Path, bool]:
    """(dataset root, audio folder, whether ROOT was given as the audio folder itself)."""
    if root.name == "MEMD_audio":
        parent = root.parent
        return (parent.parent if parent.name == "DEAM_audio" else parent), root, True
    for audio in (root / AUDIO, root / "MEMD_audio", root / "DEAM_audio"):
        if audio.is_dir():
            return root, audio, False
    if any(p.suffix.lower() in AUDIO_EXTENSIONS for p in root.iterdir() if p.is_file()):
        return root.parent, root, True  # a plain folder of DEAM audio, given directly
    return root, root / AUDIO, False


def _header_warning(static, dynamic, columns: dict[str, str], group: str, ids: tuple[str, ...]) -> str | None:
    """A warning about DEAM's label header for ids <= 1000, or None when the curves clear it."""
    found = {c.group: c for c in correlate_static_with_curves(static, dynamic, columns, groups={group: ids})}
    if group not in found:
        return (
            f"{len(ids)} annotated songs have {group}: for these, emoMusic ships the same static numbers "
            "with the header 'arousal, valence' where DEAM says 'valence, arousal', so DEAM's header may be "
            "swapped there. Labels are read as DEAM's header says; without DEAM's per-second annotations "
            "(dynamic (per second annotations)/arousal.csv, valence.csv) this cannot be checked."
        )
    corr = found[group]
    if not corr.swapped:
        return None
    detail = "; ".join(
        f"'{c}' r={row[corr.curves.index(d)]:+.2f} with the {d} curves, "
        f"r={row[1 - corr.curves.index(d)]:+.2f} with the other"
        for c, d, row in zip(corr.columns, corr.dimensions, corr.r, strict=True)
        if c in corr.swapped
    )
    return (
        f"DEAM's static header looks swapped for the {corr.n_songs} songs with {group} and per-second curves: "
        f"{detail}. Labels are read as the header says; see the data check."
    )


def load_deam(root: str | Path, *, annotations: str | Path | None = None) -> Dataset:
    """Load DEAM from its folder (or from its ``MEMD_audio`` folder); see the module docstring.

    Raises DataError when no static annotations are found, a static file lacks a required column,
    or a song id is annotated twice with different values.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: DEAM folder not found; set data.root to the folder holding DEAM_audio/")
    dataset_root, audio_dir, audio_root = _locate(root)
    song_level = _find_annotations(
        dataset_root, audio_root, None if annotations is None else Path(annotations).expanduser()
    )
    warnings: list[str] = []

    static_paths = sorted(song_level.glob(STATIC_PATTERN))
    missing_files = [name for name in STATIC_FILES if not (song_level / name).is_file()]
    if missing_files:
        warnings.append(f"{song_level}: {', '.join(missing_files)} not found; songs it covers get no labels")
    static = read_static(static_paths, SPEC, warnings, fix=_FIX)
    labels = static_to_records(static, SPEC)

    dynamic = {}
    dynamic_dir = song_level.parent / DYNAMIC
    arousal_csv, valence_csv = dynamic_dir / "arousal.csv", dynamic_dir / "valence.csv"
    if arousal_csv.is_file() and valence_csv.is_file():
        dynamic = read_dynamic(arousal_csv, valence_csv, warnings)
    elif arousal_csv.is_file() or valence_csv.is_file():
        warnings.append(f"{dynamic_dir}: only one of arousal.csv / valence.csv found; per-second curves not loaded")

    if not audio_dir.is_dir():
        warnings.append(f"{audio_dir}: DEAM audio folder not found; every annotated song is left out")
    audio = audio_by_id(audio_files(audio_dir))

    numeric = sorted((i for i in static if i.isdigit()), key=sort_key)
    early = tuple(i for i in numeric if int(i) <= EMOMUSIC_IDS_UP_TO)
    late = tuple(i for i in numeric if int(i) > EMOMUSIC_IDS_UP_TO)
    early_name = f"ids <= {EMOMUSIC_IDS_UP_TO}"
    if early:
        warning = _header_warning(static, dynamic, label_columns(static, SPEC), early_name, early)
        if warning:
            warnings.append(warning)
    groups = {early_name: early, f"ids > {EMOMUSIC_IDS_UP_TO}": late}

    return build_dataset(
        name=dataset_root.name or str(dataset_root),
        root=root,
        layout="deam",
        labels=labels,
        audio=audio,
        warnings=warnings,
        static=static,
        static_value_columns=label_columns(static, SPEC),
        static_scale=SPEC.scale,
        dynamic=dynamic,
        groups={name: ids for name, ids in groups.items() if ids},
    )
