"""Generated demo data in DEAM's exact on-disk layout, so every stage can run without the real corpus.

Each song is synthesised music whose sound follows hidden valence/arousal curves, bar by bar:

- arousal -> tempo, note density, articulation, loudness, brightness, drums (kick, snare, hats);
- valence -> register (pitch height), major vs minor, dissonance (clusters, chromatic notes,
  detuned beating).

Nuisance factors that carry no label (key, instrument, timbre, tempo and register offsets,
reverb, background noise, drum habits, mastering level) and annotator noise (a per-song bias,
wobble and lag in the written curves) keep the task learnable but imperfect: a ridge regressor on
pooled log-mel statistics, trained on 48 of 60 songs, reaches a held-out CCC of about 0.6-0.85,
not 1.0. Loaders and models can therefore be tested end to end and still show real differences.

Labels follow DEAM: static 1-9 song-level files (CRLF, spaces after the header commas, the
extra max/min columns of the 2000-2058 file) and 2 Hz dynamic curves on -1..1 from 15 s (from
0 s for clips of 15 s or less).

This module draws the labels and writes the dataset (CSVs, MP3s rendered in worker processes); the
music itself is in :mod:`moodscape.data.demo_score` (what each bar plays) and
:mod:`moodscape.data.demo_synth` (how it sounds).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from ..errors import ConfigError
from ..files import atomic_path, write_text
from ..parallel import ordered_map
from .demo_synth import FRAME_RATE, MP3_RATES, render_song

logger = logging.getLogger(__name__)

AUDIO_DIR = Path("DEAM_audio") / "MEMD_audio"
ANNOTATIONS_DIR = Path("DEAM_Annotations") / "annotations" / "annotations averaged per song"
STATIC_FILES = (
    Path("song_level") / "static_annotations_averaged_songs_1_2000.csv",
    Path("song_level") / "static_annotations_averaged_songs_2000_2058.csv",
)
DYNAMIC_DIR = Path("dynamic (per second annotations)")

DYNAMIC_START = 15.0  # s: DEAM's curves skip the first 15 s (annotators were still settling)

_HEADER_LOW = ("song_id", "valence_mean", "valence_std", "arousal_mean", "arousal_std")
# Spelled as shipped, including the stray space in "valence_ max_mean".
_HEADER_HIGH = (
    "song_id", "valence_mean", "valence_std", "valence_ max_mean", "valence_max_std",
    "valence_min_mean", "valence_min_std", "arousal_mean", "arousal_std", "arousal_max_mean",
    "arousal_max_std", "arousal_min_mean", "arousal_min_std",
)  # fmt: skip


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`generate_demo_dataset` wrote; ``root`` is a DEAM root any DEAM loader accepts."""

    root: Path
    song_ids: tuple[int, ...]
    seconds: float
    sample_rate: int
    seed: int

    @property
    def songs(self) -> int:
        return len(self.song_ids)

    @property
    def audio_dir(self) -> Path:
        return self.root / AUDIO_DIR

    @property
    def annotations_dir(self) -> Path:
        return self.root / ANNOTATIONS_DIR


@dataclass(frozen=True)
class _SongPlan:
    """Everything a worker needs to render one clip; curves are the hidden truth at 2 Hz from 0 s."""

    song_id: int
    valence: np.ndarray
    arousal: np.ndarray
    audio_seed: np.random.SeedSequence


@dataclass(frozen=True)
class _SongLabels:
    """Annotations as written: curves on -1..1 at the dynamic columns' times, static columns on 1-9."""

    song_id: int
    dyn_valence: np.ndarray
    dyn_arousal: np.ndarray
    static: dict[str, float]


