"""Fixtures shared by the test modules (pytest finds them here; modules do not import each other's)."""
from __future__ import annotations

import pytest
import torch

from derrvos_core.store import Store
from tests.pg import postgres  # noqa: F401 - a fixture: a throwaway PostgreSQL server per module


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module's runs (fixtures included): small tensors on a shared 2-core machine
    spend more in the thread hand-off than they gain, and two runs to compare then compute alike."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    """An upgraded, empty store on SQLite and (where its binaries are) PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database()
    with Store.open(url) as opened:
        yield opened
