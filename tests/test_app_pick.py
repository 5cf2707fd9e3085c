"""Pick by click, new objects from clicks, the objects table, the timeline and the viewer's defects, through
the service's parts on a real SQLite store. The run is made by hand (known squares and scores) and handed
to the service as a result already computed, so every expected pixel and selection is known in advance."""
from __future__ import annotations

import numpy as np
import pytest

from app.object_table import object_rows, objects_table_html
from app.picking import Picker
from app.render import OverlayStyle, score_text, threshold_text
from app.session import ResultKey
from app.timeline import timeline
from app.views import first_present_frame
from derrvos_core.errors import InputError
from derrvos_core.masks import encode_rle
from derrvos_core.objects import OWN_OBJECT_BASE, is_user_object
from derrvos_core.result import SegmentationResult, TrajectoryResult
from derrvos_core.settings import SegmentSettings
from derrvos_core.store import CorrectionKind
from derrvos_core.store.corrections import plan_answer
from tests.helpers_app import CLIP_FRAMES, make_service, square

S = "tab-1"
H = W = 128
CROP = 4
EXPRESSION = "the squares made by hand"


def trajectory(tid: int, crop: int, score: float, box: tuple[int, int, int], frames: range,
               link: int = -1) -> TrajectoryResult:
    start = crop * CROP
    rles = tuple(encode_rle(square(H, W, *box)) if start + i in frames else None for i in range(CROP))
    return TrajectoryResult(trajectory_id=tid, crop_index=crop, frame_start=start, score=score, rles=rles,
                            link_id=link)


def handmade() -> SegmentationResult:
    """#0 (0.351) is present from frame 2 only; #1 (0.2) is below any threshold used; #2 and #3 are one
    object linked across the two crops (link 7); #4 (0.34999, a float32 0.35) sits just under 0.35."""
    trajectories = (
        trajectory(0, 0, 0.351, (10, 10, 20), range(2, 4)),
        trajectory(1, 1, 0.2, (70, 70, 30), range(4, 8)),
        trajectory(2, 0, 0.9, (10, 80, 24), range(3, 4), link=7),
        trajectory(3, 1, 0.9, (10, 80, 24), range(4, 8), link=7),
        trajectory(4, 1, float(np.float32(0.35)), (100, 10, 12), range(4, 6)),
    )
    return SegmentationResult(num_frames=CLIP_FRAMES, height=H, width=W, trajectories=trajectories,
                              settings=SegmentSettings(crop_size=CROP, threshold=0.5), expression=EXPRESSION)


@pytest.fixture
def shown(tiny_model, tmp_path, clip):
    """A service showing the hand-made run at threshold 0.35, and a Picker over its parts."""
    service = make_service(tiny_model, tmp_path)
    video = service.open_video(S, clip)
    key = ResultKey(video.record.content_hash, EXPRESSION, CROP, str(tiny_model.version), False)
    service.runs.results.put(key, handmade())
    outcome = service.segment(S, EXPRESSION, service.settings(CROP, 0.35))
    assert outcome.cached  # the hand-made result, no model call
    return service, Picker(service.sessions, service.editor, service.views)


def plan(service):
    return service.session(S).run.plan


def display(service, x: int, y: int) -> tuple[int, int]:
    """Where a click on video pixel (x, y) lands on the upscaled display image (its last screen pixel)."""
    scale = service.display_scale(S)
    return x * scale + scale - 1, y * scale + scale - 1


def test_a_trajectory_scored_0351_is_selected_at_0350_and_every_number_shows_three_decimals(shown):
    service, _ = shown
    assert plan(service).selected == {0, 2, 3}  # 0.351 >= 0.35; float32 0.35 is 0.34999999 < 0.35
    assert threshold_text(0.355) == "0.355" and threshold_text(0.35) == "0.35" and threshold_text(0) == "0.00"
    # what is shown is what the threshold compares: setting the shown number selects it, one step up not
    assert score_text(0.351) == "0.351" and score_text(np.float32(0.35)) == "0.349"
    assert 4 in service.reselect(S, 0.349).plan.selected
    assert 0 not in service.reselect(S, 0.352).plan.selected
    assert 0 in service.reselect(S, float(score_text(0.351))).plan.selected


def test_the_viewer_opens_where_a_selected_object_first_appears_and_groups_by_object(shown):
    service, picker = shown
    assert first_present_frame(plan(service)) == 2  # #0 appears at frame 2 (the viewer used to show 0)
    view = picker.viewer_view(S, 0)
    assert view.first_frame == 2
    rows = object_rows(plan(service), {})
    # five trajectories, four objects: the two crops of link 7 are one row, spanning both crops
    assert [r.object_id for r in rows] == [7, OWN_OBJECT_BASE + 0, OWN_OBJECT_BASE + 4, OWN_OBJECT_BASE + 1]
    linked = rows[0]
    assert (linked.score, linked.frames_present, linked.first_frame, linked.last_frame, linked.selected) == \
        (0.9, 5, 3, 7, True)
    assert [t.trajectory_id for t in linked.trajectories] == [2, 3]
    html = objects_table_html(rows)
    # the selected objects first; the two unselected ones folded under one <details>
    assert html.count("<details>") == 4 and html.count("data-object=") == 4
    assert html.index("not selected") > html.index(f"data-object='{OWN_OBJECT_BASE}'")
    assert html.index("not selected") < html.index(f"data-object='{OWN_OBJECT_BASE + 1}'")


