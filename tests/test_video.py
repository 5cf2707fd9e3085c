"""derrvos_core.video: every container made here and read back, bad files rejected by name, resizing,
writing."""
from __future__ import annotations

import gzip
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from derrvos_core.errors import InputError, VideoError
from derrvos_core.masks import trajectory_colors
from derrvos_core.video import (VideoInfo, open_video, probe, resize_frames, resize_mask_logits,
                                write_overlay_video, write_video)
from tests.helpers_video import (CONTAINERS, frame_color, frame_index_of, make_frame_folder, make_video,
                                 synthetic_frames)

# Mean absolute error a lossy codec may leave on a flat frame (GIF's palette is the coarsest).
TOLERANCE = {"mp4": 6, "avi": 6, "mov": 4, "webm": 8, "mkv": 0, "gif": 12}


@pytest.mark.parametrize("suffix", sorted(CONTAINERS))
def test_every_container_decodes_back(tmp_path, suffix):
    path = make_video(tmp_path / f"clip.{suffix}", num_frames=12, height=48, width=64, fps=10)
    info = probe(path)
    assert (info.num_frames, info.height, info.width) == (12, 48, 64)
    assert info.fps == pytest.approx(10.0)
    with open_video(path) as reader:
        assert len(reader) == 12
        frames = np.stack(list(reader.frames()))
    assert frames.shape == (12, 48, 64, 3) and frames.dtype == np.uint8
    expected = synthetic_frames(12, 48, 64).astype(np.int16)
    errors = np.abs(frames.astype(np.int16) - expected).mean(axis=(1, 2, 3))
    assert errors.max() <= TOLERANCE[suffix], errors


@pytest.mark.parametrize("suffix", ["mp4", "avi", "webm", "gif"])
def test_read_seeks_to_the_right_frames(tmp_path, suffix):
    path = make_video(tmp_path / f"long.{suffix}", num_frames=40, height=32, width=32)
    with open_video(path) as reader:
        everything = reader.read(0, 40)
        for start, stop in [(23, 27), (27, 31), (5, 9), (38, 45), (0, 3), (40, 40)]:
            block = reader.read(start, stop)
            assert np.array_equal(block, everything[start:min(stop, 40)]), (start, stop)
        streamed = list(reader.frames(31, 35))
    assert [frame_index_of(f, 40) for f in streamed] == [31, 32, 33, 34]
    assert [frame_index_of(f, 40) for f in everything] == list(range(40))


def test_odd_sizes_read_and_write(tmp_path):
    lossless = make_video(tmp_path / "odd.mkv", num_frames=4, height=61, width=97)
    with open_video(lossless) as reader:
        frames = reader.read(0, 4)
    assert np.array_equal(frames, synthetic_frames(4, 61, 97))  # FFV1 is lossless, at any size
    gif = make_video(tmp_path / "odd.gif", num_frames=3, height=61, width=97)
    assert probe(gif).height == 61 and probe(gif).width == 97
    out = write_video(tmp_path / "out.mp4", iter(frames), fps=5)
    info = probe(out)
    assert (info.num_frames, info.height, info.width) == (4, 62, 98)  # padded to even for yuv420p
    with open_video(out) as reader:
        back = reader.read(0, 4)
    assert np.abs(back[:, :61, :97].astype(int) - frames.astype(int)).mean() < 6


def test_frame_folder_natural_order_and_fps(tmp_path):
    names = ["frame10", "frame2", "frame1", "frame33"]
    folder = make_frame_folder(tmp_path / "frames", names=names, height=61, width=97)
    (folder / "notes.txt").write_text("ignored")
    with open_video(folder, fps=6) as reader:
        assert reader.info == VideoInfo(str(folder), 6.0, 4, 61, 97, "frames")
        assert reader.frame_names == ["frame1", "frame2", "frame10", "frame33"]
        frames = reader.read(1, 3)
    # synthetic frame i was saved under names[i]: frame2 is index 1, frame10 is index 0
    assert [frame_index_of(f, 4) for f in frames] == [1, 0]
    jpg = make_frame_folder(tmp_path / "jpg", num_frames=3, suffix=".jpg")
    assert probe(jpg).num_frames == 3


