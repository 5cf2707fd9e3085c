"""Export stored answers as a dataset: corrected masks where a human corrected them, the model's
elsewhere, flagged per frame in `derrvos_export.json`.

The dataset is written into a temporary folder beside `out_dir` and moved into place at the end, so
a failure (a full disk, a vanished video) leaves no half-written dataset behind. A process killed
mid-export (SIGKILL, power loss) cannot clean up: its hidden `.<name>.partial-<pid>-*` folder is removed
by the next export to the same place once that process is gone (`clean_stale`), and a previous export it
had set aside (`.<name>.old-<pid>`) is put back when the new one never arrived.

Export never deletes what it did not write: every export's sidecar lists the files it wrote, and `overwrite` replaces only a folder whose files are all in its manifest and
which holds neither the store nor a stored video.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from derrvos_core.errors import InputError
from derrvos_core.store.engine import redact
from derrvos_core.store.export_answers import ExportError, VideoExport, collect, iter_frames
from derrvos_core.store.export_formats import WRITERS, write_json, ytvos_entries
from derrvos_core.store.export_palette import palette_ids
from derrvos_core.store.safe_names import safe_name

FORMATS = tuple(WRITERS)
Progress = Callable[[int, int], None]
SIDECAR = "derrvos_export.json"
_ZIP_COMMENT = b"derrvos-export"

__all__ = ["FORMATS", "SIDECAR", "ExportError", "ExportReport", "check_replaceable", "clean_stale",
           "export_dataset", "export_zip"]


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote.

    Attributes:
        format: one of FORMATS.
        out_dir: the dataset folder (for `export_zip`, the zip file).
        num_videos, num_expressions: how many were written.
        num_frames: video frames written (images).
        num_corrected_frames / num_model_frames: (expression, frame) answers a human corrected / the model
            gave as is.
        warnings: anything lossy (e.g. overlapping answers in a palette PNG).
        export_id: the export's row in the store.
    """

    format: str
    out_dir: Path
    num_videos: int
    num_expressions: int
    num_frames: int
    num_corrected_frames: int
    num_model_frames: int
    warnings: tuple = ()
    export_id: int | None = None


def export_dataset(store, fmt: str, out_dir: str | os.PathLike, video_ids: list[int] | None = None,
                   split: str = "train", overwrite: bool = False,
                   progress: Progress | None = None) -> ExportReport:
    """Write the store's answers (all videos, or `video_ids`) as a `fmt` dataset into `out_dir`.

    `out_dir` must not exist or be empty, unless `overwrite`: then it must be a folder an earlier
    export made, holding only the files that export wrote (its sidecar's `written_files`), and it is replaced only
    once the new one is complete. `progress(videos_done, num_videos)` is called after each video.
    Raises ExportError (nothing written or deleted) or InputError (bad arguments).
    """
    _check_args(fmt, split)
    out_dir = Path(out_dir).resolve()
    clean_stale(out_dir.parent, out_dir.name)  # before the checks: an export set aside may come back
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"{out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise ExportError(f"{out_dir} is not empty; choose another folder or pass overwrite")
        check_replaceable(store, out_dir)
    report, items = _export(store, fmt, out_dir, video_ids, split, progress)
    return _recorded(store, report, items, out_dir)


def export_zip(store, fmt: str, zip_path: str | os.PathLike, video_ids: list[int] | None = None,
               split: str = "train", progress: Progress | None = None, overwrite: bool = False) -> Path:
    """The export as one zip file (for download), recorded in the store. Its entries sit under a
    folder named after the zip; the zip appears only when complete. An existing `zip_path` is
    replaced only with `overwrite` and only when an earlier export wrote it (its zip comment)."""
    zip_path = Path(zip_path).resolve()
    if zip_path.suffix != ".zip":
        raise InputError(f"{zip_path} should end in .zip")
    _check_args(fmt, split)
    clean_stale(zip_path.parent, zip_path.stem)
    if zip_path.exists() or zip_path.is_symlink():
        _check_zip_replaceable(zip_path, overwrite)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=_staging_prefix(zip_path.stem), dir=zip_path.parent))
    try:
        folder = work / zip_path.stem
        report, items = _export(store, fmt, folder, video_ids, split, progress)
        partial = work / "partial.zip"
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.comment = _ZIP_COMMENT
            for file in sorted(folder.rglob("*")):
                if file.is_file():
                    archive.write(file, file.relative_to(work).as_posix())
        os.replace(partial, zip_path)
    except OSError as exc:
        raise ExportError(f"zip export to {zip_path} failed ({_reason(exc)}); nothing was written") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _recorded(store, report, items, zip_path).out_dir


