"""The demo songs' score: a song's style (key, instrument, tempo and drum habits, room) and what each
bar plays, chosen from that bar's valence and arousal.

Apart from the synthesis (:mod:`moodscape.data.demo_synth`), which renders these notes, and from the
dataset writing (:mod:`moodscape.data.demo`), so that the mapping from labels to music reads and tunes
on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR = np.array([0, 2, 3, 5, 7, 8, 10])
_PROGRESSIONS = ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 0), (0, 5, 1, 4), (0, 3, 0, 4), (5, 3, 0, 4))


@dataclass(frozen=True)
class Style:
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


def draw_style(rng: np.random.Generator) -> Style:
    return Style(
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


def beat_times(arousal_at, style: Style, seconds: float) -> np.ndarray:
    """Beats of a tempo that follows arousal (about 60-170 bpm), integrated on a 20 ms grid."""
    grid = np.arange(0.0, seconds + 4.0, 0.02)
    bpm = np.clip(112.0 + 55.0 * arousal_at(np.minimum(grid, seconds)) + style.tempo_offset, 55.0, 180.0)
    phase = np.concatenate([[0.0], np.cumsum(bpm[:-1] / 60.0 * 0.02)])
    beats = np.interp(np.arange(0.0, phase[-1]), phase, grid)  # the first beat at 0 s: no silent intro
    return beats[beats < seconds]


@dataclass
class Voice:
    """Notes played one at a time (each ends before the next starts); a note may be a chord."""

    kind: str
    onsets: list[float]
    ends: list[float]
    midi: list[float | list[float]]
    amps: list[float | list[float]]
    brightness: list[float]


class Notes:
    def __init__(self) -> None:
        self.voices: dict[str, Voice] = {}
        self.drums: dict[str, tuple[list[float], list[float]]] = {"kick": ([], []), "snare": ([], []), "hat": ([], [])}

    def add(
        self, voice: str, kind: str, onset: float, end: float,
        midi: float | list[float], amp: float | list[float], bright: float,
    ) -> None:  # fmt: skip
        """Add a note; ``midi`` and ``amp`` may be equal-length lists for a chord on one envelope."""
        v = self.voices.setdefault(voice, Voice(kind, [], [], [], [], []))
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


def compose_bar(
    notes: Notes, style: Style, rng: np.random.Generator, *,
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
