"""DeRVOS: a trajectory branch, a multimodal branch and a selector in one stateless model."""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from derrvos_core.multimodal.branch import BEiT3Branch
from derrvos_core.settings import ModelDefaults, SegmentSettings
from derrvos_core.tais.tais import TAIS
from derrvos_core.trajectory.branch import DVISBranch

from . import inference
from .branches import MultimodalBranch, Selector, TrajectoryBranch
from .cache import SegmentCache
from .config import DeRVOSConfig


class DeRVOS(nn.Module):
    """Referring video object segmentation: trajectories x expression -> one confidence per trajectory.

    It takes its parts; `from_config` builds the paper's (`full`, `synthref`): DVIS++ (`DVISBranch`,
    state-dict prefix `trajectory.`), BEiT-3 (`BEiT3Branch`, `multimodal.beit3.*`) and TAIS (`tais.`).
    Parts without torch parameters (ONNX runtimes, rules) plug in the same way; they add no keys.
    Stateless: per-video work lives in the inference generator (`segment_iter`), per-crop tracker
    state in the trajectory branch's session.

    Args:
        trajectory: frames -> trajectories (`TrajectoryBranch`).
        multimodal: reads the expression, per-frame tokens with it (`MultimodalBranch`).
        selector: one confidence per trajectory (`Selector`), kept under the state-dict prefix `tais.`.
        defaults: crop size and threshold used when a run names none.
        name: the first part of `version`.
        cfg: the config that built the parts (`from_config`), saved with the checkpoint; None for a
            model assembled from other parts (it cannot be `save`d in this format).
        version_salt: what else names the weights besides the state dict, for parts that keep theirs
            outside torch (the real model: its ONNX files' digests and its selector's numbers).
    """

    def __init__(self, *, trajectory: TrajectoryBranch, multimodal: MultimodalBranch, selector: Selector,
                 defaults: ModelDefaults, name: str, cfg: DeRVOSConfig | None = None, version_salt: str = ""):
        super().__init__()
        self.version_salt = version_salt
        self.trajectory = trajectory
        self.multimodal = multimodal
        self.tais = selector
        self.defaults = defaults
        self.name = name
        self.cfg = cfg
        self._version: str | None = None

    @classmethod
    def from_config(cls, cfg: DeRVOSConfig, tokenizer_path: str | Path | None = None) -> DeRVOS:
        """The paper's model at `cfg`'s sizes: DVIS++ + BEiT-3 (+ its tokenizer) + TAIS."""
        trajectory = DVISBranch(cfg.trajectory, input_size=cfg.input_size, top_k=cfg.top_k)
        multimodal = BEiT3Branch(cfg.multimodal, image_size=cfg.multimodal_image_size,
                                 tokenizer_path=tokenizer_path, max_text_len=cfg.max_text_len)
        defaults = ModelDefaults(crop_size=cfg.crop_size, threshold=cfg.threshold)
        # The same weights answer differently with another duplicate_iou, so it names them too.
        salt = f"duplicate_iou={cfg.trajectory.duplicate_iou}" if cfg.trajectory.duplicate_iou else ""
        return cls(trajectory=trajectory, multimodal=multimodal, selector=TAIS(cfg.tais), defaults=defaults,
                   name=cfg.name, cfg=cfg, version_salt=salt)

    @property
    def selector(self) -> Selector:
        return self.tais

    @property
    def device(self) -> torch.device:
        """Where the parts' tensors are (CPU for a model that holds none)."""
        for tensor in itertools.chain(self.parameters(), self.buffers()):
            return tensor.device
        return torch.device("cpu")

    @property
    def version(self) -> str:
        """`<name>-<8 hex digits of the weights' SHA-1>`, computed once (see `refresh_version`)."""
        if self._version is None:
            self._version = f"{self.name}-{weights_hash(self.state_dict(), salt=self.version_salt)}"
        return self._version

    def refresh_version(self) -> str:
        """Recompute `version` after the weights changed (training, loading)."""
        self._version = None
        return self.version

    def rename(self, name: str) -> None:
        """A new `name` (and so `version`), in the saved config too."""
        self.name = name
        if self.cfg is not None:
            self.cfg = dataclasses.replace(self.cfg, name=name)
        self._version = None

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        was_training = self.training
        self.eval()
        try:
            yield
        finally:
            self.train(was_training)

    # -- whole videos ----------------------------------------------------------------------------
    def segment_iter(self, video, expression: str, settings: SegmentSettings | None = None,
                     cache: SegmentCache | None = None, video_key: str | None = None):
        """Generator: a `SegmentProgress` per crop, then the `SegmentationResult` (see `inference`)."""
        return inference.segment_iter(self, video, expression, settings, cache, video_key)

    def segment(self, video, expression: str, settings: SegmentSettings | None = None, progress=None,
                cache: SegmentCache | None = None, video_key: str | None = None):
        """Segment `video` (path, uint8 [T, H, W, 3] array or VideoReader) from `expression`.

        `settings` None runs at `defaults`; `progress(step)` is called after every crop. `cache` (a
        `SegmentCache`, owned by the caller) keeps per-frame features and tokens for the next call on
        the same video (a new crop size or expression). Returns a SegmentationResult.
        """
        return inference.segment(self, video, expression, settings, progress, cache, video_key)

    def save(self, directory: str | Path, card_text: str | None = None, dtype: torch.dtype = torch.float32
             ) -> Path:
        """Write `model.safetensors`, `config.json`, `tokenizer.spm` (if any) and `MODEL_CARD.md`."""
        from .checkpoint import save_model

        return save_model(self, directory, card_text=card_text, dtype=dtype)


def weights_hash(state: dict[str, torch.Tensor], length: int = 8, salt: str = "") -> str:
    """Short SHA-1 of a state dict (names, dtypes, shapes and values), and of `salt` when given (an
    empty salt leaves the hash as it always was, so shipped versions do not change)."""
    digest = hashlib.sha1()
    if salt:
        digest.update(f"salt:{salt}".encode())
    for name, value in sorted(state.items()):
        tensor = value.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{value.dtype}:{tuple(value.shape)}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()[:length]
