"""Plots, reports and evaluate_predictions: valid PNGs, self-contained HTML, outputs that match direct computation."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from moodscape.config import EvaluateConfig
from moodscape.eval import plots
from moodscape.eval.evaluation import evaluate_predictions
from moodscape.eval.quadrant_analysis import analyse_quadrants
from moodscape.eval.report import Bullets, Image, Raw, Section, Table, Text, format_value, write_report
from moodscape.eval.scoring import worst_songs
from moodscape.metrics import regression as M
from moodscape.metrics.intervals import bootstrap_interval
from moodscape.models.serialization import to_jsonable

from ..conftest import assert_self_contained

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLOT_NAMES = ("training_curves", "scatter", "errors", "va_plane", "confusion", "worst_songs")


def _is_png(path) -> bool:
    data = path.read_bytes()
    return len(data) > 1000 and data.startswith(PNG_MAGIC)


def _history(epochs: int = 4) -> list[dict]:
    return [
        {"epoch": e, "train_loss": 1.0 / (e + 1), "val_loss": 1.1 / (e + 1), "val_ccc_valence": 0.1 * e,
         "val_ccc_arousal": 0.15 * e, "val_ccc_mean": 0.125 * e, "lr": 1e-3 * 0.5**e}
        for e in range(1, epochs + 1)
    ]  # fmt: skip


@pytest.fixture
def songs(rng):
    """40 songs: ids, truth on [-1, 1] and moderately good predictions."""
    truth = np.clip(rng.normal(0, 0.45, (40, 2)), -1, 1)
    pred = np.clip(0.7 * truth + rng.normal(0, 0.2, (40, 2)), -1, 1)
    return [f"song<{i}>_x" for i in range(40)], truth, pred


# ------------------------------------------------------------------------------------------ plots


def test_every_plot_writes_a_valid_deterministic_png(tmp_path, songs):
    ids, t, p = songs
    conf = analyse_quadrants(t, p).confusion
    worst = worst_songs(ids, t, p, k=5)
    abs_err = np.array([[r["valence_abs_error"], r["arousal_abs_error"]] for r in worst])
    calls = {
        "training_curves": lambda path: plots.plot_training_curves(_history(), path),
        "scatter": lambda path: plots.plot_scatter(t, p, path),
        "errors": lambda path: plots.plot_error_histograms(t, p, path),
        "va_plane": lambda path: plots.plot_va_plane(t, p, path, threshold=0.1, max_arrows=10),
        "confusion": lambda path: plots.plot_confusion(conf, path),
        "worst_songs": lambda path: plots.plot_worst_songs([r["song_id"] for r in worst], abs_err, path),
    }
    for name, draw in calls.items():
        first = draw(tmp_path / "a" / f"{name}.png")
        second = draw(tmp_path / "b" / f"{name}.png")
        assert first == tmp_path / "a" / f"{name}.png" and _is_png(first), name
        assert first.read_bytes() == second.read_bytes(), f"{name} is not deterministic"


def test_plots_handle_sparse_input(tmp_path):
    # Absent quadrants (NaN rows in the normalised panel), history with gaps, no worst songs.
    conf = np.zeros((4, 4), dtype=int)
    conf[0, 0] = 3
    assert _is_png(plots.plot_confusion(conf, tmp_path / "c.png"))
    history = [{"epoch": 1, "train_loss": 0.9}, {"epoch": 2, "train_loss": 0.7, "val_ccc_mean": None}]
    assert _is_png(plots.plot_training_curves(history, tmp_path / "h.png"))
    assert _is_png(plots.plot_worst_songs([], np.zeros((0, 2)), tmp_path / "w.png"))
    assert _is_png(plots.plot_va_plane([[0.0, 0.0]], [[0.2, -0.1]], tmp_path / "v.png"))


def test_plots_reject_bad_input(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        plots.plot_training_curves([], tmp_path / "x.png")
    with pytest.raises(ValueError, match="'epoch'"):
        plots.plot_training_curves([{"train_loss": 1.0}], tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plots.plot_scatter(np.zeros((3, 2)), np.zeros((3, 1)), tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        plots.plot_confusion(np.zeros((3, 3)), tmp_path / "x.png")


def test_plots_leave_pyplot_alone(tmp_path):
    code = (
        "import sys, numpy as np; from moodscape.eval import plots; "
        f"plots.plot_scatter(np.zeros((3, 2)), np.ones((3, 2)) * 0.1, {str(tmp_path / 's.png')!r}); "
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ----------------------------------------------------------------------------------------- report


def test_write_report_is_self_contained_and_escaped(tmp_path, songs):
    _, t, p = songs
    image = plots.plot_scatter(t, p, tmp_path / "plots" / "scatter.png")
    row = {"song": "<script>x</script>", "ccc": 0.51234, "ci": (0.4, 0.6), "n": 3, "missing": float("nan")}
    sections = [
        Section("Summary <b>", [Text("a < b & c"), Bullets(["one", "<two>"])]),
        Section("Table", [Table([row], caption="a|b")]),
        Section("Plot", [Image(image, "True vs predicted")]),
        Section("Extra", [Raw(html_text="<p class='x'>raw</p>", markdown_text="**raw**")]),
    ]
    html_path, md_path = write_report(tmp_path, title="Run <1>", sections=sections)
    html = html_path.read_text(encoding="utf-8")
    md = md_path.read_text(encoding="utf-8")
    assert (html_path.name, md_path.name) == ("report.html", "report.md")
    assert html.count("data:image/png;base64,") == 1
    assert_self_contained(html)
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "Run &lt;1&gt;" in html and "a &lt; b &amp; c" in html
    assert "<td>0.512</td>" in html and "<td>[0.400, 0.600]</td>" in html and "<td>n/a</td>" in html
    assert "<p class='x'>raw</p>" in html
    assert "](plots/scatter.png)" in md and "base64" not in md
    assert "\\<script\\>" in md and "a\\|b" in md and "**raw**" in md
    assert md.startswith("# Run \\<1\\>")


@pytest.mark.parametrize(
    "text, escaped",
    [("deam_11", "deam_11"), ("_x_", "\\_x\\_"), ("[a](http://x)", "[a\\](http://x)"), ("x * 4", "x \\* 4"),
     ("a|b", "a\\|b"), ("<b>", "\\<b\\>"), ("# h", "\\# h"), ("on [-1, 1]", "on [-1, 1]")],
)  # fmt: skip
def test_markdown_text_is_escaped_but_readable(tmp_path, text, escaped):
    _, md_path = write_report(tmp_path, title="t", sections=[Section("s", [Text(text)])])
    assert f"\n{escaped}\n" in md_path.read_text(encoding="utf-8")


def test_markdown_images_are_relative_to_the_report(tmp_path, songs):
    _, t, p = songs
    image = plots.plot_scatter(t, p, tmp_path / "shared plots" / "s (1).png")
    _, md_path = write_report(tmp_path / "run", title="x", sections=[Section("s", [Image(image)])])
    assert "](../shared%20plots/s%20%281%29.png)" in md_path.read_text(encoding="utf-8")


def test_missing_image_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        write_report(tmp_path, title="x", sections=[Section("s", [Image(tmp_path / "nope.png")])])


@pytest.mark.parametrize(
    "value, text",
    [(None, "n/a"), (float("nan"), "n/a"), (True, "yes"), (3, "3"), (np.int64(4), "4"), (0.12345, "0.123"),
     (np.float32(0.5), "0.500"), ((0.1, 0.2), "[0.100, 0.200]"), (["a", "b", "c"], "a, b, c"), ("<x>", "<x>")],
)  # fmt: skip
def test_format_value(value, text):
    assert format_value(value) == text


# ------------------------------------------------------------------------------------ evaluation


def test_evaluate_predictions_writes_everything(tmp_path, songs):
    ids, t, p = songs
    config = EvaluateConfig(bootstrap=200, worst_songs=5, quadrant_threshold=0.0)
    floor = M.regression_metrics(t, 0.3 * t, names=("valence", "arousal"))
    other = M.regression_metrics(t, 0.3 * t + 0.2, names=("valence", "arousal"))
    result = evaluate_predictions(ids, t, p, split="test", config=config, out_dir=tmp_path, history=_history(),
                                  floors={"ridge floor": 0.3 * t, "descriptor floor": 0.3 * t + 0.2},
                                  model="vit tiny", data="deam",
                                  songs_per_split={"train": 100, "val": 20, "test": 40}, seed=7)  # fmt: skip

    for name in ("metrics.json", "predictions.csv", "history.csv", "report.html", "report.md"):
        assert (tmp_path / name).is_file(), name
    for name in PLOT_NAMES:
        assert _is_png(tmp_path / "plots" / f"{name}.png"), name

    stored = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert stored == result
    assert stored["split"] == "test" and stored["songs"] == 40
    for j, dim in enumerate(("valence", "arousal")):
        m = stored["metrics"][dim]
        for name in M.METRIC_NAMES:
            assert m[name] == pytest.approx(getattr(M, name)(t[:, j], p[:, j])), (dim, name)
        assert m["mse_1_9"] == pytest.approx(16 * m["mse"])
        assert m["mae_1_9"] == pytest.approx(4 * m["mae"])
        assert m["rmse_1_9"] == pytest.approx(4 * m["rmse"])
        low, high = bootstrap_interval(t[:, j], p[:, j], M.ccc, n=200, seed=7)
        assert (m["ccc_ci95_low"], m["ccc_ci95_high"]) == pytest.approx((low, high))
        strongest = max(floor[dim]["ccc"], other[dim]["ccc"])
        assert stored["floor"]["comparison"][dim]["beats_floor"] == (m["ccc"] > strongest)
        assert stored["floor"]["floors"]["descriptor floor"]["metrics"][dim]["ccc"] == pytest.approx(other[dim]["ccc"])
    assert stored["floor"]["floors"]["ridge floor"]["quadrants"]["macro_f1"] == pytest.approx(
        analyse_quadrants(t, 0.3 * t).macro_f1)
    assert stored["ccc_mean"] == pytest.approx(
        (stored["metrics"]["valence"]["ccc"] + stored["metrics"]["arousal"]["ccc"]) / 2
    )
    quads = analyse_quadrants(t, p)
    assert stored["quadrants"]["confusion"] == quads.confusion.tolist()
    assert stored["quadrants"]["accuracy"] == pytest.approx(quads.accuracy)
    assert stored["quadrants"]["macro_f1"] == pytest.approx(quads.macro_f1)
    assert [r["song_id"] for r in stored["worst_songs"]] == [r["song_id"] for r in worst_songs(ids, t, p, k=5)]

    with (tmp_path / "predictions.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["song_id"] for r in rows] == ids
    for row, tv, pv, tq, pq in zip(rows, t, p, quads.true_quadrants, quads.predicted_quadrants):
        assert row["split"] == "test"
        assert float(row["valence"]) == pytest.approx(tv[0], abs=1e-6)
        assert float(row["arousal_pred"]) == pytest.approx(pv[1], abs=1e-6)
        assert float(row["valence_abs_error"]) == pytest.approx(abs(pv[0] - tv[0]), abs=1e-6)
        assert (int(row["quadrant"]), int(row["quadrant_pred"])) == (tq, pq)

    with (tmp_path / "history.csv").open(newline="", encoding="utf-8") as handle:
        history_rows = list(csv.DictReader(handle))
    assert list(history_rows[0]) == ["epoch", "train_loss", "val_loss", "val_ccc_valence", "val_ccc_arousal",
                                     "val_ccc_mean", "lr"]  # fmt: skip
    assert len(history_rows) == 4 and float(history_rows[-1]["lr"]) == pytest.approx(1e-3 / 16)

    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == len(PLOT_NAMES)
    assert_self_contained(html)
    for name in PLOT_NAMES:
        assert f"](plots/{name}.png)" in md, name
    assert "song&lt;" in html  # song ids are escaped
    assert "the ridge floor (CCC" in html and "vit tiny" in html and "songs in train" in html
    assert "descriptor floor" in html and "Quadrants, same songs" in html
    for text in ("CCC 95% CI", "MSE (1-9)", "macro-F1", "Q1 happy/excited"):
        assert text in html and text in md.replace("\\", ""), text


def test_evaluate_predictions_json_safe_switches_and_a_losing_model(tmp_path, songs):
    ids, t, p = songs
    p = p.copy()
    p[:, 1] = 0.25  # constant arousal prediction: Pearson undefined (NaN -> null), CCC 0
    floor = np.stack([t[:, 0], -t[:, 1]], axis=1)  # perfect on valence, reversed on arousal
    config = EvaluateConfig(bootstrap=0, worst_songs=0)
    (tmp_path / "run" / "plots").mkdir(parents=True)
    (tmp_path / "run" / "plots" / "worst_songs.png").write_bytes(PNG_MAGIC)  # left by an earlier run
    (tmp_path / "run" / "history.csv").write_text("epoch\n1\n")
    result = evaluate_predictions(ids, t, p, split="val", config=config, out_dir=tmp_path / "run",
                                  floors={"ridge floor": floor})  # fmt: skip
    text = (tmp_path / "run" / "metrics.json").read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    arousal = result["metrics"]["arousal"]
    assert arousal["pearson"] is None and arousal["ccc"] == 0.0
    assert arousal["ccc_ci95_low"] is None and arousal["ccc_ci95_high"] is None
    assert result["worst_songs"] == [] and result["files"]["history"] is None
    assert not (tmp_path / "run" / "history.csv").exists()
    assert not (tmp_path / "run" / "plots" / "worst_songs.png").exists()
    assert not (tmp_path / "run" / "plots" / "training_curves.png").exists()
    comparison = result["floor"]["comparison"]
    assert comparison["valence"]["beats_floor"] is False and comparison["arousal"]["beats_floor"] is True
    assert comparison["arousal"]["floor_below_interval"] is None  # no interval with bootstrap off
    html = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 4
    assert "Valence: the model does not beat the ridge floor (CCC" in html
    assert "Arousal: the model beats the ridge floor (CCC 0.000 vs -0." in html
    assert "CCC intervals: off" in html and "Largest errors" not in html


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda ids, t, p: (ids, t * 4 + 5, p), "to_unit"),
        (lambda ids, t, p: (ids[:-1], t, p), "song ids for"),
        (lambda ids, t, p: (["same"] * len(ids), t, p), "unique"),
        (lambda ids, t, p: (ids, t, p[:, :1]), r"\(N, 2\)"),
        (lambda ids, t, p: (ids, t, np.where(np.arange(len(t))[:, None] == 3, np.nan, p)), "song<3>_x"),
        (lambda ids, t, p: ([], t[:0], p[:0]), "no songs"),
    ],
)
def test_evaluate_predictions_bad_input(tmp_path, songs, change, message):
    ids, t, p = change(*songs)
    with pytest.raises(ValueError, match=message):
        evaluate_predictions(ids, t, p, split="test", config=EvaluateConfig(bootstrap=0), out_dir=tmp_path)


def test_floor_predictions_must_match_the_songs(tmp_path, songs):
    ids, t, p = songs
    with pytest.raises(ValueError, match="floor 'ridge floor': predictions of shape"):
        evaluate_predictions(ids, t, p, split="test", config=EvaluateConfig(bootstrap=0), out_dir=tmp_path,
                             floors={"ridge floor": t[:, :1]})  # fmt: skip


def test_to_jsonable():
    value = {1: (np.float32(1.5), float("nan"), np.int64(2)), "a": np.array([np.inf, 0.0]), "b": np.bool_(True)}
    assert to_jsonable(value) == {"1": [1.5, None, 2], "a": [None, 0.0], "b": True}
    assert json.dumps(to_jsonable(value), allow_nan=False)
    assert math.isnan(float("nan"))  # the input is left untouched
    assert np.isinf(value["a"][0])