def test_bad_files_name_the_file_and_cause(tmp_path):
    good = make_video(tmp_path / "good.mp4", num_frames=20)
    data = good.read_bytes()
    cases = {
        "missing.mp4": (None, "no such file"),
        "empty.mp4": (b"", "empty file"),
        "truncated.mp4": (data[: len(data) // 2], "not a readable video"),
        "text.mp4": (b"this is a text file, not a video\n" * 20, "not a readable video"),
    }
    for name, (content, cause) in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        with pytest.raises(VideoError, match=cause) as err:
            probe(tmp_path / name)
        assert name in str(err.value)


OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")


def faststart_mp4(path: Path, num_frames: int) -> Path:
    """An MP4 with its index (moov) before the frames, as web videos are: a cut keeps the index."""
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "5"}
        for frame in synthetic_frames(num_frames, 48, 64):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.mark.parametrize("suffix", ["avi", "mp4"])
def test_truncated_file_reports_and_delivers_exactly_its_decodable_frames(tmp_path, suffix):
    # Headers promise a frame count; a cut file keeps the promise. The reader hands out what decodes.
    if suffix == "avi":
        full = make_video(tmp_path / "full.avi", num_frames=30, options={"g": "1"})
    else:
        full = faststart_mp4(tmp_path / "full.mp4", num_frames=30)
    cut = tmp_path / f"cut.{suffix}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size * 8 // 10])  # past the header, into the frames
    info = probe(cut, name="my clip")
    assert info.declared_frames == 30 and 5 < info.num_frames < 30 and info.truncated
    with open_video(cut) as reader:
        assert len(reader) == info.num_frames
        frames = reader.read(0, len(reader))
        assert [frame_index_of(f, 30) for f in frames] == list(range(info.num_frames))
        tail = reader.read(info.num_frames - 3, info.num_frames)  # a seek near the damaged end
        assert [frame_index_of(f, 30) for f in tail] == list(range(info.num_frames - 3, info.num_frames))
        assert len(list(reader.frames())) == info.num_frames
    whole = probe(full)
    assert (whole.num_frames, whole.declared_frames, whole.truncated) == (30, 30, False)


def test_opencv_tree_avi_declares_444_frames_and_delivers_its_68(tmp_path):
    tree = OPENCV_DATA / "tree.avi"
    if not tree.is_file() and (OPENCV_DATA / "tree.avi.gz").is_file():
        tree = tmp_path / "tree.avi"
        tree.write_bytes(gzip.decompress((OPENCV_DATA / "tree.avi.gz").read_bytes()))
    if not tree.is_file():
        pytest.skip(f"{OPENCV_DATA}/tree.avi is absent: install Debian's opencv-doc (scripts/bootstrap.sh)")
    info = probe(tree, name="tree.avi")
    assert (info.declared_frames, info.num_frames, info.width, info.height) == (444, 68, 320, 240)
    with open_video(tree) as reader:
        frames = reader.read(0, len(reader))
        assert frames.shape == (68, 240, 320, 3)
        assert np.array_equal(reader.read(60, 68), frames[60:])
    assert frames.reshape(68, -1).std(axis=1).min() > 5  # real pictures, not blank decoder output


def test_zero_frames_and_bad_folders(tmp_path):
    with av.open(str(tmp_path / "noframes.avi"), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        container.start_encoding()
    with pytest.raises(VideoError, match="noframes.avi.*no decodable frames"):
        probe(tmp_path / "noframes.avi")

    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(VideoError, match="empty_dir.*no frame images"):
        probe(tmp_path / "empty_dir")

    folder = make_frame_folder(tmp_path / "mixed", num_frames=2, height=32, width=32)
    make_frame_folder(tmp_path / "other", names=["9"], height=30, width=32)
    (tmp_path / "other" / "9.png").rename(folder / "9.png")
    with pytest.raises(VideoError, match="9.png.*one size"):
        probe(folder)

    broken = make_frame_folder(tmp_path / "broken", num_frames=2)
    (broken / "1.png").write_bytes(b"not a png")
    with pytest.raises(VideoError, match="1.png"):
        probe(broken)


def test_read_range_is_checked(tmp_path):
    with open_video(make_frame_folder(tmp_path / "f", num_frames=3)) as reader:
        with pytest.raises(InputError):
            reader.read(-1, 2)
        with pytest.raises(InputError):
            reader.read(2, 1)
        assert reader.read(1, 99).shape[0] == 2  # stop is clipped like a slice


def test_resize_frames_and_logits():
    frames = synthetic_frames(3, 61, 97)
    out = resize_frames(frames, 32)
    assert out.shape == (3, 3, 32, 32) and out.dtype == torch.float32
    for t in range(3):  # a flat frame stays flat at its colour, channels first
        assert torch.allclose(out[t], torch.tensor(frame_color(t), dtype=torch.float32)[:, None, None])
    assert resize_frames(torch.from_numpy(frames), (20, 40)).shape == (3, 3, 20, 40)
    assert torch.equal(resize_frames(frames, (61, 97)), torch.from_numpy(frames).permute(0, 3, 1, 2).float())
    with pytest.raises(InputError):
        resize_frames(frames.astype(np.float32), 32)

    logits = torch.randn(2, 5, 16, 24)
    up = resize_mask_logits(logits, (61, 97))
    assert up.shape == (2, 5, 61, 97)
    assert torch.allclose(resize_mask_logits(torch.full((4, 8, 8), 3.0), (9, 13)), torch.tensor(3.0))
    assert resize_mask_logits(torch.zeros(0, 3, 8, 8), (16, 16)).shape == (0, 3, 16, 16)


def test_overlay_video_colours_and_legend(tmp_path):
    frames = np.full((3, 60, 80, 3), 40, dtype=np.uint8)
    left, right = np.zeros((60, 80), bool), np.zeros((60, 80), bool)
    left[30:58, 2:30], right[30:58, 50:78] = True, True
    masks = [[left, right], [left, None], [None, right]]
    out = write_overlay_video(tmp_path / "overlay.mp4", frames, masks, ["first", "second"], fps=5)
    with open_video(out) as reader:
        back = reader.read(0, 3).astype(int)
    red, green = trajectory_colors(2)
    inner = (slice(38, 50), slice(10, 22))  # inside the left mask, away from its outline
    expected = 0.5 * 40 + 0.5 * np.array(red)
    assert np.abs(back[0][inner].mean(axis=(0, 1)) - expected).max() < 12
    assert np.abs(back[2][inner].mean(axis=(0, 1)) - 40).max() < 6  # no left mask in frame 2
    legend = back[1][:20, :40]
    assert legend.max() > 200 and legend.min() < 25  # white text on a darkened box
    with pytest.raises(InputError, match="masks"):
        write_overlay_video(tmp_path / "bad.mp4", frames, masks[:2], ["a", "b"], fps=5)
    assert not (tmp_path / "bad.mp4").exists()
