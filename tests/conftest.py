"""Shared fixtures: the real sample data in ../shared/data, and a seeded random generator; shared helpers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

# Under xdist (make test runs two workers on two cores) every library starts with one thread and waits
# passively: OpenMP threads that spin while the other worker holds the core slowed training up to 10x.
# Set before numpy and torch read them; a config's explicit threads still apply.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _name, _value in (("OMP_NUM_THREADS", "1"), ("MKL_NUM_THREADS", "1"), ("OPENBLAS_NUM_THREADS", "1"),
                          ("OMP_WAIT_POLICY", "PASSIVE")):  # fmt: skip
        os.environ.setdefault(_name, _value)

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of the real sample data (``<repo>/../shared/data``); skips the test when it is absent."""
    if not (SHARED_DATA / "deam-mini").is_dir() or not (SHARED_DATA / "emomusic-mini").is_dir():
        pytest.skip(
            f"real sample data not found at {SHARED_DATA} (expected deam-mini/ and emomusic-mini/ there); "
            "it is kept out of the repository, see its README"
        )
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def librosa_compiled() -> None:
    """Tests call librosa directly too: numba must cache into moodscape's folder, compiled under its lock,
    before any of them does (see moodscape.audio.librosa_env)."""
    from moodscape.audio.librosa_env import load_librosa

    load_librosa()


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, so tests that draw random numbers are repeatable."""
    return np.random.default_rng(0)


def write_tiny_checkpoint(folder: Path, *, kind: str = "student", seconds: float = 2.0) -> Path:
    """A checkpoint folder as training leaves it (weights, config.json, moodscape.json), with an untrained
    tiny student and a small front end (16 kHz, 32 mel bands), for export and prediction tests."""
    import torch

    from moodscape.config import AudioConfig, FeaturesConfig
    from moodscape.models.checkpoint import write_checkpoint
    from moodscape.models.student.mobilevit import StudentRegressor

    torch.manual_seed(0)
    audio = AudioConfig(sample_rate=16000, min_seconds=0.5, short_policy="skip")
    features = FeaturesConfig(n_fft=512, hop_length=256, n_mels=32, fmax=8000.0)
    frames = int(seconds * audio.sample_rate / features.hop_length)
    model = StudentRegressor(n_mels=32, frames=frames, backbone={
        "hidden_sizes": [16, 24, 32], "neck_hidden_sizes": [8, 8, 16, 16, 24, 24, 48],
        "expand_ratio": 2.0, "num_attention_heads": 2}, head_hidden=8).eval()  # fmt: skip
    rng = np.random.default_rng(0)
    meta = {
        "kind": kind, "moodscape_version": "test", "audio": audio.model_dump(mode="json"),
        "features": features.model_dump(mode="json"),
        "normalization": {"mean": (-40 + rng.normal(size=32)).tolist(), "std": (10 + rng.random(32)).tolist(), "songs": 1},
        "window_frames": frames, "eval_hop_frames": frames // 2, "store": str(folder / "no-store"), "config": {},
    }  # fmt: skip
    return write_checkpoint(folder, model, meta=meta)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A run folder whose best/ holds the untrained tiny student of :func:`write_tiny_checkpoint` (16 kHz,
    2 s windows, audio.min_seconds 0.5 with the skip policy)."""
    folder = tmp_path_factory.mktemp("run")
    write_tiny_checkpoint(folder / "best")
    return folder


@pytest.fixture(scope="session")
def exported_tiny(tmp_path_factory) -> tuple[Path, dict]:
    """A :func:`write_tiny_checkpoint` run exported once for the session (ONNX waveform and log-mel, int8,
    TorchScript): the export and predictor tests read the same files."""
    from moodscape.export.run import export_run

    run = tmp_path_factory.mktemp("exported")
    write_tiny_checkpoint(run / "best")
    return run, export_run(run, formats=["onnx", "torchscript"], quantize="int8")


