"""Speed and memory of the `detector` trajectory branch (the `real` model) on real footage, in one run.

    python training/benchmark_real.py                        # the table: vtest.avi at 768x576, 2 threads
    python training/benchmark.py --real                      # the same rows after the DeRVOS table, one run
    python training/benchmark_real.py --frames 72 --no-rss   # speed rows only
    python training/benchmark_real.py --overlay /tmp/real    # also PNG overlays of the first crop
    python training/benchmark_real.py --frames 0 --no-rss --carry-check 108   # carrying masks vs remaking

Rows: detector alone (CenterNet + NMS) in ms per frame and frames/s; end to end (detection, masks,
colour statistics, tracking, trajectory assembly, crop by crop with the session carried) in frames/s,
split into per-frame work and per-crop work; the ratio of end-to-end to detector-alone cost; peak RSS of
a short and a long video, each streamed crop by crop in its own process (`ru_maxrss`), masks kept as
RLE as the app keeps them. Targets (issue 15): end to end >= 4 frames/s, ratio <= 2, RSS ratio < 1.5.
`--carry-check` compares masks carried from the previous frame (box interpolation as `detector_stride`
does, the previous patch in the frame's box as `segment_every` does, DIS optical flow) with the masks
made on the frame itself.
The video is OpenCV's vtest.avi (Debian `opencv-doc`); longer runs wrap around it.
"""
from __future__ import annotations

import argparse
import gzip
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import numpy as np
import torch

from derrvos_core.masks import encode_rle
from derrvos_core.real import DetectorBranch, RealBranchConfig

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def find_vtest() -> Path:
    """vtest.avi, unzipped to a temporary folder if Debian ships it gzipped."""
    if VTEST.is_file():
        return VTEST
    gz = VTEST.with_name(VTEST.name + ".gz")
    if gz.is_file():
        out = Path(tempfile.gettempdir()) / "vtest.avi"
        if not out.is_file():
            with gzip.open(gz) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
        return out
    raise SystemExit(f"{VTEST} not found: apt-get install -y opencv-doc")


def stream_frames(path: Path, count: int, start: int = 0):
    """`count` RGB frames from `start`, wrapping around the video."""
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    given = 0
    while given < count:
        ok, bgr = cap.read()
        if not ok:
            cap.release()
            cap = cv2.VideoCapture(str(path))
            continue
        yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        given += 1
    cap.release()


def crops(frames, crop_size: int):
    block = []
    for f in frames:
        block.append(f)
        if len(block) == crop_size:
            yield np.stack(block)
            block = []
    if block:
        yield np.stack(block)


def run_video(branch: DetectorBranch, frames, crop_size: int, keep_rle: bool = True):
    """Stream crops through the branch with one session; yields (crop, trajectories, slots, per-frame s,
    per-crop s). With `keep_rle` the masks are reduced to RLE as the app keeps them."""
    session = branch.new_session()
    start = 0
    for crop in crops(frames, crop_size):
        t0 = time.perf_counter()
        feats = branch.frame_features(branch.prepare(crop, start))
        start += crop.shape[0]
        t1 = time.perf_counter()
        traj, slots = branch.trajectories(feats, session)
        if keep_rle:
            masks = (traj.mask_logits > 0).numpy()
            _ = [[encode_rle(m) for m in per_traj] for per_traj in masks]
        t2 = time.perf_counter()
        yield crop, traj, slots, t1 - t0, t2 - t1


