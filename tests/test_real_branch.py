"""The `detector` trajectory branch: NMS, masks inside boxes, tracking through occlusion, per-frame
features, sessions across crops, clear errors for missing parts, and real footage (vtest.avi)."""
from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from derrvos_core.errors import CheckpointError, InputError
from derrvos_core.model.branches import TrajectoryBranch
from derrvos_core.real import CONVERT_COMMAND, DetectorBranch, RealBranchConfig, TrackerConfig
from derrvos_core.real import features as F
from derrvos_core.real.assemble import paste
from derrvos_core.real.detector import Detections, postprocess
from derrvos_core.trajectory.types import Trajectories

# ---------------------------------------------------------------- synthetic scenes (no model files)

COLOURS = {"red": (200, 30, 30), "blue": (30, 60, 200)}
SIZE = (120, 160)  # H, W


def crossing_frames(n: int = 24) -> np.ndarray:
    """Red moves right behind blue moving left; they cross mid-clip (red hidden for a few frames)."""
    h, w = SIZE
    frames = np.full((n, h, w, 3), 120, np.uint8)
    frames[:, 80:, :] = (60, 140, 60)  # a lawn, so GrabCut has a background model
    for t in range(n):
        rx = int(10 + t * 5.5)
        bx = int(140 - t * 5.5)
        frames[t, 40:90, rx:rx + 16] = COLOURS["red"]
        frames[t, 38:92, bx - 18:bx] = COLOURS["blue"]  # drawn last: in front
    return frames


class ColourDetector:
    """A stand-in detector: one 'car' per palette colour with enough visible pixels (per frame only)."""

    def detect(self, frame: np.ndarray) -> Detections:
        h, w = frame.shape[:2]
        rows = []
        for colour in COLOURS.values():
            ys, xs = np.nonzero(np.abs(frame.astype(int) - colour).sum(-1) < 10)
            if ys.size < 150:
                continue
            rows.append([xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h, 0.9, 2])
        raw = np.asarray(rows, np.float32).reshape(-1, 6)
        return postprocess(raw, RealBranchConfig(), None)


@pytest.fixture(scope="module")
def fake_branch() -> DetectorBranch:
    return DetectorBranch(RealBranchConfig(person_file=""), detector=ColourDetector())


def test_branch_is_a_trajectory_branch(fake_branch):
    assert isinstance(fake_branch, TrajectoryBranch)


def test_config_rejects_bad_values():
    with pytest.raises(InputError, match="detector_stride"):
        RealBranchConfig(detector_stride=0)
    with pytest.raises(InputError, match="low_score"):
        TrackerConfig(low_score=0.6, high_score=0.4)
    cfg = RealBranchConfig(top_k=7, tracker=TrackerConfig(max_age=3))
    assert RealBranchConfig.from_dict(cfg.to_dict()) == cfg


def test_nms_merges_classes_and_suppresses_duplicates():
    raw = np.array([[0.1, 0.1, 0.5, 0.9, 0.8, 0],     # person
                    [0.11, 0.1, 0.5, 0.9, 0.6, 0],    # duplicate person
                    [0.1, 0.1, 0.5, 0.895, 0.3, 2],   # same object seen as a car
                    [0.6, 0.2, 0.9, 0.5, 0.7, 2],     # a car
                    [0.6, 0.2, 0.9, 0.5, 0.1, 7]],    # below the score threshold
                   np.float32)
    dets = postprocess(raw, RealBranchConfig(), None)
    assert len(dets) == 2
    assert dets.classes.tolist() == [0, 2]
    np.testing.assert_allclose(dets.class_probs.sum(1), 1.0, rtol=1e-5)
    assert dets.class_probs[0, 2] > 0 and dets.class_probs[0, 0] > dets.class_probs[0, 2]
    assert dets.class_probs[1, 7] == 0


def test_paste_stays_inside_box_and_never_empty():
    patch = np.full((48, 48), 255, np.uint8)
    box = np.array([0.2, 0.3, 0.45, 0.8], np.float32)
    logits = paste(patch, box, (30, 40))
    ys, xs = np.nonzero(logits > 0)
    assert xs.min() >= 0.2 * 40 - 0.5 and xs.max() + 1 <= 0.45 * 40 + 0.5
    assert ys.min() >= 0.3 * 30 - 0.5 and ys.max() + 1 <= 0.8 * 30 + 0.5
    tiny = paste(patch, np.array([0.5, 0.5, 0.505, 0.506], np.float32), (30, 40))
    assert (tiny > 0).sum() == 1


