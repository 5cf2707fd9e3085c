"""Object identity: id ranges, per-object replay of corrections, and the union invariant."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import numpy as np
import pytest

from derrvos_core.errors import InputError
from derrvos_core.objects import (DRAWN_OBJECT_ID, OWN_OBJECT_BASE, USER_OBJECT_BASE, check_object_id,
                                  next_user_object_id, trajectory_object_id)
from derrvos_core.result import SegmentationResult, TrajectoryResult, decode_rle
from derrvos_core.settings import SegmentSettings
from derrvos_core.store import CorrectionItem
from derrvos_core.store.corrections import mark_active, plan_answer
from derrvos_core.store.records import CorrectionKind as K
from derrvos_core.store.records import CorrectionRecord
from derrvos_core.store.rle import encode_rle
from tests.helpers_store import H as H_STORE, T as T_STORE, W as W_STORE, box, make_frames, make_result, \
    seeded_store

H, W, T = 20, 24, 4
NOW = datetime(2025, 1, 1, tzinfo=timezone.utc)


def rect(top, left, height, width) -> np.ndarray:
    mask = np.zeros((H, W), dtype=bool)
    mask[top:top + height, left:left + width] = True
    return mask


def two_people(link_ids=(0, 1)) -> SegmentationResult:
    """Person A on the left (trajectory 0), person B on the right (trajectory 1), both selected; trajectory 2
    (a low-scoring bag) is not."""
    a = tuple(encode_rle(rect(2, 1 + i, 10, 5)) for i in range(T))
    b = tuple(encode_rle(rect(4, 15 - i, 10, 5)) for i in range(T))
    bag = tuple(encode_rle(rect(15, 10, 3, 3)) for _ in range(T))
    trajectories = tuple(TrajectoryResult(trajectory_id=i, crop_index=0, frame_start=0, score=s, rles=r,
                                          link_id=link)
                         for i, (s, r, link) in enumerate(((0.9, a, link_ids[0]), (0.8, b, link_ids[1]),
                                                           (0.1, bag, 2))))
    return SegmentationResult(num_frames=T, height=H, width=W, trajectories=trajectories,
                              settings=SegmentSettings(crop_size=T, threshold=0.5)).select(0.5)


def records(*specs) -> list[CorrectionRecord]:
    """CorrectionRecords numbered from 1: (kind, fields)."""
    out = []
    for n, (kind, fields) in enumerate(specs, start=1):
        fields = dict(fields)
        if "mask" in fields:
            fields["rle"] = encode_rle(fields.pop("mask"))
        out.append(CorrectionRecord(id=n, run_id=1, kind=kind, user="ann", created_at=NOW, **fields))
    return mark_active(out)


def test_id_ranges_cannot_collide():
    linked = TrajectoryResult(trajectory_id=5, crop_index=0, frame_start=0, score=0.5, rles=(), link_id=0)
    own = TrajectoryResult(trajectory_id=0, crop_index=1, frame_start=0, score=0.5, rles=(), link_id=-1)
    top = TrajectoryResult(trajectory_id=2**31 - 1, crop_index=1, frame_start=0, score=0.5, rles=(), link_id=-1)
    assert trajectory_object_id(linked) == 0 and trajectory_object_id(own) == OWN_OBJECT_BASE
    assert trajectory_object_id(top) < USER_OBJECT_BASE == DRAWN_OBJECT_ID
    assert next_user_object_id([None, 3, OWN_OBJECT_BASE]) == USER_OBJECT_BASE + 1
    assert next_user_object_id([USER_OBJECT_BASE + 7]) == USER_OBJECT_BASE + 8
    result = two_people()
    assert check_object_id(np.int64(1), result, "x") == 1
    with pytest.raises(InputError, match="no object 9"):
        check_object_id(9, result, "draw on frame 0")
    with pytest.raises(InputError, match="whole number"):
        check_object_id(True, result, "draw on frame 0")


def test_two_people_are_two_objects_with_their_own_masks():
    result = two_people()
    plan = plan_answer(result, [])
    assert [(o.object_id, o.trajectory_ids, o.user_made) for o in plan.objects] == [(0, (0,), False),
                                                                                    (1, (1,), False)]
    for frame in range(T):
        masks = plan.frame_objects(frame)
        assert np.array_equal(masks[0], result.trajectories[0].mask(frame, H, W))
        assert np.array_equal(masks[1], result.trajectories[1].mask(frame, H, W))
        assert np.array_equal(masks[0] | masks[1], plan.frame_answer(frame).mask)


def test_unlinked_trajectories_with_clashing_numbers_stay_apart():
    """Trajectory 1 has no link while trajectory 0 is link 1: as plain numbers they collide, as objects not."""
    plan = plan_answer(two_people(link_ids=(1, -1)), [])
    assert [o.object_id for o in plan.objects] == [1, OWN_OBJECT_BASE + 1]


def test_union_edits_are_shared_out_among_objects():
    plan = plan_answer(two_people(), records(
        (K.DRAW, {"frame": 0, "mask": rect(0, 0, 3, 4)}),      # touches person A: A grows
        (K.DRAW, {"frame": 0, "mask": rect(16, 20, 3, 3)}),    # touches nobody: the drawn object
        (K.ERASE, {"frame": 1, "mask": rect(0, 0, H, 12)}),    # the left half: A gone on frame 1
    ))
    assert [o.object_id for o in plan.objects] == [0, 1, DRAWN_OBJECT_ID]
    assert plan.objects[-1].user_made and plan.objects[-1].trajectory_ids == ()
    f0 = plan.frame_objects(0)
    assert f0[0][0, 0] and f0[0][rect(2, 1, 10, 5)].all() and not f0[1][0, 0]
    assert np.array_equal(f0[DRAWN_OBJECT_ID], rect(16, 20, 3, 3))
    f1 = plan.frame_objects(1)
    assert not f1[0].any() and np.array_equal(f1[1], rect(4, 14, 10, 5)) and not f1[DRAWN_OBJECT_ID].any()


def test_union_set_keeps_identities_and_gives_new_pixels_to_the_region_they_join():
    new = rect(2, 1, 12, 8) | rect(4, 14, 10, 5) | rect(17, 0, 2, 2)  # A widened, B cut, a speck
    plan = plan_answer(two_people(), records((K.SET, {"frame": 0, "mask": new})))
    masks = plan.frame_objects(0)
    assert np.array_equal(masks[0], rect(2, 1, 12, 8))
    assert np.array_equal(masks[1], rect(4, 15, 10, 4) | rect(4, 14, 10, 1))
    assert np.array_equal(masks[DRAWN_OBJECT_ID], rect(17, 0, 2, 2))
    assert np.array_equal(plan.frame_answer(0).mask, new)


def test_object_edits_touch_their_object_only():
    user = USER_OBJECT_BASE + 1
    propagated = rect(5, 5, 4, 4)
    plan = plan_answer(two_people(), records(
        (K.SET, {"frame": 2, "mask": propagated, "object_id": 1, "source_frame": 0, "propagated": True}),
        (K.DRAW, {"frame": 3, "mask": rect(15, 0, 3, 3), "object_id": user}),   # a new object
        (K.ERASE, {"frame": 3, "mask": rect(0, 0, H, W), "object_id": 0}),        # A only
    ))
    assert [o.object_id for o in plan.objects] == [0, 1, user]
    f2, f3 = plan.frame_objects(2), plan.frame_objects(3)
    assert np.array_equal(f2[1], propagated) and np.array_equal(f2[0], rect(2, 3, 10, 5))
    assert not f3[0].any() and np.array_equal(f3[1], rect(4, 12, 10, 5))
    assert np.array_equal(f3[user], rect(15, 0, 3, 3))
    assert np.array_equal(plan.frame_answer(3).mask, f3[1] | f3[user])
    assert plan.frame_answer(2).edited and plan.corrected[2] and not plan.corrected[1]


def test_accept_adds_a_trajectory_to_its_object_or_the_one_named():
    plan = plan_answer(two_people(), records((K.ACCEPT, {"trajectory_id": 2})))
    assert [o.object_id for o in plan.objects] == [0, 1, 2]
    merged = plan_answer(two_people(), records((K.ACCEPT, {"trajectory_id": 2, "object_id": 0}),
                                               (K.REJECT, {"trajectory_id": 1})))
    assert [(o.object_id, o.trajectory_ids) for o in merged.objects] == [(0, (0, 2))]
    back = plan_answer(two_people(), records((K.ACCEPT, {"trajectory_id": 2, "object_id": 0}),
                                             (K.ACCEPT, {"trajectory_id": 2})))
    assert [(o.object_id, o.trajectory_ids) for o in back.objects] == [(0, (0,)), (1, (1,)), (2, (2,))]


def test_undo_of_a_group_member_takes_back_the_group_and_undo_of_that_redoes():
    specs = [(K.SET, {"frame": f, "mask": rect(0, 0, 2, 2), "object_id": 0, "group_id": 1}) for f in range(3)]
    undone = records(*specs, (K.UNDO, {"target_id": 2}))
    assert [c.active for c in undone] == [False, False, False, True]
    redone = records(*specs, (K.UNDO, {"target_id": 2}), (K.UNDO, {"target_id": 4}))
    assert [c.active for c in redone] == [True, True, True, False, True]
    alone = records(*[(k, {**f, "group_id": None}) for k, f in specs], (K.UNDO, {"target_id": 2}))
    assert [c.active for c in alone] == [True, False, True, True]


def reference_union(result: SegmentationResult, corrections, frame: int) -> np.ndarray:
    """The union replay as it was before objects (independent of AnswerPlan), for legacy corrections."""
    plan = plan_answer(result, corrections)
    mask = np.zeros((H, W), dtype=bool)
    for t in result.trajectories:
        if t.trajectory_id in plan.selected:
            mask |= t.mask(frame, H, W)
    for c in corrections:
        if c.active and c.kind in (K.DRAW, K.ERASE, K.SET) and c.frame == frame:
            stroke = decode_rle(c.rle)
            mask = mask | stroke if c.kind is K.DRAW else mask & ~stroke if c.kind is K.ERASE else stroke
    return mask


def random_corrections(rng: np.random.Generator, with_objects: bool) -> list[CorrectionRecord]:
    specs = []
    objects = [0, 1, 2, USER_OBJECT_BASE + 1, USER_OBJECT_BASE + 2]
    for n in range(1, int(rng.integers(1, 14)) + 1):
        roll = rng.random()
        if roll < 0.12:
            specs.append((K.ACCEPT if rng.random() < 0.5 else K.REJECT, {"trajectory_id": int(rng.integers(3))}))
        elif roll < 0.18:
            specs.append((K.THRESHOLD, {"threshold": float(rng.random())}))
        elif roll < 0.26 and n > 1:
            specs.append((K.UNDO, {"target_id": int(rng.integers(1, n))}))
        else:
            kind = [K.DRAW, K.ERASE, K.SET][int(rng.integers(3))]
            mask = rng.random((H, W)) < 0.05 if kind is K.SET and rng.random() < 0.3 else \
                rect(int(rng.integers(H)), int(rng.integers(W)), int(rng.integers(1, 9)), int(rng.integers(1, 9)))
            fields = {"frame": int(rng.integers(T)), "mask": mask}
            if with_objects and rng.random() < 0.5:
                fields["object_id"] = objects[int(rng.integers(len(objects)))]
            specs.append((kind, fields))
    return records(*specs)


@pytest.mark.parametrize("with_objects", [False, True])
def test_union_of_objects_is_the_answer_on_random_correction_sequences(with_objects):
    rng = np.random.default_rng(17 + with_objects)
    result = two_people()
    for _ in range(60):
        corrections = random_corrections(rng, with_objects)
        plan = plan_answer(result, corrections)
        legacy = not any(c.object_id is not None for c in corrections)
        for frame in range(T):
            masks = plan.frame_objects(frame)
            answer = plan.frame_answer(frame).mask
            union = np.zeros((H, W), dtype=bool)
            for mask in masks.values():
                union |= mask
            assert np.array_equal(union, answer)
            assert set(masks) == {o.object_id for o in plan.objects}
            if legacy:  # the union answer is exactly what it was before objects
                assert np.array_equal(answer, reference_union(result, corrections, frame))


# -- through the store (SQLite and PostgreSQL) -------------------------------------------------------------

def test_one_action_is_one_group_and_undo_takes_it_all_back(store, tmp_path):
    store, run_id = seeded_store(store, tmp_path / "frames")
    before = store.final_masks(run_id).masks
    carried = box(10, 10, size=5)
    items = [CorrectionItem(K.SET, frame=f, mask=carried, object_id=0, source_frame=2, propagated=True)
             for f in (3, 4, 5)]
    added = store.add_corrections(run_id, items, user="ann")
    assert [c.group_id for c in added] == [added[0].id] * 3 and [c.frame for c in added] == [3, 4, 5]
    assert all(c.propagated and c.source_frame == 2 and c.object_id == 0 for c in store.corrections(run_id))
    after = store.final_masks(run_id)
    assert all(np.array_equal(after.masks[f], carried) for f in (3, 4, 5)) and after.edited.tolist()[3:] == [True] * 3
    for c in added:  # each stored answer is the replay right after it
        assert np.array_equal(decode_rle(c.result_rle), carried)
    undo = store.undo(added[1].id, user="ann")  # any member: the whole group goes
    assert np.array_equal(store.final_masks(run_id).masks, before)
    assert [c.active for c in store.corrections(run_id)] == [False, False, False, True]
    store.undo(undo.id, user="ann")  # and comes back
    assert np.array_equal(store.final_masks(run_id).masks, after.masks)
    store.undo_last(run_id, user="ann")  # the newest non-undo is a group member: the group again
    assert np.array_equal(store.final_masks(run_id).masks, before)


def test_object_fields_are_checked_and_a_refused_action_writes_nothing(store, tmp_path):
    store, run_id = seeded_store(store, tmp_path / "frames")
    stroke = box(0, 0, size=3)
    with pytest.raises(InputError, match="no object 99"):
        store.add_correction(run_id, K.DRAW, user="ann", frame=0, mask=stroke, object_id=99)
    with pytest.raises(InputError, match="reject: takes no object_id"):
        store.add_correction(run_id, K.REJECT, user="ann", trajectory_id=0, object_id=0)
    with pytest.raises(InputError, match="frame 9 is outside"):
        store.add_correction(run_id, K.SET, user="ann", frame=0, mask=stroke, source_frame=9)
    with pytest.raises(InputError, match="belong to draw / erase / set"):
        store.add_correction(run_id, K.THRESHOLD, user="ann", threshold=0.5, propagated=True)
    with pytest.raises(InputError, match="propagated must be True or False"):
        store.add_correction(run_id, K.DRAW, user="ann", frame=0, mask=stroke, propagated="yes")
    with pytest.raises(InputError, match="no corrections given"):
        store.add_corrections(run_id, [], user="ann")
    with pytest.raises(InputError, match="item 1 is an undo"):
        store.add_corrections(run_id, [CorrectionItem(K.DRAW, frame=0, mask=stroke),
                                       CorrectionItem(K.UNDO)], user="ann")
    with pytest.raises(InputError, match="frame 6 is outside"):  # the last item is wrong: none is written
        store.add_corrections(run_id, [CorrectionItem(K.DRAW, frame=0, mask=stroke),
                                       CorrectionItem(K.DRAW, frame=6, mask=stroke)], user="ann")
    assert store.corrections(run_id) == []


def test_user_made_objects_get_fresh_ids_per_run(store, tmp_path):
    store, run_id = seeded_store(store, tmp_path / "frames")
    first = store.new_object_id(run_id)
    assert first == USER_OBJECT_BASE + 1
    made = store.add_correction(run_id, K.DRAW, user="ann", frame=1, mask=box(18, 24, size=3), object_id=first)
    assert made.object_id == first and store.new_object_id(run_id) == first + 1
    plan = store.answer_plan(run_id)
    assert [(o.object_id, o.user_made) for o in plan.objects] == [(0, False), (first, True)]
    assert np.array_equal(plan.frame_objects(1)[first], box(18, 24, size=3))


def test_the_words_a_model_ignored_come_back_with_the_run(store, tmp_path):
    video = store.add_video(make_frames(tmp_path / "frames"), fps=10, num_frames=T_STORE, height=H_STORE,
                            width=W_STORE)
    result = replace(make_result(), ignored=("carrying a bag", "road"))
    run_id = store.save_run(video, "the man carrying a bag on the road", result, "m@1")
    assert store.load_run(run_id).ignored == ("carrying a bag", "road")
    with pytest.raises(InputError, match="a word the model ignored contains a NUL"):
        store.save_run(video, "x", replace(result, ignored=("a\x00b",)), "m@1")


def test_the_page_names_objects_by_where_they_came_from():
    from derrvos_core.objects import object_label
    assert object_label(3) == "3" and object_label(OWN_OBJECT_BASE + 7) == "t7"
    assert object_label(DRAWN_OBJECT_ID) == "drawn" and object_label(USER_OBJECT_BASE + 2) == "new 2"
