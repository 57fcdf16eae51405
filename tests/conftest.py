"""Shared fixtures: the real sample data in ../shared/data, and a seeded random generator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of the real sample data (``<repo>/../shared/data``); skips the test when it is absent."""
    if not (SHARED_DATA / "deam-mini").is_dir() or not (SHARED_DATA / "emomusic-mini").is_dir():
        pytest.skip(
            f"real sample data not found at {SHARED_DATA} (expected deam-mini/ and emomusic-mini/ there); "
            "it is kept out of the repository, see its README"
        )
    return SHARED_DATA


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, so tests that draw random numbers are repeatable."""
    return np.random.default_rng(0)
