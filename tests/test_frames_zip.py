"""derrvos_core.video.frames_zip: zips of real JPEG/PNG frames unpack and read back in order; hostile zips
(escaping names, symlinks, nesting, bombs, lying headers, mixed sizes) are refused before or while
extracting, naming the user's file and leaving nothing behind."""
from __future__ import annotations

import io
import stat
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from derrvos_core.errors import InputError, VideoError
from derrvos_core.video import FrameLimits, open_video
from derrvos_core.video import frames_zip
from derrvos_core.video.frames_zip import unpack_frames
from tests.helpers_video import frame_index_of, synthetic_frames


def image_bytes(frame: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def make_zip(path: Path, entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def frame_entries(names: list[str], fmt: str = "PNG", height: int = 24, width: int = 32) -> dict[str, bytes]:
    """names[i] holds synthetic frame i."""
    frames = synthetic_frames(len(names), height, width)
    return {name: image_bytes(frame, fmt) for name, frame in zip(names, frames)}


def refused(path: Path, tmp_path: Path, match: str, **kwargs) -> str:
    """The VideoError unpacking `path` gives; checks it names the user's file and leaves no folder."""
    dest = tmp_path / "out" / "frames"
    with pytest.raises(VideoError, match=match) as err:
        unpack_frames(path, dest, name="holiday.zip", **kwargs)
    assert str(err.value).startswith("holiday.zip") and str(tmp_path) not in str(err.value)
    assert not dest.exists() and not (dest.parent.exists() and any(dest.parent.iterdir()))
    return str(err.value)


def test_jpeg_zip_with_a_top_folder_unpacks_and_reads_in_order(tmp_path):
    names = [f"clip/{i:05d}.jpg" for i in range(12)]
    entries = frame_entries(names, "JPEG") | {"clip/README.txt": b"DAVIS-style frames",
                                              "__MACOSX/clip/._00000.jpg": b"\x00\x05\x16\x07 resource fork",
                                              "clip/.DS_Store": b"\x00\x00\x00\x01Bud1"}
    zipped = make_zip(tmp_path / "clip.zip", entries)
    folder = unpack_frames(zipped, tmp_path / "frames", name="clip.zip")
    assert sorted(p.name for p in folder.iterdir()) == [f"{i:05d}.jpg" for i in range(12)]
    with open_video(folder) as reader:
        assert (reader.info.num_frames, reader.info.height, reader.info.width) == (12, 24, 32)
        frames = reader.read(0, 12)
    assert [frame_index_of(f, 12) for f in frames] == list(range(12))
    expected = synthetic_frames(12, 24, 32).astype(int)
    assert np.abs(frames.astype(int) - expected).mean() < 4  # JPEG at quality 95


def test_png_zip_at_the_top_level_in_natural_order_stored_uncompressed(tmp_path):
    names = ["1.png", "2.png", "10.png", "3.png"]  # synthetic frame i is names[i]
    zipped = make_zip(tmp_path / "f.zip", frame_entries(names), compression=zipfile.ZIP_STORED)
    with open_video(unpack_frames(zipped, tmp_path / "frames")) as reader:
        assert reader.frame_names == ["1", "2", "3", "10"]
        frames = reader.read(0, 4)
    assert np.array_equal(frames, synthetic_frames(4, 24, 32)[[0, 1, 3, 2]])  # PNG is lossless


@pytest.mark.parametrize("bad_name", ["../evil.png", "/etc/evil.png", "clip/../../evil.png", "C:/evil.png",
                                      "clip\\..\\..\\evil.png", "clip/./../evil.png"])
def test_names_leading_out_of_the_folder_are_refused(tmp_path, bad_name):
    entries = frame_entries(["clip/0.png", "clip/1.png"])
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        info = zipfile.ZipInfo("x.png")
        info.filename = info.orig_filename = bad_name  # as a hostile archiver writes it, unnormalised
        archive.writestr(info, b"payload")
    refused(tmp_path / "bad.zip", tmp_path, "outside the frame folder")
    assert not (tmp_path / "evil.png").exists() and not (tmp_path / "out" / "evil.png").exists()


def test_symlinks_and_special_files_are_refused(tmp_path):
    entries = frame_entries(["0.png", "1.png"])
    for mode, message in ((stat.S_IFLNK | 0o777, "symbolic link"), (stat.S_IFIFO | 0o644, "not a regular")):
        path = tmp_path / f"link{mode}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in entries.items():
                archive.writestr(name, data)
            info = zipfile.ZipInfo("2.png")
            info.create_system, info.external_attr = 3, mode << 16
            archive.writestr(info, "/etc/passwd")
        refused(path, tmp_path, message)


@pytest.mark.parametrize("names, message", [
    (["a/b/0.png", "a/b/1.png"], "one folder"),
    (["a/0.png", "b/1.png"], "one folder"),
    (["0.png", "clip/1.png"], "one folder"),
    (["clip/0.png", "clip/0.PNG"], "share a name"),
])
def test_nested_split_and_duplicate_frames_are_refused(tmp_path, names, message):
    refused(make_zip(tmp_path / "z.zip", frame_entries(names)), tmp_path, message)


def test_encrypted_members_are_refused_before_reading(tmp_path):
    path = make_zip(tmp_path / "z.zip", frame_entries(["0.png", "1.png"]))
    raw = bytearray(path.read_bytes())
    entry = raw.rindex(b"PK\x01\x02")  # 1.png's central directory entry: set its encryption flag
    assert raw[entry + 46: entry + 51] == b"1.png"
    raw[entry + 8] |= 0x1
    path.write_bytes(bytes(raw))
    refused(path, tmp_path, "1.png' is encrypted")


def test_a_zip_bomb_is_refused_from_the_directory_before_extracting(tmp_path, monkeypatch):
    # 64 MiB of zeros deflate to about 64 KB; the directory declares the real size.
    bomb = {"0.png": image_bytes(synthetic_frames(1, 24, 32)[0], "PNG"), "1.png": bytes(64 << 20)}
    path = make_zip(tmp_path / "bomb.zip", bomb)
    assert path.stat().st_size < 200_000
    monkeypatch.setattr(frames_zip, "MAX_UNPACKED_BYTES", 32 << 20)
    assert "unpack to 0.1 GiB" in refused(path, tmp_path, "at most 0 GiB")


def test_member_and_frame_counts_are_bounded_before_extracting(tmp_path, monkeypatch):
    path = make_zip(tmp_path / "many.zip", frame_entries([f"{i}.png" for i in range(6)]))
    refused(path, tmp_path, "declares 6 frames; at most 5", limits=FrameLimits(max_frames=5))
    monkeypatch.setattr(frames_zip, "MAX_MEMBERS", 4)
    refused(path, tmp_path, "lists 6 entries; at most 4")


def test_a_header_that_lies_about_the_size_is_caught_while_extracting(tmp_path):
    data = image_bytes(synthetic_frames(1, 24, 32)[0], "PNG")
    path = make_zip(tmp_path / "lie.zip", {"0.png": data, "1.png": bytes(100_000)})
    raw = bytearray(path.read_bytes())
    # Declare 1000 bytes for 1.png in the central directory (uncompressed size at offset 24 of its entry).
    entry = raw.rindex(b"PK\x01\x02")
    assert raw[entry + 46: entry + 51] == b"1.png"
    raw[entry + 24: entry + 28] = struct.pack("<I", 1000)
    path.write_bytes(bytes(raw))
    refused(path, tmp_path, "cannot unpack 1.png")


def test_mixed_sizes_huge_frames_and_bad_files_are_refused(tmp_path):
    mixed = frame_entries(["0.png", "1.png"]) | frame_entries(["2.png"], height=20)
    assert "2.png" in refused(make_zip(tmp_path / "m.zip", mixed), tmp_path, "one size")
    big = {"0.png": image_bytes(np.zeros((4000, 4000, 3), np.uint8), "PNG")}  # a few KB, 48 MB decoded
    refused(make_zip(tmp_path / "big.zip", big), tmp_path, "4000x4000")
    refused(make_zip(tmp_path / "none.zip", {"notes.txt": b"no frames"}), tmp_path, "no frame images")
    refused(make_zip(tmp_path / "broken.zip", {"0.png": b"not a png"}), tmp_path,
            "0.png.*not a readable image")
    (tmp_path / "text.zip").write_bytes(b"this is not a zip" * 10)
    refused(tmp_path / "text.zip", tmp_path, "not a readable zip")
    refused(tmp_path / "missing.zip", tmp_path, "no such file")


def test_an_existing_destination_is_never_overwritten(tmp_path):
    path = make_zip(tmp_path / "f.zip", frame_entries(["0.png"]))
    (tmp_path / "frames").mkdir()
    with pytest.raises(InputError, match="already exists"):
        unpack_frames(path, tmp_path / "frames")
