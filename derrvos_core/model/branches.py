"""The seams of the decoupled model: a trajectory branch, a multimodal branch and a selector.

A model takes one of each; it does not build them. `full` and `synthref` plug in DVIS++
(`DVISBranch`), BEiT-3 (`BEiT3Branch`) and TAIS; `real` plugs in a COCO detector with a tracker, an
expression reader and a selector that scores each trajectory's facts against what the expression
says. Inference, the per-frame cache, cross-crop linking, the store and every export see only these
interfaces and `SegmentationModel`; none of them assumes torch parameters or an `nn.Module`.

Per-frame work (`frame_features`, `frame_tokens`) must treat each frame on its own, so the cache can
keep it frame by frame; per-crop work (`trajectories`, `scores`) sees a whole crop.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np
import torch

from derrvos_core.settings import ModelDefaults
from derrvos_core.trajectory.types import Trajectories


class FrameFeatures(Protocol):
    """Per-frame outputs (a trajectory branch's features, a multimodal branch's tokens) of t frames."""

    def frame(self, index: int) -> FrameFeatures:
        """One frame as later steps read it (length 1 along time), holding no memory of the others:
        what the cache keeps. It may drop what no later step reads."""

    @staticmethod
    def concat(parts: list[FrameFeatures]) -> FrameFeatures:
        """Frames stacked back in order (inverse of `frame`)."""

    @property
    def nbytes(self) -> int:
        """Bytes held, for the cache's budget."""


class Expression(Protocol):
    """An expression as a multimodal branch read it (`MultimodalBranch.read`)."""

    #: What was read (normalised; after truncation when `truncated`); also the cache's key for it.
    text: str
    #: Whether words were cut to fit what the branch reads.
    truncated: bool
    #: Words the branch could not use (shown to the user); empty when it used them all.
    ignored: tuple[str, ...]


@runtime_checkable
class TrajectoryBranch(Protocol):
    """Frames -> object trajectories of one crop.

    `prepare` turns uint8 [t, H, W, 3] RGB frames into what `frame_features` (and the multimodal
    branch's `frame_tokens`) read; `key` names what changes the features besides the model's version
    (input size, device), for the cache. `trajectories` continues `session` (a fresh `new_session()`
    per crop unless crops are linked) and returns the crop's trajectories, best first, with a
    LongTensor [N] of session-stable slots: equal slots in neighbouring crops of one session are the
    branch's same object.
    """

    @property
    def key(self) -> str: ...

    def prepare(self, frames: np.ndarray) -> Any: ...

    def frame_features(self, prepared: Any) -> FrameFeatures: ...

    def new_session(self) -> Any: ...

    def trajectories(self, features: FrameFeatures, session: Any) -> tuple[Trajectories, torch.Tensor]: ...


@runtime_checkable
class MaskOutput(Protocol):
    """What a trajectory branch may add: the masks a run outputs, made from the trajectories and the
    crop's frames (sharper than `Trajectories.mask_logits`, which the selector keeps reading). A branch
    without it outputs `mask_logits` as they are. What it reads of the frames is per-frame work
    (`mask_guide`), cached beside the features, so a crop-size change with the cache decodes nothing."""

    def mask_guide(self, prepared: Callable[[], Any]) -> FrameFeatures | None:
        """What `output_masks` reads of the crop's frames, each frame on its own (cacheable), or None
        when it reads nothing; `prepared()` gives the crop's prepared frames (decoded on the first call,
        so a branch that does not need them costs nothing)."""

    def output_masks(self, trajectories: Trajectories, guide: FrameFeatures | None) -> torch.Tensor:
        """float [N, T, h', w'] logits (> 0: the mask), from the trajectories and `mask_guide`'s output
        for the same frames."""


@runtime_checkable
class MultimodalBranch(Protocol):
    """The expression, read once per query, and (optionally) per-frame joint tokens with it."""

    @property
    def key(self) -> str: ...

    def read(self, text: str) -> Expression:
        """The expression as the model reads it; InputError for empty or unreadable text."""

    def frame_tokens(self, prepared: Any, expression: Expression) -> FrameFeatures | None:
        """Per-frame tokens of `prepared` frames with the expression, or None when the selector needs none."""


@runtime_checkable
class Selector(Protocol):
    """TAIS's contract: one confidence in [0, 1] per trajectory, float [N] (several may pass, or none)."""

    def scores(self, trajectories: Trajectories, tokens: FrameFeatures | None, expression: Expression
               ) -> torch.Tensor: ...


@runtime_checkable
class SegmentationModel(Protocol):
    """What inference, the app, the store and export read of a model: its three parts, its defaults,
    a version string naming its weights (stored with every result) and the device it runs on."""

    trajectory: TrajectoryBranch
    multimodal: MultimodalBranch

    @property
    def selector(self) -> Selector: ...

    @property
    def defaults(self) -> ModelDefaults: ...

    @property
    def version(self) -> str: ...

    @property
    def device(self) -> torch.device: ...

    def evaluating(self) -> contextlib.AbstractContextManager:
        """Inference mode for the duration (eval mode, no dropout), restored on exit."""


def crop_trajectories(branch: TrajectoryBranch, frames: np.ndarray) -> tuple[Any, Trajectories]:
    """One crop on its own (a fresh session): uint8 [t, H, W, 3] frames -> (prepared frames, trajectories)."""
    prepared = branch.prepare(frames)
    return prepared, branch.trajectories(branch.frame_features(prepared), branch.new_session())[0]
