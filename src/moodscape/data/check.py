"""The data check: what a loaded :class:`~moodscape.data.corpus.Dataset` holds and what is wrong with it.

``check_dataset`` gathers counts, label statistics, quadrant counts, missing and unreadable audio,
and, where static and per-second annotations both exist, the Pearson correlation of every static
label column with the song-mean of each per-second curve. A column that tracks the other
dimension's curve better than its own is flagged as "looks swapped". ``format_check`` renders the
report for a terminal; ``CheckReport.to_dict`` gives the same as plain JSON-able data.

Quadrants follow :func:`moodscape.data.quadrants.quadrant` (a value exactly on an axis counts as
positive); how many songs lie exactly on an axis is reported too.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..audio.io import AudioInfo, decode, probe_audio, validate
from ..errors import AudioError
from .corpus import Dataset, preview, sort_key
from .quadrants import quadrant
from .records import SCALES, DynamicLabels, from_unit

DIMENSIONS = ("valence", "arousal")
MIN_SONGS_FOR_CORRELATION = 3


@dataclass(frozen=True)
class LabelStats:
    """Statistics of one label dimension over the usable songs, on [-1, 1]."""

    dimension: str
    n: int
    mean: float
    std: float
    min: float
    max: float

    def on_scale(self, scale: str = "1-9") -> dict[str, float]:
        """The same statistics on another scale (std scales by the half-range)."""
        low, high = SCALES[scale]
        half = (high - low) / 2.0
        mean, lo, hi = (float(v) for v in from_unit([self.mean, self.min, self.max], scale))
        return {"mean": mean, "std": self.std * half, "min": lo, "max": hi}


@dataclass(frozen=True)
class AudioProblem:
    """A labelled song whose audio file is missing or cannot be read."""

    song_id: str
    path: str
    reason: str


@dataclass(frozen=True)
class AudioSummary:
    """What the probed (readable) files' headers say."""

    n_files: int
    min_seconds: float
    median_seconds: float
    max_seconds: float
    sample_rates: dict[int, int]
    channels: dict[int, int]


@dataclass(frozen=True)
class HeaderCorrelation:
    """Pearson r of each static label column with the song-mean of each per-second curve.

    ``r[i][j]`` pairs ``columns[i]`` with the mean ``curves[j]`` curve over ``n_songs`` songs that
    have both. ``dimensions[i]`` is what the header says ``columns[i]`` holds. ``swapped`` lists the
    columns whose r with the other dimension's curve is higher than with their own.
    """

    group: str
    n_songs: int
    columns: tuple[str, ...]
    dimensions: tuple[str, ...]
    curves: tuple[str, ...]
    r: tuple[tuple[float, ...], ...]
    swapped: tuple[str, ...]


@dataclass(frozen=True)
class CheckReport:
    """Everything :func:`check_dataset` found. ``to_dict`` is JSON-serialisable (NaN -> None)."""

    name: str
    layout: str
    root: str
    n_songs: int
    labels_without_audio: tuple[str, ...]
    audio_without_labels: tuple[str, ...]
    label_stats: dict[str, LabelStats]
    quadrants: dict[str, int]
    on_axis: int
    probed: bool
    audio_problems: tuple[AudioProblem, ...]
    audio_summary: AudioSummary | None
    correlations: tuple[HeaderCorrelation, ...]
    has_static_and_dynamic: bool
    warnings: tuple[str, ...] = field(default=())
    audio_outside_root: int = 0

    @property
    def swapped_columns(self) -> list[tuple[str, str]]:
        """(group, column) pairs that look swapped."""
        return [(c.group, col) for c in self.correlations for col in c.swapped]

    @property
    def ok(self) -> bool:
        """True when there are usable songs, all their audio reads, and no column looks swapped."""
        return self.n_songs > 0 and not self.audio_problems and not self.swapped_columns

    def to_dict(self) -> dict:
        return _jsonable(
            {
                **asdict(self),
                "n_labels_without_audio": len(self.labels_without_audio),
                "n_audio_without_labels": len(self.audio_without_labels),
                "label_stats_1_9": {d: s.on_scale("1-9") for d, s in self.label_stats.items()},
                "swapped_columns": self.swapped_columns,
                "ok": self.ok,
            }
        )


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _label_stats(values: np.ndarray, dimension: str) -> LabelStats:
    return LabelStats(
        dimension=dimension,
        n=int(values.size),
        mean=float(values.mean()),
        std=float(values.std()),
        min=float(values.min()),
        max=float(values.max()),
    )


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 2 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def header_correlations(dataset: Dataset) -> tuple[HeaderCorrelation, ...]:
    """Static label columns vs song-mean per-second curves, over all songs and per dataset group."""
    return correlate_static_with_curves(
        dataset.static, dataset.dynamic, dataset.static_value_columns, groups=dataset.groups
    )


