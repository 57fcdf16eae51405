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
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy import signal
from tqdm.auto import tqdm

from ..errors import ConfigError

logger = logging.getLogger(__name__)

AUDIO_DIR = Path("DEAM_audio") / "MEMD_audio"
ANNOTATIONS_DIR = Path("DEAM_Annotations") / "annotations" / "annotations averaged per song"
STATIC_FILES = (
    Path("song_level") / "static_annotations_averaged_songs_1_2000.csv",
    Path("song_level") / "static_annotations_averaged_songs_2000_2058.csv",
)
DYNAMIC_DIR = Path("dynamic (per second annotations)")

FRAME_RATE = 2.0  # Hz: DEAM's dynamic annotation rate
DYNAMIC_START = 15.0  # s: DEAM's curves skip the first 15 s (annotators were still settling)
# MP3 rates the synthesiser supports (its filters need a Nyquist frequency above 6 kHz).
MP3_RATES = (22050, 24000, 32000, 44100, 48000)

_HEADER_LOW = ("song_id", "valence_mean", "valence_std", "arousal_mean", "arousal_std")
# Spelled as shipped, including the stray space in "valence_ max_mean".
_HEADER_HIGH = (
    "song_id", "valence_mean", "valence_std", "valence_ max_mean", "valence_max_std",
    "valence_min_mean", "valence_min_std", "arousal_mean", "arousal_std", "arousal_max_mean",
    "arousal_max_std", "arousal_min_mean", "arousal_min_std",
)  # fmt: skip

_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR = np.array([0, 2, 3, 5, 7, 8, 10])
_PROGRESSIONS = ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 0), (0, 5, 1, 4), (0, 3, 0, 4), (5, 3, 0, 4))


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

    for leftover in audio_dir.glob(".*.mp3.part"):  # from an interrupted run
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
    tmp = path.with_name(f".{path.name}.part")
    with open(tmp, "w", encoding="utf-8", newline="") as handle:
        handle.writelines(line + newline for line in lines)
    os.replace(tmp, path)


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
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for _ in pool.imap_unordered(_render_job, jobs):
                bar.update()


def _render_job(job: tuple[_SongPlan, Path, float, int]) -> int:
    plan, audio_dir, seconds, sample_rate = job
    audio = render_song(plan.valence, plan.arousal, seconds=seconds, sample_rate=sample_rate, seed=plan.audio_seed)
    path = audio_dir / f"{plan.song_id}.mp3"
    tmp = audio_dir / f".{plan.song_id}.mp3.part"
    try:
        # About 50 kbps VBR (DEAM ships 64 kbps CBR). libsndfile offers no LAME speed setting;
        # this mode is among its quickest, and encoding is still over half the cost of a clip.
        sf.write(tmp, audio, sample_rate, format="MP3", bitrate_mode="VARIABLE", compression_level=0.9)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return plan.song_id


@dataclass(frozen=True)
class _Style:
    """Per-song choices that carry no label: they make songs differ for reasons a model must ignore."""

    tonic: int
    melody_kind: str
    tempo_offset: float
    register_offset: float
    density_offset: float
    brightness_offset: float
    mode_bias: float
    drum_threshold: float
    drum_gain: float
    progression: tuple[int, ...]
    partials: np.ndarray
    reverb_seconds: float
    reverb_wet: float
    noise_db: float
    level_db: float


def _draw_style(rng: np.random.Generator) -> _Style:
    return _Style(
        tonic=int(rng.integers(12)),
        melody_kind=str(rng.choice(["additive", "fm", "pluck"])),
        tempo_offset=rng.normal(0.0, 8.0),
        register_offset=rng.normal(0.0, 1.0),
        density_offset=rng.normal(0.0, 0.25),
        brightness_offset=rng.normal(0.0, 0.1),
        mode_bias=rng.normal(0.0, 0.8),
        drum_threshold=rng.normal(-0.15, 0.25),
        drum_gain=float(rng.lognormal(0.0, 0.25)),
        progression=_PROGRESSIONS[rng.integers(len(_PROGRESSIONS))],
        partials=rng.uniform(0.3, 1.0, size=24) * rng.choice([1.0, 0.3], size=24, p=[0.7, 0.3]),
        reverb_seconds=rng.uniform(0.3, 1.8),
        reverb_wet=rng.uniform(0.05, 0.4),
        noise_db=rng.uniform(-50.0, -28.0),
        level_db=rng.normal(0.0, 1.0),
    )