def _check_zip_replaceable(zip_path: Path, overwrite: bool) -> None:
    if not overwrite:
        raise ExportError(f"{zip_path} exists; choose another name or pass overwrite")
    try:
        with zipfile.ZipFile(zip_path) as archive:
            ours = zip_path.is_file() and not zip_path.is_symlink() and archive.comment == _ZIP_COMMENT
    except (OSError, zipfile.BadZipFile):
        ours = False
    if not ours:
        raise ExportError(f"{zip_path} was not written by an export; overwrite replaces only an earlier "
                          f"export's zip. Nothing was changed")


def _check_args(fmt: str, split: str) -> None:
    if fmt not in WRITERS:
        raise InputError(f"unknown export format {fmt!r}; one of {list(FORMATS)}")
    if safe_name(split, "") != split:
        raise InputError(f"split name {split!r} is not a plain folder name")


def _export(store, fmt: str, out_dir: Path, video_ids: list[int] | None, split: str,
            progress: Progress | None) -> tuple[ExportReport, list[VideoExport]]:
    """Write into a staging folder beside `out_dir`, then move it into place; on failure remove it."""
    items = collect(store, video_ids)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=_staging_prefix(out_dir.name), dir=out_dir.parent))
    try:
        report = _write(store, fmt, staging, items, split, progress)
        _move_into_place(staging, out_dir)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise ExportError(f"export to {out_dir} failed ({_reason(exc)}); nothing was written") from exc
        raise
    return report, items


def _recorded(store, report: ExportReport, items: list[VideoExport], where: Path) -> ExportReport:
    record = store.record_export(report.format, where, [i.video.id for i in items],
                                 [a.run.id for i in items for a in i.expressions], report.num_expressions,
                                 report.num_frames, report.num_corrected_frames)
    return replace(report, out_dir=where, export_id=record.id)


def _write(store, fmt: str, root: Path, items: list[VideoExport], split: str,
           progress: Progress | None) -> ExportReport:
    writer = WRITERS[fmt](root, split)
    frames = corrected = model = 0
    for item in items:
        writer.add_video(item, iter_frames(item.video))
        frames += item.video.num_frames
        for answer in item.expressions:
            corrected += sum(answer.corrected)
            model += len(answer.corrected) - sum(answer.corrected)
        if progress is not None:
            progress(items.index(item) + 1, len(items))
    writer.finish()
    written = sorted([p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir()] + [SIDECAR])
    write_json(root / SIDECAR, {**_sidecar(store, fmt, split, items), "written_files": written})
    return ExportReport(format=fmt, out_dir=root, num_videos=len(items),
                        num_expressions=sum(len(i.expressions) for i in items), num_frames=frames,
                        num_corrected_frames=corrected, num_model_frames=model,
                        warnings=tuple(writer.warnings))


def _sidecar(store, fmt: str, split: str, items: list[VideoExport]) -> dict:
    """Where every answer came from: which run, per frame whether a human corrected it, and its objects
    (`_objects`)."""
    return {
        "format": fmt, "split": split, "created_at": datetime.now(timezone.utc).isoformat(),
        "store": redact(store.url),
        "videos": {item.name: {
            "video_id": item.video.id, "source_path": item.video.path,
            "content_hash": item.video.content_hash, "fps": item.video.fps, "frames": item.frame_names,
            "source_frame_names": list(item.video.frame_names),
            "expressions": {a.export_id: {
                "exp": a.text, "run_id": a.run.id, "model_version": a.run.model_version,
                "threshold": a.threshold, "crop_size": a.run.crop_size,
                "corrected": list(a.corrected), "edited": list(a.edited),
                "corrected_frames": [i for i, c in enumerate(a.corrected) if c],
                "model_frames": [i for i, c in enumerate(a.corrected) if not c],
                "objects": objects,
            } for a, objects in zip(item.expressions, _objects(fmt, item))}} for item in items}}


