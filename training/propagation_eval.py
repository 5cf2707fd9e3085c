"""Fix one frame, propagate: J over the 30 frames after one corrected frame, against not propagating.

    .venv/bin/python training/propagation_eval.py                  # SynthRef valid, 12 videos, seed 17
    .venv/bin/python training/propagation_eval.py --flow-bench     # DIS presets vs Farneback at 768x576

Ground truth is SynthRef's, exact by construction (derrvos_core/datasets/synthref_render.py); a small
split is generated under --root with a fixed seed when missing. The baseline is the shipped SynthRef
model's trajectories (`load_model("synthref")`, crops linked): each ground-truth object is given the
trajectory (link id) with the highest summed IoU over the video, and that trajectory's mask per frame is
the baseline answer and the guide. Per object, t is the frame (showing at least half the object's
median visible area, with 30 frames after it) where the
baseline's J is worst; frame t is replaced by its ground truth (the human fix), and frames t+1..t+30 are
scored by J (1 where truth and answer are both empty) with
  (a) no propagation: the baseline's masks stay;
  (b) copy: the fixed mask, unchanged, on every frame;
  (c) flow: `propagate_mask` without a guide;
  (d) flow + guide: `propagate_mask` guided by the baseline trajectory.
Where (c) or (d) stop (confidence under --min-confidence), the remaining frames keep the baseline's masks,
as the app would leave them; "proposed" is the share of frames the propagation covered. ms per frame is
propagation time per proposed frame at SynthRef's size; the 768x576 line times the same propagation on
the frames upscaled.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from derrvos_core import load_model  # noqa: E402
from derrvos_core.annotation import PropagationSettings, Proposal, propagate_mask  # noqa: E402
from derrvos_core.annotation.flow import PRESETS  # noqa: E402
from derrvos_core.annotation.mask_ops import mask_iou  # noqa: E402
from derrvos_core.datasets.synthref import SynthRefConfig, generate_synthref  # noqa: E402
from derrvos_core.masks import decode_rle  # noqa: E402
from derrvos_core.model.inference import segment  # noqa: E402

METHODS = ("no propagation", "copy fixed mask", "flow", "flow + guide")


@dataclass(frozen=True)
class ObjectCase:
    """One object of one video, fixed on one frame.

    Attributes:
        video_id, anno_id: which object.
        fixed_frame: t, the frame where the baseline was worst (and was replaced by the truth).
        baseline_j: the baseline's J on frame t before the fix.
        scores: method -> float [n] J on frames t+1..t+n (n <= horizon).
        proposed: method -> frames the propagation proposed (flow methods only).
        seconds: method -> propagation time (flow methods only).
    """

    video_id: str
    anno_id: str
    fixed_frame: int
    baseline_j: float
    scores: dict
    proposed: dict
    seconds: dict


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "synthref_propagation",
                        help="SynthRef root; ROOT/valid is generated when missing")
    parser.add_argument("--videos", type=int, default=12)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--horizon", type=int, default=30, help="frames scored after the fixed one")
    parser.add_argument("--min-confidence", type=float, default=0.5)
    parser.add_argument("--preset", choices=sorted(PRESETS), default=PropagationSettings().flow_preset)
    parser.add_argument("--snap-iou", type=float, default=PropagationSettings().snap_iou,
                        help="IoU of warp and guide from which the guide is taken")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--flow-bench", action="store_true", help="only time the flow methods at 768x576")
    parser.add_argument("--json", type=Path, default=None, help="also write the per-object numbers here")
    return parser.parse_args(argv)


def ensure_split(args: argparse.Namespace) -> Path:
    split = args.root / "valid"
    if not (split / "synthref_meta.json").is_file():
        config = SynthRefConfig(min_frames=48, max_frames=72, image_format="png")
        generate_synthref(args.root, "valid", args.videos, seed=args.seed, config=config)
    return split


def load_video(split: Path, video_id: str, frame_names: list) -> np.ndarray:
    return np.stack([np.asarray(Image.open(split / "JPEGImages" / video_id / f"{n}.png").convert("RGB"))
                     for n in frame_names])


def truth_tracks(masks: dict, objects: list, num_frames: int, size: tuple[int, int]) -> dict:
    """anno_id -> bool [T, H, W] ground truth of every object of the video."""
    out = {}
    for obj in objects:
        track = np.zeros((num_frames, *size), dtype=bool)
        for t, rle in enumerate(masks[str(obj["anno_id"])]):
            if rle is not None:
                track[t] = decode_rle(rle)
        out[str(obj["anno_id"])] = track
    return out


def model_tracks(model, frames: np.ndarray) -> dict:
    """link id -> bool [T, H, W]: the SynthRef model's trajectories over the video (crops linked)."""
    settings = model.defaults.settings(link_crops=True)
    result = segment(model, frames, "the object", settings)
    num, height, width = frames.shape[:3]
    tracks: dict[int, np.ndarray] = {}
    for trajectory in result.trajectories:
        track = tracks.setdefault(trajectory.link_id, np.zeros((num, height, width), dtype=bool))
        for t in trajectory.frames_present():
            track[t] |= trajectory.mask(t, height, width)
    return tracks


