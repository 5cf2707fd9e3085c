"""Small synthetic videos for tests, written with PyAV: each frame a flat colour that names its index."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image

# Levels exactly representable in GIF's rgb8 (3-3-2 bits), so even the palette codec keeps them.
_RG_LEVELS = (0, 73, 146, 219)
_B_LEVELS = (0, 85, 170, 255)

# (container suffix, codec, pixel format, extra codec options) for every container we accept.
CONTAINERS = {
    "mp4": ("libx264", "yuv420p", {"preset": "ultrafast", "g": "5"}),
    "avi": ("mpeg4", "yuv420p", {"g": "5"}),
    "mov": ("mjpeg", "yuvj444p", {}),
    "webm": ("libvpx", "yuv420p", {"deadline": "realtime", "g": "5"}),
    "mkv": ("ffv1", "bgr0", {}),  # RGB: lossless end to end
    "gif": ("gif", "rgb8", {}),
}


def frame_color(index: int) -> tuple[int, int, int]:
    """A colour unique to frame `index` (for up to 64 frames), far from its neighbours."""
    return (_RG_LEVELS[index % 4], _RG_LEVELS[(index // 4) % 4], _B_LEVELS[(index // 16) % 4])


def synthetic_frames(num_frames: int, height: int, width: int) -> np.ndarray:
    """uint8 [T, H, W, 3]: frame t filled with `frame_color(t)`."""
    colors = np.array([frame_color(t) for t in range(num_frames)], dtype=np.uint8)
    return np.broadcast_to(colors[:, None, None, :], (num_frames, height, width, 3)).copy()


def make_video(path: Path, num_frames: int = 12, height: int = 48, width: int = 64, fps: int = 10,
               codec: str | None = None, pix_fmt: str | None = None, options: dict | None = None) -> Path:
    """Encode `synthetic_frames` into `path`; codec and format default from the path's suffix."""
    default_codec, default_fmt, default_opts = CONTAINERS[path.suffix.lstrip(".")]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec or default_codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = pix_fmt or default_fmt
        stream.options = dict(default_opts if options is None else options)
        for frame in synthetic_frames(num_frames, height, width):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_frame_folder(folder: Path, num_frames: int = 5, height: int = 48, width: int = 64,
                      suffix: str = ".png", names=None) -> Path:
    """A folder of frame images named `names` (default 0.png, 1.png, ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = names or [str(i) for i in range(num_frames)]
    for name, frame in zip(names, synthetic_frames(len(names), height, width)):
        Image.fromarray(frame).save(folder / f"{name}{suffix}")
    return folder


def frame_index_of(frame: np.ndarray, num_frames: int) -> int:
    """Which synthetic frame this decoded frame is (the nearest frame colour)."""
    mean = frame.reshape(-1, 3).mean(axis=0)
    distances = [np.abs(mean - np.array(frame_color(t))).sum() for t in range(num_frames)]
    return int(np.argmin(distances))


# (container suffix, audio codec, sample format) of the videos with sound the tests make.
AUDIO_CODECS = {"mp4": ("aac", "fltp"), "avi": ("pcm_s16le", "s16"), "mkv": ("flac", "s16"),
                "mov": ("pcm_s16le", "s16")}


def make_video_with_audio(path: Path, num_frames: int = 20, fps: int = 10, sample_rate: int = 22050,
                          height: int = 48, width: int = 64, audio_seconds: float | None = None) -> Path:
    """`synthetic_frames` plus a 440 Hz stereo tone (default as long as the video), interleaved."""
    suffix = path.suffix.lstrip(".")
    codec, sample_fmt = AUDIO_CODECS[suffix]
    seconds = num_frames / fps if audio_seconds is None else audio_seconds
    with av.open(str(path), "w") as container:
        video = container.add_stream(CONTAINERS[suffix][0] if suffix != "mov" else "mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream(codec, rate=sample_rate, layout="stereo")
        samples_done, total = 0, int(seconds * sample_rate)
        for index, frame in enumerate(synthetic_frames(num_frames, height, width)):
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
            until = min(total, int((index + 1) / fps * sample_rate)) if index < num_frames - 1 else total
            if until > samples_done:
                _mux_tone(container, audio, samples_done, until, sample_rate, sample_fmt)
                samples_done = until
        for stream in (video, audio):
            for packet in stream.encode():
                container.mux(packet)
    return path


def _mux_tone(container, stream, start: int, stop: int, sample_rate: int, sample_fmt: str) -> None:
    t = np.arange(start, stop) / sample_rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    planar = np.stack([tone, tone]).astype(np.float32)
    if sample_fmt == "s16":
        data = (planar.T.reshape(1, -1) * 32767).astype(np.int16)  # packed: channels interleaved
    else:
        data = planar
    frame = av.AudioFrame.from_ndarray(data, format=sample_fmt, layout="stereo")
    frame.sample_rate, frame.pts = sample_rate, start
    for packet in stream.encode(frame):
        container.mux(packet)


def audio_seconds(path: Path) -> float | None:
    """Seconds of audio in `path` from its decoded samples (None: no audio stream)."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.codec_context.sample_rate
