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


def postprocess(raw: np.ndarray, cfg: RealBranchConfig, class_scores: np.ndarray | None = None) -> Detections:
    """Raw detector rows [M, 6] (x0, y0, x1, y1 in [0, 1], score, class) -> kept `Detections`.

    Same-class NMS at `cfg.nms_iou`; then a detection overlapping a stronger one of another class at
    `cfg.cross_class_iou` or more is the same object seen as another class: it is dropped and its score
    added to the stronger one's evidence for its class. A detection's class distribution is, normalised,
    its per-class scores (`class_scores` [M, 80], when the detector gives them; else its own class's
    score) joined by element-wise max with the scores of the rows it suppressed across classes.
    """
    keep_raw = raw[:, 4] >= cfg.score_threshold
    raw = raw[keep_raw]
    order = np.argsort(-raw[:, 4], kind="stable")[:4 * cfg.max_detections]  # NMS keeps far fewer
    raw = raw[order]
    if class_scores is not None:
        class_scores = class_scores[keep_raw][order]
    boxes = np.clip(raw[:, :4], 0.0, 1.0).astype(np.float32)
    scores = raw[:, 4].astype(np.float32)
    classes = raw[:, 5].astype(np.int64).clip(0, NUM_CLASSES - 1)
    ok = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, scores, classes = boxes[ok], scores[ok], classes[ok]
    iou = box_iou(boxes, boxes)
    evidence = np.zeros((len(scores), NUM_CLASSES), np.float32)
    if class_scores is not None:
        evidence[:] = np.clip(class_scores[ok], 0.0, 1.0)
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
    probs = evidence[keep] / np.maximum(evidence[keep].sum(1, keepdims=True), 1e-6)
    return Detections(boxes[keep], scores[keep], classes[keep], probs.astype(np.float32))


class CenterNetDetector:
    """CenterNet-MobileNetV3 on COCO-80 (`centernet.onnx`): uint8 RGB frame -> `Detections`.

    The frame is letterboxed into the square input (scaled to fit, zero padding right and bottom), as
    upstream trains it. Its graph gives boxes, one class and a score per peak, no per-class scores.
    """

    def __init__(self, cfg: RealBranchConfig):
        self.cfg = cfg
        path = cfg.detector_path
        self.session = load_onnx(path, cfg.threads)
        self.input_name, shape = single_input(self.session, path)
        self.input_size = int(shape[1])
        outputs = {o.name: list(o.shape) for o in self.session.get_outputs()}
        self.output_name = _find_output(outputs, lambda s: len(s) == 3 and s[-1] == 6, path, "[1, 100, 6]")

    def detect(self, frame: np.ndarray) -> Detections:
        """Detections of one uint8 [H, W, 3] RGB frame, boxes in [0, 1] of that frame."""
        h, w = frame.shape[:2]
        size = self.input_size
        scale = size / max(h, w)
        nh, nw = round(h * scale), round(w * scale)
        x = np.zeros((1, size, size, 3), np.float32)
        x[0, :nh, :nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
        raw = self.session.run([self.output_name], {self.input_name: x})[0][0].astype(np.float32).copy()
        raw[:, [0, 2]] /= nw
        raw[:, [1, 3]] /= nh
        return postprocess(raw, self.cfg)


NANODET_MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32)
NANODET_STD_BGR = np.array([57.375, 57.12, 58.395], np.float32)
NANODET_STRIDES = (8, 16, 32)
NANODET_BINS = 11


class NanoDetDetector:
    """NanoDet (GFL head) on COCO-80 (`nanodet.onnx`): uint8 RGB frame -> `Detections`.

    The frame is resized (stretched) to the square input, BGR, normalised. Per stride 8 / 16 / 32 the
    graph gives sigmoid class scores [cells, 80] and box logits [cells, 4 x 11] (distances left, top,
    right, bottom from the cell centre as the expectation of a softmax over 11 bins, times the stride).
    Every class score of a detection's cell goes into its class distribution.
    """

    def __init__(self, cfg: RealBranchConfig):
        self.cfg = cfg
        path = cfg.detector_path
        self.session = load_onnx(path, cfg.threads)
        self.input_name, shape = single_input(self.session, path)
        self.input_size = int(shape[2])
        outputs = {o.name: list(o.shape) for o in self.session.get_outputs()}
        cells = {(self.input_size // s) ** 2: s for s in NANODET_STRIDES}
        self.heads = []  # (stride, class output, box output)
        for n, stride in sorted(cells.items(), key=lambda kv: kv[1]):
            cls = _find_output(outputs, lambda s, n=n: s[1:] == [n, NUM_CLASSES], path, f"[1, {n}, 80]")
            box = _find_output(outputs, lambda s, n=n: s[1:] == [n, 4 * NANODET_BINS], path, f"[1, {n}, 44]")
            self.heads.append((stride, cls, box))

    def detect(self, frame: np.ndarray) -> Detections:
        size = self.input_size
        bgr = cv2.resize(frame, (size, size), interpolation=cv2.INTER_LINEAR)[..., ::-1].astype(np.float32)
        x = ((bgr - NANODET_MEAN_BGR) / NANODET_STD_BGR).transpose(2, 0, 1)[None]
        names = [n for _, c, b in self.heads for n in (c, b)]
        out = dict(zip(names, self.session.run(names, {self.input_name: np.ascontiguousarray(x)})))
        rows, class_rows = [], []
        bins = np.arange(NANODET_BINS, dtype=np.float32)
        for stride, cls_name, box_name in self.heads:
            scores = out[cls_name][0]
            best = scores.max(1)
            idx = np.nonzero(best >= self.cfg.score_threshold)[0]
            if idx.size == 0:
                continue
            logits = out[box_name][0][idx].reshape(-1, 4, NANODET_BINS)
            p = np.exp(logits - logits.max(-1, keepdims=True))
            dist = (p / p.sum(-1, keepdims=True) @ bins) * stride  # [k, 4]
            side = size // stride
            cx, cy = (idx % side + 0.5) * stride, (idx // side + 0.5) * stride
            box = np.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], 1) / size
            rows.append(np.concatenate([box, best[idx, None], scores[idx].argmax(1)[:, None]], 1))
            class_rows.append(scores[idx])
        if not rows:
            return Detections.empty()
        return postprocess(np.concatenate(rows).astype(np.float32), self.cfg, np.concatenate(class_rows))


DETECTORS = {"nanodet": NanoDetDetector, "centernet": CenterNetDetector}


def make_detector(cfg: RealBranchConfig):
    """The detector `cfg.detector` names (its file: `cfg.detector_path`)."""
    return DETECTORS[cfg.detector](cfg)


def _find_output(outputs: dict[str, list], test, path: Path, wanted: str) -> str:
    for name, shape in outputs.items():
        if test(shape):
            return name
    raise CheckpointError(f"model file {path} has no output shaped {wanted} (outputs: {outputs}); remake it "
                          f"with `{CONVERT_COMMAND}`")