def speed_rows(branch: DetectorBranch, video: Path, num_frames: int, crop_size: int) -> list[tuple[str, str]]:
    """Detector alone and end to end on the same frames, wall time and process CPU time.

    On a shared machine other processes stretch wall time; the CPU time of this process (all its
    threads) is the steadier measure of cost, so the ratio is given by both."""
    frames = list(stream_frames(video, num_frames + 3))
    for f in frames[:3]:
        branch.detect(f)  # warm-up
    frames = frames[3:]
    n = len(frames)
    w0, c0 = time.perf_counter(), time.process_time()
    for f in frames:
        branch.detect(f)
    det_wall, det_cpu = (time.perf_counter() - w0) / n, (time.process_time() - c0) / n
    calls0 = branch.person.calls if branch.person is not None else 0
    per_frame = per_crop = 0.0
    w0, c0 = time.perf_counter(), time.process_time()
    for _, _, _, a, b in run_video(branch, frames, crop_size):
        per_frame += a
        per_crop += b
    e2e_wall, e2e_cpu = (time.perf_counter() - w0) / n, (time.process_time() - c0) / n
    calls = (branch.person.calls - calls0) / n if branch.person is not None else 0.0
    h, w = frames[0].shape[:2]
    return [
        (f"detector alone ({w}x{h})", (f"{det_wall * 1e3:.1f} ms/frame = {1 / det_wall:.1f} frames/s "
                                      f"(CPU {det_cpu * 1e3:.1f} ms/frame)")),
        ("end to end", (f"{1 / e2e_wall:.2f} frames/s ({e2e_wall * 1e3:.1f} ms/frame: per-frame work "
                       f"{per_frame / n * 1e3:.1f}, per-crop {per_crop / n * 1e3:.1f}; CPU "
                       f"{e2e_cpu * 1e3:.1f} ms/frame; {calls:.1f} person-model calls/frame)")),
        ("end to end / detector alone", (f"{e2e_wall / det_wall:.2f}x wall, {e2e_cpu / det_cpu:.2f}x CPU "
                                        f"(target <= 2)")),
    ]