def frame_j(truth: np.ndarray, answer: np.ndarray) -> np.ndarray:
    return np.array([mask_iou(truth[t], answer[t]) for t in range(len(truth))])


def propagated(frames: np.ndarray, truth: np.ndarray, baseline: np.ndarray, t: int, end: int,
               guided: bool, args: argparse.Namespace) -> tuple[np.ndarray, int, float]:
    """(answer bool [end - t, H, W] on frames t+1..end, frames proposed, seconds spent propagating)."""
    answer = baseline[t + 1:end + 1].copy()
    settings = PropagationSettings(flow_preset=args.preset, snap_iou=args.snap_iou)
    guide = (lambda i: baseline[i]) if guided else None
    start, proposed = time.perf_counter(), 0
    for step in propagate_mask(frames.__getitem__, t, truth[t], end, guide, args.min_confidence, settings):
        if isinstance(step, Proposal):
            answer[step.frame - t - 1] = step.mask
            proposed += 1
    return answer, proposed, time.perf_counter() - start


def evaluate_object(video_id: str, anno_id: str, frames: np.ndarray, truth: np.ndarray,
                    baseline: np.ndarray, args: argparse.Namespace) -> ObjectCase | None:
    last_start = len(frames) - 1 - args.horizon
    j_base = frame_j(truth, baseline)
    areas = truth.reshape(len(truth), -1).sum(axis=1)
    typical = np.median(areas[areas > 0]) if areas.any() else 0
    # a person fixes a frame where the object can be seen: at least half its usual visible area
    candidates = [t for t in range(max(0, last_start + 1)) if areas[t] > 0 and areas[t] >= 0.5 * typical]
    if not candidates:
        return None
    t = min(candidates, key=lambda i: (j_base[i], i))
    end = t + args.horizon
    after = truth[t + 1:end + 1]
    scores = {METHODS[0]: j_base[t + 1:end + 1],
              METHODS[1]: frame_j(after, np.broadcast_to(truth[t], after.shape))}
    proposed, seconds = {}, {}
    for method, guided in ((METHODS[2], False), (METHODS[3], True)):
        answer, proposed[method], seconds[method] = propagated(frames, truth, baseline, t, end, guided, args)
        scores[method] = frame_j(after, answer)
    return ObjectCase(video_id, anno_id, t, float(j_base[t]), scores, proposed, seconds)


def run_split(split: Path, args: argparse.Namespace) -> list[ObjectCase]:
    meta = json.loads((split / "meta_expressions.json").read_text())["videos"]
    masks = json.loads((split / "mask_dict.json").read_text())
    extra = json.loads((split / "synthref_meta.json").read_text())["videos"]
    model = load_model("synthref")
    cases = []
    for video_id in sorted(meta):
        frames = load_video(split, video_id, meta[video_id]["frames"])
        truths = truth_tracks(masks, extra[video_id]["objects"], len(frames), frames.shape[1:3])
        tracks = model_tracks(model, frames)
        for anno_id, truth in truths.items():
            best = max(tracks.values(), key=lambda track: frame_j(truth, track).sum())
            case = evaluate_object(video_id, anno_id, frames, truth, best, args)
            if case is not None:
                cases.append(case)
    return cases


