"""Quadrant analysis: boundaries, absent quadrants, perfect predictions, agreement with sklearn."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

from moodscape.eval.quadrant_analysis import analyse_quadrants, quadrant_confusion
from moodscape.metrics import regression as M
from moodscape.models.serialization import to_jsonable


def _noisy(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    truth = rng.uniform(-1, 1, (n, 2))
    return truth, np.clip(truth + rng.normal(0, 0.4, (n, 2)), -1, 1)


def test_values_exactly_at_zero_count_as_positive():
    truth = np.array([[0.0, 0.0], [-0.1, 0.0], [0.0, -0.1], [-0.1, -0.1]])
    result = analyse_quadrants(truth, truth)
    assert result.true_quadrants.tolist() == [1, 2, 4, 3]
    assert result.accuracy == 1.0


def test_threshold_is_configurable_and_inclusive():
    truth = np.array([[0.5, 0.5], [0.49, 0.5], [0.5, 0.49], [0.2, 0.2]])
    result = analyse_quadrants(truth, truth, threshold=0.5)
    assert result.true_quadrants.tolist() == [1, 2, 4, 3]
    assert result.threshold == 0.5


def test_perfect_predictions(rng):
    truth = rng.uniform(-1, 1, (40, 2))
    result = analyse_quadrants(truth, truth)
    assert result.accuracy == 1.0
    assert result.macro_f1 == 1.0
    assert (result.confusion == np.diag(np.diag(result.confusion))).all()
    np.testing.assert_array_equal(result.confusion_normalised, np.eye(4))
    for row in result.per_quadrant:
        assert row["precision"] == row["recall"] == row["f1"] == 1.0
        assert row["ccc_valence"] == pytest.approx(1.0) and row["ccc_arousal"] == pytest.approx(1.0)
        assert row["mae_valence"] == 0.0 and row["mae_arousal"] == 0.0


def test_absent_quadrant_keeps_a_full_matrix():
    # No song is truly in Q3 or predicted in Q3; one song is predicted in Q4 but truly in Q1.
    truth = np.array([[0.5, 0.5], [0.4, 0.6], [-0.5, 0.5], [-0.3, 0.2], [0.6, -0.5], [0.2, 0.3]])
    pred = np.array([[0.4, 0.4], [0.3, 0.5], [-0.4, 0.6], [-0.2, 0.1], [0.5, -0.4], [0.2, -0.3]])
    result = analyse_quadrants(truth, pred)
    assert result.confusion.shape == (4, 4)
    assert result.confusion[2].sum() == 0 and result.confusion[:, 2].sum() == 0
    assert np.isnan(result.confusion_normalised[2]).all()  # no true Q3 songs: undefined, not zero
    np.testing.assert_allclose(result.confusion_normalised[0], [2 / 3, 0, 0, 1 / 3])
    q3 = result.per_quadrant[2]
    assert q3["support"] == 0 and q3["predicted"] == 0
    assert all(math.isnan(q3[k]) for k in ("precision", "recall", "f1", "ccc_valence", "mae_arousal"))
    assert result.macro_f1_quadrants == (1, 2, 4)
    f1_q4 = 2 * 1 / (2 * 1 + 1 + 0)  # TP 1, FP 1 (the Q1 song), FN 0
    f1_q1 = 2 * 2 / (2 * 2 + 0 + 1)
    assert result.macro_f1 == pytest.approx((f1_q1 + 1.0 + f1_q4) / 3)


def test_quadrant_predicted_but_absent_from_truth():
    truth = np.array([[0.5, 0.5], [0.5, 0.6], [-0.5, -0.5]])
    pred = np.array([[0.5, 0.5], [0.5, -0.6], [-0.5, -0.5]])  # one Q1 song predicted as Q4
    result = analyse_quadrants(truth, pred)
    q4 = result.per_quadrant[3]
    assert q4["support"] == 0 and q4["predicted"] == 1
    assert q4["precision"] == 0.0 and math.isnan(q4["recall"]) and q4["f1"] == 0.0
    assert 4 in result.macro_f1_quadrants and 2 not in result.macro_f1_quadrants


@pytest.mark.parametrize("n", [7, 200])
def test_agrees_with_sklearn(rng, n):
    truth, pred = _noisy(rng, n)
    result = analyse_quadrants(truth, pred)
    t, p = result.true_quadrants, result.predicted_quadrants
    np.testing.assert_array_equal(result.confusion, confusion_matrix(t, p, labels=[1, 2, 3, 4]))
    assert result.accuracy == pytest.approx(accuracy_score(t, p))
    assert result.macro_f1 == pytest.approx(f1_score(t, p, average="macro", zero_division=0.0))
    f1 = f1_score(t, p, labels=[1, 2, 3, 4], average=None, zero_division=0.0)
    precision = precision_score(t, p, labels=[1, 2, 3, 4], average=None, zero_division=np.nan)
    recall = recall_score(t, p, labels=[1, 2, 3, 4], average=None, zero_division=np.nan)
    for i, row in enumerate(result.per_quadrant):
        np.testing.assert_allclose(row["precision"], precision[i], equal_nan=True)
        np.testing.assert_allclose(row["recall"], recall[i], equal_nan=True)
        if not math.isnan(row["f1"]):
            assert row["f1"] == pytest.approx(f1[i])


def test_per_quadrant_regression_uses_true_quadrant_songs(rng):
    truth, pred = _noisy(rng, 120)
    result = analyse_quadrants(truth, pred)
    for row in result.per_quadrant:
        members = result.true_quadrants == row["quadrant"]
        assert row["support"] == members.sum()
        assert row["ccc_valence"] == pytest.approx(M.ccc(truth[members, 0], pred[members, 0]))
        assert row["mae_arousal"] == pytest.approx(M.mae(truth[members, 1], pred[members, 1]))


def test_per_quadrant_regression_needs_two_songs():
    truth = np.array([[0.5, 0.5], [0.4, 0.6], [-0.5, 0.5]])
    result = analyse_quadrants(truth, truth + 0.01)
    assert not math.isnan(result.per_quadrant[0]["ccc_valence"])  # Q1: 2 songs
    assert math.isnan(result.per_quadrant[1]["ccc_valence"])  # Q2: 1 song
    assert result.per_quadrant[1]["recall"] == 1.0


def test_single_song():
    result = analyse_quadrants([[0.2, -0.3]], [[0.1, -0.1]])
    assert result.accuracy == 1.0 and result.macro_f1 == 1.0 and result.macro_f1_quadrants == (4,)


def test_to_dict_is_json_safe(rng):
    truth, pred = _noisy(rng, 3)
    payload = to_jsonable(analyse_quadrants(truth, pred).to_dict())
    text = json.dumps(payload, allow_nan=False)
    assert json.loads(text)["confusion"] == payload["confusion"]
    assert len(payload["per_quadrant"]) == 4 and payload["names"]["1"]


def test_quadrant_confusion_validates():
    assert quadrant_confusion([1, 4], [4, 4]).tolist() == [[0, 0, 0, 1], [0] * 4, [0] * 4, [0, 0, 0, 1]]
    with pytest.raises(ValueError, match="1..4"):
        quadrant_confusion([0, 1], [1, 1])
    with pytest.raises(ValueError, match="same shape"):
        quadrant_confusion([1, 2], [1])


@pytest.mark.parametrize(
    "truth, pred, message",
    [
        (np.zeros((3, 2)), np.zeros((3, 3)), r"\(N, 2\)"),
        (np.zeros(3), np.zeros(3), r"\(N, 2\)"),
        (np.zeros((0, 2)), np.zeros((0, 2)), "at least one song"),
        (np.array([[np.nan, 0.0]]), np.zeros((1, 2)), "finite"),
    ],
)
def test_bad_input(truth, pred, message):
    with pytest.raises(ValueError, match=message):
        analyse_quadrants(truth, pred)
