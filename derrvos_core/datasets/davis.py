"""Ref-DAVIS17 reader: the official DAVIS-2017 layout with the Ref-DAVIS text annotations, or the
Ref-YouTube-VOS-style conversion that RVOS codebases (ReferFormer and followers) make of it.

Official layout (root may hold it directly or under DAVIS/):
    ImageSets/2017/<train|val>.txt, JPEGImages/480p/<vid>/<frame>.jpg,
    Annotations_unsupervised/480p/<vid>/<frame>.png (else Annotations/480p), palette PNGs of object ids;
    a video missing from 480p is read from the other resolution folder that holds it (`Full-Resolution`,
    or `<H>p` as our export names a video's own size);
    davis_text_annotations/Davis17_annot1.txt, Davis17_annot1_full_video.txt, Davis17_annot2.txt,
    Davis17_annot2_full_video.txt, lines `<vid> <obj_id> "<expression>"`.
Converted layout: <split>/JPEGImages, <split>/Annotations, meta_expressions/<split>/meta_expressions.json with
four expressions per object in the order (annot1 first-frame, annot1 full-video, annot2 first-frame,
annot2 full-video), so the annotator is exp_id % 4.

The four annotations are evaluated apart: each sample carries extra["annotator"] in 0..3.
"""
from __future__ import annotations

import re
from pathlib import Path

from derrvos_core.datasets.common import RVOSDataset
from derrvos_core.datasets.refytvos import YtvosEntry, build_ytvos_sample, read_ytvos_layout
from derrvos_core.errors import DatasetError

ANNOTATORS = ("annot1_first_frame", "annot1_full_video", "annot2_first_frame", "annot2_full_video")
_TEXT_FILES = ("Davis17_annot1.txt", "Davis17_annot1_full_video.txt", "Davis17_annot2.txt",
               "Davis17_annot2_full_video.txt")
_RESOLUTION = re.compile(r"[0-9]+p")
_NAME_FIXES = {"clasic-car": "classic-car", "dog-scale": "dogs-scale", "motor-bike": "motorbike"}


def read_davis(root, split: str) -> RVOSDataset:
    """Ref-DAVIS17 split ("train" or "valid"/"val"), one sample per (object, annotator) expression."""
    root = Path(root)
    for name in (split, {"val": "valid", "valid": "val"}.get(split, split)):
        meta = root / "meta_expressions" / name / "meta_expressions.json"
        if meta.is_file() and (root / name / "JPEGImages").is_dir():
            return read_ytvos_layout(root, name, "davis", extra_of=_annotator_extra)
    return _read_official(root, split)


def _annotator_extra(exp_id: str) -> dict:
    a = int(exp_id) % 4 if exp_id.isdigit() else 0
    return {"annotator": a, "annotator_name": ANNOTATORS[a]}


def _read_official(root: Path, split: str) -> RVOSDataset:
    davis = root / "DAVIS" if (root / "DAVIS" / "JPEGImages").is_dir() else root
    set_name = "val" if split in ("val", "valid") else split
    image_set = davis / "ImageSets" / "2017" / f"{set_name}.txt"
    if not image_set.is_file():
        raise DatasetError(f"{image_set}: file not found (neither the DAVIS nor the converted Ref-DAVIS "
                           f"layout "
                           f"is under {root})")
    videos = [v.strip() for v in image_set.read_text().splitlines() if v.strip()]
    texts = _read_texts(root, davis)
    entries, folders = [], {}
    for vid in videos:
        res = _resolution_of(davis, vid)
        if res is None:
            raise DatasetError(f"{image_set}: video '{vid}' has no frame folder "
                               f"{davis / 'JPEGImages' / '480p' / vid} (nor under another resolution)")
        folders[vid] = (davis / "JPEGImages" / res, _annotations(davis, res))
        frame_dir = folders[vid][0] / vid
        images = [p for p in frame_dir.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
        frames = tuple(sorted(p.stem for p in images))
        per_annotator = [sorted(t.get(vid, []), key=lambda e: int(e[0])) for t in texts]
        k = 0
        for rank in range(max((len(p) for p in per_annotator), default=0)):
            for a, exps in enumerate(per_annotator):
                if rank < len(exps):
                    obj_id, text = exps[rank]
                    entries.append(YtvosEntry(vid, str(k), text, frames, int(obj_id),
                                              {"has_annotations": folders[vid][1].is_dir(), "annotator": a,
                                               "annotator_name": ANNOTATORS[a]}))
                    k += 1
    return RVOSDataset("davis", split, entries, lambda e: build_ytvos_sample(
        e, folders[e.video_id][0], folders[e.video_id][1], "davis", folders[e.video_id][1].is_dir()))


def _resolution_of(davis: Path, vid: str) -> str | None:
    """The resolution folder holding the video's frames: 480p first, else `<H>p` (lowest first), else
    Full-Resolution; None when none does."""
    jpegs = davis / "JPEGImages"
    others = sorted((p.name for p in jpegs.iterdir() if p.is_dir() and _RESOLUTION.fullmatch(p.name)),
                    key=lambda n: int(n[:-1])) if jpegs.is_dir() else []
    for res in ["480p"] + [r for r in others if r != "480p"] + ["Full-Resolution"]:
        if (jpegs / res / vid).is_dir():
            return res
    return None


def _annotations(davis: Path, res: str) -> Path:
    unsupervised = davis / "Annotations_unsupervised" / res
    return unsupervised if unsupervised.is_dir() else davis / "Annotations" / res


def _read_texts(root: Path, davis: Path) -> list:
    """Per annotator file: {video: [(obj_id, expression)]}; a missing file counts as no expressions."""
    folder = root / "davis_text_annotations"
    if not folder.is_dir():
        folder = davis / "davis_text_annotations"
    if not folder.is_dir():
        raise DatasetError(f"{folder}: folder not found (Ref-DAVIS17 text annotations)")
    out = []
    for name in _TEXT_FILES:
        path = folder / name
        videos: dict = {}
        if path.is_file():
            raw = path.read_bytes()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")  # annotator 2's files are not UTF-8
            for n, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                parts = line.strip().split(maxsplit=2)
                if len(parts) < 3 or not parts[1].isdigit():
                    raise DatasetError(f"{path}: line {n} should read <video> <obj_id> \"<expression>\", "
                                       f"got {line!r}")
                vid = _NAME_FIXES.get(parts[0], parts[0])
                videos.setdefault(vid, []).append((parts[1], parts[2].strip().strip('"')))
        out.append(videos)
    return out
