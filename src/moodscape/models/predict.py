"""A regressor applied to whole songs: every window of each clip, averaged into the song's value."""

from __future__ import annotations

import numpy as np
import torch

from ..features.windows import SongFeatures, song_windows


@torch.inference_mode()
def predict_songs(
    model: torch.nn.Module, data: SongFeatures, *, frames: int, hop: int, device: torch.device, batch_size: int = 64
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Song-level predictions (N, 2), the mean over windows covering each clip, and the windows' own."""
    model.eval()
    songs, per_window = [], []
    for clip in data.clips:
        windows = torch.from_numpy(song_windows(clip, frames, hop))
        outputs = [model(windows[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(windows), batch_size)]
        predictions = torch.cat(outputs).numpy()
        per_window.append(predictions)
        songs.append(predictions.mean(axis=0))
    return np.stack(songs), per_window
