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
