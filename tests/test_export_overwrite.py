"""`overwrite` never deletes what an export did not write: the store, stored videos, a person's files."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from derrvos_core.store import Store
from derrvos_core.store.export import SIDECAR, ExportError, export_dataset, export_zip
from tests.helpers_store import H, T, W, make_frames, make_result


@pytest.fixture
def store(tmp_path):
    """A store in tmp_path/work/derrvos.db with one video stored under tmp_path/work/videos."""
    work = tmp_path / "work"
    work.mkdir()
    store = Store.open(work / "derrvos.db")
    video = store.add_video(make_frames(work / "videos" / "horses", seed=1), fps=10, num_frames=T,
                            height=H, width=W)
    store.save_run(video, "the brown horse", make_result(), "tiny@1")
    yield store
    store.close()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_overwrite_refuses_the_folder_that_holds_the_store(store, tmp_path):
    work = tmp_path / "work"
    before, videos_before = snapshot(work), snapshot(work / "videos")
    with pytest.raises(ExportError, match="derrvos.db.*belongs to the store"):
        export_dataset(store, "davis", work, overwrite=True)
    assert snapshot(work).keys() == before.keys()  # SQLite may rewrite its own pages; nothing is removed
    assert snapshot(work / "videos") == videos_before
    assert store.count("runs") == 1


def test_overwrite_refuses_a_folder_holding_a_stored_video(store, tmp_path):
    videos = tmp_path / "work" / "videos"
    before = snapshot(videos)
    with pytest.raises(ExportError, match="belongs to the store"):
        export_dataset(store, "mevis", videos, overwrite=True)
    with pytest.raises(ExportError, match="belongs to the store"):
        export_dataset(store, "mevis", videos / "horses", overwrite=True)
    assert snapshot(videos) == before


def test_overwrite_refuses_a_folder_no_export_made(store, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("months of work")
    with pytest.raises(ExportError, match="not made by an export"):
        export_dataset(store, "coco-rle", mine, overwrite=True)
    assert (mine / "thesis.tex").read_text() == "months of work"
    (mine / SIDECAR).write_text("{not json")  # a broken or foreign manifest is no manifest
    with pytest.raises(ExportError, match="not made by an export"):
        export_dataset(store, "coco-rle", mine, overwrite=True)


def test_overwrite_replaces_an_earlier_export_but_not_files_added_to_it(store, tmp_path):
    out = tmp_path / "exports" / "davis"
    export_dataset(store, "davis", out)
    assert (out / SIDECAR).exists()
    export_dataset(store, "davis", out, overwrite=True)  # an export's own folder: replaced
    assert (out / SIDECAR).exists()
    (out / "notes.txt").write_text("reviewer notes")
    (out / "extra").mkdir()
    (out / "extra" / "a.png").write_bytes(b"x")
    before = snapshot(out)
    with pytest.raises(ExportError, match="did not write"):
        export_dataset(store, "davis", out, overwrite=True)
    assert snapshot(out) == before


def test_zip_is_replaced_only_when_an_export_wrote_it(store, tmp_path):
    path = tmp_path / "dl" / "answers.zip"
    export_zip(store, "mevis", path)
    with pytest.raises(ExportError, match="exists"):
        export_zip(store, "mevis", path)
    export_zip(store, "mevis", path, overwrite=True)
    foreign = tmp_path / "dl" / "holiday.zip"
    with zipfile.ZipFile(foreign, "w") as archive:
        archive.writestr("photo.txt", "sun")
    with pytest.raises(ExportError, match="not written by an export"):
        export_zip(store, "mevis", foreign, overwrite=True)
    with zipfile.ZipFile(foreign) as archive:
        assert archive.namelist() == ["photo.txt"]


def test_cli_overwrite_in_the_store_folder_keeps_everything(store, tmp_path):
    """The reported repro: `export --format davis --out . --overwrite` beside derrvos.db."""
    work = tmp_path / "work"
    (work / "unrelated.txt").write_text("keep me")
    store.close()
    before = snapshot(work)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-m", "derrvos_core", "export", "--db", "sqlite:///derrvos.db",
                           "--format", "davis", "--out", ".", "--overwrite"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "belongs to the store" in done.stderr and "Traceback" not in done.stderr
    assert snapshot(work) == before
