"""The models a studio offers in its picker, each loaded on first use and kept (the shipped two are small
on the CPU: the real model is ONNX parts plus language parts, the SynthRef one a few MB of weights)."""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from derrvos_core.errors import InputError
from derrvos_core.model import SegmentationModel
from derrvos_core.settings import ModelDefaults

SHIPPED_CHOICES = (("real", "Real videos (default)"), ("synthref", "SynthRef shapes"))
"""(catalog name, picker label) of the shipped models, in the picker's order."""

Loader = Callable[[str], SegmentationModel]


@dataclass(frozen=True)
class ModelChoice:
    """One entry of the picker: `key` is what `derrvos_core.model.catalog.load_model` takes (a shipped
    name or a folder), `label` what the page shows."""

    key: str
    label: str


@dataclass(frozen=True)
class PickedModel:
    """The model a tab now runs (`choose_model`, or an example that names one).

    Attributes:
        key, label: its picker entry; version: what runs and corrections are stored with.
        defaults: its recommended crop size and threshold (the settings panel jumps to them).
        changed: it differs from the tab's model before (its run on screen was put away).
    """

    key: str
    label: str
    version: str
    defaults: ModelDefaults
    changed: bool


class ModelShelf:
    """The picker's models: the one the studio opened on (already loaded) and the others, loaded on
    first pick and kept. Thread-safe: two tabs picking at once load a model once."""

    def __init__(self, first: SegmentationModel, first_key: str, choices: tuple[ModelChoice, ...] = (),
                 load: Loader | None = None):
        """`first` was loaded from `first_key`; `choices` are the picker's entries (the first one is added
        when missing); `load(key)` loads another (required when `choices` name one)."""
        keys = [c.key for c in choices]
        if first_key not in keys:
            choices = (ModelChoice(first_key, _folder_label(first_key)), *choices)
        if len(choices) > 1 and load is None:
            raise ValueError("a shelf with several choices needs a loader")
        self.choices = tuple(choices)
        self.first_key = first_key
        self._load = load
        self._models: dict[str, SegmentationModel] = {first_key: first}
        self._lock = threading.Lock()

    @classmethod
    def only(cls, model: SegmentationModel, key: str = "model") -> ModelShelf:
        """A shelf of one model (the picker shows just it): tests and embedders that pass one model."""
        return cls(model, key, (ModelChoice(key, str(model.version)),))

    def label(self, key: str) -> str:
        return self._choice(key).label

    def get(self, key: str) -> SegmentationModel:
        """The model of a choice, loaded now if it is the first time (CheckpointError if it cannot be)."""
        self._choice(key)
        with self._lock:
            if key not in self._models:
                self._models[key] = self._load(key)
            return self._models[key]

    def loaded(self, key: str) -> bool:
        return key in self._models

    def defaults(self, key: str) -> ModelDefaults:
        return self.get(key).defaults

    def key_of(self, name: str | None) -> str | None:
        """The choice an example's "model" names (a key), or None when the shelf does not offer it."""
        return name if name in {c.key for c in self.choices} else None

    def _choice(self, key: str) -> ModelChoice:
        for choice in self.choices:
            if choice.key == key:
                return choice
        raise InputError(f"no model {key!r} in this studio; pick one of "
                         f"{', '.join(repr(c.label) for c in self.choices)}")


def shipped_choices(first_key: str) -> tuple[ModelChoice, ...]:
    """The picker of `launch.py`: the shipped models, and the `--checkpoint` folder first when it is one."""
    shipped = tuple(ModelChoice(key, label) for key, label in SHIPPED_CHOICES)
    if first_key in {c.key for c in shipped}:
        return shipped
    return (ModelChoice(first_key, _folder_label(first_key)), *shipped)


def _folder_label(key: str) -> str:
    return f"{Path(key).name or key} (--checkpoint)"
