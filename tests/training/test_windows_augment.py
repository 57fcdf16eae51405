"""Windows cover clips exactly; augmentation is seeded and only active in train mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from moodscape.features.windows import fit_frames, song_windows, window_frames, window_starts
from moodscape.training.augment import Augmenter, diff_augment


def test_window_frames_rounds_to_patch_multiple():
    assert window_frames(5.0, sample_rate=22050, hop_length=512, multiple=16) == 208  # 215.3 frames -> 13 patches of 16
    assert window_frames(0.1, sample_rate=22050, hop_length=512, multiple=16) == 16


def test_windows_cover_the_whole_clip():
    assert window_starts(100, 40, 25).tolist() == [0, 25, 50, 60]
    assert window_starts(40, 40, 25).tolist() == [0]
    clip = np.arange(3 * 100, dtype=np.float32).reshape(3, 100)
    windows = song_windows(clip, 40, 25)
    assert windows.shape == (4, 3, 40)
    np.testing.assert_array_equal(windows[-1], clip[:, 60:])


def test_short_clips_repeat_rather_than_pad_with_silence():
    clip = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(fit_frames(clip, 7)[0], [0, 1, 2, 0, 1, 2, 0])
    assert song_windows(clip, 7, 2).shape == (1, 2, 7)


def test_augmenter_is_identity_in_eval_and_seeded_in_train():
    x = torch.randn(6, 16, 50)
    y = torch.rand(6, 2) * 2 - 1
    augment = Augmenter(time_masks=2, freq_masks=2, gain_db=6.0, mixup_alpha=0.4, band_std=torch.full((16,), 6.0))
    augment.eval()
    same_x, same_y = augment(x, y)
    assert torch.equal(same_x, x) and torch.equal(same_y, y)
    augment.train()
    torch.manual_seed(1)
    a = augment(x, y)
    torch.manual_seed(1)
    b = augment(x, y)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], x)
    assert (a[1].abs() <= 1).all(), "mixed labels stay on [-1, 1]"


def test_gain_shifts_each_band_by_gain_over_its_std():
    x = torch.zeros(1, 4, 10)
    augment = Augmenter(gain_db=3.0, band_std=torch.tensor([1.0, 2.0, 3.0, 6.0])).train()
    torch.manual_seed(0)
    out, _ = augment(x, torch.zeros(1, 2))
    shift = out[0, :, 0]
    assert torch.allclose(shift * torch.tensor([1.0, 2.0, 3.0, 6.0]), shift[0].expand(4))
    assert 0 < shift.abs()[0] <= 3.0


def test_synthetic_windows_mix_into_training_batches_only_at_the_ratio(tmp_path, rng):
    from moodscape.config import Config
    from moodscape.features.build import build_feature_store
    from moodscape.features.store import FeatureStore
    from moodscape.features.windows import SongFeatures

    from ..features.test_store import make_dataset

    store = FeatureStore(build_feature_store(make_dataset(tmp_path / "a", 3, 6.0, rng), tmp_path / "f",
                                             config=Config(), workers=1, progress=False))  # fmt: skip
    songs = SongFeatures(store, store.song_ids, normalization=None, mode="none")

    class Fake:
        def __len__(self):
            return 4

        def window(self, index):
            return np.full((128, 40), 100.0 + index, dtype=np.float32), np.array([0.9, -0.9], dtype=np.float32)

    plain = list(songs.random_batches(np.random.default_rng(1), frames=40, windows_per_song=2, batch_size=4))
    same = list(songs.random_batches(np.random.default_rng(1), frames=40, windows_per_song=2, batch_size=4,
                                     synthetic=Fake(), synthetic_ratio=0.0))  # fmt: skip
    assert all(np.array_equal(a.inputs, b.inputs) for a, b in zip(plain, same))
    mixed = list(songs.random_batches(np.random.default_rng(1), frames=40, windows_per_song=2, batch_size=4,
                                      synthetic=Fake(), synthetic_ratio=0.5))  # fmt: skip
    inputs = np.concatenate([b.inputs for b in mixed])
    synthetic = inputs[:, 0, 0] >= 100.0
    assert inputs.shape[0] == 9 and synthetic.sum() == 3
    np.testing.assert_allclose(np.concatenate([b.targets for b in mixed])[synthetic], [[0.9, -0.9]] * 3, rtol=1e-6)


def test_diff_augment_translation_only_moves_frames_in_time():
    torch.manual_seed(0)
    x = torch.randn(6, 8, 40)
    shifted = diff_augment(x, ["translation"])
    # Each window is a circular time shift of itself by at most 40 // 8 frames, the same for every band.
    shifts = []
    for original, moved in zip(x, shifted):
        matches = [k for k in range(-5, 6) if torch.equal(torch.roll(original, k, dims=1), moved)]
        assert len(matches) == 1
        shifts += matches
    assert any(shifts), "some window must actually move"


def test_diff_augment_cutout_zeroes_a_quarter_and_passes_gradients():
    torch.manual_seed(0)
    x = (torch.rand(5, 8, 40) + 1).requires_grad_(True)
    out = diff_augment(x, ["cutout"])
    assert torch.equal((out == 0).sum(dim=(1, 2)), torch.full((5,), 4 * 20))
    out.sum().backward()
    assert torch.equal(x.grad, (out != 0).float())
    with pytest.raises(ValueError, match="color"):
        diff_augment(x, ["color"])
