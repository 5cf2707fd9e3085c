"""The app when things go wrong (issue 19): a store that refuses the run after the model ran, two signed-in
users on one video and expression, uploads over the pixel budget, kept copies and Gradio's upload copies,
and errors that stay in the page (and reach a script as plain text)."""
from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest
from sqlalchemy import text

from app.panels.common import PanelEvents
from app.server import ServeOptions, serve
from app.ui import build_app
from derrvos_core.errors import StoreError, VideoError
from tests.helpers_app import CROP, free_port, make_service, square

S = "tab-1"
EXPRESSION = "the orange cross"


@pytest.fixture
def service(tiny_model, tmp_path):
    return make_service(tiny_model, tmp_path)


def refuse_inserts(store, table: str) -> None:
    """Make the database refuse new rows of `table` with SQLite's full-disk message (a real DBAPIError
    through the store's own write path)."""
    with store.engine.begin() as connection:
        connection.execute(text(f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
                                "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"))


def accept_inserts(store, table: str) -> None:
    with store.engine.begin() as connection:
        connection.execute(text(f"DROP TRIGGER refuse_{table}"))


def handler(demo, name: str):
    """The function behind a page event, by its name (as Gradio calls it, without a server)."""
    return next(f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == name)


def request(session: str = S, user: str | None = None):
    return SimpleNamespace(session_hash=session, username=user)


def test_a_run_the_store_refuses_stays_in_the_tab_and_is_saved_again_without_the_model(service, clip,
                                                                                     counter):
    service.open_video(S, clip)
    refuse_inserts(service.store, "runs")
    with pytest.raises(StoreError, match="not saved.*no space left.*Save run again"):
        service.segment(S, EXPRESSION, service.settings(CROP, 0.7))
    assert counter.calls == 1 and service.store.count("runs") == 0
    assert "no space left" in service.unsaved_note(S) and service.run_summary(S) is None
    with pytest.raises(StoreError):  # still refused: still kept
        service.save_unsaved(S)
    accept_inserts(service.store, "runs")
    outcome = service.save_unsaved(S)
    assert counter.calls == 1 and service.store.count("runs") == 1 and service.unsaved_note(S) == ""
    stored = service.store.load_run(outcome.run.run_id)
    assert [t.score for t in stored.trajectories] == [t.score for t in outcome.run.result.trajectories]


def test_the_page_says_the_run_was_not_saved_and_offers_to_save_it_again(service, clip, counter):
    demo = build_app(service)
    service.open_video(S, clip)
    refuse_inserts(service.store, "runs")
    status, _ = handler(demo, "on_run")(EXPRESSION, CROP, 0.7, False, request())
    assert status.startswith("⚠ **Not done:**") and "was not saved" in status and "Save run again" in status
    assert handler(demo, "unsaved")(request()).visible is True  # the button shows
    accept_inserts(service.store, "runs")
    saved, _ = handler(demo, "on_save")(request())
    assert saved.startswith("Run #") and counter.calls == 1
    assert handler(demo, "unsaved")(request()).visible is False


def test_two_users_get_their_own_runs_of_one_shared_result(service, clip, counter):
    service.open_video("tab-ann", clip)
    service.open_video("tab-bob", clip)
    ann = service.segment("tab-ann", EXPRESSION, service.settings(CROP, 0.7), user="ann").run
    bob = service.segment("tab-bob", EXPRESSION, service.settings(CROP, 0.7), user="bob")
    assert counter.calls == 1 and bob.cached  # the model result is shared ...
    assert bob.run.run_id != ann.run_id  # ... the run is not
    service.draw("tab-ann", 2, square(128, 128, 0, 0, 9), user="ann")
    assert service.session("tab-bob").run.corrections == []
    assert not service.store.final_masks(bob.run.run_id).masks[2][:9, :9].all()
    again = service.segment("tab-bob", EXPRESSION, service.settings(CROP, 0.7), user="bob").run
    assert again.run_id == bob.run.run_id and again.corrections == []  # bob's own run, not ann's
    back = service.segment("tab-ann", EXPRESSION, service.settings(CROP, 0.7), user="ann").run
    assert back.run_id == ann.run_id and len(back.corrections) == 1
    assert counter.calls == 1 and service.store.count("runs") == 2


def one_frame_video(path: Path, width: int, height: int) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((height, width, 3), np.uint8), format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    return path


def test_an_8k_upload_is_refused_at_upload_naming_the_file(service, tmp_path):
    huge = one_frame_video(tmp_path / "gradio-tmp-1234.mp4", 7680, 4320)
    with pytest.raises(VideoError) as caught:
        service.open_video(S, huge, name="holiday 8K.mp4")
    message = str(caught.value)
    assert message.startswith("holiday 8K.mp4 is not a video this studio can read")
    assert "7680x4320" in message and "gradio-tmp" not in message
    assert service.store.count("videos") == 0 and not (tmp_path / "data" / "videos").exists()


def test_the_studio_keeps_only_copies_the_store_refers_to(service, clip, tmp_path):
    copy = tmp_path / "same-bytes.mp4"
    copy.write_bytes(clip.read_bytes())
    first = service.open_video(S, clip)
    second = service.open_video("tab-2", copy, name="same-bytes.mp4")
    kept = sorted((tmp_path / "data" / "videos").iterdir())
    assert kept == [first.path] and second.path == first.path
    assert [Path(v.path) for v in service.store.videos()] == kept
    other = one_frame_video(tmp_path / "other.mp4", 64, 48)
    refuse_inserts(service.store, "videos")
    with pytest.raises(StoreError):
        service.open_video(S, other)
    assert sorted((tmp_path / "data" / "videos").iterdir()) == kept  # no copy the store does not know