def correlate_static_with_curves(
    static: Mapping[str, Mapping[str, float]],
    dynamic: Mapping[str, DynamicLabels],
    value_columns: Mapping[str, str],
    *,
    groups: Mapping[str, Sequence[str]] | None = None,
) -> tuple[HeaderCorrelation, ...]:
    """Pearson r of each static label column with the song-mean of each per-second curve.

    Uses every song with both static and per-second labels (with or without audio): once over
    all of them ("all annotated songs"), then once per named group of ids. Groups with fewer than
    three such songs are left out. ``value_columns`` maps each static column to the dimension its
    header names.
    """
    columns = tuple(value_columns)
    if not columns or not dynamic or not static:
        return ()
    both = sorted(set(static) & set(dynamic), key=sort_key)
    selections = [("all annotated songs", both)]
    for name, ids in (groups or {}).items():
        wanted = set(ids)
        selections.append((name, [i for i in both if i in wanted]))
    found = []
    for group, ids in selections:
        if len(ids) < MIN_SONGS_FOR_CORRELATION:
            continue
        curve_means = {dim: np.array([float(np.mean(getattr(dynamic[i], dim))) for i in ids]) for dim in DIMENSIONS}
        matrix, swapped = [], []
        for column in columns:
            values = np.array([static[i][column] for i in ids])
            row = tuple(_pearson(values, curve_means[dim]) for dim in DIMENSIONS)
            matrix.append(row)
            own = DIMENSIONS.index(value_columns[column])
            r_own, r_other = row[own], row[1 - own]
            if math.isfinite(r_own) and math.isfinite(r_other) and r_other > r_own:
                swapped.append(column)
        found.append(
            HeaderCorrelation(
                group=group,
                n_songs=len(ids),
                columns=columns,
                dimensions=tuple(value_columns[c] for c in columns),
                curves=DIMENSIONS,
                r=tuple(matrix),
                swapped=tuple(swapped),
            )
        )
    return tuple(found)


def _decode_check(path: Path) -> AudioInfo:
    """Decode the whole file as a feature build does: header, full decode with the truncation check,
    then non-finite and silent samples. A header alone says nothing of a cut-off MP3."""
    info = probe_audio(path)
    samples, rate = decode(path)
    validate(samples, path, sample_rate=rate)
    return info


