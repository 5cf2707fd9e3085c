"""Videos of the studio: uploads (video files, or zips of frame images) checked (size, then the pixel and
frame budgets from the headers) before anything is decoded, kept under the data folder only while the store
refers to them, and their decoded frames served from a shared cache while scrubbing."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from app.cache import LRUCache, frame_bytes
from app.config import StudioConfig
from app.session import LoadedVideo, StudioSession
from derrvos_core.errors import InputError, VideoError
from derrvos_core.store import Store
from derrvos_core.store.videos import content_hash
from derrvos_core.video import open_video, probe, unpack_frames

DECODE_AHEAD = 8
"""Frames decoded per miss while scrubbing: the next frames are usually asked for next."""


class VideoLibrary:
    """Loads videos into sessions and reads their frames.

    Args:
        store: registers every loaded video (by content hash).
        config: the data folder, the upload size limit and the frame limits.
        examples_dirs: folders whose videos are used where they are (shipped and made examples).
    """

    def __init__(self, store: Store, config: StudioConfig, examples_dirs: tuple[Path, ...]):
        self.store = store
        self.config = config
        self._examples_dirs = tuple(Path(d).resolve() for d in examples_dirs)
        self.frames: LRUCache[np.ndarray] = LRUCache(int(config.frame_cache_mb * 2 ** 20), frame_bytes)

    def load(self, path: str | Path, name: str | None = None, file_name: str | None = None,
             suggested_expressions: tuple[str, ...] = ()) -> LoadedVideo:
        """Check, keep and register a video, or a zip of frame images (JPEG/PNG, unpacked under the data
        folder and read as a frame folder). InputError (too large) or VideoError (missing, empty, not a
        video, corrupt, over the pixel or frame budget), each naming the file as the user knows it."""
        path = Path(path)
        name = name or path.name
        if not path.is_file():
            raise VideoError(f"{name}: no such file (upload it again)")
        size = path.stat().st_size
        if size > self.config.max_upload_bytes:
            raise InputError(f"{name} is {size / 2 ** 20:.0f} MB; this studio accepts videos up to "
                             f"{self.config.max_upload_mb:g} MB (launch.py --max-upload-mb)")
        source = self._unpacked(path, name) if path.suffix.lower() == ".zip" else path
        try:
            info = probe(source, limits=self.config.frame_limits, name=name)
        except VideoError as exc:
            reason = str(exc).removeprefix(f"{name}: ")
            said = "not a readable video ("  # the probe's own words: said once, not twice
            if reason.startswith(said) and reason.endswith(")"):
                reason = reason[len(said):-1]
            raise VideoError(f"{name} is not a video this studio can read ({reason})") from exc
        digest = content_hash(source)
        kept, copied = self._kept(source, digest)
        try:
            record = self.store.add_video(kept, fps=info.fps, num_frames=info.num_frames, height=info.height,
                                          width=info.width, content_hash_hex=digest)
        except BaseException:
            if copied:  # the store does not refer to it: no copy stays behind
                kept.unlink(missing_ok=True)
            raise
        return LoadedVideo(record=record, info=info, path=kept, name=name, file_name=file_name or path.name,
                           suggested_expressions=tuple(suggested_expressions))

    def _unpacked(self, path: Path, name: str) -> Path:
        """The frame folder a zip of frames unpacks to under the data folder (once per zip content)."""
        folder = (Path(self.config.data_dir) / "frames" / content_hash(path)[:16]).resolve()
        if folder.is_dir():
            return folder
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            return unpack_frames(path, folder, self.config.frame_limits, name=name)
        except VideoError as exc:
            reason = str(exc).removeprefix(f"{name}: ")
            raise VideoError(f"{name} is not a zip of frames this studio can read ({reason})") from exc

    def _kept(self, path: Path, digest: str) -> tuple[Path, bool]:
        """Where the studio reads the video from, and whether it was copied there now."""
        if path.is_dir() or any(path.resolve().is_relative_to(folder) for folder in self._examples_dirs):
            return path, False  # an example, or a zip's frames already unpacked under the data folder
        known = self.store.find_video(digest)
        if known is not None and Path(known.path).is_file():
            return Path(known.path), False  # already kept (or an example): no second copy
        folder = Path(self.config.data_dir) / "videos"
        folder.mkdir(parents=True, exist_ok=True)
        kept = (folder / f"{digest[:16]}{path.suffix.lower()}").resolve()
        if kept.exists():  # left by an earlier load the store then refused: the store does not know it
            return kept, True
        partial = kept.with_name(f".{kept.name}.partial")
        try:
            shutil.copyfile(path, partial)
            partial.replace(kept)
        finally:
            partial.unlink(missing_ok=True)
        return kept, True

    def frame(self, session: StudioSession, index: int) -> np.ndarray:
        """uint8 [H, W, 3] frame `index` (clipped) of the session's video; decodes a few ahead on a miss."""
        video = session.video
        index = int(np.clip(index, 0, video.info.num_frames - 1))
        cached = self.frames.get((video.record.content_hash, index))
        if cached is not None:
            return cached
        with session.reader_lock:
            if session.reader is None:
                session.reader = open_video(video.path, name=video.name)
            block = session.reader.read(index, min(index + DECODE_AHEAD, video.info.num_frames))
        for offset, frame in enumerate(block):
            self.frames.put((video.record.content_hash, index + offset), frame)
        return block[0]

    def forget(self, shown: set[str]) -> int:
        """Drop the cached frames of videos no live session shows; returns the bytes freed."""
        return self.frames.discard(lambda key: key[0] in shown)