def time_at_768(split: Path, cases: list[ObjectCase], args: argparse.Namespace, limit: int = 3) -> float:
    """ms per proposed frame of guide-less propagation on the first cases' frames upscaled to 768x576."""
    meta = json.loads((split / "meta_expressions.json").read_text())["videos"]
    masks = json.loads((split / "mask_dict.json").read_text())
    spent, count = 0.0, 0
    for case in cases[:limit]:
        frames = load_video(split, case.video_id, meta[case.video_id]["frames"])
        big = np.stack([cv2.resize(f, (768, 576), interpolation=cv2.INTER_LINEAR) for f in frames])
        mask = cv2.resize(decode_rle(masks[case.anno_id][case.fixed_frame]).astype(np.uint8), (768, 576),
                          interpolation=cv2.INTER_NEAREST).astype(bool)
        start = time.perf_counter()
        settings = PropagationSettings(flow_preset=args.preset)
        steps = list(propagate_mask(big.__getitem__, case.fixed_frame, mask, case.fixed_frame + args.horizon,
                                    min_confidence=0.0, settings=settings))
        spent += time.perf_counter() - start
        count += len(steps) - 1
    return 1000 * spent / max(1, count)


def flow_bench() -> None:
    """ms per flow at 768x576 halved to 384x288, one thread: DIS presets and Farneback."""
    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    a = cv2.GaussianBlur(rng.integers(0, 255, (576, 768)).astype(np.uint8), (0, 0), 3)
    b = np.roll(a, 3, axis=1)
    a, b = (cv2.resize(x, (384, 288), interpolation=cv2.INTER_AREA) for x in (a, b))
    methods = {name: (lambda p=p: cv2.DISOpticalFlow_create(p).calc(a, b, None))
               for name, p in PRESETS.items()}
    methods["farneback"] = lambda: cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    print("| flow | ms per flow | recovered shift (px at 768) |\n|---|---|---|")
    for name, fn in methods.items():
        fn()
        start = time.perf_counter()
        for _ in range(10):
            flow = fn()
        ms = 1000 * (time.perf_counter() - start) / 10
        print(f"| {name} | {ms:.1f} | {2 * np.median(flow[..., 0]):.2f} |")


def print_table(cases: list[ObjectCase], ms_768: float, args: argparse.Namespace) -> None:
    frames = sum(len(c.scores[METHODS[0]]) for c in cases)
    print(f"\n{len(cases)} objects, {frames} scored frames; fixed frame: the baseline's worst "
          f"(mean J there {np.mean([c.baseline_j for c in cases]):.3f}); preset {args.preset}, "
          f"min confidence {args.min_confidence}, snap IoU {args.snap_iou}\n")
    print("| method | mean J, frames t+1..t+30 | frames | objects | proposed | ms per frame |")
    print("|---|---|---|---|---|---|")
    for method in METHODS:
        j = np.concatenate([c.scores[method] for c in cases]).mean()
        if method in cases[0].proposed:
            done = sum(c.proposed[method] for c in cases)
            ms = 1000 * sum(c.seconds[method] for c in cases) / max(1, done)
            extra = f"{done / frames:.0%} | {ms:.1f}"
        else:
            extra = "- | -"
        print(f"| {method} | {j:.3f} | {frames} | {len(cases)} | {extra} |")
    print(f"\nflow propagation at 768x576 (the frames upscaled): {ms_768:.1f} ms per frame")


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    if args.flow_bench:
        flow_bench()
        return
    start = time.perf_counter()
    split = ensure_split(args)
    cases = run_split(split, args)
    if not cases:
        raise SystemExit("no object had a visible frame with --horizon frames after it; use longer videos")
    print_table(cases, time_at_768(split, cases, args), args)
    print(f"\ncommand: .venv/bin/python training/propagation_eval.py {' '.join(sys.argv[1:])} "
          f"({time.perf_counter() - start:.0f} s)")
    if args.json:
        rows = [{"video": c.video_id, "anno_id": c.anno_id, "fixed_frame": c.fixed_frame,
                 "baseline_j": c.baseline_j, **{m: float(np.mean(c.scores[m])) for m in METHODS}}
                for c in cases]
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
