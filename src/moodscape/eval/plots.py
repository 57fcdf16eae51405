"""Evaluation plots as PNG files, drawn with ``matplotlib.figure.Figure`` (no pyplot, no global state).

Each function draws one figure, writes one PNG (creating the parent folder), closes nothing global
and returns the path. Values are on [-1, 1] unless an axis says otherwise; the DEAM 1-9 scale is
shown as a secondary axis where it helps (1-9 = x * 4 + 5). Output is deterministic: the same
input gives the same bytes (no timestamps in the PNG metadata, no random jitter).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..data.quadrants import QUADRANT_NAMES, QUADRANTS, quadrant
from ..data.records import from_unit, to_unit
from ..errors import ParameterError
from ..metrics.regression import ccc

__all__ = [
    "plot_confusion",
    "plot_error_histograms",
    "plot_scatter",
    "plot_training_curves",
    "plot_va_plane",
    "plot_worst_songs",
]

_DPI = 110
_PNG_METADATA = {"Software": None}  # keep the bytes independent of the matplotlib version
_QUADRANT_COLOURS = {1: "#e6a700", 2: "#d1495b", 3: "#3d5a98", 4: "#2e933c"}
_DIM_COLOURS = ("#1f77b4", "#d62728")


def _check_pair(y_true, y_pred, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape or t.ndim != 2 or t.shape[1] != len(names) or t.shape[0] == 0:
        raise ParameterError(
            f"expected two non-empty (N, {len(names)}) arrays with columns {tuple(names)}, got {t.shape} and {p.shape}"
        )
    return t, p


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=_DPI, metadata=_PNG_METADATA)
    return path


def _scale_axis(ax, which: str) -> None:
    """A secondary axis in DEAM's 1-9 units next to a [-1, 1] axis."""
    functions = (lambda x: from_unit(x), lambda x: to_unit(x))
    if which == "x":
        ax.secondary_xaxis("top", functions=functions).set_xlabel("DEAM 1-9 scale")
    else:
        ax.secondary_yaxis("right", functions=functions).set_ylabel("DEAM 1-9 scale")