def test_appearance_separates_colours():
    crop = np.zeros((20, 10, 3), np.uint8)
    crop[:10] = (235, 135, 175)  # pink top
    crop[10:] = (40, 70, 180)   # blue legs
    crop = cv2.resize(crop, (24, 24), interpolation=cv2.INTER_NEAREST)
    a = F.appearance(crop[None], np.ones((1, 24, 24), bool))[0]
    pal = F.PALETTE_NAMES
    off = F.APPEARANCE.start
    upper = a[F.PALETTE_UPPER.start - off:F.PALETTE_UPPER.stop - off]
    lower = a[F.PALETTE_LOWER.start - off:F.PALETTE_LOWER.stop - off]
    assert pal[int(upper.argmax())] == "pink" and pal[int(lower.argmax())] == "blue"
    assert F.appearance_similarity(a[None], a[None])[0, 0] > 0.99
    other = F.appearance(np.full((1, 24, 24, 3), (20, 20, 20), np.uint8), np.ones((1, 24, 24), bool))[0]
    assert not F.appearance(crop[None], np.zeros((1, 24, 24), bool)).any()
    assert F.appearance_similarity(a[None], other[None])[0, 0] < 0.3


def test_frame_features_are_per_frame():
    fake_branch = DetectorBranch(RealBranchConfig(person_file="", segment_every=2), detector=ColourDetector())
    frames = crossing_frames(6)
    feats = fake_branch.frame_features(fake_branch.prepare(frames))
    alone = fake_branch.frame_features(fake_branch.prepare(frames[3:4], start=3))
    cut = fake_branch.frame_features(fake_branch.prepare(frames[2:6], start=2)).frame(1)
    one = feats.frame(3)
    for name in ("boxes", "scores", "class_probs", "patches", "sources", "appearance", "frame_index"):
        assert torch.equal(getattr(one, name), getattr(alone, name)), name
        assert torch.equal(getattr(one, name), getattr(cut, name)), name
    assert (one.sources == F.SOURCE_UNSEGMENTED).all()  # segment_every = 2 skips odd video frames
    assert (feats.frame(2).sources != F.SOURCE_UNSEGMENTED).all()
    back = type(feats).concat([feats.frame(i) for i in range(6)])
    assert torch.equal(back.frame_index, feats.frame_index) and torch.equal(back.patches, feats.patches)
    assert feats.nbytes == sum(feats.frame(i).nbytes for i in range(6))
    assert feats.frame(2).patches.untyped_storage().nbytes() < feats.patches.untyped_storage().nbytes()


def test_identities_hold_through_a_crossing(fake_branch):
    frames = crossing_frames(24)
    feats = fake_branch.frame_features(fake_branch.prepare(frames))
    assert min(len(range(*feats.rows(t).indices(len(feats.scores)))) for t in range(24)) == 1  # red hidden
    traj, slots = fake_branch.trajectories(feats, fake_branch.new_session())
    _check_shapes(traj, slots, 24, SIZE, 4)
    assert traj.num_trajectories == 2
    red_x = [traj.embeddings[:, t, F.CENTROID][:, 0] for t in (0, 23)]
    # the trajectory that starts on the left (red) ends on the right
    first = int(torch.argmin(red_x[0]))
    assert red_x[1][first] > 0.6
    mean_lab = traj.embeddings[first, 0, F.LAB_MEAN]
    assert mean_lab[1] > 0.3  # red: large a*
    _check_inside_boxes(traj)
    assert (traj.mask_sources == F.SOURCE_GRABCUT).all()


def test_session_keeps_slots_across_crops(fake_branch):
    frames = crossing_frames(24)
    feats = fake_branch.frame_features(fake_branch.prepare(frames))
    _whole, whole_slots = fake_branch.trajectories(feats, fake_branch.new_session())
    session = fake_branch.new_session()
    parts = [type(feats).concat([feats.frame(i) for i in range(a, a + 8)]) for a in (0, 8, 16)]
    slot_sets = [set(fake_branch.trajectories(p, session)[1].tolist()) for p in parts]
    assert slot_sets[0] == slot_sets[2] == set(whole_slots.tolist())
    fresh = fake_branch.trajectories(parts[2], fake_branch.new_session())[0]
    assert fresh.embeddings[:, 0, F.VELOCITY].abs().sum() == 0  # no history in a fresh session
    linked = fake_branch.trajectories(parts[2], _session_after(fake_branch, parts[:2]))[0]
    assert linked.embeddings[:, 0, F.VELOCITY].abs().sum() > 0


def _session_after(branch, parts):
    session = branch.new_session()
    for p in parts:
        branch.trajectories(p, session)
    return session