def _move(mask: np.ndarray, box_from: np.ndarray, box_to: np.ndarray) -> np.ndarray:
    """A mask's content inside `box_from` resampled into `box_to` (boxes in [0, 1])."""
    h, w = mask.shape
    x0, y0, x1, y1 = box_from * [w, h, w, h]
    u0, v0, u1, v1 = box_to * [w, h, w, h]
    sx, sy = (x1 - x0) / max(u1 - u0, 1e-3), (y1 - y0) / max(v1 - v0, 1e-3)
    m = np.float32([[sx, 0, x0 - u0 * sx], [0, sy, y0 - v0 * sy]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(mask.astype(np.float32), m, (w, h), flags=flags) > 0.5


def carry_rows(branch: DetectorBranch, video: Path, num_frames: int, start: int) -> list[tuple[str, str]]:
    """How well a mask carried from frame t - 1 matches the one made on frame t (stride 2's skipped
    frames), per carry method, against every-frame masks of the same trajectory; and DIS flow's cost."""
    frames = np.stack(list(stream_frames(video, num_frames, start)))
    traj, _ = branch.trajectories(branch.frame_features(branch.prepare(frames, start)), branch.new_session())
    masks, boxes = (traj.mask_logits > 0).numpy(), traj.boxes.numpy()
    h, w = masks.shape[2:]
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    size = (frames.shape[2] // 2, frames.shape[1] // 2)
    gray = [cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), size) for f in frames]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    ious: dict[str, list[float]] = {"interpolated box": [], "previous mask in the detected box": [],
                                    "DIS flow warp": [], "DIS flow warp inside the detected box": []}
    flow_s = 0.0
    for t in range(1, len(frames) - 1, 2):
        t0 = time.perf_counter()
        flow = dis.calc(gray[t], gray[t - 1], None)  # frame t -> t - 1
        flow_s += time.perf_counter() - t0
        flow = cv2.resize(flow, (w, h)) * (w / size[0])
        for i in range(len(masks)):
            if traj.scores[i] < 0.5 or not masks[i, t - 1:t + 2].any((1, 2)).all():
                continue
            fresh, prev = masks[i, t], masks[i, t - 1]
            warped = cv2.remap(prev.astype(np.float32), gx + flow[..., 0], gy + flow[..., 1],
                               cv2.INTER_LINEAR) > 0.5
            inside = _move(np.ones_like(prev), boxes[i, t], boxes[i, t])
            carried = [_move(prev, boxes[i, t - 1], (boxes[i, t - 1] + boxes[i, t + 1]) / 2),
                       _move(prev, boxes[i, t - 1], boxes[i, t]), warped, warped & inside]
            for name, mask in zip(ious, carried):
                ious[name].append(float((mask & fresh).sum() / max((mask | fresh).sum(), 1)))
    n = len(range(1, len(frames) - 1, 2))
    rows = [(f"carry: {name}", f"mask IoU {np.mean(v):.3f} with the frame's own mask (n = {len(v)})")
            for name, v in ious.items()]
    rows.append(("carry: DIS flow cost", f"{flow_s / n * 1e3:.1f} ms/frame at {size[0]}x{size[1]}"))
    return rows


def model_rows(video: Path, num_frames: int, expressions: tuple[str, str]) -> list[tuple[str, str]]:
    """The shipped real model as the app runs it, on `num_frames` frames of `video`: Run -> overlay (the
    model's default settings, masks as RLE, then the overlay MP4 written), a second expression on the
    same video (per-frame features from the cache), and re-selection at a new threshold (no model)."""
    from derrvos_core.model.cache import SegmentCache
    from derrvos_core.model.catalog import load_model
    from derrvos_core.video.writing import write_overlay_video

    model = load_model("default")
    model.multimodal.read(expressions[0])  # the language parts load once per process, not per run
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        frames = list(stream_frames(video, num_frames))
        h, w = frames[0].shape[:2]
        write_overlay_video(clip, frames, [[] for _ in frames], [], fps=10.0)
        cache = SegmentCache(max_bytes=2 << 30)
        w0 = time.perf_counter()
        result = model.segment(clip, expressions[0], cache=cache)
        run = time.perf_counter() - w0
        chosen = sorted(result.selected)
        write_overlay_video(Path(tmp) / "overlay.mp4", frames,
                            ([t.mask(i, h, w) for t in result.trajectories if t.trajectory_id in chosen]
                             for i in range(len(frames))), [str(c) for c in chosen], fps=10.0)
        to_overlay = time.perf_counter() - w0
        w0 = time.perf_counter()
        model.segment(clip, expressions[1], cache=cache)
        second = time.perf_counter() - w0
        w0 = time.perf_counter()
        repeats = 21
        for k in range(repeats):
            result.select(0.05 + 0.9 * k / repeats)
        reselect = (time.perf_counter() - w0) / repeats
    return [
        (f"real model, Run -> result ({w}x{h}, {num_frames} frames)", f"{run:.1f} s = {num_frames / run:.1f} frames/s"),
        ("real model, Run -> overlay MP4 written", f"{to_overlay:.1f} s"),
        ("real model, a second expression (features cached)", f"{second:.1f} s ({second / run:.2f} of the first)"),
        (f"real model, re-select at a new threshold, {num_frames} frames",
         f"{reselect * 1e3:.2f} ms (target < 50 ms)"),
    ]


def rss_child(video: Path, num_frames: int, crop_size: int, cfg: RealBranchConfig) -> None:
    """In a subprocess: stream `num_frames` through the branch and print peak RSS in MiB (JSON)."""
    branch = DetectorBranch(cfg)
    n = 0
    for _, traj, _, _, _ in run_video(branch, stream_frames(video, num_frames), crop_size):
        n += traj.num_frames
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"frames": n, "peak_rss_mib": rss_kib / 1024}))


