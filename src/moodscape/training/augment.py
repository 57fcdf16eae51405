"""Spectrogram augmentation for training windows; the module is a no-op outside ``train()`` mode."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import SettingError


class Augmenter(nn.Module):
    """Random gain, time/frequency masks and mixup on normalised log-mel batches.

    ``band_std`` (n_mels,) converts a gain in dB into normalised units (gain / std per band); with
    per-clip normalisation a gain changes nothing, so pass None to disable it there.
    Masks are filled with 0, the training mean in normalised units.
    """

    def __init__(
        self,
        *,
        time_masks: int = 0,
        time_mask_frames: int = 20,
        freq_masks: int = 0,
        freq_mask_bins: int = 12,
        gain_db: float = 0.0,
        mixup_alpha: float = 0.0,
        band_std: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.time_masks, self.time_mask_frames = time_masks, time_mask_frames
        self.freq_masks, self.freq_mask_bins = freq_masks, freq_mask_bins
        self.gain_db, self.mixup_alpha = gain_db, mixup_alpha
        self.register_buffer("band_scale", None if band_std is None else 1.0 / band_std.float(), persistent=False)

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, n_mels, frames), (batch, 2) -> augmented copies.

        Draws come from torch's global RNG, which the training loop seeds from (seed, epoch).
        """
        if not self.training:
            return inputs, targets
        x, y = inputs.clone(), targets.clone()
        batch, bins, frames = x.shape
        if self.gain_db > 0 and self.band_scale is not None:
            gain = (torch.rand(batch, 1, 1) * 2 - 1) * self.gain_db
            x = x + gain.to(x) * self.band_scale.view(1, bins, 1)
        for count, width, axis, size in (
            (self.freq_masks, self.freq_mask_bins, 1, bins),
            (self.time_masks, self.time_mask_frames, 2, frames),
        ):
            for _ in range(count):
                widths = torch.randint(0, width + 1, (batch,))
                starts = (torch.rand(batch) * (size - widths + 1)).long()
                positions = torch.arange(size).view(1, size)
                mask = (positions >= starts.view(batch, 1)) & (positions < (starts + widths).view(batch, 1))
                mask = mask.view(batch, size, 1) if axis == 1 else mask.view(batch, 1, size)
                x = x.masked_fill(mask.to(x.device), 0.0)
        if self.mixup_alpha > 0 and batch > 1:
            weights = torch.distributions.Beta(self.mixup_alpha, self.mixup_alpha).sample((batch,)).to(x)
            partner = torch.randperm(batch).to(x.device)
            # The larger weight goes to the window itself, so each item stays closest to its own label.
            w = torch.maximum(weights, 1 - weights)
            x = w.view(batch, 1, 1) * x + (1 - w.view(batch, 1, 1)) * x[partner]
            y = w.view(batch, 1) * y + (1 - w.view(batch, 1)) * y[partner]
        return x, y


DIFF_AUGMENTS = ("translation", "cutout")


def diff_augment(x: torch.Tensor, policy: tuple[str, ...] | list[str]) -> torch.Tensor:
    """Differentiable augmentation for GAN training (Zhao et al. 2020, DiffAugment) on (batch, n_mels, frames).

    Applied to real and generated windows alike, before every discriminator call, so the
    discriminator cannot memorise the few training songs and the generator still gets gradients
    through it. ``translation``: a circular shift in time by up to 1/8 of the window per sample
    (a window is an arbitrary crop, so a rolled one is still plausible; frequencies never move,
    since a shifted spectrum is a different timbre). ``cutout``: one rectangle of half the bands
    and half the frames per sample set to 0 (the training mean with the default per-band
    normalisation). Levels are never changed: loudness
    carries arousal. Draws come from torch's global RNG, seeded per epoch by the trainer.
    """
    unknown = set(policy) - set(DIFF_AUGMENTS)
    if unknown:
        raise SettingError(f"unknown DiffAugment policy {sorted(unknown)}; valid: {', '.join(DIFF_AUGMENTS)}")
    batch, bins, frames = x.shape
    if "translation" in policy:
        limit = frames // 8
        shifts = torch.randint(-limit, limit + 1, (batch, 1), device=x.device)
        index = (torch.arange(frames, device=x.device).view(1, frames) - shifts) % frames
        x = torch.gather(x, 2, index.view(batch, 1, frames).expand(batch, bins, frames))
    if "cutout" in policy:
        def inside(size: int) -> torch.Tensor:
            width = size // 2
            starts = torch.randint(0, size - width + 1, (batch, 1), device=x.device)
            positions = torch.arange(size, device=x.device).view(1, size)
            return (positions >= starts) & (positions < starts + width)

        hole = inside(bins).view(batch, bins, 1) & inside(frames).view(batch, 1, frames)
        x = x.masked_fill(hole, 0.0)
    return x