def render_song(
    valence: np.ndarray,
    arousal: np.ndarray,
    *,
    seconds: float,
    sample_rate: int = 44100,
    seed: int | np.random.SeedSequence = 0,
) -> np.ndarray:
    """Synthesise one clip, shape (round(seconds * sample_rate),) float32 in [-1, 1], following 2 Hz curves.

    ``valence`` / ``arousal``: shape (T,), on -1..1, sampled at 2 Hz from 0 s; each bar takes its
    controls from the curves at the bar's middle. Useful on its own for tests that need music-like
    audio in memory; :func:`generate_demo_dataset` calls it for every clip.
    """
    valence, arousal = np.asarray(valence, dtype=np.float64), np.asarray(arousal, dtype=np.float64)
    if valence.ndim != 1 or valence.shape != arousal.shape or len(valence) == 0:
        raise ValueError(f"valence {valence.shape} and arousal {arousal.shape}: need two equal, non-empty 1-D curves")
    if sample_rate not in MP3_RATES or not seconds > 0:
        raise ValueError(f"sample_rate={sample_rate}, seconds={seconds}: need a rate in {MP3_RATES} and seconds > 0")
    rng = np.random.default_rng(seed)
    style = _draw_style(rng)
    # Synthesis runs at half of 44.1/48 kHz and is upsampled: twice as fast, and the MP3 encoder's
    # low-pass (~11-15 kHz at these bit rates) removes most of what the upper band would hold.
    sr = sample_rate // 2 if sample_rate >= 32000 else sample_rate
    n = int(math.ceil(seconds * sr))
    times = np.arange(len(valence)) / FRAME_RATE

    def at(curve: np.ndarray, t: np.ndarray | float) -> np.ndarray:
        return np.interp(t, times, curve)

    beats = _beat_times(lambda t: at(arousal, t), style, seconds)
    bar_starts = beats[::4]
    bar_ends = np.append(bar_starts[1:], seconds)
    notes = _Notes()
    for bar, (start, end) in enumerate(zip(bar_starts, bar_ends)):
        mid = 0.5 * (start + end)
        near = beats[max(0, 4 * bar - 1):4 * bar + 5]
        beat_len = float(np.mean(np.diff(near))) if len(near) > 1 else end - start
        _compose_bar(
            notes, style, rng, bar=bar, v=float(at(valence, mid)), a=float(at(arousal, mid)),
            beats=beats[4 * bar:4 * bar + 4], beat_len=beat_len, start=start, end=end,
        )  # fmt: skip

    mix = np.zeros(n, dtype=np.float32)
    for voice in notes.voices.values():
        _render_voice(mix, voice, style, sr)

    noise = rng.standard_normal(n, dtype=np.float32)
    mix += _render_drums(notes.drums, noise, sr, n)
    mix = _reverb(mix, style, sr, rng)
    rms = float(np.sqrt(np.mean(mix**2))) or 1e-3
    hiss = signal.lfilter([1.0], [1.0, -rng.uniform(0.0, 0.95)], np.roll(noise, n // 3)).astype(np.float32)
    mix += hiss * (rms * 10 ** (style.noise_db / 20) / (float(np.std(hiss)) or 1.0))

    fade = min(n // 4, int(0.02 * sr))
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    mix[:fade] *= ramp
    mix[n - fade:] *= ramp[::-1]
    # Louder masters for livelier songs, as in commercial music; the peak stays 1 dB below full scale.
    mean_arousal = float(np.mean(arousal))
    peak_db = min(-1.0, -5.0 + 4.0 * mean_arousal + style.level_db)
    if sr != sample_rate:
        mix = soxr.resample(mix, sr, sample_rate)
    mix = np.pad(mix, (0, max(0, int(round(seconds * sample_rate)) - len(mix))))[: int(round(seconds * sample_rate))]
    return (mix * (10 ** (peak_db / 20) / (float(np.abs(mix).max()) or 1.0))).astype(np.float32)


def _beat_times(arousal_at, style: _Style, seconds: float) -> np.ndarray:
    """Beats of a tempo that follows arousal (about 60-170 bpm), integrated on a 20 ms grid."""
    grid = np.arange(0.0, seconds + 4.0, 0.02)
    bpm = np.clip(112.0 + 55.0 * arousal_at(np.minimum(grid, seconds)) + style.tempo_offset, 55.0, 180.0)
    phase = np.concatenate([[0.0], np.cumsum(bpm[:-1] / 60.0 * 0.02)])
    beats = np.interp(np.arange(0.0, phase[-1]), phase, grid)  # the first beat at 0 s: no silent intro
    return beats[beats < seconds]


@dataclass
class _Voice:
    """Notes played one at a time (each ends before the next starts); a note may be a chord."""

    kind: str
    onsets: list[float]
    ends: list[float]
    midi: list[float | list[float]]
    amps: list[float | list[float]]
    brightness: list[float]


class _Notes:
    def __init__(self) -> None:
        self.voices: dict[str, _Voice] = {}
        self.drums: dict[str, tuple[list[float], list[float]]] = {"kick": ([], []), "snare": ([], []), "hat": ([], [])}

    def add(
        self, voice: str, kind: str, onset: float, end: float,
        midi: float | list[float], amp: float | list[float], bright: float,
    ) -> None:  # fmt: skip
        """Add a note; ``midi`` and ``amp`` may be equal-length lists for a chord on one envelope."""
        v = self.voices.setdefault(voice, _Voice(kind, [], [], [], [], []))
        v.onsets.append(onset)
        v.ends.append(end)
        v.midi.append(midi)
        v.amps.append(amp)
        v.brightness.append(bright)

    def hit(self, drum: str, onset: float, amp: float) -> None:
        if amp > 1e-3:
            self.drums[drum][0].append(onset)
            self.drums[drum][1].append(amp)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _nearest(pitch_class: float, centre: float) -> float:
    """The pitch of ``pitch_class`` closest to ``centre`` (MIDI numbers)."""
    return centre + ((pitch_class - centre + 6.0) % 12.0) - 6.0


def _compose_bar(
    notes: _Notes, style: _Style, rng: np.random.Generator, *,
    bar: int, v: float, a: float, beats: np.ndarray, beat_len: float, start: float, end: float,
) -> None:  # fmt: skip
    """One bar of pad chord, bass, melody and drums, all controlled by this bar's valence and arousal."""
    major = rng.random() < _sigmoid(4.0 * v + style.mode_bias)
    scale = _MAJOR if major else _MINOR
    degree = style.progression[bar % len(style.progression)]
    chord = [scale[(degree + k) % 7] + 12 * ((degree + k) // 7) + style.tonic for k in (0, 2, 4)]
    dissonance = _sigmoid(-4.5 * v - 1.0 + rng.normal(0.0, 0.5))
    loud = 10 ** ((5.0 * a + rng.normal(0.0, 1.0)) / 20)
    bright = float(np.clip(0.45 + 0.4 * a + 0.2 * v + style.brightness_offset, 0.02, 1.0))

    # Pad: a triad voiced around a valence-dependent register, a detuned double of the root that
    # beats faster as dissonance rises, and a cluster tone (minor second or tritone).
    pad_centre = 57.0 + 12.0 * v + style.register_offset
    root = _nearest(chord[0], pad_centre - 4.0)
    pitches = [_nearest(pc, pad_centre) for pc in chord]
    pitches += [root + (8.0 + 40.0 * dissonance) / 100.0, root + (1.0 if rng.random() < 0.5 else 6.0) + 12.0]
    amps = [0.22 * loud] * 3 + [0.2 * loud, 0.5 * dissonance * loud]
    notes.add("pad", "pad", start, end, pitches, amps, 0.3)

    # Bass: roots and fifths on beats; eighths when the bar is lively.
    bass_centre = 40.0 + 5.0 * v + 0.5 * style.register_offset
    step = 0.5 if a > 0.3 + rng.normal(0.0, 0.2) else (2.0 if a < -0.4 else 1.0)
    for t in np.arange(start, end - 1e-6, step * beat_len):
        pitch = _nearest(chord[0] if rng.random() < 0.7 else chord[2], bass_centre)
        notes.add("bass", "bass", t, min(end, t + step * beat_len), pitch, 0.45 * loud, 0.3 + 0.3 * bright)

    # Melody: a random walk on the scale around a valence-dependent register; density and
    # articulation follow arousal; dissonant bars slip in chromatic and tritone notes.
    centre = 66.0 + 16.0 * v + style.register_offset
    per_beat = float(np.clip(2 ** (1.6 * a + style.density_offset), 0.4, 4.0))
    slots = start + np.arange(16) * beat_len / 4
    slots = slots[slots < end - 0.05]
    weight = np.where(np.arange(len(slots)) % 4 == 0, 1.6, np.where(np.arange(len(slots)) % 2 == 0, 1.0, 0.6))
    onsets = slots[rng.random(len(slots)) < np.clip(per_beat / 4 * weight, 0.0, 0.95)]
    legato = float(np.clip(0.95 - 0.4 * (a + 1) / 2 + rng.normal(0.0, 0.08), 0.3, 1.0))
    tonic_pitch = _nearest(style.tonic, centre)
    anchor = round((centre - tonic_pitch) * 7 / 12)  # the scale step nearest the centre, whatever the key
    deviation = int(rng.integers(-2, 3))
    ends = np.append(onsets[1:], end)
    for onset, next_onset in zip(onsets, ends):
        deviation += int(rng.choice([-2, -1, -1, 0, 1, 1, 2])) - int(np.sign(deviation) * (abs(deviation) > 3))
        step = anchor + deviation
        pitch = tonic_pitch + scale[step % 7] + 12 * (step // 7)
        if rng.random() < 0.35 * dissonance:
            pitch += rng.choice([-1.0, 1.0, 6.0])
        dur = max(0.04, (next_onset - onset) * legato)
        amp = 0.35 * loud * float(rng.uniform(0.7, 1.0))
        notes.add("melody", style.melody_kind, onset, onset + dur, pitch, amp, bright)

    # Drums: a song-specific arousal threshold decides how much kit a bar gets.
    kit = style.drum_gain * _sigmoid(5.0 * (a - style.drum_threshold))
    for k, t in enumerate(beats):
        notes.hit("kick", t, 0.9 * kit * loud if (k % 2 == 0 or a > 0.25) else 0.0)
        notes.hit("snare", t, 0.5 * kit * loud if k % 2 == 1 else 0.0)
        subdivisions = 4 if a > 0.45 else 2
        for j in range(subdivisions):
            notes.hit("hat", t + j * beat_len / subdivisions, 0.18 * kit * loud * (1.0 if j == 0 else 0.6))


def _note_grid(onsets: np.ndarray, sr: int, n: int) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """Sample-level view of sorted onsets (seconds).

    Returns ``keep`` (which notes survive; of notes that round to the same sample the last wins),
    the first onset sample, and for every sample from there on the index of the sounding kept
    note and the seconds since it began.
    """
    starts = np.clip(np.round(onsets * sr).astype(np.int64), 0, n - 1)
    keep = np.append(np.diff(starts) > 0, True)
    starts = starts[keep]
    lengths = np.diff(np.append(starts, n))
    index = np.repeat(np.arange(len(starts)), lengths)
    since = (np.arange(starts[0], n) - np.repeat(starts, lengths)).astype(np.float32) / sr
    return keep, int(starts[0]), index, since


def _render_voice(mix: np.ndarray, voice: _Voice, style: _Style, sr: int) -> None:
    """Add one voice to ``mix``; a note may hold several pitches that share its envelope (a chord)."""
    n = len(mix)
    onsets = np.asarray(voice.onsets)
    order = np.argsort(onsets, kind="stable")
    keep, first, index, since = _note_grid(onsets[order], sr, n)
    order = order[keep]
    duration = (np.asarray(voice.ends)[order] - onsets[order]).astype(np.float32)[index]
    bright = np.asarray(voice.brightness, dtype=np.float32)[order][index]
    midi = np.asarray(voice.midi, dtype=np.float32).reshape(len(onsets), -1)[order]
    freqs = 440.0 * 2 ** ((midi - 69.0) / 12.0)
    amps = np.asarray(voice.amps, dtype=np.float32).reshape(len(onsets), -1)[order]

    kind = voice.kind
    attack = {"pad": 0.08, "bass": 0.005, "pluck": 0.002, "fm": 0.01, "additive": 0.015}[kind]
    release = 0.12 if kind == "pad" else 0.03
    env = (1.0 - np.exp(-since / attack)) * np.clip((duration - since) / release, 0.0, 1.0)
    if kind in ("pluck", "bass"):
        env *= np.exp(-since / (0.25 if kind == "pluck" else 0.4))
        bright = bright * np.exp(-since / 0.15)  # plucked strings darken as they ring
    elif kind != "pad":
        env *= np.exp(-since / 1.2)

    if kind != "fm":
        dark_table = _wavetable(style.partials, rolloff=2.6, top=float(freqs.max()), sr=sr)
        bright_table = _wavetable(style.partials, rolloff=0.9, top=float(freqs.max()), sr=sr)
        delta_table = bright_table - dark_table
        size = len(dark_table)
    wave = np.zeros(len(index), dtype=np.float32)
    for column in range(freqs.shape[1]):
        # Phase restarts with every note: envelopes are silent at note boundaries, so no clicks,
        # and float32 stays exact enough (a few thousand cycles per note at most).
        cycles = freqs[:, column][index] * since
        if kind == "fm":
            modulation = (0.4 + 3.0 * bright) * np.exp(-since / 0.3)
            tone = np.sin(2 * np.pi * cycles + modulation * np.sin(4 * np.pi * cycles))
        else:
            slot = (cycles * size).astype(np.int32) & (size - 1)
            tone = dark_table[slot] + bright * delta_table[slot]
        wave += amps[:, column][index] * tone
    mix[first:] += env * wave


def _wavetable(partials: np.ndarray, *, rolloff: float, top: float, sr: int, size: int = 4096) -> np.ndarray:
    """One cycle with harmonic k at ``partials[k] * k**-rolloff``, limited below Nyquist at ``top`` Hz."""
    count = int(np.clip(0.45 * sr / top, 1, len(partials)))
    k = np.arange(1, count + 1)
    weights = partials[:count] * k ** -rolloff
    weights[0] = 1.0
    cycle = np.sin(2 * np.pi * np.outer(np.arange(size) / size, k)) @ weights
    return (cycle / np.abs(cycle).max()).astype(np.float32)


def _render_drums(drums: dict[str, tuple[list[float], list[float]]], noise: np.ndarray, sr: int, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.float32)
    for name, (onsets, amps) in drums.items():
        if not onsets:
            continue
        order = np.argsort(onsets, kind="stable")
        keep, first, index, since = _note_grid(np.asarray(onsets)[order], sr, n)
        amp = np.asarray(amps, dtype=np.float32)[order[keep]][index]
        if name == "kick":
            # Pitch falls from ~150 to 50 Hz: the integral of 50 + 100 exp(-t / 30 ms).
            phase = 50.0 * since + 100.0 * 0.03 * (1.0 - np.exp(-since / 0.03))
            wave = np.sin(2 * np.pi * phase) * np.exp(-since / 0.18)
        elif name == "snare":
            body = _filtered(noise[first:], "bandpass", (1200.0, 6000.0), sr)
            wave = (body + 0.5 * np.sin(2 * np.pi * 190.0 * since)) * np.exp(-since / 0.1)
        else:
            wave = _filtered(noise[first:], "highpass", 6000.0, sr) * np.exp(-since / 0.03)
        out[first:] += (amp * wave).astype(np.float32)
    return out


def _filtered(x: np.ndarray, kind: str, cutoff, sr: int) -> np.ndarray:
    sos = signal.butter(2, cutoff, btype=kind, fs=sr, output="sos")
    return signal.sosfilt(sos, x).astype(np.float32)


def _reverb(x: np.ndarray, style: _Style, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A decaying-noise impulse response: a room of random size, unrelated to the labels."""
    length = int(style.reverb_seconds * sr)
    t = np.arange(length, dtype=np.float32) / sr
    ir = rng.standard_normal(length, dtype=np.float32) * np.exp(-6.9 * t / style.reverb_seconds)
    ir = _filtered(ir, "lowpass", 5000.0, sr)
    ir *= style.reverb_wet / (float(np.sqrt(np.sum(ir**2))) or 1.0)
    wet = signal.oaconvolve(x, ir)[: len(x)]
    return (x + wet).astype(np.float32)
