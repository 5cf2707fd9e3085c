"""Fix one frame, propagate, at the service: paint a new object on a frame, carry it forward, see the
proposals, accept them in one action (marked propagated, one Undo takes them all back), discard, cancel;
and a stroke lands on the frame the editor showed, not the one the viewer moved to.

The clip is test_propagate's textured disc translating 3 px a frame (its truth known by construction)."""
from __future__ import annotations

import numpy as np
import pytest

from app.editor import EditTarget
from app.panels.correction import paint_choice
from app.propagation import NEW_OBJECT, PropagationStep, PropagationView
from derrvos_core.annotation.mask_ops import mask_iou
from derrvos_core.errors import InputError
from derrvos_core.objects import is_user_object
from derrvos_core.store import CorrectionKind
from derrvos_core.video import write_video
from tests.helpers_app import make_service
from tests.test_propagate import make_clip

SID = "tab"
SOURCE = 4


@pytest.fixture(scope="module")
def disc_clip(tmp_path_factory):
    frames, truth = make_clip()
    path = tmp_path_factory.mktemp("disc") / "disc.mp4"
    write_video(path, iter(frames), 10.0)
    return path, truth


@pytest.fixture
def service(tiny_model, tmp_path, disc_clip, one_thread):
    service = make_service(tiny_model, tmp_path)
    service.open_video(SID, disc_clip[0], name="disc.mp4")
    service.segment(SID, "the disc", service.settings(crop_size=8))
    return service


def paint_disc(service, truth, frame: int = SOURCE):
    """A new object painted on `frame` where the disc is (through the editor target, as the page does)."""
    target = service.propagation.target(SID, frame)
    return service.propagation.paint(SID, CorrectionKind.DRAW, target, truth[frame], NEW_OBJECT, None)


def run_all(service, object_id, source, end) -> tuple[list[PropagationStep], PropagationView]:
    steps = list(service.propagation.propagate(SID, object_id, source, end))
    assert all(isinstance(s, PropagationStep) for s in steps[:-1]) and isinstance(steps[-1], PropagationView)
    return steps[:-1], steps[-1]


def test_propagated_frames_are_proposed_then_accepted_in_one_undoable_action(service, disc_clip):
    truth = disc_clip[1]
    record = paint_disc(service, truth)
    assert record.frame == SOURCE and is_user_object(record.object_id)
    choices = service.propagation.objects(SID, SOURCE)
    assert record.object_id in [c.object_id for c in choices]

    end = service.propagation.default_end(SID, SOURCE)
    assert end == len(truth) - 1  # t+30 clipped to the video
    steps, view = run_all(service, record.object_id, SOURCE, SOURCE + 10)
    assert [s.frame for s in steps] == list(view.frames) and view.frames[0] == SOURCE + 1
    assert len(view.frames) >= 5, view.line
    assert view.line.startswith(f"{len(view.frames)} frames proposed")
    later = view.frames[-1]
    proposal = service.propagation.proposal(SID, later)
    assert mask_iou(proposal, truth[later]) > 0.8  # the disc moved 3 px a frame; the proposal followed
    before = service.store.final_masks(service.session(SID).run.run_id).masks[later].copy()

    records = service.propagation.accept(SID, None)
    run_id = service.session(SID).run.run_id
    assert [r.frame for r in records] == list(view.frames)
    assert {r.kind for r in records} == {CorrectionKind.SET}
    assert all(r.propagated and r.source_frame == SOURCE and r.object_id == record.object_id for r in records)
    assert len({r.group_id for r in records}) == 1 and records[0].group_id is not None
    after = service.store.final_masks(run_id).masks[later]
    assert mask_iou(after & truth[later], truth[later]) > 0.8 and not np.array_equal(before, after)
    assert service.propagation.pending(SID) is None  # accepted: nothing waits any more

    service.undo(SID)  # one Undo takes back all the propagated frames
    active = [c for c in service.store.corrections(run_id) if c.active and c.propagated]
    assert active == []
    assert np.array_equal(service.store.final_masks(run_id).masks[later], before)
    # the painted frame itself is still there (its own correction)
    assert service.store.final_masks(run_id).masks[SOURCE][truth[SOURCE]].all()


