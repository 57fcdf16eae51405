"""Model tests build tiny models in place: each starts from the same torch seed."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_torch():
    torch.manual_seed(0)