def _column(history: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    return np.array([float(row[key]) if row.get(key) is not None else np.nan for row in history])


def plot_training_curves(
    history: Sequence[Mapping[str, Any]], path: str | Path, *, title: str = "Training curves"
) -> Path:
    """Loss, validation CCC and learning rate per epoch.

    Args:
        history: one dict per epoch with ``epoch`` and any of ``train_loss``, ``val_loss``,
            ``val_ccc_valence``, ``val_ccc_arousal``, ``val_ccc_mean``, ``lr`` (missing -> gap).
        path: the PNG to write.
    """
    if not history:
        raise ParameterError("history is empty: expected one dict per epoch")
    if any("epoch" not in row for row in history):
        raise ParameterError(f"every history entry needs an 'epoch' key, got keys {sorted(history[0])}")
    epochs = _column(history, "epoch")
    fig = Figure(figsize=(13, 4), layout="constrained")
    ax_loss, ax_ccc, ax_lr = fig.subplots(1, 3)

    for key, label, style in (("train_loss", "train", "-o"), ("val_loss", "validation", "-s")):
        values = _column(history, key)
        if np.isfinite(values).any():
            ax_loss.plot(epochs, values, style, markersize=3, label=label)
    ax_loss.set(title="Loss", xlabel="epoch", ylabel="loss (training objective)")

    for key, label in (("val_ccc_valence", "valence"), ("val_ccc_arousal", "arousal"), ("val_ccc_mean", "mean")):
        values = _column(history, key)
        if np.isfinite(values).any():
            style = "k--" if key == "val_ccc_mean" else "-o"
            ax_ccc.plot(epochs, values, style, markersize=3, label=label)
            if key == "val_ccc_mean":
                best = int(np.nanargmax(values))
                ax_ccc.plot(epochs[best], values[best], "k*", markersize=12, label=f"best (epoch {epochs[best]:g})")
    ax_ccc.set(title="Validation CCC", xlabel="epoch", ylabel="CCC (1 = perfect agreement)")

    lr = _column(history, "lr")
    if np.isfinite(lr).any():
        ax_lr.plot(epochs, lr, "-", color="#555555")
        if np.nanmin(lr) > 0:
            ax_lr.set_yscale("log")
    ax_lr.set(title="Learning rate", xlabel="epoch", ylabel="learning rate")

    for ax in (ax_loss, ax_ccc, ax_lr):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    return _save(fig, path)


def plot_scatter(
    y_true, y_pred, path: str | Path, *, names: Sequence[str] = ("valence", "arousal"), title: str = "True vs predicted"
) -> Path:
    """True (x) vs predicted (y) per dimension, one panel each, with the identity line.

    Args:
        y_true, y_pred: (N, D) arrays on [-1, 1], columns in ``names`` order.
    """
    t, p = _check_pair(y_true, y_pred, names)
    fig = Figure(figsize=(5.2 * len(names), 5.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    lim = max(1.0, float(np.abs(np.concatenate([t.ravel(), p.ravel()])).max()) * 1.05)
    for j, (ax, name) in enumerate(zip(axes, names)):
        ax.plot([-lim, lim], [-lim, lim], "--", color="#888888", linewidth=1, label="identity (perfect)")
        ax.scatter(t[:, j], p[:, j], s=14, alpha=0.6, color=_DIM_COLOURS[j % 2], edgecolors="none", label="song")
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", title=f"{name}: CCC {ccc(t[:, j], p[:, j]):.3f}",
               xlabel=f"true {name} [-1, 1]", ylabel=f"predicted {name} [-1, 1]")  # fmt: skip
        _scale_axis(ax, "x")
        _scale_axis(ax, "y")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(title)
    return _save(fig, path)


def plot_error_histograms(
    y_true, y_pred, path: str | Path, *, names: Sequence[str] = ("valence", "arousal"), bins: int = 30,
    title: str = "Prediction errors",
) -> Path:  # fmt: skip
    """Histogram of signed errors (predicted - true) per dimension, with zero and the mean marked."""
    t, p = _check_pair(y_true, y_pred, names)
    err = p - t
    fig = Figure(figsize=(5.2 * len(names), 4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    span = max(0.1, float(np.abs(err).max()) * 1.05)
    edges = np.linspace(-span, span, bins + 1)
    for j, (ax, name) in enumerate(zip(axes, names)):
        ax.hist(err[:, j], bins=edges, color=_DIM_COLOURS[j % 2], alpha=0.8)
        ax.axvline(0.0, color="black", linewidth=1, label="no error")
        mean = float(err[:, j].mean())
        ax.axvline(mean, color="#888888", linestyle="--", linewidth=1, label=f"mean {mean:+.3f}")
        mae = float(np.abs(err[:, j]).mean())
        ax.set(title=f"{name}: MAE {mae:.3f} on [-1, 1] ({4 * mae:.2f} on 1-9)",
               xlabel=f"predicted - true {name} (units of [-1, 1]; x4 for 1-9)", ylabel="songs")  # fmt: skip
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return _save(fig, path)


def plot_va_plane(
    y_true,
    y_pred,
    path: str | Path,
    *,
    threshold: float = 0.0,
    max_arrows: int = 300,
    title: str = "Valence-arousal plane: true -> predicted",
) -> Path:
    """Each song's true (dot) and predicted (arrow head) position on the valence-arousal plane.

    Dots are coloured by true quadrant; quadrant lines sit at ``threshold``. With more than
    ``max_arrows`` songs, arrows are drawn for the ``max_arrows`` largest errors only (said in the title).

    Args:
        y_true, y_pred: (N, 2) arrays (valence, arousal) on [-1, 1].
    """
    t, p = _check_pair(y_true, y_pred, ("valence", "arousal"))
    tq = quadrant(t[:, 0], t[:, 1], threshold=threshold)
    dist = np.hypot(*(p - t).T)
    arrows = np.argsort(-dist, kind="stable")[:max_arrows] if len(t) > max_arrows else np.arange(len(t))
    fig = Figure(figsize=(7.5, 7.5), layout="constrained")
    ax = fig.subplots()
    lim = max(1.0, float(np.abs(np.concatenate([t.ravel(), p.ravel()])).max()) * 1.05)
    ax.axvline(threshold, color="#444444", linewidth=1)
    ax.axhline(threshold, color="#444444", linewidth=1)
    d = p[arrows] - t[arrows]
    ax.quiver(t[arrows, 0], t[arrows, 1], d[:, 0], d[:, 1], angles="xy", scale_units="xy", scale=1,
              width=0.003, color="#777777", alpha=0.6)  # fmt: skip
    for q in QUADRANTS:
        members = tq == q
        if members.any():
            ax.scatter(t[members, 0], t[members, 1], s=16, color=_QUADRANT_COLOURS[q], zorder=3,
                       label=f"Q{q} {QUADRANT_NAMES[q]} (true, {int(members.sum())})")  # fmt: skip
    corners = {1: (1, 1), 2: (-1, 1), 3: (-1, -1), 4: (1, -1)}
    for q, (sx, sy) in corners.items():
        ax.text(sx * lim * 0.97, sy * lim * 0.97, f"Q{q}\n{QUADRANT_NAMES[q]}", ha="right" if sx > 0 else "left",
                va="top" if sy > 0 else "bottom", fontsize=10, color=_QUADRANT_COLOURS[q], weight="bold")  # fmt: skip
    shown = "" if len(arrows) == len(t) else f"\n(arrows for the {len(arrows)} largest of {len(t)} errors)"
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", title=title + shown,
           xlabel="valence [-1, 1] (negative -> positive)", ylabel="arousal [-1, 1] (calm -> energetic)")  # fmt: skip
    _scale_axis(ax, "x")
    _scale_axis(ax, "y")
    ax.grid(alpha=0.2)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, title="true position (dots)")
    return _save(fig, path)


def plot_confusion(
    confusion, path: str | Path, *, names: Mapping[int, str] | None = None, title: str = "Quadrant confusion"
) -> Path:
    """Two heat maps of a 4 x 4 quadrant confusion matrix: counts and row-normalised, annotated.

    Args:
        confusion: (4, 4) counts, rows = true Q1..Q4, columns = predicted Q1..Q4. Rows with no
            songs show "n/a" in the normalised panel.
    """
    counts = np.asarray(confusion, dtype=np.float64)
    if counts.shape != (4, 4) or (counts < 0).any():
        raise ParameterError(f"expected a (4, 4) matrix of non-negative counts, got shape {counts.shape}")
    names = dict(QUADRANT_NAMES if names is None else names)
    support = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(support > 0, counts / np.maximum(support, 1), np.nan)
    labels = [f"Q{q}\n{names[q]}" for q in QUADRANTS]
    fig = Figure(figsize=(12, 5.2), layout="constrained")
    ax_counts, ax_rates = fig.subplots(1, 2)
    panels = (
        (ax_counts, counts, "counts (songs)", "Blues"),
        (ax_rates, rates, "row-normalised (recall per true quadrant)", "Greens"),
    )
    for ax, values, subtitle, cmap in panels:
        vmax = max(1.0, float(np.nanmax(values))) if np.isfinite(values).any() else 1.0
        image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0.0, vmax=vmax)
        fig.colorbar(image, ax=ax, shrink=0.8)
        for i in range(4):
            for j in range(4):
                v = values[i, j]
                if values is counts:
                    text = f"{int(v)}"
                else:
                    text = "n/a" if math.isnan(v) else f"{v:.0%}"
                dark = not math.isnan(v) and v > 0.6 * vmax
                ax.text(j, i, text, ha="center", va="center", color="white" if dark else "black", fontsize=11)
        ax.set_xticks(range(4), labels, fontsize=8)
        ax.set_yticks(range(4), labels, fontsize=8)
        ax.set(title=subtitle, xlabel="predicted quadrant", ylabel="true quadrant")
    fig.suptitle(f"{title} (N = {int(counts.sum())})")
    return _save(fig, path)


def plot_worst_songs(
    song_ids: Sequence[str],
    abs_errors,
    path: str | Path,
    *,
    names: Sequence[str] = ("valence", "arousal"),
    title: str = "Songs with the largest errors",
    max_label: int = 32,
) -> Path:
    """Horizontal bars of each song's absolute error per dimension, first row at the top.

    Args:
        song_ids: K song ids, already ordered worst first (see ``scoring.worst_songs``).
        abs_errors: (K, D) absolute errors on [-1, 1], columns in ``names`` order.
    """
    err = np.asarray(abs_errors, dtype=np.float64)
    ids = [str(s) for s in song_ids]
    if err.ndim != 2 or err.shape != (len(ids), len(names)):
        raise ParameterError(f"expected abs_errors of shape ({len(ids)}, {len(names)}), got {err.shape}")
    k = len(ids)
    fig = Figure(figsize=(9, 1.2 + 0.45 * max(k, 1)), layout="constrained")
    ax = fig.subplots()
    if k == 0:
        ax.text(0.5, 0.5, "no songs", ha="center", va="center", transform=ax.transAxes)
    height = 0.8 / len(names)
    y = np.arange(k)
    for j, name in enumerate(names):
        offset = (j - (len(names) - 1) / 2) * height
        ax.barh(y + offset, err[:, j], height=height, color=_DIM_COLOURS[j % 2], label=f"|error| {name}")
    labels = [s if len(s) <= max_label else s[: max_label - 1] + "\u2026" for s in ids]
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set(title=title, xlabel="absolute error on [-1, 1] (x4 for the 1-9 scale)", ylabel="song id")
    ax.grid(axis="x", alpha=0.3)
    if k:
        ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def plot_trajectory(times, valence, arousal, path: str | Path, *, title: str = "") -> Path:
    """A song's path over time on the valence-arousal plane: points coloured by time, the song mean as a star."""
    t, v, a = (np.asarray(x, dtype=np.float64) for x in (times, valence, arousal))
    fig = Figure(figsize=(6.5, 6.5), layout="constrained")
    ax = fig.subplots()
    ax.axvline(0.0, color="#444444", linewidth=1)
    ax.axhline(0.0, color="#444444", linewidth=1)
    ax.plot(v, a, color="#999999", linewidth=1, zorder=2)
    points = ax.scatter(v, a, c=t, cmap="viridis", s=24, zorder=3)
    ax.scatter([v.mean()], [a.mean()], marker="*", s=260, color="#d62728", zorder=4, label="song mean")
    for q, (sx, sy) in {1: (1, 1), 2: (-1, 1), 3: (-1, -1), 4: (1, -1)}.items():
        ax.text(sx * 0.97, sy * 0.97, f"Q{q}\n{QUADRANT_NAMES[q]}", ha="right" if sx > 0 else "left",
                va="top" if sy > 0 else "bottom", fontsize=9, color=_QUADRANT_COLOURS[q], weight="bold")  # fmt: skip
    fig.colorbar(points, ax=ax, label="time (s)", shrink=0.8)
    ax.set(xlim=(-1, 1), ylim=(-1, 1), aspect="equal", title=title, xlabel="valence (negative -> positive)",
           ylabel="arousal (calm -> energetic)")  # fmt: skip
    ax.grid(alpha=0.2)
    ax.legend(loc="lower center", fontsize=8)
    return _save(fig, path)


def plot_prediction(result, path: str | Path) -> Path:
    """:func:`plot_trajectory` of one ``moodscape predict`` result (it needs its timeline), titled by file and mood."""
    points = result.timeline
    return plot_trajectory([p["time"] for p in points], [p["valence"] for p in points], [p["arousal"] for p in points],
                           path, title=f"{Path(result.path).name}: {result.mood}")  # fmt: skip