def write_tone(
    path: Path, *, seconds: float, rate: int = 22050, channels: int = 1, seed: int = 0, amplitude: float = 1.0,
    fmt: str | None = None,
) -> Path:
    """A music-like test signal (two tones and a little noise, peak about 0.5 times ``amplitude``; 0 gives
    digital silence) written with soundfile, in ``fmt`` (e.g. "MP3") or the format of the suffix."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 330 * t * (1 + 0.01 * np.sin(t)))
    mono = amplitude * (mono + 0.01 * rng.standard_normal(t.size))
    data = np.stack([mono * (1 - 0.2 * c) for c in range(channels)], axis=1) if channels > 1 else mono
    sf.write(str(path), data.astype(np.float32), rate, format=fmt)
    return path


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory) -> Path:
    """120 generated demo songs of 15 s (seed 5) in DEAM's layout, shared by the end-to-end tests."""
    from moodscape.data.demo import generate_demo_dataset

    root = tmp_path_factory.mktemp("demo") / "data"
    generate_demo_dataset(root, songs=120, seconds=15.0, seed=5, progress=False)
    return root


@pytest.fixture(scope="session")
def small_store(tmp_path_factory) -> tuple[Path, Path, tuple[int, ...]]:
    """12 demo songs of 6 s (seed 1), their feature store built and split by the CLI: (dataset folder,
    store folder, song ids). For tests that run commands on a store; copy it before writing into it."""
    from moodscape.data.demo import generate_demo_dataset

    folder = tmp_path_factory.mktemp("small")
    summary = generate_demo_dataset(folder / "data", songs=12, seconds=6.0, seed=1, workers=1, progress=False)
    built = subprocess.run(moodscape("-q", "features", str(folder / "data"), "--out", str(folder / "features")),
                           check=True, capture_output=True, text=True)  # fmt: skip
    store = Path(built.stdout.strip().splitlines()[-1])
    subprocess.run(moodscape("-q", "split", str(store)), check=True, capture_output=True, text=True)
    return folder / "data", store, summary.song_ids


def moodscape(*args: str) -> list[str]:
    """`moodscape ARGS` as a subprocess command line, with this interpreter."""
    return [sys.executable, "-m", "moodscape.cli", *args]


def demo_cli(*args: str) -> list[str]:
    """`moodscape -q run --config configs/demo.yaml ARGS` as a subprocess command line."""
    return [sys.executable, "-m", "moodscape.cli", "-q", "run", "--config", "configs/demo.yaml", *args]


def demo_settings(demo_root: Path, run: Path, *extra: str) -> list[str]:
    """--set options that point the demo profile at ``demo_root`` and the run folder ``run``."""
    return [x for item in (f"data.root={demo_root}", f"pipeline.out_dir={run}", *extra) for x in ("--set", item)]


def pytest_itemcollected(item):
    """Under xdist (``make test``), the tests that read the session's demo run go to one worker together, so
    the run is made once. (Marked here, before xdist reads the marks; pytest-xdist's groups need pytest 8.)"""
    if "demo_run" in item.fixturenames:
        item.add_marker(pytest.mark.xdist_group("demo_run"))


def pytest_collection_modifyitems(config, items):
    """The demo-run tests first: the longest piece of work starts at once while other workers take the rest."""
    demo = [item for item in items if "demo_run" in item.fixturenames]
    chosen = set(demo)
    items[:] = demo + [item for item in items if item not in chosen]


@pytest.fixture(scope="session")
def demo_run(demo_root, tmp_path_factory) -> Path:
    """The whole demo pipeline (configs/demo.yaml) on :func:`demo_root`, run once for the session: the
    pipeline, teacher, distillation, export and README tests all read this one run."""
    run = tmp_path_factory.mktemp("pipeline") / "run"
    subprocess.run(demo_cli(*demo_settings(demo_root, run)), check=True, capture_output=True, text=True, cwd=REPO)
    return run


def assert_self_contained(html: str) -> None:
    """A report that opens from disk: no attribute loads from the network, no stylesheet or script.

    Attributes are read rather than searching for "http", which can occur by chance in base64 data.
    """
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//)", html)
    assert "<link" not in html and "<script" not in html
