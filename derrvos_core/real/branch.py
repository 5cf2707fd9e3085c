"""DetectorBranch: the `real` model's trajectory branch (COCO detector -> tracker -> per-object masks)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from derrvos_core.errors import InputError
from derrvos_core.real.assemble import TrackFrames, assemble, fill_gaps, patch_centroid
from derrvos_core.real.config import RealBranchConfig
from derrvos_core.real.detector import CenterNetDetector, Detections, NanoDetDetector, make_detector
from derrvos_core.real.features import APPEARANCE_DIM, appearance
from derrvos_core.real.frame_features import DetectionFeatures
from derrvos_core.real.masks import PersonSegmenter, frame_patches
from derrvos_core.real.tracker import TrackingSession, skip, step
from derrvos_core.trajectory.types import Trajectories


@dataclass
class PreparedFrames:
    """uint8 [t, H, W, 3] RGB frames of one crop, checked."""

    frames: np.ndarray


class DetectorBranch:
    """Frames -> trajectories of real objects, from pretrained parts (see `RealBranchConfig`).

    Stateless: identities carried across crops live in the `TrackingSession` from `new_session`.
    Per-frame work (`frame_features`: detection, one mask patch and colour statistics per detection)
    reads each frame alone, except that with `detector_stride` > 1 which frames are detected counts
    from the crop's first frame (the stride is part of `key`).
    """

    def __init__(self, cfg: RealBranchConfig | None = None, *, detector: NanoDetDetector | CenterNetDetector | None = None,
                 person: PersonSegmenter | None = None):
        """Load the parts named by `cfg` (CheckpointError naming a missing or corrupt file and the command
        that makes it); `detector` / `person` replace the loaded parts (tests pass stand-ins)."""
        self.cfg = cfg or RealBranchConfig()
        self.detector = detector or make_detector(self.cfg)
        if person is None and self.cfg.person_path is not None:
            person = PersonSegmenter(self.cfg)
        self.person = person
        self.key = _branch_key(self.cfg) if detector is None else "detector-stand-in"

    def prepare(self, frames: np.ndarray) -> PreparedFrames:
        """Check uint8 [t, H, W, 3] RGB frames (InputError naming what is wrong)."""
        if not isinstance(frames, np.ndarray):
            raise InputError(f"frames must be a uint8 numpy array [t, H, W, 3], got {type(frames).__name__}")
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise InputError(f"frames must be [t, H, W, 3] RGB, got shape {frames.shape}")
        if frames.shape[0] == 0:
            raise InputError("no frames: a crop needs at least one frame")
        if frames.dtype != np.uint8:
            raise InputError(f"frames must be uint8 RGB, got dtype {frames.dtype}")
        if min(frames.shape[1:3]) < 16:
            raise InputError(f"frames are too small: {frames.shape[1:3]}; need at least 16 x 16 px")
        return PreparedFrames(frames=frames)

    def detect(self, frame: np.ndarray) -> Detections:
        """The detector alone on one uint8 [H, W, 3] RGB frame (also what the benchmark times)."""
        return self.detector.detect(frame)

    def frame_features(self, prepared: PreparedFrames) -> DetectionFeatures:
        frames = prepared.frames
        parts = [self._one_frame(f, i % self.cfg.detector_stride == 0) for i, f in enumerate(frames)]
        return DetectionFeatures.concat(parts)

    def _one_frame(self, frame: np.ndarray, run_detector: bool) -> DetectionFeatures:
        cfg, p = self.cfg, self.cfg.patch_size
        dets = self.detector.detect(frame) if run_detector else Detections.empty()
        d = len(dets)
        patches, sources = frame_patches(frame, dets.boxes, dets.classes, dets.scores, cfg, self.person)
        colour = np.zeros((d, APPEARANCE_DIM), np.float32)
        h, w = frame.shape[:2]
        for k in range(d):
            colour[k] = appearance(_box_pixels(frame, dets.boxes[k] * np.array([w, h, w, h]), p),
                                   patches[k] >= 128)
        return DetectionFeatures(
            frame_index=torch.zeros(d, dtype=torch.int64), boxes=torch.from_numpy(dets.boxes),
            scores=torch.from_numpy(dets.scores), class_probs=torch.from_numpy(dets.class_probs),
            patches=torch.from_numpy(patches), sources=torch.from_numpy(sources),
            appearance=torch.from_numpy(colour), detected=torch.tensor([run_detector]),
            image_size=(int(h), int(w)))

    def new_session(self) -> TrackingSession:
        return TrackingSession()

    def trajectories(self, features: DetectionFeatures, session: TrackingSession
                     ) -> tuple[Trajectories, torch.Tensor]:
        """The crop's trajectories, best first, and their session-stable slots (LongTensor [N]).

        Continues `session` (mutated: pass the same one to the next crop to keep identities).
        """
        tcfg = self.cfg.tracker
        start = session.frame
        earlier = {t.slot: (t.last_frame - start, t.centroid.astype(np.float32)) for t in session.tracks}
        tracks: dict[int, TrackFrames] = {}
        boxes, scores = features.boxes.numpy(), features.scores.numpy()
        probs, colour = features.class_probs.numpy(), features.appearance.numpy()
        patches = features.patches.numpy()
        for t in range(features.num_frames):
            if not bool(features.detected[t]):
                skip(session, tcfg)
                continue
            r = features.rows(t)
            centroids = np.stack([patch_centroid(patches[k], boxes[k]) for k in range(r.start, r.stop)]) \
                if r.stop > r.start else np.zeros((0, 2), np.float32)
            slots = step(session, boxes[r], scores[r], probs[r], colour[r], centroids, tcfg)
            for k, slot in zip(range(r.start, r.stop), slots.tolist()):
                if slot < 0:
                    continue
                tr = tracks.setdefault(slot, TrackFrames(slot, {}, {}, set(), earlier.get(slot)))
                tr.rows[t], tr.boxes[t] = k, boxes[k].astype(np.float64)
                tr.detected.add(t)
        max_gap = tcfg.fill_gaps + self.cfg.detector_stride - 1
        for tr in tracks.values():
            fill_gaps(tr, max_gap)
        self._carry_to_end(tracks, session, features.num_frames, start)
        out = assemble(list(tracks.values()), features, self.cfg)
        return Trajectories(
            embeddings=torch.from_numpy(out.embeddings), mask_logits=torch.from_numpy(out.mask_logits),
            scores=torch.from_numpy(out.scores), class_logits=torch.from_numpy(out.class_logits),
            boxes=torch.from_numpy(out.boxes), areas=torch.from_numpy(out.areas),
            mask_sources=torch.from_numpy(out.sources)), torch.from_numpy(out.slots)

    def _carry_to_end(self, tracks: dict[int, TrackFrames], session: TrackingSession, t_len: int,
                      start: int) -> None:
        """With a stride, the frames after a crop's last detected frame: boxes moved by the velocity."""
        stride = self.cfg.detector_stride
        if stride == 1:
            return
        velocity = {t.slot: np.tile(t.velocity, 2) for t in session.tracks}
        last_detected = ((t_len - 1) // stride) * stride
        for tr in tracks.values():
            if last_detected not in tr.detected or tr.slot not in velocity:
                continue
            for t in range(last_detected + 1, t_len):
                tr.boxes[t] = np.clip(tr.boxes[last_detected] + velocity[tr.slot] * (t - last_detected), 0, 1)
                tr.rows[t] = tr.rows[last_detected]


def _box_pixels(frame: np.ndarray, box_px: np.ndarray, size: int) -> np.ndarray:
    """The box's pixels resampled to size x size (the patch grid), so colours line up with the patch."""
    x0, y0, x1, y1 = box_px
    sx, sy = max(x1 - x0, 1e-3) / size, max(y1 - y0, 1e-3) / size
    m = np.array([[sx, 0, x0 + 0.5 * sx - 0.5], [0, sy, y0 + 0.5 * sy - 0.5]], np.float32)
    return cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def _branch_key(cfg: RealBranchConfig) -> str:
    settings = {k: v for k, v in cfg.to_dict().items() if k != "parts_dir"}  # the files' bytes count
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for path in (cfg.detector_path, cfg.person_path):
        if path is not None:
            digest.update(_file_digest(path).encode())
    return f"detector-{digest.hexdigest()[:12]}"


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