def generate_demo_dataset(
    out: str | Path,
    *,
    songs: int = 60,
    seconds: float = 30.0,
    seed: int = 0,
    sample_rate: int = 44100,
    workers: int | None = None,
    progress: bool = True,
) -> DemoSummary:
    """Write ``songs`` synthetic clips plus DEAM-format annotations under ``out``; return what was written.

    Audio: ``out/DEAM_audio/MEMD_audio/<song_id>.mp3``, mono MP3 of ``seconds`` at ``sample_rate``.
    Annotations: DEAM's two static song-level CSVs (1-9 scale) and dynamic ``arousal.csv`` /
    ``valence.csv`` (-1..1, 2 Hz, from 15 s to the clip end; from 0 s when ``seconds`` <= 15,
    since there would be nothing left after 15 s). Each static mean is the mean of the song's
    written dynamic curve mapped to 1-9 with ``4x + 5``, rounded to one decimal as in DEAM.

    The same ``seed`` (and ``songs``, ``seconds``, ``sample_rate``) gives byte-identical CSVs and
    identical audio, whatever ``workers`` is. ``workers=None`` uses every available core;
    ``workers=1`` renders in this process. Files are written atomically (temp name, then rename).
    """
    songs, seconds, sample_rate, workers = _validate(songs, seconds, seed, sample_rate, workers)
    root = Path(out)
    audio_dir = root / AUDIO_DIR
    annotations_dir = root / ANNOTATIONS_DIR
    for folder in (audio_dir, annotations_dir / STATIC_FILES[0].parent, annotations_dir / DYNAMIC_DIR):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigError(f"{root}: cannot create the demo dataset there ({error.strerror}); give a folder "
                              "that can be created and written") from error  # fmt: skip

    for leftover in audio_dir.glob(".*.mp3.*.tmp"):  # from an interrupted run (files.atomic_path)
        leftover.unlink()

    ids_seed, songs_seed = np.random.SeedSequence(int(seed)).spawn(2)
    song_ids = _draw_song_ids(songs, np.random.default_rng(ids_seed))
    plans, labels = [], []
    for song_id, song_seed in zip(song_ids, songs_seed.spawn(songs)):
        label_seed, audio_seed = song_seed.spawn(2)
        plan, label = _draw_song(song_id, seconds, np.random.default_rng(label_seed), audio_seed)
        plans.append(plan)
        labels.append(label)

    stale = sorted({p.stem for p in audio_dir.glob("*.mp3")} - {str(i) for i in song_ids})
    if stale:
        logger.warning(
            "%s holds %d MP3s from an earlier run that this run does not label (e.g. %s.mp3)",
            audio_dir, len(stale), stale[0],
        )  # fmt: skip

    _render_all(plans, audio_dir, seconds=seconds, sample_rate=sample_rate, workers=workers, progress=progress)
    # Annotations last: an interrupted run leaves no labels that promise audio it never wrote.
    _write_static(annotations_dir, labels)
    _write_dynamic(annotations_dir, labels, seconds)
    logger.info("wrote %d demo songs of %.1f s to %s", songs, seconds, root)
    return DemoSummary(root=root, song_ids=tuple(song_ids), seconds=seconds, sample_rate=sample_rate, seed=int(seed))


def _validate(
    songs: int, seconds: float, seed: int, sample_rate: int, workers: int | None
) -> tuple[int, float, int, int]:
    if int(songs) != songs or songs < 1:
        raise ConfigError(f"songs={songs!r}: need a whole number of songs, at least 1")
    if not math.isfinite(seconds) or seconds < 1.0:
        raise ConfigError(f"seconds={seconds!r}: need a clip length of at least 1 second (DEAM clips are 45)")
    if int(seed) != seed or seed < 0:
        raise ConfigError(f"seed={seed!r}: need a whole number >= 0")
    if sample_rate not in MP3_RATES:
        choices = ", ".join(map(str, MP3_RATES))
        raise ConfigError(f"sample_rate={sample_rate!r}: choose one of {choices} Hz (DEAM uses 44100)")
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    elif int(workers) != workers or workers < 1:
        raise ConfigError(f"workers={workers!r}: need at least 1 worker process (or None for every core)")
    return int(songs), float(seconds), int(sample_rate), max(1, min(int(workers), int(songs)))


# ----------------------------------------------------------------------------------------------
# Labels


