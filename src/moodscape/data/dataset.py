"""One ``Dataset`` for every corpus layout, layout detection, and the CSV helpers the loaders share.

Every loader (:mod:`.deam`, :mod:`.emomusic`, :mod:`.csvfile`) reads its own files and hands
:func:`build_dataset` the same pieces: labels per song id, audio per song id, the raw static
columns and the time-continuous curves. Downstream code sees only :class:`Dataset` and its
:class:`~moodscape.data.records.SongRecord` items.

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

import csv
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..audio.io import find_audio_files
from ..errors import DataError
from .records import SCALES, DynamicLabels, SongRecord

logger = logging.getLogger(__name__)

LAYOUTS = ("auto", "deam", "emomusic", "csv")


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


def detect_layout(root: str | Path) -> str:
    """Name the layout at ``root`` (``"deam"``, ``"emomusic"``, ``"csv"``); DataError if none fits."""
    root = Path(root).expanduser()
    if root.is_file():
        if root.suffix.lower() == ".csv":
            return "csv"
        raise DataError(
            f"{root}: a file, but not a .csv; give a dataset folder (DEAM or emoMusic layout) "
            "or a CSV with columns path,valence,arousal or path,quadrant"
        )
    if not root.is_dir():
        raise DataError(f"{root}: no such file or folder; set data.root to a dataset folder or a labels CSV")
    if (
        (root / "DEAM_audio").is_dir()
        or (root / "DEAM_Annotations").is_dir()
        or (root / "MEMD_audio").is_dir()
        or root.name == "MEMD_audio"
    ):
        return "deam"
    if (root / "clips_45seconds").is_dir() and (root / "annotations" / "static_annotations.csv").is_file():
        return "emomusic"
    raise DataError(
        f"{root}: cannot tell the dataset layout. Looked for: DEAM_audio/, DEAM_Annotations/ or "
        "MEMD_audio/ (DEAM); clips_45seconds/ with annotations/static_annotations.csv (emoMusic); "
        "a .csv file given as the root (your own data). Valid layouts: "
        f"{', '.join(LAYOUTS)}. Set data.layout explicitly, or point data.root at one of these."
    )


def load_dataset(
    root: str | Path,
    *,
    layout: str = "auto",
    csv_scale: str = "1-9",
    annotations: str | Path | None = None,
) -> Dataset:
    """Load any supported layout into a :class:`Dataset`.

    Args:
        root: a DEAM folder (or its ``MEMD_audio`` folder), an emoMusic folder, or a labels CSV.
        layout: ``"auto"`` (detect), ``"deam"``, ``"emomusic"`` or ``"csv"``.
        csv_scale: scale of the valence/arousal columns of a labels CSV (``"1-9"``, ``"0-1"``,
            ``"-1-1"``); ignored by the corpus layouts, whose scale is fixed.
        annotations: DEAM only: where the annotations are when they are not next to the audio
            (see :func:`moodscape.data.deam.load_deam`).
    """
    if layout not in LAYOUTS:
        raise DataError(f"unknown data.layout '{layout}'; valid layouts: {', '.join(LAYOUTS)}")
    root = Path(root).expanduser()
    if layout == "auto":
        layout = detect_layout(root)
    if annotations is not None and layout != "deam":
        raise DataError(f"--annotations (data.annotations) is only used by the DEAM layout, not by '{layout}'")
    # Imported here: the loader modules import this module for the shared helpers.
    if layout == "deam":
        from .deam import load_deam

        return load_deam(root, annotations=annotations)
    if layout == "emomusic":
        from .emomusic import load_emomusic

        return load_emomusic(root)
    from .csvfile import load_csv

    return load_csv(root, scale=csv_scale)


# ----------------------------------------------------------------------------------------------
# Shared helpers for the loaders


def normalise_header(name: str) -> str:
    """``" valence_ max_mean"`` -> ``"valence_max_mean"``: strip, drop inner whitespace, lower case."""
    return "".join(name.split()).lower()


def sort_key(song_id: str) -> tuple[int, int, str]:
    """Numeric ids in numeric order, then the others alphabetically."""
    return (0, int(song_id), "") if song_id.isdigit() else (1, 0, song_id)


def parse_number(text: str) -> float | None:
    """A finite float, or None for empty, non-numeric, NaN or infinite text."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class CsvRow:
    """One data row: its line number in the file (header is line 1) and its stripped fields."""

    line: int
    fields: list[str]


@dataclass(frozen=True)
class CsvTable:
    """A CSV read with normalised header names; ``rows`` keep their line numbers for messages."""

    path: Path
    columns: tuple[str, ...]
    rows: tuple[CsvRow, ...]

    def index(self, column: str) -> int:
        return self.columns.index(column)


