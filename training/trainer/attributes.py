"""Attribute supervision of the trajectory branch's queries: a training-only auxiliary loss.

SynthRef's segmenter has one class ("object"), so nothing in stages 1-3 asks a query to keep its
object's colour, shape or texture apart from the others', and the selection probe measured that the
branch's embeddings carry little of them (`training/selection_probe.py --accuracy`: the same reader
with the objects' true attributes picks the target far more often). With the stage option
`attribute_weight` > 0, a linear head per attribute reads each matched query's embedding and is trained
with cross-entropy against the object's attribute; the heads are dropped at export (they are not part
of the model, so the `full` config and every checkpoint keep their keys), only what they taught the
queries stays.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from derrvos_core.datasets.synthref_vocab import COLOURS, SHAPES, SIZES, TEXTURES

#: The attributes a head predicts, each with its classes (SynthRef's generator fields).
ATTRIBUTES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("shape", SHAPES), ("colour", tuple(COLOURS)), ("size", SIZES), ("texture", TEXTURES))
#: Module name of the heads on the stage's model, so `train_only` can name them.
HEADS_NAME = "attribute_heads"
#: The heads' lr over the stage's: they start from nothing while the branch they read is fine-tuned at a
#: low lr, and at that lr they learned slowly (segmenter continued at 2e-4: their loss fell from 1.49 to 1.25
#: per attribute in 800 steps), which also leaves their gradient into the queries weak.
HEADS_LR_FACTOR = 10.0


def object_attribute_ids(obj: dict) -> tuple[int, ...]:
    """One class index per ATTRIBUTES entry for an object of synthref_meta.json; -1 where it has none."""
    return tuple(classes.index(obj[key]) if obj.get(key) in classes else -1 for key, classes in ATTRIBUTES)


class AttributeHeads(nn.Module):
    """One linear classifier per attribute over a query embedding of `hidden` channels."""

    def __init__(self, hidden: int):
        super().__init__()
        self.heads = nn.ModuleDict({key: nn.Linear(hidden, len(classes)) for key, classes in ATTRIBUTES})

    def forward(self, embeddings: torch.Tensor) -> dict[str, torch.Tensor]:
        """embeddings: float [N, hidden] -> per attribute, logits [N, classes]."""
        return {key: head(embeddings) for key, head in self.heads.items()}


def attribute_loss(heads: AttributeHeads, embeddings: torch.Tensor,
                   attribute_ids: torch.Tensor) -> torch.Tensor:
    """Mean over attributes of the cross-entropy of the matched queries' attributes.

    Args:
        embeddings: float [N, hidden]; one matched query embedding per (object, frame) pair.
        attribute_ids: long [N, len(ATTRIBUTES)]; that object's classes, -1 where unknown (left out).
    Returns:
        a scalar; 0 (with a graph) when nothing is known.
    """
    logits = heads(embeddings)
    total, n = embeddings.sum() * 0, 0
    for a, (key, _) in enumerate(ATTRIBUTES):
        known = attribute_ids[:, a] >= 0
        if known.any():
            total, n = total + F.cross_entropy(logits[key][known], attribute_ids[known, a]), n + 1
    return total / max(n, 1)


def frame_matched_pairs(indices, present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-frame Hungarian matches -> (frame, query, object row) index tensors of equal length.

    Args:
        indices: per frame t, (query indices, indices into the rows present at t), as Mask2Former's matcher
            returns them for per-frame labels of the present objects only.
        present: bool [N, T].
    """
    frames, queries, rows = [], [], []
    for t, (q, j) in enumerate(indices):
        present_rows = present[:, t].nonzero()[:, 0]
        frames.append(torch.full((len(q),), t, dtype=torch.long))
        queries.append(torch.as_tensor(q, dtype=torch.long))
        rows.append(present_rows[torch.as_tensor(j, dtype=torch.long)])
    if not frames:
        empty = torch.zeros(0, dtype=torch.long)
        return empty, empty, empty
    return torch.cat(frames), torch.cat(queries), torch.cat(rows)


def clip_matched_pairs(queries: torch.Tensor, rows: torch.Tensor,
                       present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One match per object for the whole clip -> (frame, query, object row) for every frame the object is in.

    Args:
        queries, rows: long [M]; query i follows object row rows[i] through the clip.
        present: bool [N, T].
    """
    frames, qs, rs = [], [], []
    for q, r in zip(queries.tolist(), rows.tolist()):
        seen = present[r].nonzero()[:, 0]
        frames.append(seen)
        qs.append(torch.full((len(seen),), q, dtype=torch.long))
        rs.append(torch.full((len(seen),), r, dtype=torch.long))
    if not frames:
        empty = torch.zeros(0, dtype=torch.long)
        return empty, empty, empty
    return torch.cat(frames), torch.cat(qs), torch.cat(rs)