def test_backward_discard_and_refusals(service, disc_clip):
    truth = disc_clip[1]
    record = paint_disc(service, truth, frame=10)
    _, view = run_all(service, record.object_id, 10, 6)
    assert view.frames[:2] == (9, 8)
    assert service.propagation.discard(SID) == len(view.frames)
    assert service.propagation.pending(SID) is None and service.propagation.proposal(SID, 9) is None
    with pytest.raises(InputError, match="no propagated frames to accept"):
        service.propagation.accept(SID, None)
    with pytest.raises(InputError, match="no pixels on frame 20"):
        list(service.propagation.propagate(SID, record.object_id, 20, 25))
    with pytest.raises(InputError, match="pick the object to propagate"):
        list(service.propagation.propagate(SID, NEW_OBJECT, 10, 12))
    with pytest.raises(InputError, match="the end frame is the corrected frame"):
        list(service.propagation.propagate(SID, record.object_id, 10, 10))


def test_cancel_stops_after_the_frame_in_progress(service, disc_clip):
    truth = disc_clip[1]
    record = paint_disc(service, truth)
    assert service.propagation.cancel(SID) is False  # nothing runs yet
    steps = service.propagation.propagate(SID, record.object_id, SOURCE, SOURCE + 20)
    first = next(steps)
    assert isinstance(first, PropagationStep) and first.frame == SOURCE + 1
    assert service.propagation.cancel(SID) is True
    rest = list(steps)
    view = rest[-1]
    assert isinstance(view, PropagationView) and view.cancelled
    assert len(view.frames) <= 2 and "cancelled" in view.line  # stopped long before frame 24


def test_a_stroke_lands_on_the_frame_the_editor_showed(service, disc_clip):
    truth = disc_clip[1]
    target = service.propagation.target(SID, 3)  # the editor showed frame 3 ...
    # ... the viewer moved on to frame 20 before Add was pressed: the stroke still goes to frame 3
    record = service.propagation.paint(SID, CorrectionKind.DRAW, target, truth[3], None, None)
    assert record.frame == 3 and record.object_id is None

    stale = EditTarget(target.video_id + 1, target.run_id, 3)
    with pytest.raises(InputError, match="earlier video: nothing was saved"):
        service.propagation.paint(SID, CorrectionKind.DRAW, stale, truth[3], None, None)
    with pytest.raises(InputError, match="editor shows no frame yet"):
        service.propagation.paint(SID, CorrectionKind.DRAW, None, truth[3], None, None)
    with pytest.raises(InputError, match="new object has no pixels to remove"):
        service.propagation.paint(SID, CorrectionKind.ERASE, target, truth[3], NEW_OBJECT, None)


def test_undoing_a_new_object_leaves_the_painter_on_new_object_not_another_object(service, disc_clip):
    """Undo of a new object's first stroke removes the object; the next redraw must not hand its place to
    another object on the frame (a second stroke then landed on it)."""
    truth = disc_clip[1]
    first = paint_disc(service, truth)  # an object on the frame that must not be picked in error
    second = paint_disc(service, truth)
    on_frame = [c.object_id for c in service.propagation.objects(SID, SOURCE)]
    assert {first.object_id, second.object_id} <= set(on_frame)
    assert paint_choice(second.object_id, on_frame, service.propagation.object_ids(SID), moved=False) == \
        second.object_id
    service.undo(SID, None)
    on_frame = [c.object_id for c in service.propagation.objects(SID, SOURCE)]
    assert first.object_id in on_frame and second.object_id not in service.propagation.object_ids(SID)
    assert paint_choice(second.object_id, on_frame, service.propagation.object_ids(SID), moved=False) == \
        NEW_OBJECT
    answer = service.propagation.object_ids(SID)
    assert paint_choice(NEW_OBJECT, on_frame, answer, moved=False) == NEW_OBJECT
    # the user's pick stays on a frame the object has no pixels on (to paint it where the model lost it)
    assert paint_choice(first.object_id, [], answer, moved=True) == first.object_id
    # on another frame (or just after a load) "new object" becomes the frame's first object
    assert paint_choice(NEW_OBJECT, on_frame, answer, moved=True) == on_frame[0]
    assert paint_choice(NEW_OBJECT, [], answer, moved=True) == NEW_OBJECT
