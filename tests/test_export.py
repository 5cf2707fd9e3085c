"""Exports: official layouts, corrected-vs-model flags, read-back, safe names, nothing half-written."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from derrvos_core.errors import InputError
from derrvos_core.objects import DRAWN_OBJECT_ID
from derrvos_core.store import RunContext, Store
from derrvos_core.store import export_formats
from derrvos_core.store.coco_rle import read_coco_rle
from derrvos_core.store.export import SIDECAR, ExportError, export_dataset, export_zip
from derrvos_core.store.safe_names import inside, safe_name
from tests.helpers_export import (object_masks, palette_visible, read_back, read_mevis_layout,
                                         union_of)
from tests.helpers_store import H, T, W, box, make_frames, make_result

FORMATS = ["mevis", "refytvos", "davis", "coco-rle"]


@pytest.fixture
def filled(tmp_path) -> tuple[Store, dict]:
    """Two videos; video "horses" has a corrected and an uncorrected expression, "cars" one uncorrected.
    Every run selects two objects (links 0 and 1); the corrected run loses link 0 on frames 3..5 and gains
    a drawn object on frame 1, so its link-1 object is the untouched run's too (one shared instance)."""
    store = Store.open(tmp_path / "store.db")
    horses = store.add_video(make_frames(tmp_path / "videos" / "horses", seed=1), fps=10, num_frames=T,
                             height=H, width=W)
    cars = store.add_video(make_frames(tmp_path / "videos" / "cars", seed=2), fps=10, num_frames=T,
                           height=H, width=W)
    corrected = store.save_run(horses, "the brown horse", make_result().select(0.45), "tiny@1", RunContext())
    untouched = store.save_run(horses, "the \"other\" horse\non the right", make_result().select(0.45),
                               "tiny@1")
    car = store.save_run(cars, "the car", make_result().select(0.45), "tiny@1")
    store.reject(corrected, 3, user="ann")  # frames 3..5 corrected (empty now)
    store.draw(corrected, 1, box(16, 20, 4), user="ann")
    yield store, {"corrected": corrected, "untouched": untouched, "car": car, "horses": horses, "cars": cars}
    store.close()


def expected(store: Store, run_id: int):
    final = store.final_masks(run_id)
    return final.masks, final.corrected


def check_sidecar(root: Path, store: Store, runs: dict) -> None:
    sidecar = json.loads((root / SIDECAR).read_text())
    exps = sidecar["videos"]["horses"]["expressions"]
    assert exps["0"]["run_id"] == runs["corrected"]
    assert exps["0"]["corrected_frames"] == [1, 3, 4, 5] and exps["0"]["model_frames"] == [0, 2]
    assert exps["1"]["corrected_frames"] == [] and exps["1"]["edited"] == [False] * T
    assert [(o["object_id"], o["instance_id"]) for o in exps["0"]["objects"]] == [(0, 1), (1, 2),
                                                                                 (DRAWN_OBJECT_ID, 3)]
    assert [(o["object_id"], o["instance_id"]) for o in exps["1"]["objects"]] == [(0, 4), (1, 2)]
    assert sidecar["videos"]["cars"]["source_path"].endswith("cars")


def test_sidecar_threshold_is_the_one_in_force(filled, tmp_path):
    store, runs = filled
    store.set_threshold(runs["untouched"], 0.8, user="ann")  # re-selected on the page after the run
    root = export_dataset(store, "mevis", tmp_path / "out").out_dir
    exps = json.loads((root / SIDECAR).read_text())["videos"]["horses"]["expressions"]
    assert store.get_run(runs["untouched"]).threshold == pytest.approx(0.45)
    assert exps["1"]["threshold"] == pytest.approx(0.8) and exps["0"]["threshold"] == pytest.approx(0.45)


def check_frames(paths: list[Path], source: Path) -> None:
    originals = sorted(source.iterdir())
    assert len(paths) == len(originals) == T
    for written, original in zip(paths, originals):
        a = np.asarray(Image.open(written).convert("RGB"), dtype=float)
        b = np.asarray(Image.open(original).convert("RGB"), dtype=float)
        assert a.shape == b.shape and np.abs(a - b).mean() < 3  # JPEG: close, not equal


