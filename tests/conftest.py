"""Fixtures shared by the test modules (pytest finds them here; modules do not import each other's)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from derrvos_core.store import Store
from tests.helpers_app import CLIP_FRAMES, EXAMPLE, CallCounter, make_service
from tests.helpers_browser import chromium_page, served
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


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random DeRVOS written with `save`, as `--checkpoint` would point at it (one per test run)."""
    from derrvos_core.model import DeRVOS, DeRVOSConfig
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-derrvos")
    DeRVOS.from_config(DeRVOSConfig.tiny()).save(path)
    return path


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from derrvos_core.model import load_model
    return load_model(str(tiny_model_dir))


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    """The first CLIP_FRAMES frames of a shipped SynthRef example, as an MP4."""
    from derrvos_core.video import open_video, write_video
    path = tmp_path_factory.mktemp("clip") / f"crosses-{CLIP_FRAMES}.mp4"
    with open_video(EXAMPLE) as reader:
        write_video(path, reader.frames(0, CLIP_FRAMES), reader.info.fps)
    return path


@pytest.fixture
def counter(tiny_model):
    """Counts the tiny model's `segment_iter` calls during one test."""
    counting = CallCounter(tiny_model)
    yield counting
    counting.restore()


@pytest.fixture
def studio(tiny_model, tmp_path):
    """(service, url): the studio on the tiny model, served for a browser test."""
    service = make_service(tiny_model, tmp_path)
    with served(service) as url:
        yield service, url


@pytest.fixture
def page():
    """A chromium page (skips where Debian's chromium is absent)."""
    with chromium_page() as opened:
        yield opened


@pytest.fixture(scope="session")
def parser():
    """The real model's expression parser (spaCy, WordNet, MiniLM); skips where a part is not installed."""
    from derrvos_core.language.loader import MissingLanguagePart
    from derrvos_core.language.parser import ExpressionParser
    try:
        return ExpressionParser.load()
    except MissingLanguagePart as err:
        pytest.skip(str(err))
