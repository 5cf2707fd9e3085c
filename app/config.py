"""Settings of one running studio, fixed at launch (launch.py builds them from its flags)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = REPO_ROOT / "assets" / "examples"
REALREF_CLIPS = REPO_ROOT / "data" / "realref" / "clips"
"""Where `training/realref_setup.py` writes RealRef's clips (the real-video examples are cut from them)."""

EXPORT_FORMATS = {"mevis": "MeViS", "refytvos": "Ref-YouTube-VOS", "davis": "DAVIS", "coco-rle": "COCO-RLE"}
"""Export format ids (derrvos_core.store.export) and the names the page shows for them."""


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
        result_cache_size: how many (video, expression, crop size, model) results stay in memory, so
            a threshold change or a return to an earlier crop size needs no model call.
        frame_cache_mb: decoded frames kept in memory for scrubbing, over all sessions.
        segment_cache_mb: the model's per-frame segmenter outputs and text-image tokens kept in memory
            (when the model takes a `cache`), so a new crop size or expression on a video re-runs only
            what depends on it.
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
    result_cache_size: int = 32
    frame_cache_mb: float = 256.0
    segment_cache_mb: float = 512.0
    display_size: int = 512

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)
