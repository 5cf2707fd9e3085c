"""The overlay keeps the source's sound: AAC copied, other codecs encoded to AAC, cut at the last frame;
a source without audio (or a frame folder) gives a silent overlay. Overlay colours are the caller's."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from derrvos_core.errors import InputError
from derrvos_core.video import open_video, probe, write_overlay_video, write_video
from tests.helpers_video import (audio_seconds, frame_index_of, make_frame_folder, make_video,
                                 make_video_with_audio)
from tests.helpers_app import make_service


def audio_codec(path: Path) -> str | None:
    with av.open(str(path)) as container:
        return container.streams.audio[0].codec_context.name if container.streams.audio else None


def overlay_of(source: Path, out: Path) -> Path:
    with open_video(source) as reader:
        masks = ([None] for _ in range(len(reader)))
        return write_overlay_video(out, reader.frames(), masks, ["nothing"], reader.info.fps,
                                   colors=[(255, 0, 0)], audio_from=source)


@pytest.mark.parametrize("suffix, source_codec, carried", [
    ("mp4", "aac", "copied"), ("avi", "pcm_s16le", "encoded"), ("mov", "pcm_s16le", "encoded"),
    ("mkv", "flac", "encoded")])
def test_overlay_keeps_the_sound_for_as_long_as_the_video(tmp_path, suffix, source_codec, carried):
    source = make_video_with_audio(tmp_path / f"talk.{suffix}", num_frames=20, fps=10)
    assert audio_codec(source) == source_codec and audio_seconds(source) == pytest.approx(2.0, abs=0.05)
    out = overlay_of(source, tmp_path / "overlay.mp4")
    assert audio_codec(out) == "aac"
    assert audio_seconds(out) == pytest.approx(2.0, abs=0.1)  # AAC pads to whole 1024-sample frames
    info = probe(out)
    assert (info.num_frames, info.fps) == (20, 10.0)
    with open_video(out) as reader:
        assert [frame_index_of(f, 20) for f in reader.frames()] == list(range(20))
    if carried == "copied":  # the same packets: the samples decode to the same tone
        with av.open(str(source)) as a, av.open(str(out)) as b:
            first = [f.to_ndarray() for f in a.decode(audio=0)][3]
            again = [f.to_ndarray() for f in b.decode(audio=0)][3]
        assert np.allclose(first, again)


def test_longer_sound_is_cut_at_the_last_frame_and_silent_sources_stay_silent(tmp_path):
    source = make_video_with_audio(tmp_path / "long.mp4", num_frames=10, fps=10, audio_seconds=3.0)
    assert audio_seconds(source) == pytest.approx(3.0, abs=0.05)
    assert audio_seconds(overlay_of(source, tmp_path / "cut.mp4")) == pytest.approx(1.0, abs=0.1)

    silent = make_video(tmp_path / "silent.mp4", num_frames=6)
    out = overlay_of(silent, tmp_path / "silent-overlay.mp4")
    assert audio_seconds(out) is None and probe(out).num_frames == 6

    folder = make_frame_folder(tmp_path / "frames", num_frames=4)
    with open_video(folder) as reader:
        out = write_video(tmp_path / "folder.mp4", reader.frames(), reader.info.fps, audio_from=None)
    assert audio_seconds(out) is None and probe(out).num_frames == 4


def test_overlay_colours_are_the_callers_not_the_positions(tmp_path):
    frames = np.full((2, 60, 80, 3), 40, dtype=np.uint8)
    left = np.zeros((60, 80), bool)
    left[20:58, 2:40] = True
    inner = (slice(30, 48), slice(10, 30))
    blue, yellow = (0, 0, 255), (255, 255, 0)
    for colour in (blue, yellow):  # the same object in the same place: the colour it was given
        out = write_overlay_video(tmp_path / "o.mp4", frames, [[left], [left]], ["person"], 5,
                                  colors=[colour])
        with open_video(out) as reader:
            seen = reader.read(1, 2)[0][inner].reshape(-1, 3).mean(axis=0)
        assert np.abs(seen - (0.5 * 40 + 0.5 * np.array(colour))).max() < 14, (colour, seen)
    with pytest.raises(InputError, match="2 colours for 1 labels"):
        write_overlay_video(tmp_path / "bad.mp4", frames, [[left], [left]], ["a"], 5, colors=[blue, yellow])


def test_the_apps_overlay_download_keeps_the_sound(tiny_model, tmp_path, one_thread):
    source = make_video_with_audio(tmp_path / "talk.mp4", num_frames=8, fps=10, height=64, width=64)
    api = make_service(tiny_model, tmp_path).api_segment(source, "the orange cross", 4, 0.0, name="talk.mp4")
    assert probe(api.overlay_video).num_frames == 8
    assert audio_codec(api.overlay_video) == "aac"
    assert audio_seconds(api.overlay_video) == pytest.approx(0.8, abs=0.1)
