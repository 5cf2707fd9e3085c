"""Online association of detections into identities (ByteTrack's two stages, plus colour appearance).

Each identity predicts its box with a constant-velocity model; detections are matched by motion
(IoU with the predicted box, or nearness of centres once the identity has been lost for a while, so it
is found again after a short occlusion) and by the colour statistics of their masks, so two people
crossing keep their identities. A `TrackingSession` carries the identities from crop to crop.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from derrvos_core.real.config import TrackerConfig
from derrvos_core.real.detector import box_iou
from derrvos_core.real.features import appearance_similarity


@dataclass
class Track:
    """One identity's online state.

    Attributes:
        slot: the session-stable id.
        box: float [4]; last matched box (x0, y0, x1, y1) in [0, 1].
        velocity: float [4]; smoothed box displacement per frame.
        appearance: float [APPEARANCE_DIM]; smoothed colour statistics.
        class_probs: float [80]; smoothed class distribution.
        last_frame: session frame counter at the last match.
        centroid: float [2]; mask centroid at the last match (for per-frame velocity across crops).
        hits: detections matched so far.
    """

    slot: int
    box: np.ndarray
    velocity: np.ndarray
    appearance: np.ndarray
    class_probs: np.ndarray
    last_frame: int
    centroid: np.ndarray
    hits: int = 1

    def predicted(self, frame: int) -> np.ndarray:
        return self.box + self.velocity * (frame - self.last_frame)


@dataclass
class TrackingSession:
    """The identities alive after the frames seen so far; pass it on to continue into the next crop.

    Attributes:
        tracks: identities matched within the last `max_age` frames.
        next_slot: the next unused slot.
        frame: frames seen so far (the session's clock).
    """

    tracks: list[Track] = field(default_factory=list)
    next_slot: int = 0
    frame: int = 0


def motion_similarity(tracks: list[Track], boxes: np.ndarray, frame: int, cfg: TrackerConfig) -> np.ndarray:
    """[n_tracks, n_dets] in [0, 1]: IoU with the predicted box, or the centre term if larger.

    The centre term exp(-(d / (centre_scale * h))^2), h the predicted height, widens with the frames
    since the last match (the prediction grows uncertain) and is scaled by the ratio of heights.
    """
    if not tracks or boxes.shape[0] == 0:
        return np.zeros((len(tracks), boxes.shape[0]), np.float32)
    pred = np.stack([t.predicted(frame) for t in tracks])
    iou = box_iou(pred, boxes)
    gap = np.array([frame - t.last_frame for t in tracks], np.float32)
    pc = (pred[:, :2] + pred[:, 2:]) / 2
    dc = (boxes[:, :2] + boxes[:, 2:]) / 2
    ph = np.maximum(pred[:, 3] - pred[:, 1], 1e-4)
    dh = np.maximum(boxes[:, 3] - boxes[:, 1], 1e-4)
    dist = np.linalg.norm(pc[:, None] - dc[None], axis=-1)
    scale = cfg.centre_scale * ph * (1.0 + 0.1 * np.maximum(gap - 1, 0))
    centre = np.exp(-(dist / scale[:, None]) ** 2) * (np.minimum(ph[:, None], dh[None]) /
                                                       np.maximum(ph[:, None], dh[None]))
    return np.maximum(iou, centre).astype(np.float32)


def _match(sim: np.ndarray, ok: np.ndarray, min_sim: float) -> list[tuple[int, int]]:
    if sim.size == 0:
        return []
    cost = np.where(ok, sim, -1.0)
    rows, cols = linear_sum_assignment(cost, maximize=True)
    return [(i, j) for i, j in zip(rows.tolist(), cols.tolist()) if ok[i, j] and sim[i, j] >= min_sim]


def step(session: TrackingSession, boxes: np.ndarray, scores: np.ndarray, class_probs: np.ndarray,
         appearance: np.ndarray, centroids: np.ndarray, cfg: TrackerConfig) -> np.ndarray:
    """Associate one frame's detections; returns int64 [D]: each detection's slot, -1 when unmatched.

    Stage 1 matches detections scoring >= `high_score` with every identity (motion + appearance);
    stage 2 matches the rest (>= `low_score`) with identities still unmatched that were seen on the
    previous frame, by motion alone. Unmatched detections >= `new_track_score` start identities;
    identities unmatched for more than `max_age` frames end. Advances the session's clock by one.
    """
    frame = session.frame
    slots = np.full(boxes.shape[0], -1, np.int64)
    tracks = session.tracks
    motion = motion_similarity(tracks, boxes, frame, cfg)
    if tracks and boxes.shape[0]:
        app = appearance_similarity(np.stack([t.appearance for t in tracks]), appearance)
        cls = np.minimum(np.stack([t.class_probs for t in tracks])[:, None], class_probs[None]).sum(-1)
    else:
        app = cls = np.zeros_like(motion)
    w = cfg.appearance_weight
    sim = (1 - w) * motion + w * app
    compatible = (motion >= cfg.min_motion) & (cls >= 0.1)
    high = scores >= cfg.high_score
    matched_tracks: set[int] = set()
    pairs = _match(sim[:, high], compatible[:, high], cfg.min_similarity)
    high_idx = np.nonzero(high)[0]
    assignments = [(i, int(high_idx[j])) for i, j in pairs]
    matched_tracks.update(i for i, _ in assignments)
    low_idx = np.nonzero(~high & (scores >= cfg.low_score))[0]
    recent = np.array([i not in matched_tracks and frame - t.last_frame == 1 for i, t in enumerate(tracks)],
                      bool)
    if low_idx.size and recent.any():
        rec_idx = np.nonzero(recent)[0]
        sub = motion[np.ix_(rec_idx, low_idx)]
        pairs = _match(sub, compatible[np.ix_(rec_idx, low_idx)] & (sub >= 0.3), 0.3)
        assignments += [(int(rec_idx[i]), int(low_idx[j])) for i, j in pairs]
    for i, j in assignments:
        _update(tracks[i], boxes[j], class_probs[j], appearance[j], centroids[j], frame, cfg)
        slots[j] = tracks[i].slot
    for j in np.nonzero((slots < 0) & (scores >= cfg.new_track_score))[0]:
        tracks.append(Track(slot=session.next_slot, box=boxes[j].astype(np.float64),
                            velocity=np.zeros(4), appearance=appearance[j].astype(np.float64),
                            class_probs=class_probs[j].astype(np.float64), last_frame=frame,
                            centroid=centroids[j].astype(np.float64)))
        slots[j] = session.next_slot
        session.next_slot += 1
    session.tracks = [t for t in tracks if frame - t.last_frame <= cfg.max_age]
    session.frame = frame + 1
    return slots


def skip(session: TrackingSession, cfg: TrackerConfig) -> None:
    """A frame without detections (skipped by the detector stride): only the clock moves."""
    session.frame += 1
    session.tracks = [t for t in session.tracks if session.frame - 1 - t.last_frame <= cfg.max_age]


def _update(track: Track, box, class_probs, appearance, centroid, frame: int, cfg: TrackerConfig) -> None:
    gap = max(frame - track.last_frame, 1)
    shift = (box - track.box) / gap
    m = cfg.velocity_momentum if track.hits > 1 else 0.0
    track.velocity = m * track.velocity + (1 - m) * shift
    a = cfg.appearance_momentum
    track.appearance = a * track.appearance + (1 - a) * appearance
    track.class_probs = a * track.class_probs + (1 - a) * class_probs
    track.box = box.astype(np.float64)
    track.centroid = centroid.astype(np.float64)
    track.last_frame = frame
    track.hits += 1
