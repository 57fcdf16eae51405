"""How good is the GAN? Frechet distances in two embedding spaces with a real-vs-real scale,
condition fidelity, band-profile correlation, and pictures: spectrograms per quadrant, losses,
label distributions. Written to ``GAN_RUN/evaluation/`` with a self-contained report.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from ..config import load_config
from ..data.quadrants import QUADRANT_NAMES, QUADRANTS, quadrant
from ..errors import CheckpointError
from ..eval.report import Image, Section, Table, Text, write_report
from ..features.prepare import split_store
from ..features.store import FeatureStore
from ..features.windows import SongFeatures
from ..files import write_json
from ..inference.synthetic import generate_synthetic_store
from ..metrics.gan_quality import (
    band_profile_correlation,
    band_statistics_embedding,
    condition_fidelity,
    diversity_ratio,
    matched_distances,
)
from ..models.checkpoint import read_meta
from ..models.gan.generator import Generator
from ..models.loading import REGRESSORS, load_model
from ..models.serialization import to_jsonable

log = logging.getLogger(__name__)


@torch.inference_mode()
def _embed_and_predict(model, windows: np.ndarray, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    model.eval()
    embeddings, predictions = [], []
    for first in range(0, len(windows), batch):
        x = torch.from_numpy(windows[first : first + batch])
        e = model.embed(x)
        embeddings.append(e.numpy())
        predictions.append(model.regress(e).numpy())
    return np.concatenate(embeddings), np.concatenate(predictions)


def evaluate_gan(gan_dir: str | Path, *, teacher_dir: str | Path, windows: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Compare ``windows`` real training windows with as many generated ones; returns metrics.json's content.

    ``teacher_dir`` is a teacher run trained on real songs only: its pooled embedding is the encoder
    of the Frechet distance (the FID idea with our own model) and its predictions give condition fidelity.
    """
    gan_dir = Path(gan_dir)
    meta = read_meta(gan_dir / "generator")
    teacher_meta = read_meta(Path(teacher_dir) / "best")
    frames = meta["window_frames"]
    if teacher_meta["window_frames"] != frames or teacher_meta["features"] != meta["features"]:
        raise CheckpointError(
            f"{teacher_dir} was trained on other windows or features than {gan_dir} "
            f"({teacher_meta['window_frames']} vs {frames} frames); use a teacher trained with the same config"
        )
    config = load_config(gan_dir / "config.yaml")
    prepared = split_store(FeatureStore(meta["store"]), config)
    store, stats = prepared.store, prepared.normalization
    rng = np.random.default_rng(seed)
    songs = SongFeatures(store, prepared.splits.train, normalization=stats, mode=store.features.normalization)
    per_song = max(1, -(-windows // len(songs)))
    real, real_labels = [], []
    for batch in songs.random_batches(rng, frames=frames, windows_per_song=per_song, batch_size=256):
        real.append(batch.inputs)
        real_labels.append(batch.targets)
    real_x, real_y = np.concatenate(real)[:windows], np.concatenate(real_labels)[:windows]

    synthetic_dir = gan_dir / "evaluation" / "synthetic"
    generate_synthetic_store(gan_dir, synthetic_dir, n=len(real_x), labels="kde", seed=seed, progress=False)
    synthetic = FeatureStore(synthetic_dir)
    synth_ids = synthetic.song_ids
    synth_x = np.stack([stats.apply(np.asarray(synthetic.get(i), dtype=np.float32)) for i in synth_ids])
    synth_y = synthetic.labels(synth_ids).astype(np.float32)

    teacher = load_model(Path(teacher_dir) / "best", expect=REGRESSORS)
    real_e, _ = _embed_and_predict(teacher, real_x)
    synth_e, synth_pred = _embed_and_predict(teacher, synth_x)
    real_b, synth_b = band_statistics_embedding(real_x), band_statistics_embedding(synth_x)
    out = gan_dir / "evaluation"
    metrics = {
        "windows": len(real_x),
        "frechet_teacher_embedding": matched_distances(real_e, synth_e, seed=seed),
        "frechet_band_statistics": matched_distances(real_b, synth_b, seed=seed),
        "condition_fidelity_ccc": condition_fidelity(synth_y, synth_pred),
        "band_profile_correlation": band_profile_correlation(real_x, synth_x),
        "diversity_ratio": diversity_ratio(real_b, synth_b),
    }  # fmt: skip
    generator = load_model(gan_dir / "generator", expect=(Generator,))
    plots = _plots(out / "plots", real_x, real_y, synth_y, generator, gan_dir / "history.csv", seed=seed)
    write_json(out / "metrics.json", to_jsonable(metrics))
    _report(out, metrics, plots)
    log.info("GAN evaluation written to %s", out)
    return to_jsonable(metrics)


def _plots(
    folder: Path, real_x, real_y, synth_y, generator: Generator, history_path: Path, *, seed: int
) -> dict[str, Path]:
    """Spectrograms (one real window per quadrant beside one generated at exactly its label), label
    distributions and losses.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    real_q = quadrant(real_y[:, 0], real_y[:, 1])
    fig = Figure(figsize=(10, 10))
    axes = fig.subplots(4, 2, squeeze=False)
    torch_rng = torch.Generator().manual_seed(seed)
    for row, q in enumerate(QUADRANTS):
        picked = np.flatnonzero(real_q == q)
        pair = (None, None)
        if picked.size:
            label = real_y[picked[0]]
            generated = generator.sample(torch.from_numpy(label[None]), generator=torch_rng)[0].numpy()
            pair = (real_x[picked[0]], generated)
        for col, (name, window) in enumerate(zip(("real", "generated at the same label"), pair)):
            ax = axes[row][col]
            if window is not None:
                ax.imshow(window, origin="lower", aspect="auto", cmap="magma", vmin=-3, vmax=3)
                name += f" (v {label[0]:+.2f}, a {label[1]:+.2f})"
            ax.set_title(f"Q{q} {QUADRANT_NAMES[q]}: {name}" + ("" if window is not None else ": no real window"),
                         fontsize=9)  # fmt: skip
            ax.set_xlabel("frame")
            ax.set_ylabel("mel band (normalised)")
    fig.tight_layout()
    paths["spectrograms"] = folder / "spectrograms.png"
    fig.savefig(paths["spectrograms"], dpi=80)

    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    ax.scatter(real_y[:, 0], real_y[:, 1], s=6, alpha=0.4, label="real training windows")
    ax.scatter(synth_y[:, 0], synth_y[:, 1], s=6, alpha=0.4, label="generated (KDE labels)")
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    ax.set_xlabel("valence [-1, 1]")
    ax.set_ylabel("arousal [-1, 1]")
    ax.set_title("Label distributions")
    ax.legend(fontsize=8)
    paths["labels"] = folder / "labels.png"
    fig.savefig(paths["labels"], dpi=80)

    if history_path.exists():
        with history_path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        # A run resumed across versions may have rows without the monitor's columns: plot those that have them.
        watched = [r for r in rows if r.get("fd_band") not in (None, "")]
        fig = Figure(figsize=(12 if watched else 6, 4))
        axes = fig.subplots(1, 2 if watched else 1, squeeze=False)[0]
        epochs = [int(r["epoch"]) for r in rows]
        for key in ("d_loss", "g_loss"):
            axes[0].plot(epochs, [float(r[key]) for r in rows], marker="o", label=key)
        axes[0].set_xlabel("epoch")
        axes[0].set_ylabel("loss")
        axes[0].set_title("GAN losses")
        axes[0].legend()
        if watched:
            ax = axes[1]
            watched_epochs = [int(r["epoch"]) for r in watched]
            ax.plot(watched_epochs, [float(r["fd_band"]) for r in watched], marker="o", label="generated vs real")
            ax.plot(watched_epochs, [float(r["fd_band_real"]) for r in watched], ls="--", color="grey",
                    label="real vs real (scale)")  # fmt: skip
            ax.set_yscale("log")
            ax.set_xlabel("epoch")
            ax.set_ylabel("Frechet distance (band statistics)")
            ax.set_title("Is the generator learning? (EMA generator, fixed latents)")
            ax.legend(fontsize=8)
        fig.tight_layout()
        paths["losses"] = folder / "losses.png"
        fig.savefig(paths["losses"], dpi=80)
    return paths


def _report(out: Path, metrics: dict, plots: dict[str, Path]) -> None:
    rows = [
        {"space": "teacher embedding (FID idea)", **metrics["frechet_teacher_embedding"]},
        {"space": "per-band log-mel statistics", **metrics["frechet_band_statistics"]},
    ]
    fidelity = metrics["condition_fidelity_ccc"]
    profile = metrics["band_profile_correlation"]
    sections = [
        Section("Frechet distances", [
            Text(f"{metrics['windows']} real training windows against as many generated ones. The real-vs-real "
                 "distance, between two disjoint halves of the real windows, gives the scale: a generator is good "
                 "when its distance approaches it."),
            Table(rows, columns=[("space", "embedding space"), ("real_vs_synthetic", "real vs synthetic"),
                                 ("real_vs_real", "real vs real (scale)")]),
        ]),
        Section("Condition fidelity and spectra", [
            Text(f"The real-data teacher's predictions on generated windows against the labels they were generated "
                 f"for: CCC valence {fidelity['valence']:.3f}, arousal {fidelity['arousal']:.3f}. Correlation of the "
                 f"per-band mean profile {profile['mean_profile']:.3f}, of the per-band std profile "
                 f"{profile['std_profile']:.3f}. Diversity (spread of band levels across generated windows relative to "
                 f"real ones; near 0 means the generator makes every window alike): "
                 f"{metrics['diversity_ratio']:.2f}."),
        ]),
        Section("Pictures", [Image(path, caption=name) for name, path in plots.items()]),
    ]  # fmt: skip
    write_report(out, title="moodscape GAN evaluation", sections=sections)
