"""Scores of one expression and their summaries over a benchmark (DESIGN.md §5, via derrvos_core.metrics)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from derrvos_core.errors import InputError
from derrvos_core.metrics import j_and_f, mean_iou, mean_j_and_f, temporal_iou, video_iou


@dataclass(frozen=True)
class ExpressionScore:
    """Every metric of one (prediction, ground truth) pair over a video.

    Attributes:
        J, F, JF: region similarity, boundary F and their mean, each averaged over frames.
        tIoU, vIoU: Long-RVOS temporal and video IoU.
        IoU: the whole video's pixels as one mask pair (a RIS sample's IoU when T = 1; 1 when both empty).
        intersection, union: pixel counts summed over frames (for oIoU).
    """

    J: float
    F: float
    JF: float
    tIoU: float
    vIoU: float
    IoU: float
    intersection: int
    union: int

    def as_dict(self) -> dict:
        return asdict(self)


def score_masks(gt: np.ndarray, pred: np.ndarray) -> ExpressionScore:
    """All metrics of bool [T, H, W] prediction against bool [T, H, W] ground truth."""
    gt, pred = np.asarray(gt, dtype=bool), np.asarray(pred, dtype=bool)
    if gt.shape != pred.shape:
        raise InputError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")
    jf = j_and_f(gt, pred)
    inter, union = int((gt & pred).sum()), int((gt | pred).sum())
    iou = mean_iou([(gt, pred)])
    return ExpressionScore(J=jf["J"], F=jf["F"], JF=jf["JF"], tIoU=float(temporal_iou(gt, pred)),
                           vIoU=video_iou(gt, pred), IoU=float(iou), intersection=inter, union=union)


def summarize(scores: list) -> dict:
    """Benchmark numbers over expressions: J, F, J&F (MeViS: means over expressions), tIoU, vIoU,
    mIoU (mean per-sample IoU) and oIoU (ΣI / ΣU), and the count."""
    if not scores:
        return {"count": 0}
    jf = mean_j_and_f([{"J": s.J, "F": s.F} for s in scores])
    inter = sum(s.intersection for s in scores)
    union = sum(s.union for s in scores)
    return {"count": len(scores), "J": jf["J"], "F": jf["F"], "JF": jf["JF"],
            "tIoU": float(np.mean([s.tIoU for s in scores])),
            "vIoU": float(np.mean([s.vIoU for s in scores])),
            "mIoU": float(np.mean([s.IoU for s in scores])), "oIoU": 1.0 if union == 0 else inter / union}
