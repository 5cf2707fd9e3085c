"""COCO-80 detection with CenterNet-MobileNetV3 (ONNX), NMS, and a class distribution per detection."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from derrvos_core.errors import CheckpointError
from derrvos_core.real.config import CONVERT_COMMAND, RealBranchConfig
from derrvos_core.real.features import NUM_CLASSES
from derrvos_core.real.parts import load_onnx, single_input


@dataclass
class Detections:
    """The objects found in one frame, best first.

    Attributes:
        boxes: float32 [D, 4]; (x0, y0, x1, y1) in [0, 1] frame coordinates.
        scores: float32 [D]; detection confidence.
        classes: int64 [D]; 0-based COCO-80 class (argmax of `class_probs`).
        class_probs: float32 [D, 80]; class distribution (sums to 1).
    """

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    class_probs: np.ndarray

    @staticmethod
    def empty() -> Detections:
        return Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64),
                          np.zeros((0, NUM_CLASSES), np.float32))

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def take(self, idx: np.ndarray) -> Detections:
        return Detections(self.boxes[idx], self.scores[idx], self.classes[idx], self.class_probs[idx])


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes a [n, 4] and b [m, 4] (x0, y0, x1, y1) -> [n, m]."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    union = area_a[:, None] + area_b[None] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def postprocess(raw: np.ndarray, cfg: RealBranchConfig, heatmap: np.ndarray | None = None) -> Detections:
    """Raw CenterNet rows [100, 6] (x0, y0, x1, y1 in [0, 1], score, class) -> kept `Detections`.

    Same-class NMS at `cfg.nms_iou`; then a detection overlapping a stronger one of another class at
    `cfg.cross_class_iou` or more is the same object seen as another class: it is dropped and its score
    added to the stronger one's evidence for its class. Without `heatmap`, a detection's class
    distribution is its own class's score and the scores of every raw row of another class on the same
    object (IoU >= `cfg.cross_class_iou`), normalised; with `heatmap` (float [h, w, 80] class heatmap)
    it is the heatmap at the box centre, normalised.
    """
    raw = raw[raw[:, 4] >= cfg.score_threshold]
    raw = raw[np.argsort(-raw[:, 4], kind="stable")]
    boxes = np.clip(raw[:, :4], 0.0, 1.0).astype(np.float32)
    scores = raw[:, 4].astype(np.float32)
    classes = raw[:, 5].astype(np.int64).clip(0, NUM_CLASSES - 1)
    ok = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, scores, classes = boxes[ok], scores[ok], classes[ok]
    iou = box_iou(boxes, boxes)
    evidence = np.zeros((len(scores), NUM_CLASSES), np.float32)
    evidence[np.arange(len(scores)), classes] = scores
    alive = np.ones(len(scores), bool)
    for i in range(len(scores)):
        if not alive[i]:
            continue
        same = (classes == classes[i]) & (iou[i] >= cfg.nms_iou)
        other = (classes != classes[i]) & (iou[i] >= cfg.cross_class_iou)
        later = np.arange(len(scores)) > i
        for j in np.nonzero(other & later & alive)[0]:
            evidence[i, classes[j]] = max(evidence[i, classes[j]], scores[j])
        alive[(same | other) & later] = False
    keep = np.nonzero(alive)[0][:cfg.max_detections]
    dets = Detections(boxes[keep], scores[keep], classes[keep], evidence[keep])
    if heatmap is not None and len(dets):
        h, w = heatmap.shape[:2]
        cx = ((dets.boxes[:, 0] + dets.boxes[:, 2]) / 2 * w).astype(int).clip(0, w - 1)
        cy = ((dets.boxes[:, 1] + dets.boxes[:, 3]) / 2 * h).astype(int).clip(0, h - 1)
        probs = np.clip(heatmap[cy, cx].astype(np.float32), 0.0, 1.0)
        dets.class_probs = np.maximum(probs, dets.class_probs)
    dets.class_probs = dets.class_probs / np.maximum(dets.class_probs.sum(1, keepdims=True), 1e-6)
    dets.classes = dets.class_probs.argmax(1) if len(dets) else dets.classes
    return dets


class CenterNetDetector:
    """CenterNet-MobileNetV3 on COCO-80: uint8 RGB frame -> `Detections`.

    The frame is resized (stretched) to the model's square input, as `@vladmandic/human` feeds it.
    """

    def __init__(self, cfg: RealBranchConfig):
        self.cfg = cfg
        path = cfg.detector_path
        self.session = load_onnx(path, cfg.threads)
        self.input_name, shape = single_input(self.session, path)
        self.input_size = int(shape[1]) if isinstance(shape[1], int) else 512
        outputs = {o.name: list(o.shape) for o in self.session.get_outputs()}
        self.detections_name = _find_output(outputs, lambda s: len(s) == 3 and s[-1] == 6, path, "[1, 100, 6]")
        heat = [n for n, s in outputs.items() if len(s) == 4 and s[-1] == NUM_CLASSES]
        self.heatmap_name = heat[0] if heat else None

    def detect(self, frame: np.ndarray) -> Detections:
        """Detections of one uint8 [H, W, 3] RGB frame, boxes in [0, 1] of that frame."""
        size = self.input_size
        x = cv2.resize(frame, (size, size), interpolation=cv2.INTER_LINEAR).astype(np.float32)[None]
        names = [self.detections_name] + ([self.heatmap_name] if self.heatmap_name else [])
        out = self.session.run(names, {self.input_name: x})
        raw = out[0][0].astype(np.float32).copy()
        raw[:, :4] /= size
        return postprocess(raw, self.cfg, out[1][0] if self.heatmap_name else None)


def _find_output(outputs: dict[str, list], test, path: Path, wanted: str) -> str:
    for name, shape in outputs.items():
        if test(shape):
            return name
    raise CheckpointError(f"model file {path} has no output shaped {wanted} (outputs: {outputs}); remake it "
                          f"with `{CONVERT_COMMAND}`")
