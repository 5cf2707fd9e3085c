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
from derrvos_core.real.assemble import TrackFrames, assemble, borrow_masks, fill_gaps, patch_centroid
from derrvos_core.real.config import RealBranchConfig
from derrvos_core.real.detector import CenterNetDetector, Detections, NanoDetDetector, make_detector
from derrvos_core.real.features import SOURCE_UNSEGMENTED, appearance
from derrvos_core.real.frame_features import DetectionFeatures
from derrvos_core.real.masks import PersonSegmenter, frame_patches
from derrvos_core.real.tracker import TrackingSession, skip, step
from derrvos_core.trajectory.types import Trajectories


@dataclass
class PreparedFrames:
    """uint8 [t, H, W, 3] RGB frames of one crop, checked, and the video index of the first one."""

    frames: np.ndarray
    start: int = 0


class DetectorBranch:
    """Frames -> trajectories of real objects, from pretrained parts (see `RealBranchConfig`).

    Stateless: identities carried across crops live in the `TrackingSession` from `new_session`.
    Per-frame work (`frame_features`: detection, one mask patch and colour statistics per detection)
    reads each frame alone; with `detector_stride` > 1 the detector runs on video frames whose index is
    a multiple of the stride (`prepare(frames, start)` says where the crop starts), so a frame's
    features do not depend on how the video is cut into crops.
    """

    def __init__(self, cfg: RealBranchConfig | None = None, *,
                 detector: NanoDetDetector | CenterNetDetector | None = None,
                 person: PersonSegmenter | None = None):
        """Load the parts named by `cfg` (CheckpointError naming a missing or corrupt file and the command
        that makes it); `detector` / `person` replace the loaded parts (tests pass stand-ins)."""
        self.cfg = cfg or RealBranchConfig()
        self.detector = detector or make_detector(self.cfg)
        if person is None and self.cfg.person_path is not None:
            person = PersonSegmenter(self.cfg)
        self.person = person
        self.key = _branch_key(self.cfg) if detector is None else "detector-stand-in"

    def prepare(self, frames: np.ndarray, start: int = 0) -> PreparedFrames:
        """Check uint8 [t, H, W, 3] RGB frames (InputError naming what is wrong); `start` is the video
        index of the first frame (it decides which frames the detector runs on when the stride is > 1)."""
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
        if start < 0:
            raise InputError(f"start must be >= 0, got {start}")
        return PreparedFrames(frames=frames, start=int(start))

    def detect(self, frame: np.ndarray) -> Detections:
        """The detector alone on one uint8 [H, W, 3] RGB frame (also what the benchmark times)."""
        return self.detector.detect(frame)

    def frame_features(self, prepared: PreparedFrames) -> DetectionFeatures:
        frames = prepared.frames
        stride, every = self.cfg.detector_stride, self.cfg.segment_every
        parts = [self._one_frame(f, (prepared.start + i) % stride == 0, (prepared.start + i) % every == 0)
                 for i, f in enumerate(frames)]
        fields = {name: torch.from_numpy(np.concatenate([p[name] for p in parts])) for name in parts[0]}
        index = np.repeat(np.arange(len(parts)), [len(p["scores"]) for p in parts])
        return DetectionFeatures(frame_index=torch.from_numpy(index.astype(np.int64)),
                                 image_size=tuple(int(v) for v in frames.shape[1:3]), **fields)

    def _one_frame(self, frame: np.ndarray, run_detector: bool, segment: bool) -> dict[str, np.ndarray]:
        """One frame's detections, mask patches, sources and colour statistics (numpy, by field name)."""
        cfg = self.cfg
        dets = self.detector.detect(frame) if run_detector else Detections.empty()
        d = len(dets)
        patches, sources = frame_patches(frame, dets.boxes, dets.classes, dets.scores, cfg, self.person,
                                         segment)
        h, w = frame.shape[:2]
        g = cfg.colour_grid
        crops = np.zeros((d, g, g, 3), np.uint8)
        small = np.zeros((d, g, g), bool)
        for k in range(d):
            crops[k] = _box_pixels(frame, dets.boxes[k] * np.array([w, h, w, h]), g)
            small[k] = cv2.resize(patches[k], (g, g), interpolation=cv2.INTER_AREA) >= 128
        colour = appearance(crops, small)
        return {"boxes": dets.boxes, "scores": dets.scores, "class_probs": dets.class_probs,
                "patches": patches, "sources": sources, "appearance": colour,
                "detected": np.array([run_detector])}

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
        segmented = features.sources.numpy() != SOURCE_UNSEGMENTED
        for t in range(features.num_frames):
            if not bool(features.detected[t]):
                skip(session, tcfg)
                continue
            r = features.rows(t)
            centroids = np.stack([patch_centroid(patches[k], boxes[k]) for k in range(r.start, r.stop)]) \
                if r.stop > r.start else np.zeros((0, 2), np.float32)
            slots = step(session, boxes[r], scores[r], probs[r], colour[r], centroids, tcfg, segmented[r])
            for k, slot in zip(range(r.start, r.stop), slots.tolist()):
                if slot < 0:
                    continue
                tr = tracks.setdefault(slot, TrackFrames(slot, {}, {}, set(), earlier.get(slot)))
                tr.rows[t], tr.boxes[t] = k, boxes[k].astype(np.float64)
                tr.detected.add(t)
        max_gap = tcfg.fill_gaps + self.cfg.detector_stride - 1
        for tr in tracks.values():
            fill_gaps(tr, max_gap)
        self._carry_past_detections(tracks, session, features)
        for tr in tracks.values():
            borrow_masks(tr, segmented)
        out = assemble(list(tracks.values()), features, self.cfg)
        return Trajectories(
            embeddings=torch.from_numpy(out.embeddings), mask_logits=torch.from_numpy(out.mask_logits),
            scores=torch.from_numpy(out.scores), class_logits=torch.from_numpy(out.class_logits),
            boxes=torch.from_numpy(out.boxes), areas=torch.from_numpy(out.areas),
            mask_sources=torch.from_numpy(out.sources)), torch.from_numpy(out.slots)

    def _carry_past_detections(self, tracks: dict[int, TrackFrames], session: TrackingSession,
                               features: DetectionFeatures) -> None:
        """With a stride, a crop's frames before its first and after its last detected frame: the
        boundary detection's box moved by the identity's velocity, its mask patch moved with it."""
        detected = np.nonzero(features.detected.numpy())[0]
        if self.cfg.detector_stride == 1 or detected.size == 0:
            return
        velocity = {t.slot: np.tile(t.velocity, 2) for t in session.tracks}
        first, last = int(detected[0]), int(detected[-1])
        for tr in tracks.values():
            v = velocity.get(tr.slot)
            if v is None:
                continue
            for edge, frames in ((first, range(first)), (last, range(last + 1, features.num_frames))):
                if edge not in tr.detected:
                    continue
                for t in frames:
                    tr.boxes[t] = np.clip(tr.boxes[edge] + v * (t - edge), 0, 1)
                    tr.rows[t] = tr.rows[edge]


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
