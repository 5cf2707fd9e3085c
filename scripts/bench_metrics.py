"""Time derrvos_core.metrics.j_and_f against the official DAVIS-2017 code and compare their values.

    python scripts/bench_metrics.py --official /path/to/davis2017-evaluation

`--official` is a checkout of github.com/davisvideochallenge/davis2017-evaluation (the folder that
holds `davis2017/`); it is imported from there at run time and never vendored. It needs opencv and
scikit-image, which the project does not: put them on PYTHONPATH from a throwaway install, e.g.
`pip install --target /tmp/offdeps --no-deps opencv-python-headless scikit-image lazy_loader`.
Without `--official`, only our own timing is printed.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from derrvos_core.metrics import boundary_f, j_and_f, region_similarity  # noqa: E402


def random_blobs(rng: np.random.Generator, frames: int, height: int, width: int,
                 max_blobs: int) -> np.ndarray:
    """bool [T, H, W] of 0..max_blobs random ellipses per frame (some frames come out empty)."""
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    out = np.zeros((frames, height, width), dtype=bool)
    for t in range(frames):
        for _ in range(rng.integers(0, max_blobs + 1)):
            cy, cx = rng.uniform(0, height), rng.uniform(0, width)
            ry, rx = rng.uniform(0.5, 1 + height / 4), rng.uniform(0.5, 1 + width / 4)
            out[t] |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    return out


def expression_pair(rng, frames, height, width):
    """A ground truth and a plausible prediction: shifted, with extra blobs, some frames dropped."""
    gt = random_blobs(rng, frames, height, width, 3)
    pred = np.roll(gt, (int(rng.integers(-6, 7)), int(rng.integers(-6, 7))), axis=(1, 2))
    pred |= random_blobs(rng, frames, height, width, 1)
    pred[rng.random(frames) < 0.1] = False
    return gt, pred


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def load_official(path: str):
    sys.path.insert(0, str(Path(path).resolve()))
    from davis2017.metrics import db_eval_boundary, db_eval_iou
    return db_eval_iou, db_eval_boundary


def max_differences(official, rng, cases: int) -> tuple[float, float]:
    """Largest |J_ours - J_official| and |F_ours - F_official| per frame over random small cases."""
    db_eval_iou, db_eval_boundary = official
    worst_j = worst_f = 0.0
    for _ in range(cases):
        height, width, frames = int(rng.integers(1, 160)), int(rng.integers(1, 160)), int(rng.integers(1, 6))
        if rng.random() < 0.3:  # salt-and-pepper masks stress thin and 1-px boundaries
            gt, pred = rng.random((2, frames, height, width)) < rng.uniform(0.05, 0.6)
        else:
            gt, pred = expression_pair(rng, frames, height, width)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the official J divides 0 by 0 before fixing it
            j_off, f_off = db_eval_iou(gt, pred), db_eval_boundary(gt, pred)
        worst_j = max(worst_j, float(np.abs(region_similarity(gt, pred) - j_off).max()))
        worst_f = max(worst_f, float(np.abs(boundary_f(gt, pred) - f_off).max()))
    return worst_j, worst_f


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", help="checkout of davis2017-evaluation (folder containing davis2017/)")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=854)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", type=int, default=500, help="random cases for the value comparison")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    gt, pred = expression_pair(rng, args.frames, args.height, args.width)
    ours = j_and_f(gt, pred)
    t_ours = best_time(lambda: j_and_f(gt, pred), args.repeats)
    print(f"expression: {args.frames} frames of {args.height}x{args.width}, best of {args.repeats}")
    print(f"ours     j_and_f: {t_ours:.3f} s  J={ours['J']:.6f} F={ours['F']:.6f}")
    if not args.official:
        return 0

    official = load_official(args.official)

    def run_official():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return float(official[0](gt, pred).mean()), float(official[1](gt, pred).mean())

    j_off, f_off = run_official()
    t_off = best_time(run_official, args.repeats)
    print(f"official J and F: {t_off:.3f} s  J={j_off:.6f} F={f_off:.6f}  "
          f"(ours is {t_off / t_ours:.1f}x faster)")
    worst_j, worst_f = max_differences(official, np.random.default_rng(args.seed + 1), args.cases)
    print(f"max |ours - official| per frame over {args.cases} random cases: J {worst_j:.3g}, F {worst_f:.3g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
