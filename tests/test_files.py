"""Files written whole or not at all (moodscape.files)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from moodscape.files import atomic_path, write_json, write_text


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_behind(tmp_path):
    target = write_text(tmp_path / "table.csv", "old\n")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half of the new", encoding="utf-8")
        raise RuntimeError("killed mid-write")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_numpy_writers_land_on_the_final_name(tmp_path):
    for name, save in (("rows.npy", lambda p: np.save(p, np.arange(3))), ("cache.npz", lambda p: np.savez(p, a=1))):
        with atomic_path(tmp_path / "sub" / name) as tmp:
            assert tmp.name.startswith(".") and tmp.suffix == (tmp_path / name).suffix
            save(tmp)
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["cache.npz", "rows.npy"]
    np.testing.assert_array_equal(np.load(tmp_path / "sub" / "rows.npy"), [0, 1, 2])
    with atomic_path(tmp_path / "song.mp3", keep_suffix=False) as tmp:
        assert tmp.name.endswith(".tmp"), "a leftover is never taken for audio"
        tmp.write_bytes(b"ID3")
    assert (tmp_path / "song.mp3").read_bytes() == b"ID3"


def test_json_as_the_old_writers_wrote_it(tmp_path):
    payload = {"b": 1, "a": [1, 2]}
    text = write_json(tmp_path / "x.json", payload, sort_keys=True).read_text(encoding="utf-8")
    assert text == json.dumps(payload, indent=2, sort_keys=True) + "\n"
    assert write_json(tmp_path / "y.json", payload, indent=None).read_text(encoding="utf-8") == json.dumps(payload) + "\n"
