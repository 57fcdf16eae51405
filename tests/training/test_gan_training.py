"""GAN training through the CLI: only training songs reach it, and its generator loads and samples."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf
import torch

from moodscape.cli import main
from moodscape.data.demo import generate_demo_dataset
from moodscape.errors import ConfigError
from moodscape.experiments.ablation import _verdict
from moodscape.features.store import FeatureStore
from moodscape.inference.synthetic import draw_labels
from moodscape.models.gan.generator import Generator

pytestmark = pytest.mark.slow


def test_gan_sees_training_songs_only(tmp_path):
    root = tmp_path / "data"
    generate_demo_dataset(root, songs=24, seconds=8.0, seed=2, progress=False)
    out = tmp_path / "gan"
    options = [f"data.root={root}", f"store.out_dir={tmp_path / 'features'}", f"gan.out_dir={out}",
               "features.n_mels=32", "windows.seconds=2", "gan.preset=tiny", "gan.epochs=2",
               "gan.windows_per_song=2", "gan.batch_size=16", "runtime.threads=1", "gan.aux_weight=0.5",
               "gan.minibatch_std=true", "gan.scale_labels=true"]  # fmt: skip
    assert main(["-q", "gan", "train", *[a for o in options for a in ("--set", o)]]) == 0

    store = next((tmp_path / "features").iterdir())
    splits = json.loads((store / "splits.json").read_text())
    used = set(json.loads((out / "songs.json").read_text())["train_songs"])
    assert used == set(splits["train"])
    assert not used & (set(splits["val"]) | set(splits["test"]))

    with (out / "history.csv").open() as handle:
        history = list(csv.DictReader(handle))
    assert [row["epoch"] for row in history] == ["1", "2"]
    assert all(float(row["d_loss"]) == float(row["d_loss"]) for row in history), "no NaN"
    # The monitor's columns: two epochs of a tiny GAN stay far from the real-vs-real scale.
    assert all(float(row["fd_band"]) > 2 * float(row["fd_band_real"]) > 0 for row in history)
    assert all(-1 <= float(row[f"fidelity_{d}"]) <= 1 for row in history for d in ("valence", "arousal"))
    assert all(float(row["aux_real"]) > 0 and float(row["aux_fake"]) > 0 for row in history)
    generator = Generator.from_pretrained(out / "generator")
    meta = json.loads((out / "generator" / "moodscape.json").read_text())
    windows = generator.sample(torch.tensor([[0.5, -0.5], [-0.8, 0.7]]), generator=torch.Generator().manual_seed(0))
    assert windows.shape == (2, 32, meta["window_frames"]) and torch.isfinite(windows).all()
    assert len(meta["normalization"]["mean"]) == 32

    # Listening: generator output at the preset points and at a chosen one, and a real clip.
    assert main(["-q", "listen", str(tmp_path / "wav"), "--generator", str(out / "generator")]) == 0
    assert len(list((tmp_path / "wav").glob("generated_*.wav"))) == 5
    assert main(["-q", "listen", str(tmp_path / "one"), "--generator", str(out / "generator"), "--point", "0.8,0.7"]) == 0
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["generated_v+0.80_a+0.70.wav"]
    song = splits["test"][0]
    assert main(["-q", "listen", str(tmp_path / "real.wav"), "--store", str(store), "--song", song, "--seconds", "3"]) == 0
    info = sf.info(str(tmp_path / "real.wav"))
    assert info.samplerate == 22050 and abs(info.duration - 3.0) < 0.05
    assert main(["-q", "listen", str(tmp_path / "x.wav"), "--store", str(store)]) == 2

    # Synthetic windows as a feature store, labels from the training songs' distribution or a grid.
    assert main(["-q", "gan", "generate", str(out), "--n", "40", "--seed", "1"]) == 0
    synthetic = FeatureStore(out / "synthetic")
    assert synthetic.settings["synthetic"] and len(synthetic.song_ids) == 40
    assert synthetic.get(synthetic.song_ids[0]).shape == (32, meta["window_frames"])
    labels = synthetic.labels(synthetic.song_ids)
    assert np.abs(labels).max() <= 1.0
    train_labels = FeatureStore(store).labels(splits["train"])
    assert np.abs(labels.mean(axis=0) - train_labels.mean(axis=0)).max() < 0.25
    grid = tmp_path / "grid"
    assert main(["-q", "gan", "generate", str(out), "--n", "5", "--labels", "grid", "--point", "0.5,0.5",
                 "--point=-0.5,-0.5", "--out", str(grid)]) == 0  # fmt: skip
    np.testing.assert_allclose(FeatureStore(grid).labels(FeatureStore(grid).song_ids)[:, 0], [0.5, -0.5, 0.5, -0.5, 0.5])

    # Quality: a teacher trained on the same real windows is the encoder of the Frechet distance.
    teacher = tmp_path / "teacher"
    teacher_options = [*options, f"teacher.out_dir={teacher}", "teacher.epochs=2", "teacher.batch_size=16"]
    assert main(["-q", "train", "--no-evaluate", *[a for o in teacher_options for a in ("--set", o)]]) == 0
    assert main(["-q", "gan", "evaluate", str(out), "--teacher", str(teacher), "--windows", "40",
                 *[a for o in options for a in ("--set", o)]]) == 0  # fmt: skip
    quality = json.loads((out / "evaluation" / "metrics.json").read_text())
    for space in ("frechet_teacher_embedding", "frechet_band_statistics"):  # a 2-epoch GAN is far from real
        assert quality[space]["real_vs_synthetic"] > quality[space]["real_vs_real"] > 0, (space, quality[space])
    assert set(quality["condition_fidelity_ccc"]) == {"valence", "arousal"}
    assert all(-1 <= value <= 1 for value in quality["condition_fidelity_ccc"].values())
    assert "data:image/png;base64," in (out / "evaluation" / "report.html").read_text()

    # Ablation: both arms scored on the same real test songs; synthetic windows only in training.
    ablation = tmp_path / "ablation"
    assert main(["-q", "gan", "ablation", "--ratio", "0.5", "--out", str(ablation),
                 *[a for o in [*teacher_options, "evaluate.bootstrap=50"] for a in ("--set", o)]]) == 0  # fmt: skip
    summary = json.loads((ablation / "ablation.json").read_text())
    assert summary["arms"]["real"]["songs"] == summary["arms"]["real+synthetic"]["songs"] == len(splits["test"])
    for arm in ("real", "real+synthetic"):
        predictions = (ablation / arm / "evaluation" / "test" / "predictions.csv").read_text()
        assert "synthetic-" not in predictions
    report = (ablation / "report.md").read_text()
    for dim in ("valence", "arousal"):
        gain = summary["gain"][dim]
        arms = summary["arms"]
        assert gain["ccc_gain"] == pytest.approx(
            arms["real+synthetic"]["metrics"][dim]["ccc"] - arms["real"]["metrics"][dim]["ccc"], abs=1e-5
        )  # from the rounded predictions.csv, hence the tolerance
        assert gain["ccc_gain_ci95_low"] <= gain["ccc_gain_ci95_high"]
        assert f"{dim.capitalize()}: " in report and "paired interval" in report


@pytest.mark.parametrize("low, high, verdict", [(0.01, 0.2, "helps"), (-0.2, -0.01, "hurts"), (-0.1, 0.1, "no clear"),
                                                 (float("nan"), float("nan"), "no clear")])  # fmt: skip
def test_ablation_verdict_needs_an_interval_clear_of_zero(low, high, verdict):
    assert verdict in _verdict(low, high)


def test_draw_labels_sources():
    rng = np.random.default_rng(0)
    train = np.clip(rng.normal([0.3, -0.2], 0.2, size=(200, 2)), -1, 1)
    kde = draw_labels(train, 2000, source="kde", rng=rng)
    assert np.abs(kde.mean(axis=0) - [0.3, -0.2]).max() < 0.05 and np.abs(kde).max() <= 1
    uniform = draw_labels(train, 2000, source="uniform", rng=rng)
    assert abs(uniform.std(axis=0) - 2 / np.sqrt(12)).max() < 0.05
    with pytest.raises(ConfigError, match="valid: kde, uniform, grid"):
        draw_labels(train, 3, source="other", rng=rng)
    with pytest.raises(ConfigError, match="needs points"):
        draw_labels(train, 3, source="grid", rng=rng)


def test_gan_resume_after_a_crash_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    from moodscape.config import load_config
    from moodscape.training import gan as gan_training

    root = tmp_path / "data"
    generate_demo_dataset(root, songs=16, seconds=6.0, seed=4, progress=False)
    options = [f"data.root={root}", f"store.out_dir={tmp_path / 'features'}", "features.n_mels=32",
               "windows.seconds=2", "gan.preset=tiny", "gan.epochs=3", "gan.windows_per_song=2",
               "gan.batch_size=8", "runtime.threads=1"]  # fmt: skip
    config = load_config(None, options)
    gan_training.train_gan(config, out_dir=tmp_path / "whole", progress=False)

    original = gan_training.GanTrainer.train_epoch

    def crash_in_epoch_two(self, epoch, rng):
        if epoch == 1:
            raise KeyboardInterrupt
        return original(self, epoch, rng)

    monkeypatch.setattr(gan_training.GanTrainer, "train_epoch", crash_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        gan_training.train_gan(config, out_dir=tmp_path / "crashed", progress=False)
    monkeypatch.setattr(gan_training.GanTrainer, "train_epoch", original)
    gan_training.train_gan(config, out_dir=tmp_path / "crashed", resume=True, progress=False)

    from safetensors.torch import load_file

    for part in ("generator", "last/discriminator", "last/ema"):
        a = load_file(str(tmp_path / "whole" / part / "model.safetensors"))
        b = load_file(str(tmp_path / "crashed" / part / "model.safetensors"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), part

    # A checkpoint whose networks were built with other settings (e.g. an older version's defaults) is
    # refused with the settings named, not loaded into a different architecture.
    from moodscape.errors import CheckpointError
    from moodscape.features.prepare import prepare_data

    older = load_config(None, [*options, "gan.latent_film=false"])
    trainer = gan_training.GanTrainer(prepare_data(older, progress=False), older, out_dir=tmp_path / "crashed",
                                      progress=False)  # fmt: skip
    with pytest.raises(CheckpointError, match="latent_film"):
        trainer.fit(resume=True)
