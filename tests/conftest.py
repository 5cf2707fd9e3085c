"""Fixtures shared by the test modules (pytest finds them here; modules do not import each other's)."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module's runs (fixtures included): small tensors on a shared 2-core machine
    spend more in the thread hand-off than they gain, and two runs to compare then compute alike."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
