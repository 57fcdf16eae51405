"""Reading annotation files: CSV tables with normalised headers, static labels, and the
time-continuous curves, each problem reported with file and line."""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from .corpus import preview, sort_key
from .records import SCALES, DynamicLabels, SongRecord


def normalise_header(name: str) -> str:
    """``" valence_ max_mean"`` -> ``"valence_max_mean"``: strip, drop inner whitespace, lower case."""
    return "".join(name.split()).lower()


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


class _OncePerSong:
    """Values by song id, each song kept once: a repeat with the same values is kept once (with a warning);
    one with other values is a conflict, listed in ``conflicts`` for one error (moodscape never guesses which
    row is right). ``same(kept, new)`` says whether two values agree."""

    def __init__(self, same: Callable[[Any, Any], bool]) -> None:
        self.values: dict[str, Any] = {}
        self.where: dict[str, str] = {}
        self.conflicts: list[str] = []
        self.same = same

    def add(self, song_id: str, value: Any, at: str, warnings: list[str]) -> None:
        if song_id not in self.values:
            self.values[song_id], self.where[song_id] = value, at
        elif self.same(self.values[song_id], value):
            warnings.append(f"{at}: song {song_id} repeats {self.where[song_id]} with the same values; kept once")
        else:
            self.conflicts.append(f"song {song_id} at {self.where[song_id]} and at {at}")


def read_static(
    paths: Sequence[Path], spec: StaticSpec, warnings: list[str], *, fix: str = ""
) -> dict[str, dict[str, float]]:
    """Static annotation rows from one or more files -> ``{song_id: {column: value}}`` as read.

    Every column other than ``song_id`` is a value column and must be a number; the label
    columns must lie on ``spec.scale``. A bad row is reported in ``warnings`` (file, line, column,
    value) and that song is left out. Repeated ids: see the module docstring.
    """
    low, high = SCALES[spec.scale]
    static = _OncePerSong(lambda kept, new: all(kept[c] == new[c] for c in set(kept) & set(new)))
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
            static.add(song_id, values, at, warnings)
    if static.conflicts:
        raise DataError(
            f"{len(static.conflicts)} song id(s) annotated twice with different values: "
            f"{preview(static.conflicts, 10, sep='; ')}. Remove the wrong rows; moodscape will not guess which one "
            "is right."
        )
    return static.values


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
    curves = _OncePerSong(np.array_equal)
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
        curves.add(song_id, np.asarray(values, dtype=np.float64), at, warnings)
    if curves.conflicts:
        raise DataError(
            f"{path}: {len(curves.conflicts)} song id(s) with two different curves: "
            f"{preview(curves.conflicts, 10, sep='; ')}. Remove the wrong rows."
        )
    return times_arr, curves.values


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