def read_palette_layout(meta_file: Path | None, annotations: Path, davis_root: Path | None = None) -> dict:
    """(video, text) -> {obj_id: masks} from palette PNGs and meta_expressions.json (Ref-YouTube-VOS) or
    the DAVIS text file: one entry per object, an expression's entries share its text."""
    if davis_root is not None:
        meta: dict = {}
        lines = (davis_root / "davis_text_annotations" / "Davis17_annot1_full_video.txt").read_text()
        for line in lines.splitlines():
            vid, obj, text = line.split(maxsplit=2)
            entry = meta.setdefault(vid, {"frames": [f"{i:05d}" for i in range(T)], "expressions": {}})
            entry["expressions"][str(len(entry["expressions"]))] = {"exp": text.strip('"'), "obj_id": obj}
    else:
        meta = json.loads(meta_file.read_text())["videos"]
    out: dict = {}
    for vid, entry in meta.items():
        ids = np.stack([np.asarray(Image.open(annotations / vid / f"{f}.png")) for f in entry["frames"]])
        for exp in entry["expressions"].values():
            out.setdefault((vid, exp["exp"]), {})[int(exp["obj_id"])] = ids == int(exp["obj_id"])
    return out


def test_mevis_layout_round_trip(filled, tmp_path):
    store, runs = filled
    steps = []
    report = export_dataset(store, "mevis", tmp_path / "out", progress=lambda *step: steps.append(step))
    root = tmp_path / "out"
    assert steps == [(1, 2), (2, 2)]
    assert (report.num_videos, report.num_expressions, report.num_frames) == (2, 3, 2 * T)
    assert (report.num_corrected_frames, report.num_model_frames) == (4, 3 * T - 4)
    read = read_mevis_layout(root)
    answers = {("horses", "0"): "corrected", ("horses", "1"): "untouched", ("cars", "0"): "car"}
    for (vid, exp_id), run in answers.items():
        text, masks = read[vid, exp_id]
        assert text == store.get_run(runs[run]).expression
        assert np.array_equal(masks, expected(store, runs[run])[0])
    meta = json.loads((root / "train" / "meta_expressions.json").read_text())["videos"]
    horses = meta["horses"]["expressions"]
    assert len(json.loads((root / "train" / "mask_dict.json").read_text())) == 4 + 2  # link 1 once
    assert horses["0"]["obj_id"] == [1, 2, 3] and horses["1"]["obj_id"] == [4, 2]
    assert horses["0"]["anno_id"][1] == horses["1"]["anno_id"][1]
    check_sidecar(root, store, runs)
    check_frames(sorted((root / "train" / "JPEGImages" / "horses").iterdir()), tmp_path / "videos" / "horses")
    assert store.exports()[-1].num_corrected_frames == 4


@pytest.mark.parametrize("fmt", ["refytvos", "davis"])
def test_palette_layouts_round_trip(filled, tmp_path, fmt):
    store, runs = filled
    export_dataset(store, fmt, tmp_path / "out")
    root = tmp_path / "out"
    other = "the 'other' horse on the right"
    if fmt == "refytvos":
        read = read_palette_layout(root / "meta_expressions" / "train" / "meta_expressions.json",
                                   root / "train" / "Annotations")
        other = store.get_run(runs["untouched"]).expression
        objects = json.loads((root / "train" / "meta.json").read_text())["videos"]
        assert set(objects["horses"]["objects"]) == {"1", "2", "3", "4"}
        assert set(objects["cars"]["objects"]) == {"1", "2"}
        assert objects["horses"]["objects"]["3"]["frames"] == ["00001"]  # the drawn object
        frames = sorted((root / "train" / "JPEGImages" / "cars").iterdir())
    else:
        read = read_palette_layout(None, root / "Annotations" / f"{H}p", davis_root=root)
        assert (root / "ImageSets" / "2017" / "train.txt").read_text().split() == ["horses", "cars"]
        lines = (root / "davis_text_annotations" / "Davis17_annot1_full_video.txt").read_text().splitlines()
        assert lines == [f'horses {k} "the brown horse"' for k in (1, 2, 3)] + \
            [f'horses {k} "{other}"' for k in (4, 2)] + ['cars 1 "the car"', 'cars 2 "the car"']
        frames = sorted((root / "JPEGImages" / f"{H}p" / "cars").iterdir())
        assert Image.open(root / "Annotations" / f"{H}p" / "cars" / "00000.png").mode == "P"
    check_frames(frames, tmp_path / "videos" / "cars")
    visible = palette_visible(root, store)
    for (vid, text), entries in read.items():
        for obj, mask in entries.items():
            assert np.array_equal(mask, visible[vid, obj]), (vid, text, obj)
    # Link 0 of the untouched horse (instance 4) covers the corrected one's (instance 1) where both are:
    # the later object keeps those pixels; the untouched answer and the car come back whole.
    assert not read["horses", "the brown horse"][1].any()
    assert np.array_equal(np.any(list(read["horses", other].values()), axis=0),
                          expected(store, runs["untouched"])[0])
    assert np.array_equal(read["cars", "the car"][1] | read["cars", "the car"][2],
                          expected(store, runs["car"])[0])
    check_sidecar(root, store, runs)