def test_empty_crop_gives_no_trajectories(fake_branch):
    frames = np.full((3, 64, 80, 3), 120, np.uint8)
    traj, slots = fake_branch.trajectories(fake_branch.frame_features(fake_branch.prepare(frames)),
                                           fake_branch.new_session())
    _check_shapes(traj, slots, 3, (64, 80), 4)
    assert traj.num_trajectories == 0


def test_prepare_rejects_bad_frames(fake_branch):
    with pytest.raises(InputError, match="uint8"):
        fake_branch.prepare(np.zeros((2, 32, 32, 3), np.float32))
    with pytest.raises(InputError, match="no frames"):
        fake_branch.prepare(np.zeros((0, 32, 32, 3), np.uint8))


def test_missing_or_corrupt_model_files_fail_clearly(tmp_path):
    with pytest.raises(CheckpointError) as err:
        DetectorBranch(RealBranchConfig(parts_dir=str(tmp_path)))
    assert str(tmp_path / "nanodet.onnx") in str(err.value) and CONVERT_COMMAND in str(err.value)
    (tmp_path / "nanodet.onnx").write_bytes(b"\x00not an onnx model" * 10)
    with pytest.raises(CheckpointError) as err:
        DetectorBranch(RealBranchConfig(parts_dir=str(tmp_path)))
    assert "corrupt" in str(err.value) and CONVERT_COMMAND in str(err.value)
    detector = RealBranchConfig().detector_path
    if detector.is_file():  # a good detector, no person model: the error names the person model's file
        (tmp_path / "nanodet.onnx").unlink()
        (tmp_path / "nanodet.onnx").symlink_to(detector)
        with pytest.raises(CheckpointError, match="selfie.onnx is missing"):
            DetectorBranch(RealBranchConfig(parts_dir=str(tmp_path)))