def _objects(fmt: str, item: VideoExport) -> list[list[dict]]:
    """Per expression, its objects: the store's `object_id`, the video's `instance_id` (the palette index,
    MeViS obj_id, COCO track within the video) and, for refytvos, the meta_expressions entry (`exp_id`)
    that holds the object."""
    entries = {}
    if fmt == "refytvos":
        entries = {(a.export_id, obj): exp_id for exp_id, a, obj in ytvos_entries(item, palette_ids(item))}
    return [[{"object_id": track.object_id, "instance_id": k,
              **({"exp_id": entries[a.export_id, k]} if entries else {})}
             for track, k in zip(a.objects, ids)]
            for a, ids in zip(item.expressions, item.instances.object_instances)]


def check_replaceable(store, out_dir: Path) -> None:
    """ExportError unless `overwrite` may replace the non-empty folder `out_dir`: it holds neither the
    store's database nor a stored video, it has an export's sidecar, and every file in it is listed
    there (nothing a person added since)."""
    for protected in _store_paths(store):
        if protected == out_dir or out_dir in protected.parents:
            raise ExportError(f"{out_dir} holds {protected.name}, which belongs to the store; overwrite "
                              f"replaces only a folder an earlier export made. Nothing was changed")
    listed = _manifest_files(out_dir)
    if listed is None:
        raise ExportError(f"{out_dir} was not made by an export (no {SIDECAR} listing its files); overwrite "
                          f"replaces only an earlier export's folder. Choose a new folder. Nothing was changed")
    present = {p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if not p.is_dir()}
    foreign = sorted(present - listed)
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise ExportError(f"{out_dir} holds {foreign[0]!r}{more}, which the earlier export did not write; "
                          f"move it out or choose a new folder. Nothing was changed")


def _manifest_files(out_dir: Path) -> set[str] | None:
    try:
        sidecar = json.loads((out_dir / SIDECAR).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = sidecar.get("written_files") if isinstance(sidecar, dict) else None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return set(files)


def _store_paths(store) -> list[Path]:
    """The database file (SQLite, with its journal files) and every stored video."""
    paths = []
    url = store.engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        db = Path(url.database).resolve()
        paths += [db] + [db.with_name(db.name + s) for s in ("-wal", "-shm", "-journal")]
    paths += [Path(v.path).resolve() for v in store.videos()]
    return paths


def _move_into_place(staging: Path, out_dir: Path) -> None:
    """Rename the finished folder to `out_dir` (same filesystem: atomic); an old `out_dir` is set aside
    first and removed only after the new one is in place."""
    if out_dir.is_dir() and not any(out_dir.iterdir()):
        out_dir.rmdir()
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        os.replace(out_dir, old)
    try:
        os.replace(staging, out_dir)
    except OSError:
        if old is not None:
            os.replace(old, out_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _staging_prefix(name: str) -> str:
    """Hidden staging folders name their process, so a later export knows when one was abandoned."""
    return f".{name}.partial-{os.getpid()}-"


def clean_stale(parent: Path, name: str) -> list[Path]:
    """Remove what killed exports to `parent/name` left behind, and return it: staging folders
    (`.name.partial-<pid>-*`) of processes that are gone, and set-aside old exports (`.name.old-<pid>`)
    of gone processes once `name` is in place again. When `name` is missing, the old export is moved back
    instead (the kill fell between setting it aside and moving the new one in). A folder of a process
    still running (a concurrent export) is left alone."""
    removed = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    target = parent / name
    for entry in entries:
        pid = _owner_pid(entry.name, name)
        if pid is None or _alive(pid) or not entry.is_dir() or entry.is_symlink():
            continue
        if entry.name.startswith(f".{name}.old-"):
            if not target.exists():
                os.replace(entry, target)  # the previous export, back where it was
                continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _owner_pid(entry: str, name: str) -> int | None:
    """The pid in `.name.partial-<pid>-XXXX` or `.name.old-<pid>`, else None (not ours)."""
    partial, old = f".{name}.partial-", f".{name}.old-"
    if entry.startswith(partial):
        pid, sep, _ = entry[len(partial):].partition("-")
    elif entry.startswith(old):
        pid, sep = entry[len(old):], "-"
    else:
        return None
    return int(pid) if sep and pid.isdigit() else None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return f"no space left on the device while writing {exc.filename or 'the export'}"
    return f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc)