def test_a_click_on_an_object_selects_it_for_the_whole_video_and_one_undo_takes_it_back(shown):
    service, picker = shown
    x, y = picker.video_point(S, *display(service, 85, 85))  # inside #1's square (rows/cols 70..99)
    assert (x, y) == (85, 85)
    before = picker.viewer_view(S, 5).image[display(service, 85, 85)[::-1]]
    done = picker.pick(S, 5, x, y)
    assert done.selected and done.object_id == OWN_OBJECT_BASE + 1 and done.trajectory_ids == (1,)
    assert 1 in plan(service).selected
    row = {r.object_id: r for r in object_rows(plan(service), {})}[OWN_OBJECT_BASE + 1]
    assert row.selected
    after = picker.viewer_view(S, 5).image[display(service, 85, 85)[::-1]]
    assert not np.array_equal(before, after)  # the overlay now paints it
    service.undo(S)
    assert 1 not in plan(service).selected


def test_a_click_on_a_linked_object_deselects_all_its_trajectories_in_one_action(shown):
    service, picker = shown
    done = picker.pick(S, 5, 90, 20)  # link 7's square at frame 5 (crop 1); its crop-0 part goes too
    assert not done.selected and done.trajectory_ids == (2, 3)
    assert plan(service).selected == {0}
    records = done.records
    assert [r.kind for r in records] == [CorrectionKind.REJECT] * 2
    assert len({r.group_id for r in records}) == 1
    assert not plan(service).frame_answer(3).mask[20, 90]  # gone from the other crop's frames as well
    service.undo(S)  # one Undo takes back both
    assert plan(service).selected == {0, 2, 3}


def test_a_click_on_nothing_in_pick_mode_says_so(shown):
    service, picker = shown
    with pytest.raises(InputError, match="no object of the model lies under the click at \\(60, 5\\) on "
                                         "frame 5"):
        picker.pick(S, 5, 60, 5)
    kinds = [c.kind for c in service.store.corrections(service.session(S).run.run_id)]
    assert kinds == [CorrectionKind.THRESHOLD]  # the run's 0.35; the click stored nothing


def test_a_new_object_from_clicks_is_one_draw_with_a_fresh_user_object_id(shown):
    service, picker = shown
    frame = service.frame(S, 5)
    draft = picker.click(S, None, 5, 50, 50, positive=True)
    draft = picker.click(S, draft, 5, 5, 120, positive=False)
    marks = draft.marks
    assert marks.frame == 5 and marks.positives == ((50, 50),) and marks.negatives == ((5, 120),)
    assert marks.proposal is not None and marks.proposal[50, 50] and not marks.proposal[120, 5]
    shown_image = picker.viewer_view(S, 5, draft=draft).image
    assert not np.array_equal(shown_image, picker.viewer_view(S, 5).image)  # clicks and outline drawn
    object_id, record = picker.accept_object(S, draft)
    assert is_user_object(object_id) and record.kind is CorrectionKind.DRAW and record.frame == 5
    assert record.object_id == object_id
    objects = {o.object_id: o for o in plan(service).objects}
    assert objects[object_id].user_made
    assert np.array_equal(plan(service).frame_objects(5)[object_id], marks.proposal)
    rows = object_rows(plan(service), {})
    assert rows[-1].object_id == object_id and rows[-1].score is None and rows[-1].frames_present == 1
    assert frame.shape == (H, W, 3)
    second = picker.accept_object(S, picker.click(S, None, 6, 50, 50, positive=True))[0]
    assert second != object_id and is_user_object(second)
    service.undo(S)
    assert second not in {o.object_id for o in plan(service).objects}


def test_accepting_without_clicks_or_on_another_run_is_refused(shown):
    service, picker = shown
    with pytest.raises(InputError, match="no new object to accept"):
        picker.accept_object(S, None)
    draft = picker.click(S, None, 5, 50, 50, positive=True)
    service.runs.results.put(ResultKey("other", "x", CROP, "v", False), handmade())
    service.session(S).run.run_id += 1000  # another run is on screen now
    with pytest.raises(InputError, match="earlier run or video"):
        picker.accept_object(S, draft)