def _check_shapes(traj: Trajectories, slots: torch.Tensor, t: int, image: tuple[int, int], stride: int):
    n = traj.num_trajectories
    h, w = -(-image[0] // stride), -(-image[1] // stride)
    assert traj.embeddings.shape == (n, t, F.EMBED_DIM)
    assert traj.mask_logits.shape == (n, t, h, w)
    assert traj.scores.shape == (n,) and traj.class_logits.shape == (n, F.NUM_CLASSES + 1)
    assert traj.boxes.shape == (n, t, 4) and traj.areas.shape == (n, t)
    assert slots.shape == (n,) and slots.dtype == torch.int64
    assert ((traj.scores >= 0) & (traj.scores <= 1)).all()
    assert torch.all(traj.scores[:-1] >= traj.scores[1:])
    present = traj.embeddings[..., F.PRESENT.start] > 0
    assert torch.equal(present, (traj.mask_logits > 0).flatten(2).any(-1))  # a mask wherever present
    assert torch.equal(present, traj.boxes.abs().sum(-1) > 0)


def _check_inside_boxes(traj: Trajectories):
    _n, _t, h, w = traj.mask_logits.shape
    ys = (torch.arange(h) + 0.5) / h
    xs = (torch.arange(w) + 0.5) / w
    b = traj.boxes[..., None, None]
    inside = (xs >= b[..., 0, :, :]) & (xs <= b[..., 2, :, :]) & \
        (ys[:, None] >= b[..., 1, :, :]) & (ys[:, None] <= b[..., 3, :, :])
    assert not ((traj.mask_logits > 0) & ~inside).any()


# ---------------------------------------------------------------- real footage (vtest.avi + model files)

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def _vtest_path(tmp_dir: Path) -> Path | None:
    if VTEST.is_file():
        return VTEST
    gz = VTEST.with_name(VTEST.name + ".gz")
    if gz.is_file():
        out = tmp_dir / "vtest.avi"
        with gzip.open(gz) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
        return out
    return None


#: vtest.avi frames 470-517, looked at frame by frame: the bald man in the dark jacket and jeans walks
#: up-left from the bottom right and passes in front of the man dressed all in black (frames ~479-488),
#: then the young man in jacket and jeans walking down-right from the left passes in front of the bald
#: man (~494-500) and of the man in black (~501-506), hiding each for a few frames; the woman in red
#: walks left behind the lamp post. (x, y) pixels inside each person's box on the first and last frame.
CLIP = (470, 518)
PEOPLE = {
    "bald man": ((692, 360), (520, 260)),
    "young man": ((423, 276), (735, 380)),
    "man in black": ((555, 268), (633, 320)),
    "woman in red": ((471, 258), (247, 214)),
}


@pytest.fixture(scope="module")
def vtest_run(tmp_path_factory):
    """The real branch on CLIP: (frames, features, trajectories, slots), and the same clip in two crops
    with one session (linked)."""
    import cv2

    cfg = RealBranchConfig()
    missing = [p for p in (cfg.detector_path, cfg.person_path) if not p.is_file()]
    if missing:
        pytest.skip(f"model files {missing} absent: make them with `{CONVERT_COMMAND}`")
    video = _vtest_path(tmp_path_factory.mktemp("vtest"))
    if video is None:
        pytest.skip(f"{VTEST} absent: apt-get install -y opencv-doc")
    cap = cv2.VideoCapture(str(video))
    frames = []
    for i in range(CLIP[1]):
        ok, bgr = cap.read()
        assert ok, f"{video} ended at frame {i}"
        if i >= CLIP[0]:
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    frames = np.stack(frames)
    branch = DetectorBranch(cfg)
    feats = branch.frame_features(branch.prepare(frames, start=CLIP[0]))
    traj, slots = branch.trajectories(feats, branch.new_session())
    session = branch.new_session()
    half = len(frames) // 2
    crops = [branch.trajectories(type(feats).concat([feats.frame(i) for i in r]), session)
             for r in (range(half), range(half, len(frames)))]
    return branch, frames, feats, traj, slots, crops


def _holding(traj: Trajectories, t: int, point) -> list[int]:
    h, w = 576, 768
    x, y = point[0] / w, point[1] / h
    b = traj.boxes[:, t]
    inside = (b[:, 0] <= x) & (x <= b[:, 2]) & (b[:, 1] <= y) & (y <= b[:, 3])
    return torch.nonzero(inside).flatten().tolist()


def test_vtest_identities_hold_through_crossings(vtest_run):
    _, frames, _, traj, slots, crops = vtest_run
    _check_shapes(traj, slots, len(frames), frames.shape[1:3], RealBranchConfig().mask_stride)
    last = len(frames) - 1
    for name, (start, end) in PEOPLE.items():
        at_start = _holding(traj, 0, start)
        assert at_start, f"no trajectory on the {name} at frame {CLIP[0]}"
        followed = [i for i in at_start if i in _holding(traj, last, end)]
        assert followed, f"the {name}'s trajectory does not reach his/her place at frame {CLIP[1] - 1}"
        i = followed[0]
        present = (traj.embeddings[i, :, F.PRESENT.start] > 0).float().mean()
        assert present >= 0.9, f"the {name} is present on only {present:.0%} of the frames"
        assert traj.class_logits[i].argmax() == F.PERSON
        assert traj.mask_sources[i] == F.SOURCE_PERSON_MODEL
    (first, first_slots), (second, second_slots) = crops
    for name, (start, end) in PEOPLE.items():  # linked crops: the same slot on both sides of the cut
        a = {int(first_slots[i]) for i in _holding(first, 0, start)}
        b = {int(second_slots[i]) for i in _holding(second, second.num_frames - 1, end)}
        assert a & b, f"the {name}'s slot changes between linked crops ({a} vs {b})"


def test_vtest_masks_inside_boxes_and_whole_people(vtest_run):
    _, _frames, _, traj, _, _ = vtest_run
    _check_inside_boxes(traj)
    for name, (start, _) in PEOPLE.items():
        i = next(iter(_holding(traj, 0, start)))
        mask = traj.mask_logits[i, 0] > 0
        rows = torch.nonzero(mask.any(1)).flatten()
        h = traj.mask_logits.shape[2]
        box_h = (traj.boxes[i, 0, 3] - traj.boxes[i, 0, 1]) * h
        assert (rows.max() - rows.min() + 1) >= 0.8 * box_h, f"the {name}'s mask misses head or feet"
        box_area = ((traj.boxes[i, 0, 2:] - traj.boxes[i, 0, :2]).prod())
        assert traj.areas[i, 0] >= 0.35 * box_area, f"the {name}'s mask fills little of the box"


def test_vtest_frame_features_are_per_frame(vtest_run):
    branch, frames, feats, _, _, _ = vtest_run
    alone = branch.frame_features(branch.prepare(frames[5:6], start=CLIP[0] + 5))
    one = feats.frame(5)
    for name in ("boxes", "scores", "class_probs", "patches", "sources", "appearance"):
        assert torch.equal(getattr(one, name), getattr(alone, name)), name
    assert len(one.scores) <= branch.cfg.max_detections
    np.testing.assert_allclose(one.class_probs.sum(1).numpy(), 1.0, rtol=1e-5)