def peak_rss(video: Path, num_frames: int, args) -> float:
    out = subprocess.run([sys.executable, __file__, "--rss-child", str(num_frames), "--video", str(video),
                          "--crop-size", str(args.crop_size), "--threads", str(args.threads),
                          "--stride", str(args.stride), "--detector", args.detector,
                          "--parts-dir", args.parts_dir], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mib"]


def write_overlays(branch: DetectorBranch, video: Path, folder: Path, start: int, num_frames: int,
                   crop_size: int, every: int) -> list[Path]:
    """PNG overlays (masks tinted per slot, slot ids and boxes drawn) of every `every`-th frame."""
    from derrvos_core.masks import overlay_masks, trajectory_colors

    folder.mkdir(parents=True, exist_ok=True)
    colours = trajectory_colors(64)
    written, offset = [], start
    for crop, traj, slots, _, _ in run_video(branch, stream_frames(video, num_frames, start), crop_size,
                                             keep_rle=False):
        h, w = crop.shape[1:3]
        up = torch.nn.functional.interpolate(traj.mask_logits, size=(h, w), mode="bilinear") > 0
        for t in range(0, crop.shape[0], every):
            ids = slots.tolist()
            masks = [up[i, t].numpy() if up[i, t].any() else None for i in range(len(ids))]
            image = overlay_masks(crop[t], masks, [colours[s % 64] for s in ids])
            for i, s in enumerate(ids):
                b = traj.boxes[i, t].numpy() * [w, h, w, h]
                if b.sum() == 0:
                    continue
                cv2.rectangle(image, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), colours[s % 64], 1)
                cv2.putText(image, str(s), (int(b[0]), max(int(b[1]) - 3, 10)), cv2.FONT_HERSHEY_SIMPLEX,
                            0.45, colours[s % 64], 1)
            cv2.putText(image, f"frame {offset + t}", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                        (255, 255, 0), 2)
            path = folder / f"frame_{offset + t:04d}.png"
            cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            written.append(path)
        offset += crop.shape[0]
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=None, help="default: vtest.avi from opencv-doc")
    parser.add_argument("--frames", type=int, default=108, help="frames timed for the speed rows")
    parser.add_argument("--crop-size", type=int, default=36)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stride", type=int, default=1, help="detector stride (RealBranchConfig)")
    parser.add_argument("--detector", default="nanodet", choices=("nanodet", "centernet"))
    parser.add_argument("--parts-dir", default="", help="folder of the ONNX parts (default: assets/...)")
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-RSS rows")
    parser.add_argument("--model-frames", type=int, default=300,
                        help="frames for the shipped real model's Run -> overlay rows (0: skip them)")
    parser.add_argument("--carry-check", type=int, default=0, metavar="FRAMES",
                        help="also measure mask carrying between frames on this many frames from 100")
    parser.add_argument("--rss-frames", type=int, nargs=2, default=(200, 2000), metavar=("SHORT", "LONG"))
    parser.add_argument("--overlay", type=Path, default=None, help="write overlays of frames here")
    parser.add_argument("--overlay-start", type=int, default=0)
    parser.add_argument("--overlay-frames", type=int, default=36)
    parser.add_argument("--overlay-every", type=int, default=6)
    parser.add_argument("--rss-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    video = args.video or find_vtest()
    cfg = RealBranchConfig(threads=args.threads, detector_stride=args.stride, detector=args.detector,
                           parts_dir=args.parts_dir)
    if args.rss_child is not None:
        rss_child(video, args.rss_child, args.crop_size, cfg)
        return 0
    branch = DetectorBranch(cfg)
    rows = [("video", (f"{video.name}, {args.frames} frames, crop {args.crop_size}, {args.threads} threads, "
                      f"{args.detector}, stride {args.stride}"))]
    if args.frames > 0:
        rows += speed_rows(branch, video, args.frames, args.crop_size)
    if not args.no_rss:
        short, long = (peak_rss(video, n, args) for n in args.rss_frames)
        rows += [(f"peak RSS, {args.rss_frames[0]} frames", f"{short:.0f} MiB"),
                 (f"peak RSS, {args.rss_frames[1]} frames", f"{long:.0f} MiB"),
                 ("peak RSS long / short", f"{long / short:.2f} (target < 1.5)")]
    if args.carry_check:
        rows += carry_rows(branch, video, args.carry_check, 100)
    if args.model_frames > 0:
        rows += model_rows(video, args.model_frames, ("the woman in the red jacket", "the man walking to the left"))
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if args.overlay:
        paths = write_overlays(branch, video, args.overlay, args.overlay_start, args.overlay_frames,
                               args.crop_size, args.overlay_every)
        print(f"{len(paths)} overlays in {args.overlay}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
