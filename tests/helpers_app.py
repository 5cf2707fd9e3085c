"""What the app tests share: the shipped example and clip sizes, a call counter on the model, a service over
a throwaway SQLite store, a free port, a square mask. Fixtures (the tiny model, the clip) are in conftest.py."""
from __future__ import annotations

import socket
from pathlib import Path

import numpy as np

from app.config import EXAMPLES_DIR, StudioConfig

EXAMPLE = EXAMPLES_DIR / "synthref-crosses.mp4"
CLIP_FRAMES = 8
CROP = 4  # two crops: progress, cancel and crop-size changes have something to show


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