def test_outline_only_and_opacity_change_the_overlay(shown):
    service, picker = shown
    x, y = display(service, 90, 20)
    inside = (y - 5 * service.display_scale(S), x)  # well inside link 7's square, not on its outline
    full = picker.viewer_view(S, 5, OverlayStyle(opacity=1.0)).image[inside]
    half = picker.viewer_view(S, 5, OverlayStyle(opacity=0.5)).image[inside]
    outline = picker.viewer_view(S, 5, OverlayStyle(outline_only=True)).image[inside]
    bare = np.repeat(np.repeat(service.frame(S, 5), service.display_scale(S), 0), service.display_scale(S), 1)
    assert np.array_equal(outline, bare[inside]) and not np.array_equal(half, full)


def test_the_timeline_has_a_row_per_selected_object_and_marks_weak_frames(shown):
    service, _ = shown
    strip = timeline(plan(service), 3)
    assert strip.object_ids[0] == 7 and set(strip.object_ids) == {7, OWN_OBJECT_BASE + 0}
    # frames 0, 1 hold no selected object; #0 and link 7 (scores >= 0.35) cover frames 2..7
    assert strip.weak.tolist() == [True, True] + [False] * 6
    assert strip.frame_at(strip.frame_px * 5 + 1) == 5 and strip.frame_at(10 ** 6) == CLIP_FRAMES - 1
    service.reselect(S, 0.95)  # nothing reaches it; at_least_one is off: every frame is weak
    assert timeline(plan(service), 0).weak.all()


def test_the_answer_note_and_first_frame_hold_for_a_plan_without_corrections():
    p = plan_answer(handmade().select(0.35), [])
    assert first_present_frame(p) == 2 and p.selected == {0, 2, 3}


def page_handler(demo, name: str):
    """The function behind a page event, by its name, and its output components' elem_ids."""
    block = next(f for f in demo.fns.values() if getattr(f.fn, "__name__", "") == name)
    return block.fn, [o.elem_id for o in block.outputs]


def test_the_page_writes_the_answer_note_with_the_status_and_counts_progress_in_frames(shown, clip):
    from types import SimpleNamespace

    from app.ui import build_app
    service, _ = shown
    demo = build_app(service)
    request = SimpleNamespace(session_hash=S, username=None)
    slider = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "threshold")
    assert slider.step == 0.001  # 0.355 can be set (steps of 0.01 showed it as 0.35)
    on_threshold, outputs = page_handler(demo, "on_threshold")
    assert outputs == ["run-status", "answer-note"]  # one event: the note no longer lags the status
    status, note = on_threshold(0.355, request)
    assert status.startswith("Threshold 0.355: 2 of 5")
    assert "at threshold 0.355: #2 (0.900), #3 (0.900)." in note
    assert service.run_summary(S).threshold == 0.355
    on_run, outputs = page_handler(demo, "on_run")
    assert outputs == ["run-status", "answer-note"]
    calls = []
    status, note = on_run("the orange cross", CROP, 0.0, False, request,
                          progress=lambda *args, **kwargs: calls.append((args, kwargs)))
    assert status.startswith("Run #2 in ") and note.startswith("**Answer:**")
    # frames done of the video, not crops: 8 frames in two crops of 4
    assert [c[0][0] for c in calls] == [0, (4, CLIP_FRAMES), (8, CLIP_FRAMES)]
    assert all(c[1].get("unit") == "frames" for c in calls[1:])


def test_an_object_still_selected_through_another_trajectory_is_not_shown_as_rejected():
    from types import SimpleNamespace

    from app.object_table import _state
    assert _state(SimpleNamespace(selected=True, forced="rejected")) == "✔ (some trajectories rejected)"
    assert _state(SimpleNamespace(selected=False, forced="rejected")) == "✘ (rejected)"
    assert _state(SimpleNamespace(selected=True, forced="accepted")) == "✔ (accepted)"
    assert _state(SimpleNamespace(selected=True, forced="")) == "✔"


def test_an_unselected_object_with_painted_frames_says_only_those_are_drawn(shown):
    """#1 (0.2) is below the threshold 0.35; pixels painted onto it at frame 5 are drawn there, and its row
    says that this is all of it that is drawn (the overlay and a plain "not selected" disagreed)."""
    service, _ = shown
    object_id = plan(service).object_of(1)
    target = service.propagation.target(S, 5)
    service.propagation.paint(S, CorrectionKind.DRAW, target, square(H, W, 75, 75, 6), object_id, None)
    row = {r.object_id: r for r in object_rows(plan(service), {})}[object_id]
    assert not row.selected and row.forced == "its 1 painted frame drawn, nothing else"
    assert plan(service).frame_answer(5).mask[75:81, 75:81].all()
    assert not plan(service).frame_answer(6).mask[70:100, 70:100].any()
    untouched = {r.object_id: r for r in object_rows(plan(service), {})}[plan(service).object_of(4)]
    assert untouched.forced == ""
