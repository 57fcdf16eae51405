"""scripts/package_default_model.py holds the model it ships to the cross-validation's fold models: a model that
kept another epoch, fits its own training clips much worse or better, or leans to one quadrant is refused by name."""

from __future__ import annotations

import importlib.util

import pytest

from .conftest import REPO


@pytest.fixture(scope="module")
def packaging():
    spec = importlib.util.spec_from_file_location("package_default_model", REPO / "scripts" / "package_default_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FOLDS = {"epoch": [12] * 5, "train_macro_f1": [0.878, 0.928, 0.953, 0.947, 0.950],
         "train_quadrant_shares": [[0.25, 0.25, 0.24, 0.26], [0.26, 0.24, 0.24, 0.26], [0.26, 0.26, 0.25, 0.23],
                                   [0.24, 0.25, 0.25, 0.26], [0.27, 0.24, 0.23, 0.26]]}  # fmt: skip


def test_a_model_trained_as_its_folds_passes(packaging):
    found = {"epoch": 12, "train_macro_f1": 0.922, "train_quadrant_shares": [0.25, 0.26, 0.24, 0.25]}
    assert packaging.refusals(found, FOLDS) == []


def test_an_early_stopped_under_fitted_model_leaning_to_q4_is_refused_naming_each_check(packaging):
    """The model shipped on 2026-12-05: epoch 2 of an early-stopped run, 0.71 on its own training songs, and far
    more Q4 calls than there are Q4 songs."""
    found = {"epoch": 2, "train_macro_f1": 0.71, "train_quadrant_shares": [0.22, 0.22, 0.20, 0.36]}
    wrong = packaging.refusals(found, FOLDS)
    assert len(wrong) == 3
    assert "kept epoch 2" in wrong[0] and "[12]" in wrong[0]
    assert "0.710" in wrong[1] and "under-trained" in wrong[1]
    assert "Q4" in wrong[2] and "36.0%" in wrong[2]


def test_the_margin_is_the_larger_of_the_fixed_one_and_half_the_folds_spread(packaging):
    spread = (0.953 - 0.878) / 2
    inside = {"epoch": 12, "train_macro_f1": 0.878 - spread + 0.001, "train_quadrant_shares": [0.25] * 4}
    outside = {**inside, "train_macro_f1": 0.878 - spread - 0.001}
    assert packaging.refusals(inside, FOLDS) == [] and len(packaging.refusals(outside, FOLDS)) == 1
    shares = {**inside, "train_quadrant_shares": [0.27 + packaging.CHECK_MARGIN + 0.001, 0.25, 0.24, 0.23]}
    assert "Q1" in packaging.refusals(shares, FOLDS)[0]
