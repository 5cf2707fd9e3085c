"""Zips of frame images (JPEG/PNG, as DAVIS and Ref-YouTube-VOS ship videos) unpacked into a frame folder.

A zip is hostile until checked: every check below runs on the central directory before one byte is
extracted. Refused: names leading out of the folder (`..`, absolute, drive letters, backslashes),
symlinks and other special files, encrypted members, images in nested folders (one common top folder
is fine: `clip/00000.jpg`), duplicate names, more images than `FrameLimits.max_frames` or
`MAX_MEMBERS`, and more than `MAX_UNPACKED_BYTES` once unpacked. While extracting, no member may
produce more bytes than its header declares. After extracting, every image header is read: frames of
mixed sizes or over the pixel budget are refused. Other files (a README, `__MACOSX/`) are ignored and
never written. Errors are VideoErrors naming the user's file (`name`), never a server path.
"""
from __future__ import annotations

import os
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from derrvos_core.errors import InputError, VideoError
from derrvos_core.video.folder import FRAME_SUFFIXES, folder_size, frame_files, is_frame_name
from derrvos_core.video.limits import FrameLimits

MAX_UNPACKED_BYTES = 8 << 30
"""Most bytes a zip may unpack to (8 GiB: over an hour of 1080p JPEG frames)."""

MAX_MEMBERS = 200_000
"""Most entries a zip's central directory may list (images or not), checked before anything else."""

_CHUNK = 1 << 20


def unpack_frames(zip_path: str | os.PathLike, dest_dir: str | os.PathLike, limits: FrameLimits | None = None,
                  name: str | None = None) -> Path:
    """Extract the frame images of `zip_path` into the new folder `dest_dir` and return it.

    The folder holds only the images, flat, under their own file names, so `open_video(dest_dir)` reads
    them in natural order. It appears only when complete (written beside it, then renamed). `limits`
    bound the frame count (before extracting) and the frame size (from the headers, after); `name` is
    how errors call the zip (default its path). VideoError when the zip is unreadable or refused.
    """
    zip_path, dest = Path(zip_path), Path(dest_dir)
    limits = FrameLimits() if limits is None else limits
    label = str(zip_path) if name is None else str(name)
    if dest.exists():
        raise InputError(f"unpack_frames: {dest} already exists")
    partial = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        with _open_zip(zip_path, label) as archive:
            members = _frame_members(archive.infolist(), limits, label)
            partial.mkdir(parents=True)
            for info in members:
                _extract(archive, info, partial / PurePosixPath(info.filename).name, label)
        folder_size(frame_files(partial, label), limits, label)
        partial.rename(dest)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return dest


def _open_zip(path: Path, label: str) -> zipfile.ZipFile:
    if not path.is_file():
        raise VideoError(f"{label}: no such file")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise VideoError(f"{label}: not a readable zip ({exc})") from exc


def _frame_members(infos: list[zipfile.ZipInfo], limits: FrameLimits, label: str) -> list[zipfile.ZipInfo]:
    """The image members to extract, after every check that needs only the central directory."""
    if len(infos) > MAX_MEMBERS:
        raise VideoError(f"{label}: the zip lists {len(infos)} entries; at most {MAX_MEMBERS} are accepted")
    frames = []
    for info in infos:
        _check_name(info, label)
        if not info.is_dir() and not _ignored(info.filename):
            _check_kind(info, label)
            if is_frame_name(PurePosixPath(info.filename).name):
                frames.append(info)
    if not frames:
        raise VideoError(f"{label}: no frame images ({', '.join(FRAME_SUFFIXES)}) in the zip")
    folders = {PurePosixPath(info.filename).parent for info in frames}
    if len(folders) > 1 or len(next(iter(folders)).parts) > 1:
        shown = ", ".join(sorted(str(f) if str(f) != "." else "(top level)" for f in folders)[:4])
        raise VideoError(f"{label}: frame images must all sit in one folder (at the top or in one top "
                         f"folder); found them in {shown}")
    names = [PurePosixPath(info.filename).name.lower() for info in frames]
    if len(set(names)) != len(names):
        raise VideoError(f"{label}: two frame images share a name (names are compared ignoring case)")
    limits.check(label, 1, 1, len(frames))  # the frame count, before any byte is extracted
    total = sum(info.file_size for info in frames)
    if total > MAX_UNPACKED_BYTES:
        raise VideoError(f"{label}: the frames unpack to {total / 2 ** 30:.1f} GiB; at most "
                         f"{MAX_UNPACKED_BYTES / 2 ** 30:.0f} GiB are accepted")
    return frames


def _check_name(info: zipfile.ZipInfo, label: str) -> None:
    raw = info.orig_filename
    path = PurePosixPath(info.filename)
    if ("\\" in raw or "\x00" in raw or raw.startswith("/") or path.is_absolute()
            or ".." in path.parts or (len(raw) > 1 and raw[1] == ":")):
        raise VideoError(f"{label}: refused: the entry {raw!r} would be written outside the frame folder")


def _check_kind(info: zipfile.ZipInfo, label: str) -> None:
    mode = info.external_attr >> 16  # Unix mode bits, when the archiver recorded a file type
    if stat.S_IFMT(mode) and not stat.S_ISREG(mode):
        kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
        raise VideoError(f"{label}: refused: the entry {info.filename!r} is {kind}")
    if info.flag_bits & 0x1:
        raise VideoError(f"{label}: the entry {info.filename!r} is encrypted; "
                         "unzip it with its password first")


def _ignored(filename: str) -> bool:
    """Entries archivers add that are never frames (macOS resource forks, Finder and Windows files)."""
    path = PurePosixPath(filename)
    return path.parts[0] == "__MACOSX" or path.name.startswith(".") or path.name == "Thumbs.db"


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, label: str) -> None:
    """Copy one member, refusing it the moment it produces more bytes than its header declared."""
    written = 0
    try:
        with archive.open(info) as source, open(target, "xb") as out:
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                if written > info.file_size:
                    raise VideoError(f"{label}: {info.filename} unpacks to more than the {info.file_size} "
                                     "bytes its header declares (a zip bomb or a damaged zip)")
                out.write(chunk)
    except (zipfile.BadZipFile, NotImplementedError, OSError, ValueError, EOFError,
            RuntimeError) as exc:  # RuntimeError: zipfile's "password required"
        raise VideoError(f"{label}: cannot unpack {info.filename} ({_reason(exc)})") from exc


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror  # without the server-side path OSError appends
    return str(exc)