def check_dataset(dataset: Dataset, *, probe: bool = True, workers: int | None = None,
                  progress: bool = False) -> CheckReport:  # fmt: skip
    """Check a loaded dataset. ``probe`` decodes every usable song's audio in full (in ``workers``
    threads), so truncated, corrupt and silent files are found as a feature build would find them;
    without it only the files' existence is checked."""
    problems: list[AudioProblem] = []
    infos = []
    present = []
    for record in dataset.records:
        path = record.path
        if path is None or not path.is_file():
            problems.append(AudioProblem(record.song_id, str(path), "file not found"))
        else:
            present.append(record)
    if probe and present:

        def attempt(record) -> AudioInfo | AudioProblem:
            try:
                return _decode_check(record.path)
            except AudioError as exc:
                return AudioProblem(record.song_id, str(record.path), str(exc).removeprefix(f"{record.path}: "))

        with ThreadPoolExecutor(max_workers=workers or 4) as pool:
            for outcome in tqdm(pool.map(attempt, present), total=len(present), desc="decode", unit="file",
                                disable=not progress):  # fmt: skip
                (problems if isinstance(outcome, AudioProblem) else infos).append(outcome)
    summary = None
    if infos:
        seconds = np.array([i.duration for i in infos])
        summary = AudioSummary(
            n_files=len(infos),
            min_seconds=float(seconds.min()),
            median_seconds=float(np.median(seconds)),
            max_seconds=float(seconds.max()),
            sample_rates=dict(sorted(Counter(i.sample_rate for i in infos).items())),
            channels=dict(sorted(Counter(i.channels for i in infos).items())),
        )

    stats: dict[str, LabelStats] = {}
    quadrants = {f"Q{q}": 0 for q in range(1, 5)}
    on_axis = 0
    if dataset.records:
        valence = np.array([r.valence for r in dataset.records], dtype=np.float64)
        arousal = np.array([r.arousal for r in dataset.records], dtype=np.float64)
        stats = {"valence": _label_stats(valence, "valence"), "arousal": _label_stats(arousal, "arousal")}
        for q, n in Counter(quadrant(valence, arousal).tolist()).items():
            quadrants[f"Q{q}"] = n
        on_axis = int(np.sum((valence == 0) | (arousal == 0)))

    return CheckReport(
        name=dataset.name,
        layout=dataset.layout,
        root=str(dataset.root),
        n_songs=len(dataset.records),
        labels_without_audio=tuple(dataset.labels_without_audio),
        audio_without_labels=tuple(str(p) for p in dataset.audio_without_labels),
        label_stats=stats,
        quadrants=quadrants,
        on_axis=on_axis,
        probed=probe,
        audio_problems=tuple(problems),
        audio_summary=summary,
        correlations=header_correlations(dataset),
        has_static_and_dynamic=bool(set(dataset.static) & set(dataset.dynamic)),
        warnings=tuple(dataset.warnings),
        audio_outside_root=sum(not _inside(r.path, dataset.root) for r in dataset.records if r.path is not None),
    )


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` lies in the dataset's folder (a CSV's own folder for the csv layout)."""
    folder = root if root.is_dir() else root.parent
    return path.resolve().is_relative_to(folder.resolve())


def _r(value: float) -> str:
    return f"{value:+.2f}" if math.isfinite(value) else "  n/a"


def format_check(report: CheckReport) -> str:
    """The report as plain text for a terminal."""
    lines = [
        f"Dataset {report.name} ({report.layout}) at {report.root}",
        f"  songs usable (audio + labels): {report.n_songs}",
        f"  labels without audio:          {len(report.labels_without_audio)}"
        + (f"  (ids {preview(report.labels_without_audio, 8)})" if report.labels_without_audio else ""),
        f"  audio without labels:          {len(report.audio_without_labels)}"
        + (f"  ({preview(report.audio_without_labels, 3)})" if report.audio_without_labels else ""),
        "",
    ]
    if report.label_stats:
        lines.append(f"Labels over the {report.n_songs} usable songs")
        lines.append(f"  {'':9}{'on [-1, 1]':^32}  {'on 1-9':^28}")
        lines.append(
            f"  {'':9}"
            + "".join(f"{h:>8}" for h in ("mean", "std", "min", "max"))
            + "  "
            + "".join(f"{h:>7}" for h in ("mean", "std", "min", "max"))
        )
        for dim, s in report.label_stats.items():
            nine = s.on_scale("1-9")
            lines.append(
                f"  {dim:9}"
                + "".join(f"{v:>8.3f}" for v in (s.mean, s.std, s.min, s.max))
                + "  "
                + "".join(f"{nine[k]:>7.2f}" for k in ("mean", "std", "min", "max"))
            )
        quads = "  ".join(f"{q} {n}" for q, n in report.quadrants.items())
        lines.append(f"  quadrants: {quads}   (Q1 v+a+, Q2 v-a+, Q3 v-a-, Q4 v+a-)")
        if report.on_axis:
            lines.append(f"  {report.on_axis} song(s) lie exactly on an axis (5 on 1-9) and count as positive there")
    else:
        lines.append("Labels: no usable songs, nothing to summarise")
    lines.append("")

    checked = "decoded" if report.probed else "checked for existence (not decoded)"
    if report.audio_problems:
        lines.append(f"Audio: {len(report.audio_problems)} of {report.n_songs} file(s) missing or unreadable:")
        lines += [f"  song {p.song_id}: {p.path}: {p.reason}" for p in report.audio_problems]
    else:
        lines.append(f"Audio: all {report.n_songs} file(s) {checked}, no problems")
    if report.audio_summary:
        a = report.audio_summary
        rates = ", ".join(f"{rate} Hz x{n}" for rate, n in a.sample_rates.items())
        chans = ", ".join(f"{c} ch x{n}" for c, n in a.channels.items())
        lines.append(
            f"  {a.n_files} readable: {a.min_seconds:.1f} / {a.median_seconds:.1f} / {a.max_seconds:.1f} s "
            f"(min / median / max); {rates}; {chans}"
        )
    if report.audio_outside_root:
        where = "the CSV's folder" if report.layout == "csv" else "the dataset folder"
        lines.append(
            f"  {report.audio_outside_root} audio path(s) lie outside {where} (../ or absolute paths: allowed, "
            "but the dataset no longer moves as one folder)"
        )
    lines.append("")

    if report.correlations:
        lines.append("Static label columns vs song-mean of the per-second curves (Pearson r)")
        for c in report.correlations:
            lines.append(f"  {c.group} ({c.n_songs} songs with both)")
            lines.append(f"    {'column':16}{'header says':>12}" + "".join(f"{d + ' curve':>16}" for d in c.curves))
            for column, dim, row in zip(c.columns, c.dimensions, c.r, strict=True):
                flag = "   <- LOOKS SWAPPED" if column in c.swapped else ""
                lines.append(f"    {column:16}{dim:>12}" + "".join(f"{_r(v):>16}" for v in row) + flag)
        for group, column in report.swapped_columns:
            lines.append(
                f"  ! {group}: '{column}' tracks the other dimension's curve better than its own; "
                "the header probably names the columns the wrong way round"
            )
    elif report.has_static_and_dynamic:
        lines.append("Static vs per-second curves: too few songs with both to compare")
    else:
        lines.append("Static vs per-second curves: no per-second annotations, so the static header cannot be checked")
    lines.append("")

    if report.warnings:
        lines.append(f"Warnings from loading ({len(report.warnings)}):")
        lines += [f"  - {w}" for w in report.warnings]
        lines.append("")
    lines.append("Check: OK" if report.ok else "Check: problems found (see above)")
    return "\n".join(lines)
