"""Your own data: one CSV that lists audio files and their labels.

Two shapes are accepted (header names are case- and space-insensitive)::

    path,valence,arousal          values on the scale given by ``scale`` ("1-9", "0-1", "-1-1")
    path,quadrant                 Q1..Q4 (or 1..4), mapped to the quadrant centres on [-1, 1]:
                                  Q1 (+0.5, +0.5), Q2 (-0.5, +0.5), Q3 (-0.5, -0.5), Q4 (+0.5, -0.5)
                                  as (valence, arousal)

``path`` is relative to the CSV's folder (absolute paths work too). The song id is the file's stem
unless a ``song_id`` (or ``id``) column gives it. When both shapes' columns are present, valence and
arousal are used. A value outside the scale or an unknown quadrant is a DataError naming the rows
(the scale is probably set wrong); an empty or non-numeric label is reported and that song left out.
Audio files lying next to the listed ones (same folders, not recursive) but not in the CSV are
reported as audio without labels.
"""

from __future__ import annotations

from pathlib import Path

from ..audio.io import AUDIO_EXTENSIONS
from ..errors import DataError
from .corpus import Dataset, build_dataset, preview
from .records import SCALES, SongRecord, to_unit
from .tables import parse_number, read_csv_table

# Quadrant -> (valence, arousal) centre on [-1, 1].
QUADRANT_CENTRES = {1: (0.5, 0.5), 2: (-0.5, 0.5), 3: (-0.5, -0.5), 4: (0.5, -0.5)}


def parse_quadrant(text: str) -> int | None:
    """``"Q3"``, ``"q3"`` or ``"3"`` -> 3; None for anything else."""
    body = text.strip().upper().removeprefix("Q")
    return int(body) if body in {"1", "2", "3", "4"} else None


def load_csv(path: str | Path, *, scale: str = "1-9") -> Dataset:
    """Load a labels CSV; see the module docstring.

    Args:
        path: the CSV file.
        scale: scale of the valence/arousal columns: ``"1-9"``, ``"0-1"`` or ``"-1-1"``.
    """
    path = Path(path).expanduser()
    if scale not in SCALES:
        raise DataError(f"unknown csv scale '{scale}'; valid scales: {', '.join(SCALES)}")
    if path.is_dir():
        raise DataError(f"{path}: a folder; the csv layout needs the labels CSV file itself as data.root")
    if not path.is_file():
        raise DataError(f"{path}: labels CSV not found; set data.root to a CSV with columns path,valence,arousal")
    table = read_csv_table(path, required=("path",), fix="a labels CSV has path,valence,arousal or path,quadrant")
    columns = table.columns
    use_values = "valence" in columns and "arousal" in columns
    if not use_values and "quadrant" not in columns:
        raise DataError(
            f"{path}: no label columns; expected path,valence,arousal or path,quadrant, "
            f"columns found: {', '.join(repr(c) for c in columns)}"
        )
    warnings: list[str] = []
    if use_values and "quadrant" in columns:
        warnings.append(f"{path}: has valence, arousal and quadrant columns; quadrant ignored")
    id_column = next((c for c in ("song_id", "id") if c in columns), None)
    low, high = SCALES[scale]
    folder = path.parent

    labels: dict[str, SongRecord] = {}
    static: dict[str, dict[str, float]] = {}
    audio: dict[str, Path] = {}
    seen: dict[str, tuple[str, tuple]] = {}
    invalid, conflicts = [], []
    for row in table.rows:
        fields = row.fields + [""] * (len(columns) - len(row.fields))
        cell = dict(zip(columns, fields, strict=False))  # extra trailing fields ignored
        at = f"{path}, line {row.line}"
        if not cell["path"]:
            warnings.append(f"{at}: empty path; row skipped")
            continue
        audio_path = Path(cell["path"]).expanduser()
        audio_path = audio_path if audio_path.is_absolute() else folder / audio_path
        song_id = cell[id_column] if id_column else audio_path.stem
        if not song_id:
            warnings.append(f"{at}: empty {id_column}; row skipped")
            continue
        if use_values:
            raw = {"valence": cell["valence"], "arousal": cell["arousal"]}
            values = {k: parse_number(v) for k, v in raw.items()}
            missing = [k for k, v in values.items() if v is None]
            if missing:
                shown = ", ".join(f"{k}='{raw[k]}'" for k in missing)
                warnings.append(f"{at}: song {song_id}: {shown} is not a number; song skipped")
                continue
            outside = [f"{k}={v:g}" for k, v in values.items() if not low <= v <= high]
            if outside:
                invalid.append(f"line {row.line} ({', '.join(outside)})")
                continue
            valence, arousal = (float(to_unit(values[k], scale)) for k in ("valence", "arousal"))
        else:
            if not cell["quadrant"]:
                warnings.append(f"{at}: song {song_id}: empty quadrant; song skipped")
                continue
            quadrant = parse_quadrant(cell["quadrant"])
            if quadrant is None:
                invalid.append(f"line {row.line} (quadrant='{cell['quadrant']}')")
                continue
            values = {"quadrant": float(quadrant)}
            valence, arousal = QUADRANT_CENTRES[quadrant]
        key = (str(audio_path), tuple(values.values()))
        if song_id in seen:
            first_at, first_key = seen[song_id]
            if first_key == key:
                warnings.append(f"{at}: song {song_id} repeats {first_at} with the same values; kept once")
            else:
                conflicts.append(f"song {song_id} at {first_at} and at line {row.line}")
            continue
        seen[song_id] = (at, key)
        labels[song_id] = SongRecord(song_id=song_id, path=None, valence=valence, arousal=arousal)
        static[song_id] = values
        if audio_path.is_file():
            audio[song_id] = audio_path

    if invalid:
        what = f"outside the {scale} scale" if use_values else "not a quadrant (Q1-Q4 or 1-4)"
        fix = (
            f"set data.csv_scale to the scale your labels use ({', '.join(SCALES)})"
            if use_values
            else "use Q1 (valence+, arousal+), Q2 (-, +), Q3 (-, -) or Q4 (+, -)"
        )
        shown = preview(invalid, 5, sep="; ")
        raise DataError(f"{path}: {len(invalid)} row(s) with labels {what}: {shown}. Fix: {fix}")
    if conflicts:
        raise DataError(
            f"{path}: {len(conflicts)} song id(s) listed twice with different files or labels: "
            f"{preview(conflicts, 5, sep='; ')}. Remove the wrong rows, "
            "or add a song_id column when two files share a name."
        )

    listed = {p.resolve() for p in audio.values()}
    neighbours = sorted(
        p
        for d in {p.parent for p in audio.values()}
        for p in d.iterdir()
        if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS and p.resolve() not in listed
    )
    value_columns = {c: c for c in columns if c in ("valence", "arousal")} if use_values else {}
    return build_dataset(
        name=path.stem,
        root=path,
        layout="csv",
        labels=labels,
        audio=audio,
        warnings=warnings,
        static=static,
        static_value_columns=value_columns,
        static_scale=scale if use_values else "quadrant",
        extra_audio=neighbours,
    )
