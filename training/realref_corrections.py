"""The correction loop on the real model, end to end: an annotator corrects the default model on the
RealRef tuning clips through the app's store API, training/refit.py refits it on that store, and the
held-out RealRef test split is scored before and after.

    python training/realref_corrections.py [--out runs/realref-corrections] [--trials 200] [--seed 0]

Per tuning expression: run the current default model at its defaults, save the run, then correct it from
the human ground truth in the annotation files (never from the model):
- accept every trajectory whose mask boxes match a target's boxes on the keyframes of its crop (mean box
  IoU >= MATCH_IOU over the keyframes where the trajectory has a mask);
- reject every selected trajectory that matches no target;
- on every keyframe with drawn masks, set the frame's answer to the targets' drawn masks (`set_mask`).
Then `training/refit.py --base default` (which runs training/refit_real.py) on that store, with the RealRef
test split as its held-out report. Writes <out>/store.db, <out>/model (the refit model and its report) and
<out>/table.md, and prints the table. Needs the clips: python training/realref_setup.py.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from derrvos_core.datasets.realref import mask_frames  # noqa: E402
from derrvos_core.datasets.realref_format import RealRefClip  # noqa: E402
from derrvos_core.evaluation.realref import box_iou, mask_box  # noqa: E402
from derrvos_core.model.cache import SegmentCache  # noqa: E402
from derrvos_core.model.catalog import load_model  # noqa: E402
from derrvos_core.result import SegmentationResult, TrajectoryResult  # noqa: E402
from derrvos_core.store import Store  # noqa: E402
from training import refit  # noqa: E402
from training.realref_eval import DEFAULT_ROOT, clip_video, load_clips  # noqa: E402
from training.refit_real import corrections_table, realref_table  # noqa: E402

USER = "realref-annotator"
MATCH_IOU = 0.5
"""Mean box IoU with a target's boxes (keyframes of the crop where the trajectory has a mask) that makes a
trajectory that target."""


def trajectory_matches(traj: TrajectoryResult, clip: RealRefClip, obj_ids, height: int, width: int) -> bool:
    """Whether the trajectory is one of the targets: its mask box against the target's annotated box on
    every keyframe of its crop where it has a mask (a null box there counts 0)."""
    present = set(traj.frames_present())
    for obj_id in obj_ids:
        boxes = clip.objects[obj_id].boxes
        ious = [box_iou(mask_box(traj.mask(t, height, width)), boxes[t]) for t in sorted(boxes) if t in present]
        if ious and float(np.mean(ious)) >= MATCH_IOU:
            return True
    return False


def correct_run(store: Store, run_id: int, result: SegmentationResult, clip: RealRefClip, exp_id: str
                ) -> Counter:
    """Correct one stored run from the clip's ground truth (module doc); returns what was done."""
    expression, done = clip.expressions[exp_id], Counter()
    for traj in result.trajectories:
        if trajectory_matches(traj, clip, expression.obj_ids, result.height, result.width):
            store.accept(run_id, traj.trajectory_id, user=USER)
            done["accept"] += 1
        elif traj.trajectory_id in result.selected:
            store.reject(run_id, traj.trajectory_id, user=USER)
            done["reject"] += 1
    for t in mask_frames(clip, expression):
        mask = np.zeros((clip.height, clip.width), dtype=bool)
        for obj_id in expression.obj_ids:
            drawn = clip.object_mask(obj_id, t)
            if drawn is not None:
                mask |= drawn
        store.set_mask(run_id, t, mask, user=USER)
        done["set_mask"] += 1
    return done


def annotate(store: Store, model, root: Path, clips: list[RealRefClip], log) -> dict:
    """Run, save and correct every expression of `clips`; counts of what the annotator did."""
    cache, done = SegmentCache(max_bytes=1 << 30), Counter()
    for clip in clips:
        folder = clip_video(root, clip)
        video = store.add_video_file(folder, fps=clip.fps)
        for exp_id, expression in clip.expressions.items():
            result = model.segment(str(folder), expression.text, cache=cache, video_key=video.content_hash)
            run_id = store.save_run(video, expression.text, result, model.version)
            done.update(correct_run(store, run_id, result, clip, exp_id))
            done["expressions"] += 1
        log(f"{clip.clip_id}: {len(clip.expressions)} expressions run, saved and corrected")
    return dict(done)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs/realref-corrections"), help="new folder")
    p.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="RealRef set-up folder")
    p.add_argument("--trials", type=int, default=200, help="refit search trials")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        print(f"error: {args.out} exists and is not empty; choose a new --out", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    start = time.time()
    url = f"sqlite:///{(args.out / 'store.db').resolve()}"
    model = load_model("default")
    with Store.open(url) as store:
        done = annotate(store, model, args.root, load_clips(args.root, "tune"), log)
    log(f"annotator: {done} ({time.time() - start:.0f} s)")
    refit_argv = ["--db", url, "--base", "default", "--out", str(args.out / "model"), "--trials",
                  str(args.trials), "--seed", str(args.seed), "--realref-root",
                  str(args.root), "--realref-split", "test"]
    code = refit.main(refit_argv)
    if code != 0:
        return code
    report = json.loads((args.out / "model" / refit.REPORT).read_text())
    table = "\n".join([
        f"# Correction loop on the real model ({time.time() - start:.0f} s)\n",
        (f"Base `{report['base_version']}` -> refit `{report['version']}`; threshold "
         f"{report['threshold']['before']} -> {report['threshold']['after']}.\n"),
        f"Annotator on the RealRef tuning clips (ground truth from the annotation files): {done}.\n",
        ("```\npython training/realref_corrections.py " + " ".join(argv or sys.argv[1:]) + "\n"
         "python training/refit.py " + " ".join(refit_argv) + "\n```\n"),
        corrections_table(report), realref_table(report["realref"])])
    (args.out / "table.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