def test_palette_overlap_is_reported_and_identical_answers_share_an_object(filled, tmp_path):
    store, runs = filled
    report = export_dataset(store, "refytvos", tmp_path / "out")
    assert any("horses" in w and "two objects" in w for w in report.warnings)
    store.save_run(runs["cars"], "the same car again", make_result(), "tiny@1")  # link 0 only
    export_dataset(store, "refytvos", tmp_path / "out2")
    meta_file = tmp_path / "out2" / "meta_expressions" / "train" / "meta_expressions.json"
    cars = json.loads(meta_file.read_text())["videos"]["cars"]["expressions"]
    assert [(e["exp"], e["obj_id"]) for e in cars.values()] == [("the car", "1"), ("the car", "2"),
                                                               ("the same car again", "1")]
    sidecar = json.loads((tmp_path / "out2" / SIDECAR).read_text())["videos"]["cars"]["expressions"]
    assert [o["exp_id"] for o in sidecar["0"]["objects"]] == ["0", "1"]
    assert [o["exp_id"] for o in sidecar["1"]["objects"]] == ["2"]


def test_coco_rle_round_trip(filled, tmp_path):
    store, runs = filled
    export_dataset(store, "coco-rle", tmp_path / "out")
    samples = {(s.video_id, s.expression_id): s for s in read_coco_rle(tmp_path / "out")}
    sample = samples["horses", "0"]
    masks, corrected = expected(store, runs["corrected"])
    assert np.array_equal(sample.target_masks, masks)
    assert sample.extra["corrected"] == [c and m.any() for c, m in zip(corrected, masks)]
    assert sample.load_frames().shape == (T, H, W, 3)
    objects = np.stack(list(object_masks(store, runs["corrected"]).values()))
    assert np.array_equal(sample.load_object_masks(), objects)
    assert np.array_equal(samples["horses", "1"].target_masks, expected(store, runs["untouched"])[0])
    assert sample.object_ids == (1, 2, 3) and samples["horses", "1"].object_ids == (4, 2)
    assert samples["cars", "0"].object_ids == (5, 6)  # track ids unique in the export
    from pycocotools.coco import COCO  # the file is valid COCO for the official API too
    coco = COCO(str(tmp_path / "out" / "annotations.json"))
    first = coco.loadAnns(coco.getAnnIds())[0]
    assert coco.annToMask(first).shape == (H, W)


def test_names_never_escape_the_output_folder(tmp_path):
    for nasty in ("../../etc/passwd", "/etc/passwd", "a\x00b", "..", ".", "", "日本語 ビデオ", "CON",
                  "x" * 400, "\u202e" + "gpj.exe"):
        name = safe_name(nasty, "video0")
        assert name and "/" not in name and "\x00" not in name and name not in (".", "..")
        assert inside(tmp_path, name).parent == tmp_path.resolve()
    assert safe_name("日本語 ビデオ", "v") == "日本語_ビデオ"
    for escape in ("../x", "/etc/passwd", "a/../../b", ".."):
        with pytest.raises(InputError, match="not inside"):
            inside(tmp_path / "root", escape)