def _draw_song_ids(songs: int, rng: np.random.Generator) -> list[int]:
    """DEAM-like ids: mostly 1..2000 with gaps, about 5% from 2001 up so that both static files are used."""
    high = max(1 if songs >= 10 else 0, round(0.05 * songs))
    low = songs - high
    if low > 2000:
        low, high = 2000, songs - 2000
    pool = min(2000, max(low, math.ceil(low * 1.12)))  # DEAM skips about one id in ten
    low_ids = np.sort(rng.choice(np.arange(1, pool + 1), size=low, replace=False))
    return [int(i) for i in low_ids] + list(range(2001, 2001 + high))


def _curve_times(seconds: float) -> np.ndarray:
    return np.arange(int(math.floor(seconds * FRAME_RATE + 1e-9)) + 1) / FRAME_RATE


def _smooth_noise(
    rng: np.random.Generator, times: np.ndarray, *, periods: tuple[float, float], parts: int
) -> np.ndarray:
    """Sum of a few slow random sinusoids, unit standard deviation on average."""
    period = rng.uniform(*periods, size=parts)
    phase = rng.uniform(0, 2 * np.pi, size=parts)
    return np.sin(2 * np.pi * times[:, None] / period + phase).sum(axis=1) * math.sqrt(2.0 / parts)


def _draw_song(
    song_id: int, seconds: float, rng: np.random.Generator, audio_seed: np.random.SeedSequence
) -> tuple[_SongPlan, _SongLabels]:
    """Hidden curves drive the audio; annotated curves (hidden + annotator bias, wobble, lag) are written."""
    # DEAM's static labels: centred a bit below 5, sd ~1.2 on 1-9 (0.3 here), valence-arousal r ~ 0.35.
    centre = rng.multivariate_normal([0.0, -0.03], [[0.32**2, 0.4 * 0.32 * 0.34], [0.4 * 0.32 * 0.34, 0.34**2]])
    centre = np.clip(centre, -0.85, 0.85)
    times = _curve_times(seconds)
    hidden = [
        np.clip(c + 0.12 * _smooth_noise(rng, times, periods=(12.0, 50.0), parts=3), -0.95, 0.95) for c in centre
    ]

    # Annotators react a second or two late, disagree on the overall level, and wobble.
    lag = rng.uniform(0.5, 2.5)
    annotated = []
    for curve in hidden:
        bias = rng.normal(0.0, 0.07)
        wobble = 0.03 * _smooth_noise(rng, times, periods=(2.0, 8.0), parts=4)
        annotated.append(np.clip(np.interp(times - lag, times, curve) + bias + wobble, -1.0, 1.0))

    keep = times >= DYNAMIC_START if seconds > DYNAMIC_START else np.ones_like(times, dtype=bool)
    dyn_valence, dyn_arousal = (np.round(curve[keep], 4) for curve in annotated)

    static: dict[str, float] = {}
    for name, curve in (("valence", dyn_valence), ("arousal", dyn_arousal)):
        mean = float(np.clip(4.0 * curve.mean() + 5.0, 1.0, 9.0))
        static[f"{name}_mean"] = mean
        static[f"{name}_std"] = float(np.clip(rng.lognormal(math.log(1.4), 0.25), 0.3, 2.9))
        # Per-annotator peaks and troughs: beyond the averaged curve's own range, since single
        # annotators swing wider than their mean.
        static[f"{name}_max_mean"] = float(min(9.0, mean + 4 * (curve.max() - curve.mean()) + rng.gamma(4.0, 0.3)))
        static[f"{name}_min_mean"] = float(max(1.0, mean - 4 * (curve.mean() - curve.min()) - rng.gamma(4.0, 0.3)))
        static[f"{name}_max_std"] = float(np.clip(rng.lognormal(math.log(1.1), 0.3), 0.3, 2.5))
        static[f"{name}_min_std"] = float(np.clip(rng.lognormal(math.log(1.1), 0.3), 0.3, 2.5))

    plan = _SongPlan(song_id=song_id, valence=hidden[0], arousal=hidden[1], audio_seed=audio_seed)
    return plan, _SongLabels(song_id=song_id, dyn_valence=dyn_valence, dyn_arousal=dyn_arousal, static=static)


