"""Export of two people as two instances, as a user does it in Debian's chromium (issue 17): after a run
with nothing selected, two clicks select two different objects; each export format's zip is downloaded
from the History panel, unzipped, and read back by our own dataset readers: the expression is two
instances whose masks are the store's per-object masks (in palette layouts a later instance keeps the
pixels both cover). Screenshots go to test-artifacts/browser/ (export-*.png)."""
from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.config import EXPORT_CHOICES
from app.render import display_scale
from derrvos_core.objects import trajectory_object_id
from derrvos_core.store.export import SIDECAR
from tests.helpers_browser import (T0, load_example, run_expression, screen_point, select_nothing, snap,
                                   wait_text as shows)
from tests.helpers_export import read_back

pytestmark = pytest.mark.browser

EXPRESSION = "the two crosses"
PALETTE = ("refytvos", "davis")


def objects_on_frame(result, index: int) -> dict[int, np.ndarray]:
    """object id -> its mask on frame `index` (the union of its trajectories), objects absent left out."""
    masks: dict[int, np.ndarray] = {}
    for t in result.trajectories:
        mask = t.mask(index, result.height, result.width)
        object_id = trajectory_object_id(t)
        masks[object_id] = masks.get(object_id, np.zeros_like(mask)) | mask
    return {k: m for k, m in masks.items() if m.any()}


def front_of(masks: dict[int, np.ndarray]) -> np.ndarray:
    """Per pixel, the object a click there picks (the smallest mask holding it, as `object_at`); -1 none."""
    owner = np.full(next(iter(masks.values())).shape, -1)
    for object_id, mask in sorted(masks.items(), key=lambda km: -int(km[1].sum())):
        owner[mask] = object_id  # smaller masks paint last
    return owner


def two_objects(result, index: int) -> list[tuple[int, int, int]]:
    """Two objects on frame `index`, (object id, x, y) each: the pixel a click on picks it farthest
    from where a click would pick another."""
    owner = front_of(objects_on_frame(result, index))
    picks = []
    for object_id in set(owner.flat) - {-1}:
        depth = cv2.distanceTransform(np.pad(owner == object_id, 1).astype(np.uint8), cv2.DIST_L2, 3)
        depth = depth[1:-1, 1:-1]
        y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
        picks.append((float(depth[y, x]), int(object_id), int(x), int(y)))
    picks.sort(reverse=True)
    assert len(picks) >= 2 and picks[1][0] >= 1.5, f"frame {index} lacks two clickable objects: {picks}"
    return [(object_id, x, y) for _, object_id, x, y in picks[:2]]


def store_objects(service, run_id: int, num_frames: int) -> dict[int, np.ndarray]:
    """object id -> bool [T, H, W]: the store's own per-object answer."""
    plan = service.store.answer_plan(run_id)
    return {o.object_id: np.stack([plan.frame_objects(f)[o.object_id] for f in range(num_frames)])
            for o in plan.objects}


def download_export(page, title: str, fmt: str, into: Path) -> Path:
    """Choose `title` in the History panel, export, download the zip the page offers, and unzip it."""
    page.locator("#export-format").get_by_text(title, exact=True).click()
    page.click("#export")
    shows(page, "#history-status", f"Exported {title} dataset")
    shows(page, "#export-file", f"-{fmt}-")
    with page.expect_download() as info:
        page.locator("#export-file a").first.click()
    zip_path = into / f"{fmt}.zip"
    info.value.save_as(zip_path)
    with zipfile.ZipFile(zip_path) as archive:
        assert archive.testzip() is None
        archive.extractall(into / fmt)
    (root,) = (into / fmt).iterdir()  # the entries sit under one folder named after the zip
    assert f"-{fmt}-" in root.name
    return root


def instances_read(fmt: str, samples: list) -> dict[int, np.ndarray]:
    """instance id -> mask track of one expression: palette layouts give one sample per instance, the
    others one sample that keeps its objects apart."""
    if fmt in PALETTE:
        assert all(len(s.object_ids) == 1 for s in samples)
        return {s.object_ids[0]: s.target_masks for s in samples}
    (sample,) = samples
    return dict(zip(sample.object_ids, sample.load_object_masks()))


def expected_instances(fmt: str, root: Path, objects: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """instance id -> the store's mask of its object (in palette layouts less the later instances')."""
    (video,) = json.loads((root / SIDECAR).read_text())["videos"].values()
    (exp,) = video["expressions"].values()
    assert exp["exp"] == EXPRESSION
    ids = {o["instance_id"]: objects[o["object_id"]] for o in exp["objects"]}
    assert sorted(o["object_id"] for o in exp["objects"]) == sorted(objects)
    if fmt not in PALETTE:
        return ids
    return {k: m & ~np.any([n for j, n in ids.items() if j > k] + [np.zeros_like(m)], axis=0)
            for k, m in ids.items()}


def select_two_objects(page, service) -> tuple[int, list[int]]:
    """Load the SynthRef example, run with nothing selected, click two objects; (run id, object ids)."""
    load_example(page)
    run_expression(page, EXPRESSION)
    select_nothing(page)
    (run,) = service.store.runs()
    result = service.store.load_run(run.id)
    index = int(float(page.locator("#frame input[type=number]").input_value()))
    scale = display_scale(result.height, result.width, service.config.display_size)
    picked = []
    for object_id, x, y in two_objects(result, index):
        page.mouse.click(*screen_point(page, x, y, scale))
        shows(page, "#viewer-status", f"Object {object_id} selected over the whole video")
        page.wait_for_function("(s) => document.querySelector(s)?.className === 'sel'",
                               arg=f"#trajectory-table tr[data-object='{object_id}']")
        picked.append(object_id)
    page.wait_for_timeout(1000)  # the overlay image is replaced last
    return run.id, picked


def test_two_picked_objects_export_as_two_instances_in_every_format(studio, page, tmp_path):
    service, url = studio
    T0[0] = time.perf_counter()
    page.goto(url)
    run_id, picked = select_two_objects(page, service)
    snap(page, "export-01-two-objects-selected")
    num_frames = service.store.load_run(run_id).num_frames
    objects = store_objects(service, run_id, num_frames)
    assert sorted(objects) == sorted(picked) and all(m.any() for m in objects.values())

    assert sorted(fmt for _, fmt in EXPORT_CHOICES) == ["coco-rle", "davis", "mevis", "refytvos"]
    for title, fmt in EXPORT_CHOICES:
        root = download_export(page, title, fmt, tmp_path)
        (served,) = (Path(service.config.data_dir) / "exports").glob(f"*-{fmt}-*.zip")
        assert (tmp_path / f"{fmt}.zip").read_bytes() == served.read_bytes()  # the page offers the export
        ((video, text), samples), = read_back(fmt, root).items()
        assert text == EXPRESSION
        got = instances_read(fmt, samples)
        want = expected_instances(fmt, root, objects)
        assert sorted(got) == sorted(want) and len(got) == 2, (fmt, sorted(got))
        for k in want:
            assert got[k].shape == want[k].shape and np.array_equal(got[k], want[k]), (fmt, video, k)
        assert np.array_equal(np.any([s.target_masks for s in samples], axis=0),
                              np.any(list(objects.values()), axis=0)), fmt
    snap(page, "export-02-last-export")
