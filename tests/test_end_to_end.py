"""The demo pipeline through the real CLI on tiny generated data: every artefact, finite metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from moodscape.cli import main

pytestmark = pytest.mark.slow


def test_demo_pipeline_through_the_cli(tmp_path, capsys):
    data, features, run = tmp_path / "data", tmp_path / "features", tmp_path / "baseline"
    assert main(["-q", "demo-data", str(data), "--songs", "40", "--seconds", "10", "--seed", "3"]) == 0
    assert main(["-q", "features", str(data), "--out", str(features), "--workers", "2"]) == 0
    store = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["-q", "data", "check", str(data), "--json", str(tmp_path / "check.json")]) == 0
    check = json.loads((tmp_path / "check.json").read_text())
    assert check["n_songs"] == 40 and check["ok"]
    assert main(["-q", "split", store]) == 0
    assert main(["-q", "baseline", store, "--out", str(run)]) == 0
    summary = capsys.readouterr().out
    assert "ridge floor" in summary and "valence" in summary and "macro-F1" in summary

    for name in ("features.f16", "index.csv", "errors.csv", "settings.json", "config.yaml", "splits.json",
                 "normalization.json"):  # fmt: skip
        assert (tmp_path / store / name).exists(), name
    splits = json.loads((tmp_path / store / "splits.json").read_text())
    sizes = [len(splits[k]) for k in ("train", "val", "test")]
    assert sum(sizes) == 40 and min(sizes) >= 6
    metrics = json.loads((run / "metrics.json").read_text())["metrics"]
    for dimension in ("valence", "arousal"):
        values = metrics[dimension]
        assert all(np.isfinite(values[k]) for k in ("ccc", "r2", "mse", "mae", "rmse"))
        assert -1.0 <= values["ccc"] <= 1.0 and values["mse"] >= 0.0
        assert values["ccc"] > 0.2, "the ridge floor learns something on demo data"
    assert (run / "predictions.csv").read_text().count("\n") == 1 + sizes[2]
    assert (run / "config.yaml").exists()

    # The classical floor: descriptors of every clip, cached in the store, an SVR per dimension.
    assert main(["-q", "baseline", store, "--kind", "descriptors", "--out", str(tmp_path / "descriptors")]) == 0
    assert "descriptor floor" in capsys.readouterr().out
    described = json.loads((tmp_path / "descriptors" / "metrics.json").read_text())
    assert described["kind"] == "descriptors" and 0 <= described["quadrants"]["macro_f1"] <= 1
    assert all(described["metrics"][d]["ccc"] > 0.2 for d in ("valence", "arousal"))
    assert (tmp_path / store / "descriptors.npz").exists()

    # Splitting again reuses the file; asking for other settings stops with a clear message.
    before = (tmp_path / store / "splits.json").read_bytes()
    assert main(["-q", "split", store]) == 0
    assert (tmp_path / store / "splits.json").read_bytes() == before
    assert main(["-q", "split", store, "--set", "split.seed=1", "--set", "split.folds=3"]) == 2
    assert main(["-q", "split", store, "--set", "split.seed=1", "--set", "split.folds=3", "--force"]) == 0
    assert len(json.loads((tmp_path / store / "splits.json").read_text())["folds"]) == 3
