"""Prediction files: songs written to CSV or JSON as they are predicted, and picture names per input.

Apart from :mod:`moodscape.inference.predictor` because only the command line and the pipeline write
files; a library caller gets :class:`~moodscape.inference.predictor.SongPrediction` objects.
"""

from __future__ import annotations

import csv
import json
import os
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .predictor import SongPrediction

OUTPUT_SUFFIXES = (".csv", ".json")


def check_output(out: Path) -> None:
    """Refuse an output file before any work: a .csv or .json name in a place that can be written."""
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ConfigError(f"--out {out}: the name must end in .csv or .json (e.g. --out moods.csv)")
    targets = [out] + ([timeline_path(out)] if out.suffix.lower() == ".csv" else [])
    for target in targets:
        if target.is_dir():
            raise ConfigError(f"--out {out}: {target} is a folder; give a file name ending in .csv or .json")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            existed = target.exists()
            with target.open("a", encoding="utf-8"):
                pass
            if not existed:
                target.unlink()
        except OSError as exc:
            raise ConfigError(f"--out {out}: cannot write {target} ({exc.strerror or exc}); choose a writable folder") from exc


def timeline_path(out: Path) -> Path:
    """Where a CSV output's per-window rows go: ``<stem>_timeline.csv`` beside it."""
    return out.with_name(out.stem + "_timeline.csv")


class PredictionWriter:
    """Writes each song as soon as it is predicted, so an interrupted batch keeps what was done.

    ``.csv``: one row per song (plus ``<stem>_timeline.csv`` with ``timeline``); ``.json``: a list of
    songs that is valid JSON after every song (the closing bracket is rewritten each time).
    """

    COLUMNS = [k for k in SongPrediction.__dataclass_fields__ if k not in ("timeline", "tags")]
    _CLOSE = b"\n]\n"

    def __init__(self, out: str | Path, *, timeline: bool, resume: bool = False, tags: bool = False) -> None:
        """``resume``: continue an existing file (a killed run's), keeping its complete songs (``done``).
        ``tags``: a CSV table gets a ``tags`` column (``MSD_musicnn: rock 0.61, ...; MTT_musicnn: ...``)."""
        self.out, self.timeline, self.count = Path(out), timeline, 0
        self.columns = [*self.COLUMNS, "tags"] if tags else self.COLUMNS
        check_output(self.out)
        self.written = [self.out]
        self._timeline_writer = None
        kept = _complete_songs(self.out, timeline=timeline) if resume and self.out.exists() else []
        self.done = {song.path for song in kept}
        if self.out.suffix.lower() == ".json":
            self._json = self.out.open("w+b")
            self._json.write(b"[" + self._CLOSE)
            self._json.flush()
        else:
            self._json = None
            self._csv_handle = self.out.open("w", newline="", encoding="utf-8")
            self._csv = csv.DictWriter(self._csv_handle, fieldnames=self.columns)
            self._csv.writeheader()
            if timeline:
                path = timeline_path(self.out)
                self._timeline_handle = path.open("w", newline="", encoding="utf-8")
                self._timeline_writer = csv.writer(self._timeline_handle)
                self._timeline_writer.writerow(["path", "time", "valence", "arousal"])
                self.written.append(path)
        for song in kept:
            self.write(song)

    def write(self, result: SongPrediction) -> None:
        if self._json is not None:
            text = textwrap.indent(json.dumps(result.to_dict(timeline=self.timeline), indent=2), "  ").encode()
            self._json.seek(-len(self._CLOSE), os.SEEK_END)
            self._json.write((b",\n" if self.count else b"\n") + text + self._CLOSE)
            self._json.truncate()
            self._json.flush()
        else:  # the timeline first: a song's row in the table then means its timeline is complete
            if self._timeline_writer is not None:
                for point in result.timeline:
                    self._timeline_writer.writerow([result.path, f"{point['time']:.3f}", f"{point['valence']:.4f}",
                                                    f"{point['arousal']:.4f}"])  # fmt: skip
                self._timeline_handle.flush()
            row = {k: round(v, 4) if isinstance(v, float) else v for k, v in result.to_dict(timeline=False).items()}
            if "tags" in self.columns:
                row["tags"] = format_tags(result.tags)
            self._csv.writerow(row)
            self._csv_handle.flush()
        self.count += 1

    def close(self) -> None:
        for handle in (self._json, getattr(self, "_csv_handle", None), getattr(self, "_timeline_handle", None)):
            if handle is not None:
                handle.close()

    def __enter__(self) -> PredictionWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_FLOATS = {"valence", "arousal", "valence_1_9", "arousal_1_9", "seconds"}


