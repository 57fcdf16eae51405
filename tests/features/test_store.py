"""Feature store: contents, no-op rebuild, resume after kill -9 equal to an uninterrupted build."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from moodscape.audio.frontend import LogMel
from moodscape.audio.io import load_audio
from moodscape.config import Config, load_config
from moodscape.data.dataset import Dataset
from moodscape.data.records import SongRecord
from moodscape.features.build import build_feature_store
from moodscape.features.store import FeatureStore


def make_dataset(root: Path, n: int, seconds: float, rng: np.random.Generator, bad: dict[str, bytes] | None = None):
    """WAV clips of filtered noise and tones at 22.05 kHz, plus optional bad files, as a Dataset."""
    root.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        t = np.arange(int(seconds * 22050)) / 22050
        y = 0.2 * np.sin(2 * np.pi * (110 + 40 * i) * t) + 0.05 * rng.standard_normal(t.size)
        path = root / f"{i}.wav"
        sf.write(path, y.astype(np.float32), 22050)
        records.append(SongRecord(str(i), path, valence=(i % 5) / 5 - 0.4, arousal=0.1, valence_std=0.2))
    for name, payload in (bad or {}).items():
        path = root / name
        path.write_bytes(payload)
        records.append(SongRecord(path.stem, path, valence=0.0, arousal=0.0))
    return Dataset(name="toy", root=root, layout="csv", records=tuple(records))


def test_store_contents_match_frontend(tmp_path, rng):
    dataset = make_dataset(tmp_path / "audio", 4, 6.0, rng, bad={"empty.mp3": b"", "text.mp3": b"not audio at all"})
    config = Config()
    store_dir = build_feature_store(dataset, tmp_path / "features", config=config, workers=2, progress=False)
    assert store_dir.name.startswith("toy-")
    store = FeatureStore(store_dir)
    assert store.song_ids == ["0", "1", "2", "3"]
    assert [e.status for e in store.entries] == ["ok"] * 4 + ["error"] * 2
    errors = (store_dir / "errors.csv").read_text()
    assert "empty.mp3: empty file (0 bytes)" in errors and "text.mp3: not a readable audio file" in errors
    assert (store_dir / "config.yaml").exists() and not (store_dir / "journal.csv").exists()
    frontend = LogMel.from_config(config.features, config.audio)
    samples, _ = load_audio(dataset.records[2].path, sample_rate=22050, quality="LQ")
    expected = frontend(torch.from_numpy(samples)).numpy()
    got = store.get("2")
    assert got.dtype == np.float16 and got.shape == expected.shape == (128, 1 + samples.size // 512)
    np.testing.assert_allclose(got.astype(np.float32), expected, atol=0.05, rtol=1e-3)
    np.testing.assert_allclose(store.labels(["1"]), [[-0.2, 0.1]])


def test_rebuild_with_same_settings_is_a_noop(tmp_path, rng):
    dataset = make_dataset(tmp_path / "audio", 3, 6.0, rng)
    store_dir = build_feature_store(dataset, tmp_path / "f", config=Config(), workers=1, progress=False)
    stamp = (store_dir / "features.f16").stat().st_mtime_ns
    assert build_feature_store(dataset, tmp_path / "f", config=Config(), workers=1, progress=False) == store_dir
    assert (store_dir / "features.f16").stat().st_mtime_ns == stamp
    other = build_feature_store(
        dataset, tmp_path / "f", config=load_config(None, ["features.n_mels=64"]), workers=1, progress=False
    )
    assert other != store_dir and FeatureStore(other).get("0").shape[0] == 64


def test_resume_after_kill_equals_uninterrupted(tmp_path, rng):
    dataset = make_dataset(tmp_path / "audio", 30, 30.0, rng, bad={"bad.mp3": b"junk"})
    reference = build_feature_store(dataset, tmp_path / "reference", config=Config(), workers=1, progress=False)

    # The build kills itself as it starts its eighth clip: after seven were written, whatever the machine's load.
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        import moodscape.features.extract as extract
        from moodscape.features.build import build_feature_store
        started, extract_one = [], extract._extract
        def dying(path):
            started.append(path)
            if len(started) == 8:
                os.kill(os.getpid(), signal.SIGKILL)
            return extract_one(path)
        extract._extract = dying
        from moodscape.config import Config
        from moodscape.data.dataset import Dataset
        from moodscape.data.records import SongRecord
        records = {[(r.song_id, str(r.path), r.valence, r.arousal, r.valence_std) for r in dataset.records]!r}
        records = tuple(SongRecord(i, Path(p), valence=v, arousal=a, valence_std=s) for i, p, v, a, s in records)
        dataset = Dataset(name="toy", root=Path({str(dataset.root)!r}), layout="csv", records=records)
        build_feature_store(dataset, {str(tmp_path / "killed")!r}, config=Config(), workers=1, progress=False)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], timeout=120)
    journal = tmp_path / "killed" / reference.name / "journal.csv"
    assert proc.returncode == -signal.SIGKILL, "the build was not killed in mid-run"
    killed = tmp_path / "killed" / reference.name
    # A kill in mid-write leaves a torn journal line and bytes of an unfinished clip.
    with journal.open("a") as handle:
        handle.write("29,/some/path,0.1")
    with (killed / "features.f16").open("ab") as handle:
        handle.write(b"\x00" * 1001)
    done_before = journal.read_text().count("\n") - 1

    resumed = build_feature_store(dataset, tmp_path / "killed", config=Config(), workers=2, progress=False)
    assert done_before >= 5
    for name in ("features.f16", "index.csv", "errors.csv"):
        assert (resumed / name).read_bytes() == (reference / name).read_bytes(), name


def test_unlabelled_windows_on_a_grid_and_mixed_sources_in_proportion(tmp_path, rng):
    from moodscape.data.unlabelled import unlabelled_audio
    from moodscape.features.windows import MixedWindows, UnlabelledWindows

    folder = tmp_path / "audio"
    folder.mkdir()
    for i, seconds in enumerate((6.0, 9.0)):
        sf.write(folder / f"{i}.wav", 0.1 * rng.standard_normal(int(seconds * 22050)).astype(np.float32), 22050)
    dataset = unlabelled_audio(folder)
    assert [r.song_id for r in dataset.records] == ["0.wav", "1.wav"] and dataset.records[0].valence is None
    store = FeatureStore(build_feature_store(dataset, tmp_path / "f", config=Config(), workers=1, progress=False))
    windows = UnlabelledWindows(store, normalization=None, mode="per_clip", frames=100, stride=50)
    frames = [store.entry(s).frames for s in store.song_ids]
    assert len(windows) == sum((f - 100) // 50 + 1 for f in frames)
    window, target = windows.window(len(windows) - 1)
    assert window.shape == (128, 100) and np.isnan(target).all()

    class Constant:
        def __init__(self, value, n):
            self.value, self.n = value, n

        def __len__(self):
            return self.n

        def window(self, i):
            return self.value, None

    mixed = MixedWindows([(Constant(0, 3), 3.0), (Constant(1, 5), 1.0)])
    picks = rng.integers(0, len(mixed), size=4000)
    assert np.mean([mixed.window(int(i))[0] for i in picks]) == pytest.approx(0.25, abs=0.03)