def test_an_ended_session_frees_its_frames_and_results(service, clip):
    service.open_video(S, clip)
    service.segment(S, EXPRESSION, service.settings(CROP, 0.7))
    service.view(S, 0)
    assert service.videos.frames.nbytes > 0 and service.runs.results.nbytes > 0
    service.close_session(S)
    assert service.videos.frames.nbytes == 0 and service.runs.results.nbytes == 0
    assert len(service.segment_cache) == 0 and service.store.count("runs") == 1


def test_panel_errors_stay_in_their_status_lines(service, tmp_path):
    demo = build_app(service)
    bad = tmp_path / "<i>notes&.mp4"
    bad.write_text("not a video\n" * 20, encoding="utf-8")
    line = handler(demo, "on_upload")(str(bad), request())
    assert line.startswith("⚠ **Not done:**") and "&lt;i&gt;notes&amp;.mp4 is not a video" in line
    assert handler(demo, "on_undo")(request()).startswith("⚠ **Not done:** Load a video first")
    _, status = handler(demo, "on_export")("mevis", False, request())
    assert "Load a video first" in status


def test_every_panel_returns_panel_events(service):
    import app.ui
    seen = []
    original = app.ui.wire_refreshes
    app.ui.wire_refreshes = lambda panels: (seen.extend(panels), original(panels))
    try:
        build_app(service)
    finally:
        app.ui.wire_refreshes = original
    # video, settings, viewer, correction, history, API, and the page restore on load
    assert len(seen) == 7 and all(isinstance(p, PanelEvents) for p in seen)
    # answer changed: the threshold (settings); accept, reject, add, remove, undo, accept propagated frames
    # (correction); a click on the frame, accept object (viewer). Ran: Run, Enter in the expression, Save again
    changed = sum(len(p.answer_changed) for p in seen)
    assert changed == 9 and sum(len(p.ran) for p in seen) == 3, changed


@pytest.fixture
def studio(tiny_model, tmp_path):
    service = make_service(tiny_model, tmp_path, upload_keep_s=1, upload_sweep_s=1)
    demo = serve(build_app(service), service, ServeOptions(port=free_port(), block=False))
    yield service, demo
    demo.close()


def test_gradio_upload_copies_are_deleted_and_api_errors_are_plain_text(studio, clip, tmp_path):
    from gradio_client import Client, handle_file
    service, demo = studio
    client = Client(demo.local_url, verbose=False)
    # the path the studio is handed is Gradio's upload copy; record it here, since Gradio's own sweep
    # (1 s in this fixture) may take it and its entry in `demo.upload_file_set` before predict returns
    handed = []
    load = service.videos.load
    service.videos.load = lambda path, *rest, **named: (handed.append(Path(path)),
                                                         load(path, *rest, **named))[1]
    client.predict(handle_file(str(clip)), EXPRESSION, CROP, 0.5, api_name="/segment")
    uploads = [p for p in handed if p.name == clip.name]
    assert uploads and all(p.resolve() != clip.resolve() for p in uploads)
    assert all(Path(v.path).resolve() not in {p.resolve() for p in uploads} for v in service.store.videos())
    deadline = time.monotonic() + 30
    while any(p.exists() for p in uploads) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(p.exists() for p in uploads)  # Gradio's sweep took them; the studio's copy stays
    assert all(Path(v.path).is_file() for v in service.store.videos())
    bad = tmp_path / "rock&roll.mp4"  # Gradio's upload drops "<" and ">" from names itself
    bad.write_text("not a video\n" * 20, encoding="utf-8")
    with pytest.raises(Exception) as caught:
        client.predict(handle_file(str(bad)), EXPRESSION, CROP, 0.5, api_name="/segment")
    assert "rock&roll.mp4 is not a video" in str(caught.value) and "&amp;" not in str(caught.value)


def test_run_pressed_while_a_run_goes_says_so(service, clip):
    """Gradio drops a second press of Run while the first runs; the page must say why nothing happens."""
    demo = build_app(service)
    on_press = handler(demo, "on_press")
    service.open_video(S, clip)
    assert on_press(request()) == ""
    service.session(S).running = True  # what `segment` sets while the model works for this tab
    try:
        assert "already in progress" in on_press(request())
        assert on_press(request("another-tab")) == ""  # another tab is not told about this tab's run
    finally:
        service.session(S).running = False


def test_a_redraw_queued_before_a_scrub_does_not_put_the_left_frame_back(service, clip):
    """A redraw that an earlier event queued (after Accept, say) was sent the frame of its time; when it
    runs after the user scrubbed on, the viewer keeps the user's frame. Another video starts afresh."""
    demo = build_app(service)
    fns = {getattr(f.fn, "__qualname__", ""): f.fn for f in demo.fns.values()}
    show, redraw = (fns[f"wire_viewer_panel.<locals>.{name}"] for name in ("show_frame", "redraw"))
    service.open_video(S, clip)
    service.segment(S, EXPRESSION, service.settings(CROP, 0.7))
    at_two, at_five = (np.asarray(show(i, 0.5, False, None, request())[1]) for i in (2, 5))
    assert not np.array_equal(at_two, at_five)  # the clip moves: the two frames look different
    slider, image, *_ = redraw(2, 0.5, False, None, request())  # queued while the viewer was at 2
    assert np.array_equal(np.asarray(image), at_five) and "value" not in slider.constructor_args  # left at 5
    service.open_video(S, clip)
    _, image, *_ = redraw(0, 0.5, False, None, request())
    assert np.array_equal(np.asarray(image), np.asarray(show(0, 0.5, False, None, request())[1]))