def test_nasty_video_names_and_expressions_export_safely(tmp_path):
    store = Store.open(tmp_path / "store.db")
    names = ["...", "-rf", "日本語 ビデオ", "line\nbreak", "CON", ".hidden", "..evil"]
    expression = "../../etc/passwd\x1b \"quoted\" 日本語"  # NUL is refused (tests/test_attacks_store.py)
    for seed, name in enumerate(names):
        video = store.add_video(make_frames(tmp_path / "videos" / name, seed=seed), fps=10, num_frames=T,
                                height=H, width=W)
        store.save_run(video, expression, make_result(), "tiny@1")
    before = set(os.listdir(tmp_path))
    for fmt in FORMATS:
        out = tmp_path / "exports" / fmt
        export_dataset(store, fmt, out)
        for path in out.rglob("*"):
            assert out.resolve() in path.resolve().parents
        assert not any(p.name.startswith(".") for p in out.rglob("*"))
    assert set(os.listdir(tmp_path)) == before | {"exports"}
    meta = json.loads((tmp_path / "exports" / "mevis" / "train" / "meta_expressions.json").read_text())
    assert len(meta["videos"]) == len(names)
    assert all(e["expressions"]["0"]["exp"] == expression for e in meta["videos"].values())
    assert set(meta["videos"]) == {"日本語_ビデオ", "line_break", "_CON", "hidden", "evil", "rf", "video0"}


def count_writes_then_fail(monkeypatch, after: int) -> None:
    """Make the (after+1)-th frame write fail as a full disk does."""
    real, calls = export_formats.write_jpeg, []

    def failing(path, frame):
        calls.append(path)
        if len(calls) > after:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, frame)
    monkeypatch.setattr(export_formats, "write_jpeg", failing)


@pytest.mark.parametrize("fmt", FORMATS)
def test_full_disk_leaves_nothing_half_written(filled, tmp_path, monkeypatch, fmt):
    store, _ = filled
    count_writes_then_fail(monkeypatch, after=T + 2)  # fails inside the second video
    with pytest.raises(ExportError, match="no space left on the device"):
        export_dataset(store, fmt, tmp_path / "exports" / "out")
    assert os.listdir(tmp_path / "exports") == []  # neither the dataset nor its staging folder
    assert store.exports() == []


def test_real_full_filesystem(filled, tmp_path):
    """On a tiny tmpfs (needs root and mount rights, else skipped) the disk really fills up."""
    store, _ = filled
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", str(mount_point)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        with pytest.raises(ExportError, match="no space left"):
            export_dataset(store, "mevis", mount_point / "out")
        assert os.listdir(mount_point) == []
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_missing_video_file_is_a_clean_error(filled, tmp_path):
    store, runs = filled
    for f in (tmp_path / "videos" / "cars").iterdir():
        f.unlink()
    (tmp_path / "videos" / "cars").rmdir()
    with pytest.raises(ExportError, match="is gone"):
        export_dataset(store, "mevis", tmp_path / "exports" / "out")
    assert os.listdir(tmp_path / "exports") == []
    report = export_dataset(store, "mevis", tmp_path / "exports" / "horses_only",
                            video_ids=[runs["horses"].id])
    assert report.num_videos == 1
    for extra in ("00006.png", "00007.png"):  # the folder grew since it was stored
        first = tmp_path / "videos" / "horses" / "00000.png"
        (tmp_path / "videos" / "horses" / extra).write_bytes(first.read_bytes())
    with pytest.raises(ExportError, match="more frames than the 6 the store recorded"):
        export_dataset(store, "mevis", tmp_path / "exports" / "grown", video_ids=[runs["horses"].id])
    (tmp_path / "videos" / "horses" / "00006.png").write_bytes(b"not a png")
    with pytest.raises(ExportError, match="00006"):
        export_dataset(store, "mevis", tmp_path / "exports" / "broken", video_ids=[runs["horses"].id])
    assert sorted(os.listdir(tmp_path / "exports")) == ["horses_only"]


def test_output_folder_rules(filled, tmp_path):
    store, _ = filled
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty"):
        export_dataset(store, "mevis", out)
    assert (out / "keep.txt").read_text() == "mine"
    with pytest.raises(ExportError, match="not made by an export"):
        export_dataset(store, "mevis", out, overwrite=True)
    assert (out / "keep.txt").read_text() == "mine"
    with pytest.raises(InputError, match="unknown export format"):
        export_dataset(store, "yaml", tmp_path / "x")
    with pytest.raises(ExportError, match="no video with id"):
        export_dataset(store, "mevis", tmp_path / "y", video_ids=[999])
    empty = Store.open(tmp_path / "empty.db")
    with pytest.raises(ExportError, match="nothing to export"):
        export_dataset(empty, "mevis", tmp_path / "z")


