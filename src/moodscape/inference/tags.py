"""musicnn's view of whole songs: the top tags of `moodscape predict --tags`, from the song summaries the
musicnn probe reads (:mod:`moodscape.models.floors.probe`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..models.floors.probe import Summariser
from ..models.pretrained.musicnn import SHIPPED, song_summary


def top_tags(probabilities: np.ndarray, names: Sequence[str], k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` most probable tags, most probable first, as (tag, probability)."""
    order = np.argsort(-np.asarray(probabilities))[:k]
    return [(str(names[i]), float(probabilities[i])) for i in order]


class Tagger:
    """The top tags of whole files from the shipped musicnn taggers: MSD_musicnn's last.fm tags (genres,
    moods, decades) and MTT_musicnn's MagnaTagATune tags (instruments, voices, tempo words)."""

    MAX_SECONDS = 600.0  # tags of a long file come from its first ten minutes

    def __init__(self, *, top: int = 5, names: Sequence[str] = SHIPPED) -> None:
        self.top = int(top)
        self.summariser = Summariser(names)

    def __call__(self, path) -> list[dict[str, Any]]:
        """[{"tag", "probability", "source"}], the ``top`` of each model, most probable first."""
        from ..audio.io import load_audio

        samples, _ = load_audio(path, sample_rate=Summariser.SAMPLE_RATE, duration=self.MAX_SECONDS, min_seconds=0.0)
        mel = self.summariser.mel(samples)
        tags = []
        for model in self.summariser.models:
            summary = song_summary(model, mel)
            tags += [{"tag": tag, "probability": round(p, 3), "source": model.name}
                     for tag, p in top_tags(summary["tags"], model.tag_names, self.top)]  # fmt: skip
        return tags