def _fmt(value: float, decimals: int, *, keep_point: bool) -> str:
    """DEAM's number style: rounded, trailing zeros dropped ("3", "1.5"); "5.0" in the 2000-2058 file."""
    text = f"{value:.{decimals}f}".rstrip("0")
    return text + "0" if text.endswith(".") and keep_point else text.rstrip(".")


def _write_text(path: Path, lines: Iterable[str], *, newline: str) -> None:
    write_text(path, "".join(line + newline for line in lines))


def _write_static(annotations_dir: Path, labels: Sequence[_SongLabels]) -> None:
    """The two song-level files exactly as DEAM ships them: CRLF, ", " between header names only."""
    low = [", ".join(_HEADER_LOW)]
    high = [", ".join(_HEADER_HIGH)]
    for label in labels:
        is_low = label.song_id <= 2000
        names = (_HEADER_LOW if is_low else _HEADER_HIGH)[1:]
        # Header order ("valence_ max_mean" is key "valence_max_mean"); means one decimal, stds two.
        values = [label.static[name.replace(" ", "")] for name in names]
        cells = [_fmt(value, 1 + i % 2, keep_point=not is_low) for i, value in enumerate(values)]
        (low if is_low else high).append(",".join([str(label.song_id)] + cells))
    _write_text(annotations_dir / STATIC_FILES[0], low, newline="\r\n")
    _write_text(annotations_dir / STATIC_FILES[1], high, newline="\r\n")


def _write_dynamic(annotations_dir: Path, labels: Sequence[_SongLabels], seconds: float) -> None:
    times = _curve_times(seconds)
    times = times[times >= DYNAMIC_START] if seconds > DYNAMIC_START else times
    header = ",".join(["song_id"] + [f"sample_{round(t * 1000)}ms" for t in times])
    for name in ("arousal", "valence"):
        rows = [header]
        for label in labels:
            curve = label.dyn_arousal if name == "arousal" else label.dyn_valence
            rows.append(",".join([str(label.song_id)] + [f"{v:.4f}" for v in curve]))
        _write_text(annotations_dir / DYNAMIC_DIR / f"{name}.csv", rows, newline="\n")


# ----------------------------------------------------------------------------------------------
# Audio


def _render_all(
    plans: Sequence[_SongPlan], audio_dir: Path, *, seconds: float, sample_rate: int, workers: int, progress: bool
) -> None:
    jobs = [(plan, audio_dir, seconds, sample_rate) for plan in plans]
    with tqdm(total=len(jobs), desc="demo audio", unit="clip", disable=not progress) as bar:
        if workers == 1:
            for job in jobs:
                _render_job(job)
                bar.update()
            return
        # spawn, not fork: callers may already hold threads (torch, BLAS) that fork would copy mid-lock.
        for _ in ordered_map(_render_job, jobs, stage="demo-data", labels=[f"song {plan.song_id}" for plan in plans],
                             workers=workers, method="spawn",
                             hint="No labels are written until every clip is: run the command again."):  # fmt: skip
            bar.update()


def _render_job(job: tuple[_SongPlan, Path, float, int]) -> int:
    plan, audio_dir, seconds, sample_rate = job
    audio = render_song(plan.valence, plan.arousal, seconds=seconds, sample_rate=sample_rate, seed=plan.audio_seed)
    path = audio_dir / f"{plan.song_id}.mp3"
    with atomic_path(path, keep_suffix=False) as tmp:
        # About 50 kbps VBR (DEAM ships 64 kbps CBR). libsndfile offers no LAME speed setting;
        # this mode is among its quickest, and encoding is still over half the cost of a clip.
        sf.write(tmp, audio, sample_rate, format="MP3", bitrate_mode="VARIABLE", compression_level=0.9)
    return plan.song_id