def test_zip_for_download(filled, tmp_path):
    store, _ = filled
    path = export_zip(store, "coco-rle", tmp_path / "dl" / "my export.zip")
    assert path == (tmp_path / "dl" / "my export.zip").resolve()
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    assert "my export/annotations.json" in names and f"my export/{SIDECAR}" in names
    assert all(n.startswith("my export/") for n in names)
    assert os.listdir(tmp_path / "dl") == ["my export.zip"]
    assert store.exports()[-1].out_path == str(path)


def test_cli(filled, tmp_path):
    store, runs = filled
    command = [sys.executable, "-m", "derrvos_core", "export", "--db", store.url, "--format", "davis",
               "--out", str(tmp_path / "cli"), "--videos", str(runs["cars"].id)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stderr
    assert "1 videos, 1 expressions" in done.stdout
    assert (tmp_path / "cli" / "Annotations" / f"{H}p" / "cars" / "00000.png").exists()


def test_cli_errors_are_clean(tmp_path, capsys):
    from derrvos_core.__main__ import main
    assert main(["export", "--db", str(tmp_path / "nope.db"), "--format", "mevis",
                 "--out", str(tmp_path / "o")]) == 2
    assert "no database at" in capsys.readouterr().err
    Store.open(tmp_path / "empty.db").close()
    assert main(["export", "--db", str(tmp_path / "empty.db"), "--format", "coco-rle", "--out",
                 str(tmp_path / "o")]) == 2
    assert "nothing to export" in capsys.readouterr().err and not (tmp_path / "o").exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_exports_read_back_through_our_dataset_readers(filled, tmp_path, fmt):
    store, runs = filled
    export_dataset(store, fmt, tmp_path / "out")
    samples = read_back(fmt, tmp_path / "out")
    other = store.get_run(runs["untouched"]).expression
    if fmt == "davis":
        other = " ".join(other.replace('"', "'").split())  # one line, no inner quotes in the text file
    keys = {("horses", "the brown horse"): ("corrected", {1, 2, 3}), ("horses", other): ("untouched", {4, 2}),
            ("cars", "the car"): ("car", {1, 2})}
    assert set(samples) == set(keys)
    for key, (run, instances) in keys.items():
        objects = list(object_masks(store, runs[run]).values())
        if fmt in ("refytvos", "davis"):  # one sample per object; a pixel shows its later object
            visible = palette_visible(tmp_path / "out", store)
            assert sorted(s.object_ids for s in samples[key]) == [(k,) for k in sorted(instances)]
            for s in samples[key]:
                assert np.array_equal(s.target_masks, visible[key[0], s.object_ids[0]])
        else:  # the union, and the objects apart
            (sample,) = samples[key]
            assert np.array_equal(sample.target_masks, expected(store, runs[run])[0])
            assert np.array_equal(sample.load_object_masks(), np.stack(objects))
    assert np.array_equal(union_of(samples["cars", "the car"]), expected(store, runs["car"])[0])
    assert np.array_equal(union_of(samples["horses", other]), expected(store, runs["untouched"])[0])
    frames = samples["cars", "the car"][0].load_frames()
    files = sorted((tmp_path / "videos" / "cars").iterdir())
    source = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
    assert frames.shape == source.shape and np.abs(frames.astype(float) - source).mean() < 3


def test_export_from_a_video_file(tmp_path):
    """An MP4 (not a frame folder): registered with its probed size, frames decoded for the export."""
    from derrvos_core.video import write_video
    y, x = np.mgrid[0:H, 0:W]
    frames = [np.stack([x * 6, y * 8 + 10 * i, np.full_like(x, 90)], -1).astype(np.uint8) for i in range(T)]
    path = write_video(tmp_path / "clip.mp4", frames, fps=8)
    store = Store.open(tmp_path / "store.db")
    video = store.add_video_file(path)
    assert (video.num_frames, video.height, video.width, video.fps) == (T, H, W, 8.0)
    run_id = store.save_run(video, "the clip", make_result(), "tiny@1")
    store.draw(run_id, 0, box(0, 0, 4), user="ann")
    export_dataset(store, "mevis", tmp_path / "out")
    ((sample,),) = read_back("mevis", tmp_path / "out").values()
    assert sample.video_id == "clip" and np.array_equal(sample.target_masks, store.final_masks(run_id).masks)
    assert np.abs(sample.load_frames().astype(float) - np.stack(frames)).mean() < 6  # two lossy encodes
