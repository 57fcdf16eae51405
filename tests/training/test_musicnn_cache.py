"""musicnn's cached pooled features stand in exactly for the windows: the song values computed from the cache
equal the whole network's on the same windows, and a second trainer reads the cache instead of computing."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import torch

from moodscape.config import TeacherConfig
from moodscape.features.store import FeatureStore
from moodscape.features.windows import SongFeatures
from moodscape.models.predict import predict_songs
from moodscape.models.teacher.build import build_teacher
from moodscape.training.musicnn_cache import PooledWindows, cached_song_values

from ..conftest import REPO, moodscape


@pytest.mark.parametrize("taggers", ["MSD_musicnn", "MSD_musicnn+MTT_musicnn"])
def test_cached_features_give_the_whole_networks_song_values(small_store, tmp_path, taggers):
    data, _, _ = small_store
    built = subprocess.run(moodscape("-q", "features", str(data), "--config", str(REPO / "configs/real-music.yaml"),
                                     "--out", str(tmp_path / "features")),
                           capture_output=True, text=True, check=True)  # fmt: skip
    store = FeatureStore(built.stdout.strip().splitlines()[-1])
    torch.manual_seed(0)  # the head's weights: the same whichever tests ran before in this process
    model = build_teacher(TeacherConfig(kind="musicnn", pretrained=taggers), n_mels=96, frames=188).eval()
    torch.nn.init.normal_(model.head[-1].weight, std=0.05)  # outputs that differ between songs and windows
    songs = store.song_ids[:4]
    cache = PooledWindows(model, store, songs, frames=188, hop=188, device=torch.device("cpu"), progress=False)
    values, windows = cached_song_values(model, cache, store, songs, 188, torch.device("cpu"))
    whole, whole_windows = predict_songs(model, SongFeatures(store, songs, normalization=None, mode="none"), frames=188,
                                         hop=188, device=torch.device("cpu"))  # fmt: skip
    np.testing.assert_allclose(values, whole, atol=2e-3)  # the cache keeps float16 features
    assert [len(w) for w in windows] == [len(w) for w in whole_windows] and values.std(axis=0).min() > 0.01
    files = sorted((store.directory).glob("musicnn-pooled-*/*.npy"))
    assert len(files) == 4
    before = [f.stat().st_mtime_ns for f in files]
    PooledWindows(model, store, songs, frames=188, hop=188, device=torch.device("cpu"), progress=False)
    assert [f.stat().st_mtime_ns for f in files] == before  # read, not computed again


def test_the_cache_is_shared_while_only_the_back_end_changes(small_store, tmp_path):
    from moodscape.training.musicnn_cache import PooledWindows as Cache

    first = build_teacher(TeacherConfig(kind="musicnn", pretrained="MSD_musicnn"), n_mels=96, frames=188)
    second = build_teacher(TeacherConfig(kind="musicnn", pretrained="MSD_musicnn"), n_mels=96, frames=188)
    torch.nn.init.normal_(second.backbone.dense.weight)  # a trained back end: the pooled features stay the same
    third = build_teacher(TeacherConfig(kind="musicnn", pretrained="MTT_musicnn"), n_mels=96, frames=188)

    class Store:
        settings = {"hash": "x"}

    assert Cache._key(first, Store) == Cache._key(second, Store) != Cache._key(third, Store)
    both = build_teacher(TeacherConfig(kind="musicnn", pretrained="MSD_musicnn+MTT_musicnn"), n_mels=96, frames=188)
    assert Cache._key(both, Store) not in (Cache._key(first, Store), Cache._key(third, Store))
