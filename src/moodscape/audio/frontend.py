"""The log-mel front end: one torch module used unchanged by feature extraction, training,
inference and export, so that preprocessing can never drift between them.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import AudioConfig, FeaturesConfig
from ..errors import SettingError
from .melbank import LOGC_SCALE, mel_filters, used_bins

COMPRESSIONS = ("db", "logc")
# Frames per block on the CPU path: 256 frames of a 2048-point STFT stay within a core's L2 cache.
CHUNK_FRAMES = 256


class LogMel(nn.Module):
    """Waveform -> log-mel power spectrogram, matching librosa.

    ``compression="db"`` (the default) is ``librosa.power_to_db(librosa.feature.melspectrogram(y,
    sr=sample_rate, n_fft, hop_length, n_mels, fmin, fmax, power), ref=1.0, amin, top_db)`` with
    librosa's defaults (periodic Hann window, centred frames, zero padding, Slaney mel scale and norm);
    ``"logc"`` is ``log10(1 + 10000 mel)`` of the same mel spectrogram, the input of the pretrained
    musicnn networks (:mod:`moodscape.models.pretrained.musicnn`; ``amin`` and ``top_db`` do not apply).

    Input: (samples,) or (batch, samples) float32 at ``sample_rate``.
    Output: (n_mels, frames) or (batch, n_mels, frames), frames = 1 + samples // hop_length.
    """

    def __init__(
        self,
        *,
        sample_rate: int = 22050,
        n_fft: int = 2048,
        hop_length: int = 512,
        n_mels: int = 128,
        fmin: float = 20.0,
        fmax: float = 8000.0,
        power: float = 2.0,
        amin: float = 1e-10,
        top_db: float | None = None,
        compression: str = "db",
    ) -> None:
        super().__init__()
        if fmax > sample_rate / 2:
            raise SettingError(f"fmax={fmax} Hz is above the Nyquist frequency of sample_rate={sample_rate} Hz")
        self.sample_rate, self.n_fft, self.hop_length = sample_rate, n_fft, hop_length
        self.n_mels, self.fmin, self.fmax = n_mels, fmin, fmax
        if compression not in COMPRESSIONS:
            raise SettingError(f"compression={compression!r}; choose one of {', '.join(COMPRESSIONS)}")
        self.power, self.amin, self.top_db, self.compression = power, amin, top_db, compression
        filters = mel_filters(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
        self.first_bin, self.last_bin = used_bins(filters)  # a third fewer bins at the defaults
        self.register_buffer("window", torch.hann_window(n_fft, periodic=True), persistent=False)
        self.register_buffer(
            "mel_filters", torch.from_numpy(filters[:, self.first_bin : self.last_bin].copy()), persistent=False
        )
        self._sparse_filters: torch.Tensor | None = None

    @classmethod
    def from_config(cls, features: FeaturesConfig, audio: AudioConfig) -> LogMel:
        """Build from the config sections saved with every store and checkpoint."""
        return cls(
            sample_rate=audio.sample_rate,
            n_fft=features.n_fft,
            hop_length=features.hop_length,
            n_mels=features.n_mels,
            fmin=features.fmin,
            fmax=features.fmax,
            power=features.power,
            amin=features.amin,
            top_db=features.top_db,
            compression=features.compression,
        )

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for a waveform of ``num_samples`` samples."""
        return 1 + num_samples // self.hop_length

    def _fast_path(self, tensor: torch.Tensor) -> bool:
        """Sparse, chunked CPU computation; tracing, export, autograd and GPUs take the dense graph."""
        return not (
            tensor.device.type != "cpu"
            or tensor.requires_grad
            or torch.jit.is_tracing()
            or torch.jit.is_scripting()
            or torch.onnx.is_in_onnx_export()
        )

    def _power(self, waveform: torch.Tensor, *, center: bool) -> torch.Tensor:
        """(batch, samples) -> (batch, frames, bins) power of the bins the filters use.

        torch.stft computes frame by frame, so (batch, frames, bins) is its memory order.
        """
        spec = torch.stft(
            waveform,
            self.n_fft,
            self.hop_length,
            window=self.window,
            center=center,
            pad_mode="constant",
            return_complex=True,
        ).transpose(1, 2)[:, :, self.first_bin : self.last_bin]
        power = spec.real.square() + spec.imag.square()
        return power if self.power == 2.0 else power.pow(self.power / 2.0)

    def _mel_dense(self, waveform: torch.Tensor) -> torch.Tensor:
        return torch.matmul(self._power(waveform, center=True), self.mel_filters.T).transpose(1, 2)

    def _mel_chunked(self, waveform: torch.Tensor) -> torch.Tensor:
        """Same values as :meth:`_mel_dense`, three times faster on CPU for whole songs.

        Blocks of frames keep the STFT's temporaries in cache, and each mel triangle spans a few
        bins (about 1.5% of the filterbank is non-zero at the defaults), so the product is sparse.
        """
        if self._sparse_filters is None:
            self._sparse_filters = self.mel_filters.to_sparse_coo()
        batch, samples = waveform.shape
        half = self.n_fft // 2
        padded = torch.nn.functional.pad(waveform, (half, half))
        frames = self.num_frames(samples)
        mel = waveform.new_empty(batch, self.n_mels, frames)
        for first in range(0, frames, CHUNK_FRAMES):
            count = min(CHUNK_FRAMES, frames - first)
            start = first * self.hop_length
            block = padded[:, start : start + (count - 1) * self.hop_length + self.n_fft]
            power = self._power(block, center=False)
            flat = power.reshape(batch * count, power.shape[-1]).T.contiguous()
            mel[:, :, first : first + count] = (
                torch.sparse.mm(self._sparse_filters, flat).reshape(self.n_mels, batch, count).transpose(0, 1)
            )
        return mel

    def _apply(self, fn, recurse=True):
        self._sparse_filters = None
        return super()._apply(fn, recurse)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        squeeze = waveform.dim() == 1
        if squeeze:
            waveform = waveform.unsqueeze(0)
        mel = self._mel_chunked(waveform) if self._fast_path(waveform) else self._mel_dense(waveform)
        if self.compression == "logc":
            logc = torch.log10(1.0 + LOGC_SCALE * mel)
            return logc.squeeze(0) if squeeze else logc
        db = 10.0 * torch.log10(torch.clamp(mel, min=self.amin))
        if self.top_db is not None:
            peak = db.amax(dim=(-2, -1), keepdim=True)
            db = torch.maximum(db, peak - self.top_db)
        return db.squeeze(0) if squeeze else db
