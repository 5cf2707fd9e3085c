"""A reloaded page reopens the tab's video and run from its restore token, corrections included, and only
for the user the token was made for."""
from __future__ import annotations

import numpy as np

from app.restore import restore_page, restore_token
from derrvos_core.store import CorrectionKind
from tests.helpers_app import make_service, square


def test_a_reload_reopens_the_video_and_run_for_the_same_user_only(tiny_model, tmp_path, clip, one_thread):
    service = make_service(tiny_model, tmp_path)
    assert restore_token(service, "tab", None) is None  # nothing on screen: nothing to restore
    service.open_video("tab", clip, name="crosses.mp4")
    video_only = restore_token(service, "tab", "ann")
    run = service.segment("tab", "the cross", service.settings(crop_size=4), user="ann").run
    target = service.propagation.target("tab", 2)
    service.propagation.paint("tab", CorrectionKind.DRAW, target, square(128, 128, 10, 10, 6), None, "ann")
    token = restore_token(service, "tab", "ann")
    assert token["run_id"] == run.run_id and video_only["run_id"] is None

    line = restore_page(service, "reloaded-tab", token, "ann")
    assert line is not None and "crosses.mp4" in line
    reopened = service.session("reloaded-tab").run
    assert reopened.run_id == run.run_id
    assert [c.kind for c in reopened.corrections] == [CorrectionKind.DRAW]
    assert reopened.plan.frame_answer(2).mask[10:16, 10:16].all()

    assert restore_page(service, "bob-tab", token, "bob") is None  # another user's token opens nothing
    assert service.session("bob-tab").video is None
    assert restore_page(service, "odd-tab", {"video_id": 1, "junk": True}, None) is None
    assert restore_page(service, "gone-tab", dict(token, video_id=999), "ann") is None
    restore_page(service, "video-tab", video_only, "ann")
    assert service.session("video-tab").video is not None and service.session("video-tab").run is None
    assert np.array_equal(service.frame("video-tab", 0), service.frame("tab", 0))


def test_undo_after_a_reload_takes_back_the_tabs_last_correction(tiny_model, tmp_path, clip, one_thread):
    """The reloaded tab's Undo goes on where the tab left off: its newest correction first, then the one
    before; one the tab had undone before the reload is not offered again."""
    service = make_service(tiny_model, tmp_path)
    service.open_video("tab", clip, name="crosses.mp4")
    service.segment("tab", "the cross", service.settings(crop_size=4), user="ann")
    paint = service.propagation.paint
    first = paint("tab", CorrectionKind.DRAW, service.propagation.target("tab", 2),
                  square(128, 128, 10, 10, 6), None, "ann")
    second = paint("tab", CorrectionKind.DRAW, service.propagation.target("tab", 3),
                   square(128, 128, 40, 40, 6), None, "ann")
    third = paint("tab", CorrectionKind.DRAW, service.propagation.target("tab", 4),
                  square(128, 128, 70, 70, 6), None, "ann")
    service.undo("tab", "ann")  # the third, before the reload
    token = restore_token(service, "tab", "ann")
    assert list(token["undo"]) == [first.id, second.id]

    restore_page(service, "reloaded", dict(token, undo=[first.id, second.id, third.id, 10_000]), "ann")
    assert service.undo("reloaded", "ann").target_id == second.id  # the undone third and a stray id: dropped
    assert service.undo("reloaded", "ann").target_id == first.id
    reopened = service.session("reloaded").run
    assert not reopened.plan.frame_answer(2).mask[10:16, 10:16].any()
    old_token = {k: v for k, v in token.items() if k != "undo"}  # a token written before undo was kept
    restore_page(service, "old", old_token, "ann")
    assert service.session("old").undo_stack == []
