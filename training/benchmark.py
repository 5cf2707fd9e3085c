"""Speed and memory of DeRVOS inference, measured in one run and printed as one table.

    python training/benchmark.py                     # the table (tiny model, 480p videos made here)
    python training/benchmark.py --breakdown         # also ms per frame per model component
    python training/benchmark.py --linking           # J&F, tIoU, vIoU with/without linking (eval_linking.py)

Measured: decode-only vs end-to-end frames/s on a 480p video (crop 36, the tiny model: the shipped
SynthRef model if `assets/models/derrvos-tiny-synthref` exists, else random weights), the time to re-select
at a new threshold, a crop-size change (36 -> 18) with the per-frame cache as a fraction of the first
run, peak RSS for a short and a long video (each in its own process, `ru_maxrss`), and on CUDA the
full config in bf16 (random weights: speed only). Videos are generated here (moving shapes on
texture, H.264 via PyAV); nothing is downloaded.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from derrvos_core.model import SYNTHREF_MODEL, DeRVOS, DeRVOSConfig, SegmentCache, load_model  # noqa: E402
from derrvos_core.video import open_video, write_video  # noqa: E402

EXPRESSION = "the red circle moving right"
HEIGHT, WIDTH = 480, 854


def shape_frames(num_frames: int, height: int = HEIGHT, width: int = WIDTH, seed: int = 0):
    """uint8 [H, W, 3] frames, one at a time: three shapes moving over a fixed texture."""
    rng = np.random.default_rng(seed)
    background = rng.integers(40, 120, (height, width, 3), dtype=np.uint8)
    ys, xs = np.mgrid[0:height, 0:width]
    r = height // 10
    for t in range(num_frames):
        frame = background.copy()
        cx, cy = (40 + 3 * t) % width, height // 3
        frame[(ys - cy) ** 2 + (xs - cx) ** 2 < r * r] = (220, 40, 40)
        x0, y0 = width // 2, (20 + 2 * t) % (height - 2 * r)
        frame[y0:y0 + 2 * r, x0:x0 + 2 * r] = (40, 60, 220)
        x1 = (width - 3 * t) % width
        frame[2 * height // 3:2 * height // 3 + r, max(0, x1 - r):x1] = (40, 200, 60)
        yield frame


def make_video(folder: Path, num_frames: int) -> Path:
    return write_video(folder / f"shapes_{num_frames}.mp4", shape_frames(num_frames), fps=25)


def pick_model(device: str = "cpu") -> tuple[DeRVOS, str]:
    """The shipped SynthRef model if present, else the tiny config with random weights (seed 0)."""
    if (SYNTHREF_MODEL / "model.safetensors").is_file():
        model = load_model("synthref", device=device)
        return model, f"shipped SynthRef model ({model.version})"
    torch.manual_seed(0)
    model = DeRVOS.from_config(DeRVOSConfig.tiny()).eval().to(device)
    return model, f"tiny config, random weights ({model.version}; no shipped default yet)"


def decode_fps(path: Path) -> float:
    tic = time.perf_counter()
    with open_video(path) as reader:
        count = sum(1 for _ in reader.frames())
    return count / (time.perf_counter() - tic)


def timed(fn):
    tic = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - tic


def reselect_ms(result, repeats: int = 21) -> float:
    """Median time of `select` at alternating thresholds (no model call)."""
    times = []
    for i in range(repeats):
        times.append(timed(lambda: result.select(0.3 + 0.02 * (i % 10)))[1])
    return 1000 * statistics.median(times)


def rss_child(path: Path) -> None:
    """Run in a subprocess: segment `path` without a cache and print peak RSS in MiB (JSON)."""
    model, _ = pick_model()
    result, seconds = timed(lambda: model.segment(path, EXPRESSION, model.defaults.settings(crop_size=36)))
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"rss_mib": rss_kib / 1024, "seconds": seconds, "frames": result.num_frames,
                      "rles": sum(r is not None for t in result.trajectories for r in t.rles)}))


def peak_rss(path: Path, threads: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--rss-child", str(path), "--threads", str(threads)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def gpu_full(folder: Path, num_frames: int = 108) -> dict | None:
    """The full config (random weights) in bf16 on CUDA at 480p, crop 36: frames/s after a warm-up crop."""
    if not torch.cuda.is_available():
        return None
    torch.manual_seed(0)
    model = DeRVOS.from_config(DeRVOSConfig.full()).eval().cuda()
    frames = np.stack(list(shape_frames(num_frames)))
    with torch.autocast("cuda", dtype=torch.bfloat16):
        model.segment(frames[:36], EXPRESSION, model.defaults.settings(crop_size=36))
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        _, seconds = timed(lambda: (model.segment(frames, EXPRESSION, model.defaults.settings(crop_size=36)),
                                    torch.cuda.synchronize()))
    return {"fps": num_frames / seconds, "peak_gib": torch.cuda.max_memory_allocated() / 2 ** 30,
            "device": torch.cuda.get_device_name()}


#: Where end-to-end time goes: (label, submodule path under the model). Nested entries are part of
#: the one above them.
COMPONENTS = (
    ("segmenter", "trajectory.segmenter"),
    ("  backbone", "trajectory.segmenter.mask2former.model.pixel_level_module.encoder"),
    ("  pixel decoder", "trajectory.segmenter.mask2former.model.pixel_level_module.decoder"),
    ("    of it, deformable-attention layers", "trajectory.segmenter.mask2former.model.pixel_level_module."
                                               "decoder.encoder"),
    ("  transformer decoder", "trajectory.segmenter.mask2former.model.transformer_module"),
    ("tracker", "trajectory.tracker"),
    ("refiner", "trajectory.refiner"),
    ("mask upsampler", "trajectory.upsampler"),  # only in models that have one
    ("BEiT-3", "multimodal.beit3"),
    ("TAIS", "tais"),
)


def _has_submodule(model, path: str) -> bool:
    try:
        return model.get_submodule(path) is not None
    except AttributeError:
        return False


def component_times(model, video: Path, num_frames: int) -> list[tuple[str, float]]:
    """(label, ms per frame) of each of COMPONENTS the model has in one uncached run, then the rest."""
    present = [(label, path) for label, path in COMPONENTS if _has_submodule(model, path)]
    spent = {label: 0.0 for label, _ in present}
    started: dict[str, float] = {}
    handles = []
    for label, path in present:
        module = model.get_submodule(path)
        handles.append(module.register_forward_pre_hook(
            lambda m, a, label=label: started.__setitem__(label, time.perf_counter())))
        handles.append(module.register_forward_hook(
            lambda m, a, o, label=label: spent.__setitem__(label, spent[label] + time.perf_counter()
                                                           - started[label])))
    try:
        _, total = timed(lambda: model.segment(video, EXPRESSION,
                                               model.defaults.settings(crop_size=36, threshold=0.7)))
    finally:
        for handle in handles:
            handle.remove()
    top = sum(seconds for label, seconds in spent.items() if not label.startswith(" "))
    rows = [(label, 1000 * seconds / num_frames) for label, seconds in spent.items()]
    return rows + [("rest: decoding, resizing, masks to RLE, Python", 1000 * (total - top) / num_frames),
                   ("end to end", 1000 * total / num_frames)]


def measure(args) -> tuple[list[tuple[str, str, str]], str, list[tuple[str, float]] | None]:
    """All rows of the table, (measure, value, target), which model ran, and with `args.breakdown` the
    rows of `component_times` (else None)."""
    folder = Path(args.workdir or tempfile.mkdtemp(prefix="derrvos_bench_"))
    video = make_video(folder, args.frames)
    model, which = pick_model()
    decode = decode_fps(video)
    cache = SegmentCache(max_bytes=2 << 30)
    result, first = timed(lambda: model.segment(video, EXPRESSION,
                                                model.defaults.settings(crop_size=36, threshold=0.7),
                                                cache=cache))
    _, again = timed(lambda: model.segment(video, EXPRESSION,
                                           model.defaults.settings(crop_size=18, threshold=0.7), cache=cache))
    e2e = args.frames / first
    short, long = (peak_rss(make_video(folder, n), args.threads) for n in args.rss_frames)
    rows = [
        (f"decode only, {WIDTH}x{HEIGHT} (frames/s)", f"{decode:.0f}", ""),
        ("end to end, tiny model, crop 36 (frames/s)", f"{e2e:.1f}", ""),
        ("end to end / decode only", f"{e2e / decode:.3f} (1/{decode / e2e:.1f})", ">= 1/8"),
        (f"re-select at a new threshold, {args.frames} frames (ms)", f"{reselect_ms(result):.2f}", "< 50"),
        ("crop size 36 -> 18 with the cache (fraction of the first run)",
         f"{again / first:.2f} ({again:.1f} s / {first:.1f} s)", "< 0.35"),
        (f"peak RSS, {args.rss_frames[0]} frames (MiB)", f"{short['rss_mib']:.0f}", ""),
        (f"peak RSS, {args.rss_frames[1]} frames (MiB)", f"{long['rss_mib']:.0f}", ""),
        ("peak RSS ratio", f"{long['rss_mib'] / short['rss_mib']:.2f}", "< 1.5"),
    ]
    gpu = gpu_full(folder)
    if gpu is None:
        rows.append(("full config, bf16, 480p, crop 36", "no GPU: skipped", ">= 30 frames/s on one H100"))
    else:
        rows.append((f"full config, bf16, 480p, crop 36, {gpu['device']} (frames/s)", f"{gpu['fps']:.1f}",
                     ">= 30 on one H100"))
        rows.append(("full config, peak GPU memory (GiB)", f"{gpu['peak_gib']:.2f}", ""))
    breakdown = component_times(model, video, args.frames) if args.breakdown else None
    return rows, which, breakdown


def print_table(rows: list[tuple[str, str, str]], header: list[str]) -> None:
    for line in header:
        print(line)
    print("| measure | value | target |\n|---|---|---|")
    for name, value, target in rows:
        print(f"| {name} | {value} | {target} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300, help="frames of the throughput video")
    parser.add_argument("--rss-frames", type=int, nargs=2, default=(200, 2000), help="short and long video")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1: on a shared 2-core machine 2 threads ran 2-5x slower)")
    parser.add_argument("--workdir", default=None, help="where the videos go (default: a temp folder)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also print where the end-to-end time goes (ms per frame per component)")
    parser.add_argument("--real", action="store_true",
                        help="also the real model's rows (training/benchmark_real.py at its defaults), same run")
    parser.add_argument("--linking", action="store_true",
                        help="run training/eval_linking.py instead (its options follow)")
    parser.add_argument("--rss-child", type=Path, default=None, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    if rest and not args.linking:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    torch.set_num_threads(args.threads)
    if args.rss_child is not None:
        rss_child(args.rss_child)
        return 0
    if args.linking:
        from training import eval_linking

        return eval_linking.main(rest)
    load_before = os.getloadavg()
    tic = time.perf_counter()
    rows, which, breakdown = measure(args)
    header = [f"DeRVOS benchmark: {which}; torch {torch.__version__}, {args.threads} CPU thread(s), "
              f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}); "
              f"load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after; "
              f"{time.perf_counter() - tic:.0f} s in all", ""]
    print_table(rows, header)
    if breakdown is not None:
        print(f"\nWhere the time goes (one more run of the {args.frames}-frame video, no cache):\n\n"
              "| component | ms per frame |\n|---|---|")
        for label, ms in breakdown:
            depth = (len(label) - len(label.lstrip())) // 2
            print(f"| {'— ' * depth}{label.strip()} | {ms:.2f} |")
    if args.real:
        from training import benchmark_real

        print("\nThe real model (detector branch and the shipped real model, vtest.avi 768x576):\n")
        benchmark_real.main(["--threads", "2"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
