"""DeRVOS: the trajectory branch, the multimodal branch and TAIS in one stateless module."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from derrvos_core.errors import InputError
from derrvos_core.multimodal.encoder import MultimodalEncoder
from derrvos_core.multimodal.types import MultimodalTokens
from derrvos_core.tais.tais import TAIS, TAISOutput
from derrvos_core.trajectory.generator import TrajectoryGenerator
from derrvos_core.trajectory.segmenter import SegmenterOutput
from derrvos_core.trajectory.tracker import TrackerSession
from derrvos_core.trajectory.types import Trajectories
from derrvos_core.video import resize_frames

from .config import DeRVOSConfig
from .text import build_tokenizer


@dataclass(frozen=True)
class ExpressionInput:
    """An expression as the model reads it.

    Attributes:
        ids: long [L]; L = `max_text_len`, <s> ... </s> then <pad>.
        padding_mask: bool [L]; True at padding.
        truncated: whether words were cut to fit L.
        text: the expression as given (stripped), or what remains of it after truncation.
    """

    ids: torch.Tensor
    padding_mask: torch.Tensor
    truncated: bool
    text: str


class DeRVOS(nn.Module):
    """Referring video object segmentation: trajectories x expression -> one confidence per trajectory.

    Sub-modules (and state-dict prefixes): `trajectory` (TrajectoryGenerator, DVIS++), `multimodal`
    (MultimodalEncoder, keys `multimodal.beit3.*`), `tais` (TAIS). Stateless: per-video work lives in
    the inference generator (`segment_iter`), per-crop tracker state in a fresh `TrackerSession`.

    The per-crop steps are separate methods so a cache can keep each one's output: `prepare_frames`,
    `segment_frames` (per frame), `trajectories` (tracker + refiner), `encode_expression`,
    `multimodal_tokens` (per frame and expression), `align_and_select` (TAIS).

    Args:
        cfg: sizes of every part.
        tokenizer_path: the sentencepiece model of the text vocabulary; None uses UTF-8 bytes
            (`ByteTokenizer`), enough for random-init models and tests.
    """

    def __init__(self, cfg: DeRVOSConfig, tokenizer_path: str | Path | None = None):
        super().__init__()
        self.cfg = cfg
        self.trajectory = TrajectoryGenerator.from_config(cfg.trajectory)
        self.multimodal = MultimodalEncoder(cfg.multimodal, image_size=cfg.multimodal_image_size)
        self.tais = TAIS(cfg.tais)
        self.tokenizer_path = Path(tokenizer_path) if tokenizer_path is not None else None
        self.tokenizer = build_tokenizer(self.tokenizer_path, cfg.max_text_len)
        if self.tokenizer.vocab_size > cfg.multimodal.vocab_size:
            raise InputError(f"the tokenizer has {self.tokenizer.vocab_size} ids but the text embedding only "
                             f"{cfg.multimodal.vocab_size} rows")
        self._version: str | None = None

    @classmethod
    def from_config(cls, cfg: DeRVOSConfig, tokenizer_path: str | Path | None = None) -> DeRVOS:
        return cls(cfg, tokenizer_path)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def version(self) -> str:
        """`<config name>-<8 hex digits of the weights' SHA-1>`, computed once (see `refresh_version`)."""
        if self._version is None:
            self._version = f"{self.cfg.name}-{weights_hash(self.state_dict())}"
        return self._version

    def refresh_version(self) -> str:
        """Recompute `version` after the weights changed (training, loading)."""
        self._version = None
        return self.version

    # -- per-crop steps ------------------------------------------------------------------------
    def prepare_frames(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 [T, H, W, 3] -> float [T, 3, s, s] in 0..255 on the model's device, s = `input_size`."""
        return resize_frames(frames, self.cfg.input_size).to(self.device)

    def segment_frames(self, frames: torch.Tensor) -> SegmenterOutput:
        """Per-frame segmenter outputs of float [T, 3, s, s] frames (each frame on its own: cacheable)."""
        return self.trajectory.segment_frames(frames)

    def trajectories(self, seg: SegmenterOutput) -> Trajectories:
        """Tracker (fresh session: crops are independent, as in the paper) + refiner -> top-K, best first."""
        return self.tracked_trajectories(seg, TrackerSession.new())[0]

    def tracked_trajectories(self, seg: SegmenterOutput, session: TrackerSession
                             ) -> tuple[Trajectories, torch.Tensor]:
        """Tracker continuing `session` + refiner -> (top-K best first, LongTensor [K] of their tracker
        slots). With a session carried across crops, equal slots mean the tracker's same object."""
        refined = self.trajectory.refine(seg, self.trajectory.track(seg, session))
        slots = torch.argsort(refined.scores, descending=True)[:self.cfg.top_k]
        return refined.index(slots), slots

    def encode_expression(self, expression: str) -> ExpressionInput:
        """Tokenise; InputError for an empty or whitespace-only expression."""
        if not isinstance(expression, str) or not expression.strip():
            raise InputError("the expression is empty; type what to segment, e.g. 'the red car turning left'")
        text = " ".join(expression.split())
        ids, padding, truncated = self.tokenizer.encode(text)
        read = self.tokenizer.decode(ids[~padding]).strip() if truncated else text
        return ExpressionInput(ids=ids, padding_mask=padding, truncated=truncated, text=read)

    def multimodal_tokens(self, frames: torch.Tensor, expression: ExpressionInput) -> MultimodalTokens:
        """BEiT-3 tokens of every frame paired with the expression (per frame: cacheable)."""
        return self.multimodal.encode(frames, expression.ids, expression.padding_mask)

    def align_and_select(self, trajectories: Trajectories, tokens: MultimodalTokens) -> TAISOutput:
        """TAIS logits of the trajectories given the frames' multimodal tokens."""
        return self.tais(trajectories, tokens)

    def score_crop(self, frames: np.ndarray | torch.Tensor, expression: str | ExpressionInput
                   ) -> tuple[Trajectories, torch.Tensor]:
        """One crop end to end: uint8 [T, H, W, 3] frames -> (top-K trajectories at 1/4 of
        `input_size`, confidences float [K] in [0, 1])."""
        text = expression if isinstance(expression, ExpressionInput) else self.encode_expression(expression)
        x = self.prepare_frames(frames)
        traj = self.trajectories(self.segment_frames(x))
        return traj, self.align_and_select(traj, self.multimodal_tokens(x, text)).scores

    # -- whole videos ----------------------------------------------------------------------------
    def segment_iter(self, video, expression: str, crop_size: int | None = None,
                     threshold: float | None = None, at_least_one: bool = False, link_crops: bool = False,
                     cache=None):
        """Generator: a `SegmentProgress` per crop, then the `SegmentationResult` (see `inference`)."""
        from .inference import segment_iter

        return segment_iter(self, video, expression, crop_size=crop_size, threshold=threshold,
                            at_least_one=at_least_one, link_crops=link_crops, cache=cache)

    def segment(self, video, expression: str, crop_size: int | None = None, threshold: float | None = None,
                at_least_one: bool = False, progress=None, link_crops: bool = False, cache=None):
        """Segment `video` (path, uint8 [T, H, W, 3] array or VideoReader) from `expression`.

        `progress(done_crops, total_crops)` is called after every crop. `link_crops` (beyond the
        paper, off by default) gives each object one `link_id` and one score over the whole video.
        `cache` (a `SegmentCache`, owned by the caller) keeps per-frame segmenter outputs and BEiT-3
        tokens for the next call on the same video (a new crop size or expression).
        Returns a SegmentationResult.
        """
        from .inference import segment

        return segment(self, video, expression, crop_size=crop_size, threshold=threshold,
                       at_least_one=at_least_one, progress=progress, link_crops=link_crops, cache=cache)

    def save(self, directory: str | Path, card_text: str | None = None, dtype: torch.dtype = torch.float32
             ) -> Path:
        """Write `model.safetensors`, `config.json`, `tokenizer.spm` (if any) and `MODEL_CARD.md`."""
        from .checkpoint import save_model

        return save_model(self, directory, card_text=card_text, dtype=dtype)


def weights_hash(state: dict[str, torch.Tensor], length: int = 8) -> str:
    """Short SHA-1 of a state dict (names, dtypes, shapes and values)."""
    digest = hashlib.sha1()
    for name, value in sorted(state.items()):
        tensor = value.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{value.dtype}:{tuple(value.shape)}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()[:length]
