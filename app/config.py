"""Settings of one running studio, fixed at launch (launch.py builds them from its flags)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from derrvos_core.store.export import FORMATS
from derrvos_core.video import FrameLimits

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = REPO_ROOT / "assets" / "examples"
REALREF_CLIPS = REPO_ROOT / "data" / "realref" / "clips"
"""Where `training/realref_setup.py` writes RealRef's clips (the real-video examples are cut from them)."""

_FORMAT_TITLES = {"mevis": "MeViS", "refytvos": "Ref-YouTube-VOS", "davis": "DAVIS", "coco-rle": "COCO-RLE"}
EXPORT_CHOICES = tuple((_FORMAT_TITLES.get(fmt, fmt), fmt) for fmt in FORMATS)
"""(the name the page shows, the format id) of each export format the store writes, in its order."""


def format_title(fmt: str) -> str:
    return _FORMAT_TITLES.get(fmt, fmt)


@dataclass(frozen=True)
class StudioConfig:
    """How the studio behaves; every field has the default `python launch.py` uses.

    Attributes:
        data_dir: where uploaded videos are kept (the store refers to them by path, so they must
            outlive Gradio's temporary upload folder), and where exports and overlay videos are written.
        examples_dir: shipped example videos (`*.mp4` etc., each with an optional `<stem>.json` holding
            {"title": str, "expressions": [str, ...]}).
        max_upload_mb: uploads above this size are refused before anything is decoded.
        default_user: who a correction is recorded under when the app runs without authentication.
        device: the device the model runs on (recorded with each run).
        frame_limits: what an upload may be (pixels per frame, frame count), checked from its headers
            when it is uploaded, before anything is decoded.
        result_cache_mb: model results ((video, expression, crop size, linking, model) -> trajectories
            and scores) kept in memory over all sessions, so a threshold change or a return to an
            earlier crop size needs no model call. A 300-frame 1080p result is a few MB of RLE.
        frame_cache_mb: decoded frames kept in memory for scrubbing, over all sessions.
        segment_cache_mb: the model's per-frame segmenter outputs and text-image tokens kept in memory
            (when the model takes a `cache`), so a new crop size or expression on a video re-runs only
            what depends on it. The three budgets bound what runs leave in memory: frames and results
            of a video leave when the last session showing it ends, the segment cache when none is left.
        upload_keep_s, upload_sweep_s: Gradio's temporary copies of uploads (and of the files handed
            out) older than `upload_keep_s` are deleted every `upload_sweep_s` seconds, and all of them
            when the server stops (`gr.Blocks(delete_cache=...)`); the studio keeps its own copy of each
            loaded video, referred to by the store.
        realref_clips: RealRef's frame folders (`training/realref_setup.py`); the real-video examples
            are cut from them, and listed as missing when they are absent.
        display_size: small videos are shown upscaled (nearest neighbour) to about this many pixels
            on their long side, so a 128 px clip can be inspected and painted on.
    """

    data_dir: Path = Path("data/studio")
    examples_dir: Path = EXAMPLES_DIR
    realref_clips: Path = REALREF_CLIPS
    max_upload_mb: float = 500.0
    default_user: str = "annotator"
    device: str = "cpu"
    frame_limits: FrameLimits = field(default_factory=FrameLimits)
    result_cache_mb: float = 64.0
    frame_cache_mb: float = 256.0
    segment_cache_mb: float = 512.0
    display_size: int = 512
    upload_keep_s: int = 3600
    upload_sweep_s: int = 600

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)
