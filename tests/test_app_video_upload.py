"""The video panel's uploads at the service: a zip of frame images loads as a video (unpacked under the
studio's data folder, read as a frame folder), a bad zip is refused by its name, and a truncated file's
description says how many frames it declares and how many the studio uses."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from app.panels.video import describe
from derrvos_core.errors import VideoError
from tests.helpers_video import frame_index_of, make_frame_folder, make_video
from tests.helpers_app import make_service

SID = "tab"


@pytest.fixture
def service(tiny_model, tmp_path):
    return make_service(tiny_model, tmp_path)


def frames_zip(tmp_path: Path, suffix: str, num_frames: int = 6) -> Path:
    folder = make_frame_folder(tmp_path / f"frames-{suffix.strip('.')}", num_frames=num_frames, suffix=suffix,
                               names=[f"{i:05d}" for i in range(num_frames)])
    path = tmp_path / f"shot-{suffix.strip('.')}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(folder.iterdir(), reverse=True):  # stored out of order: read in natural order
            archive.write(file, f"shot/{file.name}")
    return path


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_a_zip_of_frames_loads_as_a_video(service, tmp_path, suffix):
    path = frames_zip(tmp_path, suffix)
    video = service.open_video(SID, path, name="shot.zip")
    assert video.info.num_frames == 6 and (video.info.height, video.info.width) == (48, 64)
    assert video.path.is_dir() and video.path.is_relative_to(Path(service.config.data_dir).resolve())
    assert [frame_index_of(service.frame(SID, i), 6) for i in range(6)] == list(range(6))
    again = service.open_video("other-tab", path, name="shot.zip")  # unpacked once, registered once
    assert again.record.id == video.record.id and service.store.count("videos") == 1
    assert "shot.zip" in describe(video) and "6 frames" in describe(video)


def test_a_bad_zip_is_refused_by_its_name(service, tmp_path):
    not_zip = tmp_path / "frames.zip"
    not_zip.write_bytes(b"PK\x03\x04 but nothing else" * 10)
    with pytest.raises(VideoError, match="frames.zip") as err:
        service.open_video(SID, not_zip, name="frames.zip")
    assert str(tmp_path) not in str(err.value)
    empty = tmp_path / "notes.zip"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("notes.txt", "no frames here")
    with pytest.raises(VideoError, match="notes.zip"):
        service.open_video(SID, empty, name="notes.zip")
    assert service.store.count("videos") == 0


def test_a_truncated_file_says_what_it_declares_and_what_the_studio_uses(service, tmp_path):
    whole = make_video(tmp_path / "whole.avi", num_frames=30)
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.8)])
    video = service.open_video(SID, cut, name="cut.avi")
    assert video.info.truncated and video.info.declared_frames == 30 and video.info.num_frames < 30
    line = f"declares 30 frames, {video.info.num_frames} decodable; the studio uses those"
    assert line in describe(video)
    assert isinstance(service.frame(SID, video.info.num_frames - 1), np.ndarray)
    assert "declares" not in describe(service.open_video(SID, whole, name="whole.avi"))
