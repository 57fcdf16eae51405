"""emoMusic ("1000 songs for emotional analysis of music", MediaEval 2013) in its shipped layout.

::

    ROOT/clips_45seconds/<song_id>.mp3
    ROOT/annotations/static_annotations.csv          song_id,mean_arousal,std_arousal,mean_valence,std_valence (1-9)
    ROOT/annotations/arousal_cont_average.csv        song_id,sample_15000ms,...,sample_45000ms (2 Hz, -1..1)
    ROOT/annotations/valence_cont_average.csv        same layout (optional, with the arousal file)
    ROOT/annotations/songs_info.csv                  artist, title, genre, 2013 split (not read)

Static labels map from 1-9 to [-1, 1] with (x - 5) / 4 (std columns with / 4). The ``*_cont_std``
files are not read.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .corpus import Dataset, audio_by_id, audio_files, build_dataset
from .tables import StaticSpec, label_columns, read_dynamic, read_static, static_to_records

AUDIO = "clips_45seconds"
STATIC = Path("annotations") / "static_annotations.csv"
AROUSAL = Path("annotations") / "arousal_cont_average.csv"
VALENCE = Path("annotations") / "valence_cont_average.csv"
SPEC = StaticSpec(
    valence="mean_valence", arousal="mean_arousal", valence_std="std_valence", arousal_std="std_arousal", scale="1-9"
)


def load_emomusic(root: str | Path) -> Dataset:
    """Load emoMusic from its folder; see the module docstring.

    Raises DataError when ``annotations/static_annotations.csv`` is missing or lacks a required
    column, or a song id is annotated twice with different values.
    """
    root = Path(root).expanduser()
    static_path = root / STATIC
    if not static_path.is_file():
        raise DataError(
            f"{root}: emoMusic static annotations not found, expected {static_path}. "
            "Fix: unpack the annotations archive into this folder (annotations/static_annotations.csv next to "
            f"{AUDIO}/), or point data.root at the folder that holds both."
        )
    warnings: list[str] = []
    static = read_static(
        [static_path],
        SPEC,
        warnings,
        fix="emoMusic's file has song_id,mean_arousal,std_arousal,mean_valence,std_valence",
    )
    labels = static_to_records(static, SPEC)

    dynamic = {}
    if (root / AROUSAL).is_file() and (root / VALENCE).is_file():
        dynamic = read_dynamic(root / AROUSAL, root / VALENCE, warnings)
    elif (root / AROUSAL).is_file() or (root / VALENCE).is_file():
        warnings.append(f"{root / 'annotations'}: only one of {AROUSAL.name} / {VALENCE.name}; curves not loaded")

    audio_dir = root / AUDIO
    if not audio_dir.is_dir():
        warnings.append(f"{audio_dir}: emoMusic audio folder not found; every annotated song is left out")
    audio = audio_by_id(audio_files(audio_dir))

    return build_dataset(
        name=root.name or str(root),
        root=root,
        layout="emomusic",
        labels=labels,
        audio=audio,
        warnings=warnings,
        static=static,
        static_value_columns=label_columns(static, SPEC),
        static_scale=SPEC.scale,
        dynamic=dynamic,
    )
