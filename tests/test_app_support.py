"""Shared fixtures of the app tests: a tiny random DeRVOS saved and loaded like a real checkpoint,
a short clip cut from a shipped example, and a service over a throwaway SQLite store."""
from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest

from app.config import EXAMPLES_DIR, StudioConfig
from derrvos_core.video import open_video, write_video

EXAMPLE = EXAMPLES_DIR / "synthref-crosses.mp4"
CLIP_FRAMES = 8
CROP = 4  # two crops: progress, cancel and crop-size changes have something to show
_BUILT: dict = {}  # one tiny model per test process, whichever app test module asks first


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random DeRVOS written with `save`, as `--checkpoint` would point at it."""
    if "dir" not in _BUILT:
        import torch

        from derrvos_core.model import DeRVOS, DeRVOSConfig
        torch.manual_seed(0)
        path = tmp_path_factory.mktemp("tiny-derrvos")
        DeRVOS.from_config(DeRVOSConfig.tiny()).save(path)
        _BUILT["dir"] = path
    return _BUILT["dir"]


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    if "model" not in _BUILT:
        from derrvos_core.model import load_model
        _BUILT["model"] = load_model(str(tiny_model_dir))
    return _BUILT["model"]


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    """The first CLIP_FRAMES frames of a shipped SynthRef example, as an MP4."""
    path = tmp_path_factory.mktemp("clip") / f"crosses-{CLIP_FRAMES}.mp4"
    with open_video(EXAMPLE) as reader:
        write_video(path, reader.frames(0, CLIP_FRAMES), reader.info.fps)
    return path


class CallCounter:
    """Counts calls of the model's `segment_iter` (the real method still runs)."""

    def __init__(self, model):
        self.calls = 0
        self._inner = model.segment_iter
        model.segment_iter = self
        self._model = model

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self._inner(*args, **kwargs)

    def restore(self) -> None:
        del self._model.segment_iter  # the instance attribute goes; the class method shows again


@pytest.fixture
def counter(tiny_model):
    counting = CallCounter(tiny_model)
    yield counting
    counting.restore()


def make_service(model, tmp_path: Path, models=None, **config):
    """A service over `tmp_path`/studio.db; `models`: its picker's `ModelShelf` (None: `model` alone)."""
    from app.service import StudioService
    from derrvos_core.store import Store
    store = Store(f"sqlite:///{tmp_path / 'studio.db'}", use_env=False)
    store.upgrade()
    return StudioService(model, store, StudioConfig(data_dir=tmp_path / "data", **config), models)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def square(height: int, width: int, top: int, left: int, size: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    mask[top:top + size, left:left + size] = True
    return mask
