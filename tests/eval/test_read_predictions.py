"""Reading a run's predictions.csv back (ablation, reports)."""

from __future__ import annotations

import pytest

from moodscape.errors import DataError
from moodscape.eval.evaluation import read_predictions


def test_an_empty_predictions_table_is_a_data_error_that_says_what_to_do(tmp_path):
    path = tmp_path / "predictions.csv"
    path.write_text("song_id,split,valence,arousal,valence_pred,arousal_pred\n", encoding="utf-8")
    with pytest.raises(DataError, match="holds no predictions; evaluate the run again"):
        read_predictions(path)
