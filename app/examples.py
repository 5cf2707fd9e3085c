"""The shipped examples, from the examples folder:

- `<stem>.<video suffix>` with an optional `<stem>.json` sidecar: {"title", "order", "model",
  "expressions": [...], "source"};
- `<stem>.json` alone with a "realref" entry {"clip_id", "num_frames", "fps"}: a cut of a RealRef clip
  (real video; its frames come from Debian / PyPI packages at set-up, so they are not committed). The
  studio turns the clip's first `num_frames` frames into `<made_dir>/<stem>.mp4` when it is first
  loaded; until `python training/realref_setup.py` has written the frames, the example is listed as
  missing, with that command.

"model" names the model the example is for (a `derrvos_core.model.catalog` name: "real", "synthref");
picking the example switches the tab to it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from derrvos_core.video import open_video, write_video

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".gif")
REALREF_SETUP = "python training/realref_setup.py"


@dataclass(frozen=True)
class RealRefCut:
    """The first `num_frames` frames of the RealRef clip in `frames_dir`, played at `fps`."""

    clip_id: str
    frames_dir: Path
    num_frames: int
    fps: float


@dataclass(frozen=True)
class Example:
    """A shipped example.

    Attributes:
        name: its file stem; title: what the page shows; source: where the frames come from.
        path: the video the studio opens (for a RealRef cut, where it is made on first load).
        model: the model it is for ("real", "synthref"), "" when any.
        clip: the RealRef cut it is made from, None for a shipped video file.
        missing: "" when it can be loaded, else what to run to make it.
    """

    name: str
    path: Path
    title: str
    expressions: tuple[str, ...]
    source: str
    model: str = ""
    clip: RealRefCut | None = None
    missing: str = ""


def list_examples(folder: Path, realref_clips: Path | None = None, made_dir: Path | None = None) -> list[Example]:
    """The examples in `folder`, by their sidecar's "order" then by name ([] when the folder is missing).

    RealRef cuts are listed only when `realref_clips` (RealRef's clips folder) and `made_dir` (where
    their MP4s are written) are given.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES):
        out.append(_example(path.stem, path, _read_meta(path.with_suffix(".json"))))
    if realref_clips is not None and made_dir is not None:
        videos = {p.stem for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES}
        for sidecar in sorted(folder.glob("*.json")):
            meta = _read_meta(sidecar)
            if sidecar.stem not in videos and isinstance(meta.get("realref"), dict):
                cut = _cut(meta["realref"], Path(realref_clips))
                if cut is not None:
                    out.append(_example(sidecar.stem, Path(made_dir) / f"{sidecar.stem}.mp4", meta, cut))
    return [example for _, example in sorted(out, key=lambda pair: (pair[0], pair[1].name))]


def make_example_video(example: Example) -> Path:
    """The example's video, written from its RealRef frames if it is a cut not made yet."""
    if example.clip is None or example.path.is_file():
        return example.path
    cut = example.clip
    with open_video(cut.frames_dir, fps=cut.fps) as reader:
        return write_video(example.path, reader.frames(0, cut.num_frames), cut.fps)


def _example(name: str, path: Path, meta: dict, cut: RealRefCut | None = None) -> tuple[float, Example]:
    missing = ""
    if cut is not None and not _has_frames(cut):
        missing = (f"its frames are not set up: run `{REALREF_SETUP}` (writes RealRef's clips to "
                   f"{cut.frames_dir.parent}), then reload the page")
    example = Example(name=name, path=path, title=str(meta.get("title", name)),
                      expressions=tuple(str(e) for e in meta.get("expressions", [])),
                      source=str(meta.get("source", "")), model=str(meta.get("model", "")), clip=cut,
                      missing=missing)
    return _order(meta), example


def _cut(spec: dict, clips: Path) -> RealRefCut | None:
    try:
        clip_id = str(spec["clip_id"])
        if not clip_id or "/" in clip_id or "\\" in clip_id or clip_id.startswith("."):
            return None  # a sidecar names a clip, never a path
        return RealRefCut(clip_id, clips / clip_id, int(spec["num_frames"]), float(spec["fps"]))
    except (KeyError, TypeError, ValueError):
        return None  # a broken sidecar must not break the list


def _has_frames(cut: RealRefCut) -> bool:
    return (cut.frames_dir / f"{cut.num_frames - 1:05d}.jpg").is_file()


def _order(meta: dict) -> float:
    try:
        return float(meta.get("order", 100))
    except (TypeError, ValueError):
        return 100.0


def _read_meta(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # a broken sidecar must not hide its video
    return meta if isinstance(meta, dict) else {}
