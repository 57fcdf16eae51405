"""Cross-validation folds that keep an artist's songs together and balance the quadrants.

Songs by one artist share timbre, production and often mood; with an artist on both sides of a split
a model can score by recognising the artist. So folds are drawn grouped (every song of a group in one
fold) and stratified by quadrant (each fold holds about the same share of Q1..Q4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError
from .tables import read_csv_table


def grouped_folds(
    song_ids: Sequence[str], quadrants: Sequence[int], groups: Sequence[str], *, k: int = 5, seed: int = 0
) -> tuple[tuple[str, ...], ...]:
    """``k`` disjoint folds (sorted song ids) covering every song once, stratified by quadrant, grouped.

    Raises DataError when there are fewer groups than folds or the inputs disagree in length.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    ids = list(song_ids)
    if not len(ids) == len(quadrants) == len(groups):
        raise DataError(f"{len(ids)} songs, {len(quadrants)} quadrants and {len(groups)} groups: one each per song")
    if len(set(groups)) < k:
        raise DataError(f"{len(set(groups))} groups (artists) cannot fill {k} folds; use fewer folds")
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    folds = [
        tuple(sorted(ids[i] for i in test))
        for _, test in splitter.split(np.zeros(len(ids)), np.asarray(quadrants), np.asarray(groups))
    ]
    return tuple(folds)


def read_groups(path: str | Path, *, id_column: str, group_column: str) -> dict[str, str]:
    """``{song_id: group}`` from a metadata CSV (e.g. 4Q's ``metadata.csv``: ``Song`` and ``Artist``).

    Column names are matched as :func:`~moodscape.data.tables.read_csv_table` normalises them.
    """
    table = read_csv_table(path, required=(id_column.lower(), group_column.lower()))
    at_id, at_group = table.index(id_column.lower()), table.index(group_column.lower())
    groups: dict[str, str] = {}
    for row in table.rows:
        if max(at_id, at_group) >= len(row.fields) or not row.fields[at_id]:
            raise DataError(f"{path}, line {row.line}: no {id_column} or {group_column}")
        groups[row.fields[at_id]] = row.fields[at_group] or f"(no {group_column}: {row.fields[at_id]})"
    return groups


def groups_for(song_ids: Sequence[str], groups: Mapping[str, str], *, source: str) -> list[str]:
    """The group of every song; a song the metadata does not list is an error naming it."""
    missing = [s for s in song_ids if s not in groups]
    if missing:
        raise DataError(f"{source}: no group for {len(missing)} song(s), e.g. {', '.join(missing[:5])}")
    return [groups[s] for s in song_ids]