def read_csv_table(path: str | Path, *, required: Sequence[str] = (), fix: str = "") -> CsvTable:
    """Read a CSV (any line ends, optional BOM), normalising header names and stripping fields.

    Raises DataError when the file is missing, empty, or lacks a ``required`` column (normalised
    name); the message names the file, the missing and the found columns, and ``fix``.
    Blank lines are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found{'; ' + fix if fix else ''}")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(f"{path}: empty file, expected a header row{'; ' + fix if fix else ''}") from None
        except csv.Error as exc:
            raise DataError(f"{path}: not a readable CSV ({exc})") from exc
        columns = tuple(normalise_header(name) for name in header)
        # Trailing empty header cells (a trailing comma) are not columns.
        while columns and columns[-1] == "":
            columns = columns[:-1]
        missing = [c for c in required if c not in columns]
        if missing:
            semicolons = len(header) == 1 and ";" in header[0]
            raise DataError(
                f"{path}: missing column(s) {', '.join(repr(m) for m in missing)}; "
                f"columns found: {', '.join(repr(c) for c in columns) or 'none'}"
                f"{'. ' + fix if fix else ''}"
                + (". The header is split by ';': moodscape reads comma-separated files, so save it with commas "
                   "(in a spreadsheet: CSV, comma-delimited)" if semicolons else "")
            )
        repeated = sorted({c for c in columns if columns.count(c) > 1 and c})
        if repeated:
            raise DataError(f"{path}: column(s) {', '.join(repr(c) for c in repeated)} appear more than once")
        rows = []
        try:
            for fields in reader:
                stripped = [f.strip() for f in fields]
                if not any(stripped):
                    continue
                rows.append(CsvRow(line=reader.line_num, fields=stripped))
        except csv.Error as exc:
            raise DataError(f"{path}, line {reader.line_num}: not a readable CSV row ({exc})") from exc
    return CsvTable(path=path, columns=columns, rows=tuple(rows))


@dataclass(frozen=True)
class StaticSpec:
    """How one corpus names its static columns, and their scale."""

    valence: str
    arousal: str
    valence_std: str | None = None
    arousal_std: str | None = None
    scale: str = "1-9"

    @property
    def required(self) -> tuple[str, ...]:
        return ("song_id", self.valence, self.arousal)


def read_static(
    paths: Sequence[Path], spec: StaticSpec, warnings: list[str], *, fix: str = ""
) -> dict[str, dict[str, float]]:
    """Static annotation rows from one or more files -> ``{song_id: {column: value}}`` as read.

    Every column other than ``song_id`` is a value column and must be a number; the label
    columns must lie on ``spec.scale``. A bad row is reported in ``warnings`` (file, line, column,
    value) and that song is left out. Repeated ids: see the module docstring.
    """
    low, high = SCALES[spec.scale]
    static: dict[str, dict[str, float]] = {}
    where: dict[str, str] = {}
    conflicts: list[str] = []
    for path in paths:
        table = read_csv_table(path, required=spec.required, fix=fix)
        id_at = table.index("song_id")
        value_columns = [(i, c) for i, c in enumerate(table.columns) if c != "song_id" and c]
        for row in table.rows:
            song_id = row.fields[id_at] if id_at < len(row.fields) else ""
            at = f"{path}, line {row.line}"
            if not song_id:
                warnings.append(f"{at}: no song_id; row skipped")
                continue
            if len(row.fields) < len(table.columns):
                warnings.append(
                    f"{at}: song {song_id}: {len(row.fields)} fields for {len(table.columns)} columns; song skipped"
                )
                continue
            values: dict[str, float] = {}
            problem = None
            for i, column in value_columns:
                value = parse_number(row.fields[i])
                if value is None:
                    problem = f"column '{column}' = '{row.fields[i]}' is not a number"
                    break
                if column in (spec.valence, spec.arousal) and not low <= value <= high:
                    problem = f"column '{column}' = {value:g} is outside the {spec.scale} scale"
                    break
                values[column] = value
            if problem:
                warnings.append(f"{at}: song {song_id}: {problem}; song skipped")
                continue
            if song_id in static:
                shared = set(static[song_id]) & set(values)
                if all(static[song_id][c] == values[c] for c in shared):
                    warnings.append(f"{at}: song {song_id} repeats {where[song_id]} with the same values; kept once")
                else:
                    conflicts.append(f"song {song_id} at {where[song_id]} and at {at}")
                continue
            static[song_id] = values
            where[song_id] = at
    if conflicts:
        raise DataError(
            f"{len(conflicts)} song id(s) annotated twice with different values: {preview(conflicts, 10, sep='; ')}. "
            "Remove the wrong rows; moodscape will not guess which one is right."
        )
    return static


def static_to_records(static: Mapping[str, Mapping[str, float]], spec: StaticSpec) -> dict[str, SongRecord]:
    """Map raw static rows onto [-1, 1] records (no audio yet). Std columns scale by the half-range."""
    low, high = SCALES[spec.scale]
    centre, half = (low + high) / 2.0, (high - low) / 2.0
    records = {}
    for song_id, row in static.items():
        v_std = row.get(spec.valence_std) if spec.valence_std else None
        a_std = row.get(spec.arousal_std) if spec.arousal_std else None
        records[song_id] = SongRecord(
            song_id=song_id,
            path=None,
            valence=(row[spec.valence] - centre) / half,
            arousal=(row[spec.arousal] - centre) / half,
            valence_std=None if v_std is None else v_std / half,
            arousal_std=None if a_std is None else a_std / half,
        )
    return records


def label_columns(static: Mapping[str, Mapping[str, float]], spec: StaticSpec) -> dict[str, str]:
    """The spec's two label columns in file order, each mapped to the dimension its header names."""
    named = {spec.valence: "valence", spec.arousal: "arousal"}
    order = [c for c in next(iter(static.values()), {}) if c in named] or list(named)
    return {c: named[c] for c in order}