def _song_from_row(row: dict[str, str], timeline: list[dict[str, float]]) -> SongPrediction:
    values = {k: float(v) if k in _FLOATS else int(v) if k == "windows" else v for k, v in row.items() if k != "tags"}
    return SongPrediction(**values, timeline=timeline, tags=parse_tags(row.get("tags") or ""))


def read_predictions(path: Path, *, timeline: bool) -> list[SongPrediction]:
    """The songs of a table written by :class:`PredictionWriter` (with their timelines when asked)."""
    if path.suffix.lower() == ".json":
        try:
            items = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: not a prediction table moodscape wrote ({exc})") from exc
        return [SongPrediction(**{**item, "timeline": item.get("timeline", []) if timeline else []}) for item in items]
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if rows and set(rows[0]) - {"tags"} != set(PredictionWriter.COLUMNS):
        raise ConfigError(f"{path}: not a prediction table moodscape wrote (columns {sorted(rows[0])})")
    points: dict[str, list[dict[str, float]]] = {}
    if timeline:
        with timeline_path(path).open(newline="", encoding="utf-8") as handle:
            for point in csv.DictReader(handle):
                points.setdefault(point["path"], []).append(
                    {"time": float(point["time"]), "valence": float(point["valence"]), "arousal": float(point["arousal"])})
    return [_song_from_row(row, points.get(row["path"], [])) for row in rows]


def _complete_songs(out: Path, *, timeline: bool) -> list[SongPrediction]:
    """The songs a killed run left complete in ``out``: a cut-off last line or JSON item is dropped."""
    text = out.read_text(encoding="utf-8")
    if out.suffix.lower() == ".json":
        try:
            items = json.loads(text)
        except ValueError:  # killed while writing a song: keep the items before it
            end = text.rfind("\n  }")
            try:
                items = json.loads(text[: end + 4] + "\n]") if end > 0 else []
            except ValueError as exc:
                raise ConfigError(f"{out}: cannot be continued (not a table moodscape wrote); remove it or "
                                  "choose another --out") from exc  # fmt: skip
        return [SongPrediction(**{**item, "timeline": item.get("timeline", []) if timeline else []}) for item in items]
    if not text.endswith("\n"):
        out.write_text(text[: text.rfind("\n") + 1], encoding="utf-8")
    if timeline and not timeline_path(out).exists():
        return []
    return read_predictions(out, timeline=timeline)


def format_tags(tags: Sequence[dict[str, Any]]) -> str:
    """One table cell: ``MSD_musicnn: rock 0.61, pop 0.44; MTT_musicnn: guitar 0.70``."""
    sources: dict[str, list[str]] = {}
    for t in tags:
        sources.setdefault(t["source"], []).append(f"{t['tag']} {t['probability']:.2f}")
    return "; ".join(f"{source}: {', '.join(items)}" for source, items in sources.items())


def parse_tags(cell: str) -> list[dict[str, Any]]:
    """:func:`format_tags` read back."""
    tags = []
    for part in filter(None, (p.strip() for p in cell.split(";"))):
        source, _, items = part.partition(":")
        for item in filter(None, (i.strip() for i in items.split(","))):
            tag, _, p = item.rpartition(" ")
            tags.append({"tag": tag, "probability": float(p), "source": source.strip()})
    return tags


def write_predictions(results: list[SongPrediction], out: Path, *, timeline: bool) -> list[Path]:
    """All of ``results`` at once; see :class:`PredictionWriter` for the formats."""
    with PredictionWriter(out, timeline=timeline, tags=any(r.tags for r in results)) as writer:
        for result in results:
            writer.write(result)
    return writer.written


def plot_names(paths: Iterable[Path]) -> dict[Path, str]:
    """A distinct picture name per input: the stem, else the file name when stems clash (``clip.flac``,
    ``clip.ogg``), else a numbered name when whole names clash (same name in two folders)."""
    paths = list(paths)
    stems: dict[str, int] = {}
    for p in paths:
        stems[p.stem] = stems.get(p.stem, 0) + 1
    names: dict[Path, str] = {}
    used: set[str] = set()
    for p in paths:
        name = p.stem if stems[p.stem] == 1 else p.name
        candidate, n = name, 1
        while candidate in used:
            n += 1
            candidate = f"{name}-{n}"
        used.add(candidate)
        names[p] = candidate + ".png"
    return names
