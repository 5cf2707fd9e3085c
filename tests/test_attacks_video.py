"""Attacks with videos: a tiny 8K file, oversized and lying headers, bad files, odd arrays (issue 19, item 2).

Memory is measured in a child process (its peak RSS), so the numbers are the reader's, not pytest's.
"""
from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from derrvos_core.errors import InputError, VideoError
from derrvos_core.model.frames import (INFERENCE_LIMITS, MAX_CROP_BYTES, ArrayFrames, ReadAhead,
                                       check_crop_memory, crop_reader, open_frames)
from derrvos_core.video import FrameLimits, open_video, probe
from tests.helpers_video import frame_index_of, make_video

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_thread")


def write_black(path: Path, side: int, num_frames: int = 2, height: int | None = None) -> Path:
    """A few black frames of side x side (or height x side), straight from YUV (no RGB copy at 8K)."""
    height = side if height is None else height
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(10))
        stream.width, stream.height, stream.pix_fmt = side, height, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        frame = av.VideoFrame.from_ndarray(np.full((height * 3 // 2, side), 16, np.uint8), format="yuv420p")
        for _ in range(num_frames):
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def video_8k(tmp_path_factory) -> Path:
    path = write_black(tmp_path_factory.mktemp("8k") / "holiday-8k.mp4", 8192)
    assert path.stat().st_size < 400_000  # a tiny file ...
    return path


def child(imports: str, code: str) -> dict:
    """Run `imports`, then `code` (which sets `out`) in a fresh interpreter; `out` plus how far `code`
    raised the peak RSS (MB) above what the imports took."""
    prelude = ("import json, resource\n" + imports +
               "\nbase = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n")
    epilogue = ("\npeak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss"
                "\nprint(json.dumps({**out, 'rss_mb': (peak - base) / 1024}))")
    done = subprocess.run([sys.executable, "-c", prelude + code + epilogue], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_8k_video_is_refused_at_open_naming_the_file_and_its_size_with_flat_memory(video_8k):
    out = child("from derrvos_core.errors import VideoError\nfrom derrvos_core.video import open_video", f"""
try:
    with open_video({str(video_8k)!r}):
        out = {{'error': None}}
except VideoError as err:
    out = {{'error': str(err)}}
""")
    assert "holiday-8k.mp4" in out["error"] and "8192x8192" in out["error"] and "3840x2160" in out["error"]
    assert out["rss_mb"] < 50, out  # ... that would have needed 6.75 GiB per crop


def test_8k_video_read_downscaled_when_the_caller_allows_it_with_bounded_memory(video_8k):
    out = child("from derrvos_core.video import FrameLimits, open_video", f"""
with open_video({str(video_8k)!r}, limits=FrameLimits(max_pixels=None, max_side=512)) as reader:
    block = reader.read(0, 2)
    out = {{'shape': list(block.shape), 'size': [reader.info.height, reader.info.width]}}
""")
    assert out["shape"] == [2, 512, 512, 3]  # handed out at the size asked for
    assert out["size"] == [8192, 8192]  # the video's own size is still reported
    assert out["rss_mb"] < 1500, out  # decoder frames only; one native RGB crop alone would be 402 MB a frame


@pytest.fixture(scope="module")
def model():
    from derrvos_core.model import load_model

    return load_model("synthref")


def test_segment_refuses_the_8k_video_before_the_model_runs(model, video_8k):
    with pytest.raises(VideoError, match="holiday-8k.mp4.*8192x8192"):
        model.segment(video_8k, "the black square")


def test_user_file_name_replaces_the_server_path_in_errors(tmp_path):
    upload = tmp_path / "srv-data" / "uploads" / "a1b2c3.bin"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"not a video at all" * 20)
    with pytest.raises(VideoError) as err:
        probe(upload, name="my holiday.mp4")
    assert "my holiday.mp4" in str(err.value) and "srv-data" not in str(err.value)


def test_4k_is_accepted_and_inference_decodes_it_downscaled(tmp_path):
    path = write_black(tmp_path / "uhd.mp4", 3840, num_frames=2, height=2160)
    with open_frames(path) as (reader, num_frames, height, width):
        assert (num_frames, height, width) == (2, 2160, 3840)  # masks come back at the video's size
        assert reader.read(0, 1).shape == (1, 1080, 1920, 3)  # frames at what the model needs
    assert INFERENCE_LIMITS.max_side == 1920


def test_frame_folder_of_huge_images_is_refused_from_the_headers(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    Image.new("RGB", (4000, 4000)).save(folder / "00000.png")  # a few KB of PNG, 48 MB decoded
    with pytest.raises(VideoError, match="4000x4000"):
        open_video(folder)
    with open_video(folder, limits=FrameLimits(max_pixels=None, max_side=300)) as reader:
        assert reader.read(0, 1).shape == (1, 300, 300, 3)


def test_a_container_promising_too_many_frames_is_refused(tmp_path):
    path = make_video(tmp_path / "v.mp4", num_frames=5)
    with pytest.raises(VideoError, match="declares 5 frames; at most 3"):
        open_video(path, limits=FrameLimits(max_frames=3))


@pytest.mark.parametrize("content, message", [
    (b"", "empty file"),
    (b"\x00" * 4096, "not a readable video"),
    (b"RIFF\x10\x00\x00\x00AVI LIST" + b"\xff" * 500, "not a readable video|no video stream"),
])
def test_bad_files_give_video_errors(tmp_path, content, message):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(VideoError, match=message):
        probe(path)


@pytest.mark.parametrize("suffix", ["avi", "mp4"])
@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.8, 0.97])
def test_truncated_file_is_refused_by_name_or_delivers_exactly_its_decodable_frames(tmp_path, suffix,
                                                                                     fraction):
    path = make_video(tmp_path / f"v.{suffix}", num_frames=30)
    cut = tmp_path / "srv-uploads" / f"x1.{suffix}"
    cut.parent.mkdir()
    cut.write_bytes(path.read_bytes()[: int(path.stat().st_size * fraction)])
    try:
        info = probe(cut, name="cut clip")
    except VideoError as err:  # the cut took the header or the index: refused, naming the user's file
        assert str(err).startswith("cut clip: ") and "srv-uploads" not in str(err)
        return
    with open_video(cut, name="cut clip") as reader:
        frames = reader.read(0, reader.info.num_frames)
    assert len(frames) == info.num_frames <= 30
    assert [frame_index_of(f, 30) for f in frames] == list(range(info.num_frames))


def test_negative_strides_and_odd_sizes_are_read_contiguous():
    frames = np.random.default_rng(0).integers(0, 255, (4, 7, 5, 3), dtype=np.uint8)
    flipped = frames[::-1, ::-1, ::-1]
    reader = ArrayFrames(flipped)
    block = reader.read(0, 4)
    assert block.flags.c_contiguous and np.array_equal(block, flipped)


def test_big_arrays_are_downscaled_per_crop():
    frames = np.zeros((3, 2160, 4096, 3), np.uint8)
    reader = ArrayFrames(frames)
    assert reader.read(0, 2).shape == (2, 1012, 1920, 3)


def test_segment_accepts_a_flipped_array(model):
    frames = np.zeros((3, 64, 80, 3), np.uint8)
    frames[:, 20:40, 10:30] = 255
    result = model.segment(frames[:, ::-1], "the white square", model.defaults.settings(crop_size=3))
    assert (result.num_frames, result.height, result.width) == (3, 64, 80)


def test_a_crop_too_big_for_memory_is_refused_before_reading_naming_the_size_that_fits():
    frames = np.zeros((400, 1080, 1920, 3), np.uint8)[:, :1, :1]  # small array, a 1080p reader below
    reader = ArrayFrames(frames)
    reader.frame_size = (1080, 1920)
    with pytest.raises(InputError, match=r"crop size 400 needs 2\.3 GiB.*at most 345"):
        check_crop_memory(reader, 400, 400)
    check_crop_memory(reader, 400, 345)
    assert MAX_CROP_BYTES == 2 << 30


def test_read_ahead_holds_at_most_one_crop_and_none_past_its_byte_budget():
    reads = []

    class Reader:
        def read(self, start, stop):
            reads.append((start, stop))
            return np.zeros((stop - start, 100, 100, 3), np.uint8)  # 30 KB a frame

    with ReadAhead(Reader(), 20, 4, max_bytes=200_000) as ahead:  # a crop of 4 is 120 KB: read ahead
        ahead.read(0, 4)
        assert ahead._pending is not None and ahead._pending[:2] == (4, 8)
    with ReadAhead(Reader(), 20, 10, max_bytes=200_000) as ahead:  # 300 KB: crops read in turn
        ahead.read(0, 10)
        assert ahead._pending is None
        ahead.read(10, 20)
    assert reads == [(0, 4), (4, 8), (0, 10), (10, 20)]


def test_crop_reader_refuses_an_oversized_crop_of_a_file(tmp_path):
    path = make_video(tmp_path / "v.mp4", num_frames=4, height=1080, width=1920)
    with open_video(path) as reader, pytest.raises(InputError, match="crop size 500"):
        with crop_reader(reader, 500, 500):
            pass


def test_frame_limits_are_validated():
    with pytest.raises(InputError, match="max_side"):
        FrameLimits(max_side=0)
    with pytest.raises(InputError, match="max_pixels"):
        FrameLimits(max_pixels=True)
    assert FrameLimits(max_side=100).frame_size(50, 400) == (12, 100)
