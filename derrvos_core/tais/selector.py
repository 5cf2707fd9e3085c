"""The implicit selector: per-frame relevance, pooled over time into one logit per trajectory."""
from __future__ import annotations

import math

import torch
from torch import nn


class ImplicitSelector(nn.Module):
    """Relevance logit per frame, softmax-over-time frame weights, weighted sum = trajectory logit.

    An expression may be true of an object only in some frames ("the one that starts running"),
    so the selector learns which frames to listen to rather than averaging all of them (the
    softmax-over-time pooling DVIS++ uses for its trajectory scores).

    With `text_matching`, each frame's relevance also gets a bilinear match between the trajectory
    stream and the expression (the mean of the frame's text tokens): "red" in the words against red
    in the region is one product, which a sum of attention outputs has to learn through its FFN.

    Input:
        x: float [N, T, W]; the trajectory stream after an aligner layer.
        sentence: float [T, W] (only with `text_matching`); the frame's mean text token.
    Outputs:
        frame_logits: float [N, T]; how much frame t of trajectory n matches the expression.
        frame_weights: float [N, T]; softmax over T of the weight head, each row sums to 1.
        logits: float [N]; sum over T of frame_weights * frame_logits.
    """

    def __init__(self, width: int, text_matching: bool = False):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.relevance = nn.Linear(width, 1)
        self.weight = nn.Linear(width, 1)
        if text_matching:
            self.match_query = nn.Linear(width, width)
            self.match_key = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width))
        self.text_matching = text_matching

    def forward(self, x: torch.Tensor, sentence: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        y = self.norm(x)
        frame_logits = self.relevance(y).squeeze(-1)
        if self.text_matching:
            match = (self.match_query(y) * self.match_key(sentence).unsqueeze(0)).sum(-1)
            frame_logits = frame_logits + match / math.sqrt(y.shape[-1])
        frame_weights = self.weight(y).squeeze(-1).float().softmax(dim=-1).to(frame_logits.dtype)
        logits = (frame_weights * frame_logits).sum(dim=-1)
        return frame_logits, frame_weights, logits