_SAMPLE_COLUMN = re.compile(r"sample_(\d+(?:\.\d+)?)ms")


def read_dynamic_csv(path: Path, warnings: list[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A per-song curve file (``song_id,sample_15000ms,...``, values on [-1, 1]).

    Returns (times in seconds, shape (T,); ``{song_id: values}``, each of shape (t,), t <= T).
    Rows may be ragged: trailing empty fields (or missing trailing fields) end that song's curve.
    A row with an empty or non-numeric value inside the curve, or a value outside [-1, 1], is
    reported and that song's curve skipped. Repeated ids follow the module's policy.
    """
    table = read_csv_table(path, required=("song_id",))
    id_at = table.index("song_id")
    if id_at != 0:
        raise DataError(f"{path}: 'song_id' must be the first column, found columns {table.columns[:3]}...")
    times = []
    for column in table.columns[1:]:
        match = _SAMPLE_COLUMN.fullmatch(column)
        if not match:
            raise DataError(
                f"{path}: column '{column}' is not a time column; expected names like 'sample_15000ms' after song_id"
            )
        times.append(float(match.group(1)) / 1000.0)
    times_arr = np.asarray(times, dtype=np.float64)
    if times_arr.size and np.any(np.diff(times_arr) <= 0):
        raise DataError(f"{path}: the sample_XXXms columns are not in increasing time order")
    curves: dict[str, np.ndarray] = {}
    where: dict[str, str] = {}
    conflicts = []
    for row in table.rows:
        at = f"{path}, line {row.line}"
        song_id, fields = row.fields[0], row.fields[1:]
        while fields and fields[-1] == "":
            fields = fields[:-1]
        if not song_id:
            warnings.append(f"{at}: no song_id; row skipped")
            continue
        if len(fields) > times_arr.size:
            warnings.append(
                f"{at}: song {song_id}: {len(fields)} values for {times_arr.size} time columns; curve skipped"
            )
            continue
        values = [parse_number(f) for f in fields]
        bad = next((i for i, v in enumerate(values) if v is None or not -1.0 <= v <= 1.0), None)
        if bad is not None:
            warnings.append(
                f"{at}: song {song_id}: '{fields[bad]}' at column '{table.columns[bad + 1]}' is not a number "
                "on [-1, 1]; curve skipped"
            )
            continue
        if not values:
            warnings.append(f"{at}: song {song_id}: no values; curve skipped")
            continue
        curve = np.asarray(values, dtype=np.float64)
        if song_id in curves:
            if np.array_equal(curves[song_id], curve):
                warnings.append(f"{at}: song {song_id} repeats {where[song_id]} with the same values; kept once")
            else:
                conflicts.append(f"song {song_id} at {where[song_id]} and at {at}")
            continue
        curves[song_id] = curve
        where[song_id] = at
    if conflicts:
        raise DataError(
            f"{path}: {len(conflicts)} song id(s) with two different curves: {preview(conflicts, 10, sep='; ')}. "
            "Remove the wrong rows."
        )
    return times_arr, curves


def read_dynamic(arousal_path: Path, valence_path: Path, warnings: list[str]) -> dict[str, DynamicLabels]:
    """Pair an arousal and a valence curve file into ``{song_id: DynamicLabels}``.

    Both files must use the same time columns. A song in one file only gets no curves; when the
    two curves of a song differ in length both are cut to the shorter (reported).
    """
    a_times, arousal = read_dynamic_csv(arousal_path, warnings)
    v_times, valence = read_dynamic_csv(valence_path, warnings)
    common = min(a_times.size, v_times.size)
    if not np.allclose(a_times[:common], v_times[:common]):
        raise DataError(f"{arousal_path} and {valence_path}: their sample_XXXms time columns differ")
    only_one = sorted(set(arousal) ^ set(valence), key=sort_key)
    if only_one:
        warnings.append(
            f"{arousal_path.parent}: {len(only_one)} song(s) have a curve in only one of "
            f"{arousal_path.name} / {valence_path.name} and get no curves: {preview(only_one)}"
        )
    uneven = []
    dynamic = {}
    for song_id in sorted(set(arousal) & set(valence), key=sort_key):
        a, v = arousal[song_id], valence[song_id]
        n = min(a.size, v.size)
        if a.size != v.size:
            uneven.append(song_id)
        dynamic[song_id] = DynamicLabels(times=a_times[:n].copy(), valence=v[:n], arousal=a[:n])
    if uneven:
        warnings.append(
            f"{arousal_path.parent}: {len(uneven)} song(s) have arousal and valence curves of different "
            f"lengths, cut to the shorter: {preview(uneven)}"
        )
    return dynamic


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
