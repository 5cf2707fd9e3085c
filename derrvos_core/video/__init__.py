"""Videos: reading (`reading`: files with PyAV, frame folders with imageio; `probing` counts what a file
really decodes), frame zips (`frames_zip`), resizing for the model (`resize`) and writing with overlays
and the source's audio (`writing`, `audio`).

Frames are uint8 [H, W, 3] RGB. This package's names are its interface; each concern lives in its own module.
"""
from derrvos_core.video.reading import (DEFAULT_MAX_FRAMES, DEFAULT_MAX_PIXELS, FOLDER_FPS, FRAME_SUFFIXES,
                                       FrameLimits, VideoInfo, VideoReader, open_video, probe)
from derrvos_core.video.frames_zip import unpack_frames
from derrvos_core.video.resize import resize_frames, resize_mask_logits
from derrvos_core.video.writing import draw_legend, write_overlay_video, write_video

__all__ = ["DEFAULT_MAX_FRAMES", "DEFAULT_MAX_PIXELS", "FOLDER_FPS", "FRAME_SUFFIXES", "FrameLimits",
           "VideoInfo", "VideoReader", "draw_legend", "open_video", "probe", "resize_frames",
           "resize_mask_logits", "unpack_frames", "write_overlay_video", "write_video"]
