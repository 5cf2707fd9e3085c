"""The service between the page and the model: one object per running studio, made of parts with one job
each, and the only thing the panels call.

- `SessionRegistry` (app/sessions.py): the tabs' sessions; what an ended session alone held is freed.
- `VideoLibrary` (app/videos.py): uploads checked and kept, frames decoded and cached.
- `ModelRunner` and `RunBook` (app/runs.py): the model lock; results shared, runs per user.
- `Editor` (app/editor.py): corrections; `RunFiles` (app/files.py): history, exports, downloads.

The service keeps the sessions, the model lock and the store; methods for the panels return frozen view
values (app/views.py), the Python API (tests, scripts) gets the run itself. Errors are `DeRVOSError`s
whose messages are written for the person at the page.
"""
from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import numpy as np

from app.config import StudioConfig
from app.editor import Editor, require_video
from app.examples import Example, list_examples, make_example_video
from app.files import ApiOutput, HistoryRow, RunFiles
from app.models import ModelShelf, PickedModel
from app.propagation import Propagation
from app.render import AnswerSummary, TrajectoryRow, painted_mask
from app.runs import BusyError, ModelRunner, ProgressFn, RunBook, load_plan
from app.session import CurrentRun, LoadedVideo, ResultKey, StudioSession, UnsavedRun
from app.sessions import SessionRegistry, close_reader
from app.videos import VideoLibrary
from app.views import CorrectionView, PageViews, RunOutcome, RunSummary, ViewerView, run_summary
from derrvos_core.errors import InputError, StoreError
from derrvos_core.model import SegmentationModel, SegmentCache
from derrvos_core.settings import ModelDefaults, SegmentSettings
from derrvos_core.store import CorrectionKind, CorrectionRecord, RunRecord, Store
from derrvos_core.validation import expression_text

__all__ = ["ApiOutput", "BusyError", "HistoryRow", "PickedModel", "RunOutcome", "StudioService"]


class StudioService:
    """Owns the models (behind one lock), the per-tab sessions, the caches, and the store.

    `model` is any `derrvos_core.model.SegmentationModel` (DeRVOS, the real model): the one new tabs
    open on. `models` is the picker's shelf, whose first model is `model` (None: `model` alone). `store`
    is an upgraded `derrvos_core.store.Store`.
    """

    def __init__(self, model: SegmentationModel, store: Store, config: StudioConfig = StudioConfig(),
                 models: ModelShelf | None = None):
        self.models = ModelShelf.only(model) if models is None else models
        if self.models.get(self.models.first_key) is not model:
            raise ValueError("the shelf's first model must be `model`")
        self.model = model
        self.store = store
        self.config = config
        self.sessions = SessionRegistry(self.models.first_key, self._session_ended)
        self.videos = VideoLibrary(store, config, (Path(config.examples_dir), self._made_examples_dir))
        self.runner = ModelRunner(SegmentCache(max_bytes=int(config.segment_cache_mb * 2 ** 20)))
        self.runs = RunBook(store, config)
        self.editor = Editor(store, self._user)
        self.files = RunFiles(store, config)
        self.views = PageViews(self.videos, config.display_size)
        self.propagation = Propagation(self.sessions, self.videos, self.editor, store)  # fix, propagate
        self._examples_lock = threading.Lock()

    @property
    def segment_cache(self) -> SegmentCache:
        return self.runner.segment_cache

    @property
    def model_version(self) -> str:
        """The version of the model new tabs open on."""
        return str(self.model.version)

    @property
    def defaults(self) -> ModelDefaults:
        """The crop size and threshold the model new tabs open on recommends (the panels start there)."""
        return self.model.defaults

    def settings(self, crop_size: float | None = None, threshold: float | None = None,
                 link_crops: bool | None = None, session_id: str | None = None) -> SegmentSettings:
        """A run's settings from what a page or script gave (checked by `SegmentSettings`; None: the
        recommended ones of the session's model, or of the first model without a session)."""
        model = self.model if session_id is None else self.session_model(session_id)
        return model.defaults.settings(crop_size=crop_size, threshold=threshold,
                                       link_crops=None if link_crops is None else bool(link_crops))

    # -- models ---------------------------------------------------------------------------------
    def session_model(self, session_id: str) -> SegmentationModel:
        """The model the session runs (loaded now if it was picked but never used)."""
        return self.models.get(self.session(session_id).model_key)

    def picked(self, session_id: str) -> PickedModel:
        """The session's model as the settings panel shows it."""
        return self._picked(self.session(session_id).model_key, changed=False)

    def choose_model(self, session_id: str, key: str) -> PickedModel:
        """Make the session run the model of picker entry `key` (loaded on first pick; CheckpointError
        if it cannot be). A different model puts the run on screen away: its scores are another model's
        (it stays in the history). Refused while the session's run is in progress."""
        session = self.session(session_id)
        self.models.get(key)  # loads, or raises, before anything changes
        changed = key != session.model_key
        if changed:
            if session.running:
                raise BusyError("a run is in progress in this tab: wait for it or press Cancel, then "
                                "pick the model")
            session.model_key, session.run, session.unsaved, session.undo_stack = key, None, None, []
        return self._picked(key, changed)

    def _picked(self, key: str, changed: bool) -> PickedModel:
        model = self.models.get(key)
        return PickedModel(key, self.models.label(key), str(model.version), model.defaults, changed)

    # -- sessions -------------------------------------------------------------------------------
    def session(self, session_id: str) -> StudioSession:
        """The session of a tab, created on first use (for the Python API and tests; panels use views)."""
        return self.sessions.get(session_id)

    def close_session(self, session_id: str) -> None:
        """Forget a tab (its page was closed); a run in progress is cancelled."""
        self.sessions.close(session_id)

    def _session_ended(self, session: StudioSession, shown: set[str]) -> None:
        # Frames and results of a video no live session shows leave memory (the store keeps the runs).
        self.videos.forget(shown)
        self.runs.forget(shown)
        self.propagation.forget(session.session_id)
        if not len(self.sessions):
            self.runner.clear()

    def new_api_session(self) -> str:
        return f"api-{uuid.uuid4().hex}"

    # -- videos ---------------------------------------------------------------------------------
    def examples(self) -> list[Example]:
        """The shipped examples; RealRef cuts whose frames are not set up are listed with `missing`."""
        return list_examples(self.config.examples_dir, self.config.realref_clips, self._made_examples_dir)

    @property
    def _made_examples_dir(self) -> Path:
        return Path(self.config.data_dir) / "examples"

    def open_example(self, session_id: str, name: str) -> tuple[LoadedVideo, PickedModel]:
        """Load a shipped example, and switch the session to the model it is for (when the studio
        offers it). A RealRef cut is made into an MP4 on its first load."""
        example = {e.name: e for e in self.examples()}.get(name)
        if example is None:
            raise InputError(f"no shipped example called {name!r}")
        if example.missing:
            raise InputError(f"the example {example.title!r} cannot be loaded yet: {example.missing}")
        with self._examples_lock:  # two tabs loading one cut write it once
            path = make_example_video(example)
        key = self.models.key_of(example.model) or self.session(session_id).model_key
        picked = self.choose_model(session_id, key)
        video = self.open_video(session_id, path, name=example.title, suggested_expressions=example.expressions)
        return video, picked

    def open_video(self, session_id: str, path: str | Path, name: str | None = None,
                   suggested_expressions: tuple[str, ...] = (), file_name: str | None = None) -> LoadedVideo:
        """Check, keep and register a video, and make it the session's video (its run is cleared).
        Raises InputError (too large) or VideoError (missing, empty, not a video, corrupt, over the
        pixel budget), naming the file as the user called it."""
        video = self.videos.load(path, name, file_name, suggested_expressions)
        session = self.session(session_id)
        close_reader(session)
        session.video, session.run, session.unsaved, session.undo_stack = video, None, None, []
        session.viewer_frame = None
        return video

    def frame(self, session_id: str, index: int) -> np.ndarray:
        """uint8 [H, W, 3] frame `index` of the session's video (cached; decodes a few ahead on a miss)."""
        session = self.session(session_id)
        require_video(session)
        return self.videos.frame(session, index)

    # -- runs -----------------------------------------------------------------------------------
    def segment(self, session_id: str, expression: str, settings: SegmentSettings | None = None,
                user: str | None = None, progress: ProgressFn | None = None) -> RunOutcome:
        """Answer `expression` on the session's video and show it as the user's run: their own run of the
        same (video, expression, crop size, linking, model) again, else a result already computed (for
        anyone) saved as a new run of theirs, else the model's. `settings` None: the model's defaults.

        `progress(SegmentProgress)` is called after every crop; Cancel (`cancel`) stops between crops.
        Raises InputError (no video, empty expression, bad settings), BusyError, or StoreError when the
        store refuses the new run: the result then stays in the session (`save_unsaved` saves it).
        """
        start = time.perf_counter()
        session = self.session(session_id)
        if session.running:  # its Cancel must not be cleared by this call
            raise BusyError("a run is already in progress in this tab: wait for it or press Cancel")
        session.cancel.clear()
        session.running = True  # from here a Cancel applies, also before the model starts
        try:
            return self._segment(session, start, expression, settings, user, progress)
        finally:
            session.running = False

    def _segment(self, session: StudioSession, start: float, expression: str,
                 settings: SegmentSettings | None, user: str | None,
                 progress: ProgressFn | None) -> RunOutcome:
        session_id = session.session_id
        video = require_video(session)
        model = self.models.get(session.model_key)
        settings = self.settings(session_id=session_id) if settings is None else settings
        key = ResultKey(video.record.content_hash, _check_expression(expression), settings.crop_size,
                        str(model.version), settings.link_crops)
        who = self._user(user)
        result = self.runs.result(key)
        if result is None and session.unsaved is not None and session.unsaved.key == key:
            result = session.unsaved.result
        if result is None:
            result = self.runs.stored_result(video.record.id, key)
        if result is not None and session.cancel.is_set():
            return RunOutcome(None, cached=True, cancelled=True, seconds=time.perf_counter() - start)
        if result is not None:
            # someone else's result becomes a run of this user's, stored at the threshold they asked for
            run_id = self.runs.run_of(key, who) or self._save(session, key, result.select(settings.threshold),
                                                              0.0, who)
            run = self._show_run(session, run_id, key, result, settings.threshold, who)
            return RunOutcome(run, cached=True, cancelled=False, seconds=time.perf_counter() - start)
        result = self.runner.run(model, session, video, key.expression, settings, progress)
        if result is None or session.cancel.is_set():  # Cancel came after the last crop: still honoured
            return RunOutcome(None, cached=False, cancelled=True, seconds=time.perf_counter() - start)
        run_id = self._save(session, key, result, time.perf_counter() - start, who)
        run = self._show_run(session, run_id, key, result, None, who)
        return RunOutcome(run, cached=False, cancelled=False, seconds=time.perf_counter() - start)

    def save_unsaved(self, session_id: str, user: str | None = None) -> RunOutcome:
        """Save again the result the store refused (no model call); StoreError again if it still refuses."""
        start = time.perf_counter()
        session = self.session(session_id)
        require_video(session)
        unsaved = session.unsaved
        if unsaved is None:
            raise InputError("nothing waits to be saved: every run of this tab is in the store")
        run_id = self._save(session, unsaved.key, unsaved.result, unsaved.seconds, unsaved.user)
        run = self._show_run(session, run_id, unsaved.key, unsaved.result, None, user)
        return RunOutcome(run, cached=True, cancelled=False, seconds=time.perf_counter() - start)

    def unsaved_note(self, session_id: str) -> str:
        """Why the tab's last result is not in the store ("" when nothing waits to be saved)."""
        unsaved = self.session(session_id).unsaved
        return "" if unsaved is None else unsaved.reason

    def _save(self, session: StudioSession, key: ResultKey, result, seconds: float, user: str) -> int:
        try:
            run_id = self.runs.save(session.video, key, result, seconds, user)
        except StoreError as exc:
            session.unsaved = UnsavedRun(key, result, seconds, user, str(exc))
            raise StoreError(f"the run finished but was not saved: {exc}. The result is kept in this tab: "
                             "press \"Save run again\" once the store is fixed", reason=exc.reason) from exc
        session.unsaved = None
        return run_id

    def cancel(self, session_id: str) -> bool:
        """Ask the session's run to stop after the crop in progress; False if none runs."""
        return self.runner.cancel(self.session(session_id))

    def running(self, session_id: str) -> bool:
        """A run of this tab is in progress (Run pressed again is answered, not dropped)."""
        return self.session(session_id).running

    def _show_run(self, session: StudioSession, run_id: int, key: ResultKey, result,
                  threshold: float | None, user: str | None) -> CurrentRun:
        """Make a stored run the session's run; a different `threshold` is recorded as a correction."""
        session.run = load_plan(self.store, run_id, key, result)
        session.undo_stack = []
        if threshold is not None:
            self.editor.reselect(session, threshold, user)
        return session.run

    def reload_run(self, session_id: str, run_id: int,
                   user: str | None = None) -> tuple[CurrentRun, RunRecord]:
        """Show an earlier run of this video again, with its corrections (no model call)."""
        session = self.session(session_id)
        video = require_video(session)
        try:
            record = self.store.get_run(int(run_id))
        except (TypeError, ValueError):
            raise InputError("pick a run from the history first") from None
        if record.video_id != video.record.id:
            raise InputError(f"run {record.id} belongs to another video (video {record.video_id})")
        result = self.store.load_run(record.id)
        key = ResultKey(video.record.content_hash, record.expression, record.crop_size, record.model_version,
                        record.link_crops)
        if record.model_version == str(self.session_model(session_id).version):
            self.runs.remember(key, result, record.id, self._user(user))  # Run with these settings reuses it
        return self._show_run(session, record.id, key, result, None, None), record

    # -- looking and correcting -----------------------------------------------------------------
    def view(self, session_id: str, index: int) -> np.ndarray:
        """uint8 image of frame `index` with the corrected answer overlaid, upscaled for display."""
        return self.views.image(self.session(session_id), index)

    def display_scale(self, session_id: str) -> int:
        return self.views.scale(self.session(session_id))

    def trajectory_table(self, session_id: str) -> list[TrajectoryRow]:
        return self.views.rows(self.session(session_id))

    def answer(self, session_id: str) -> AnswerSummary | None:
        """What the session's answer is (selected trajectories, ignored words, why it is empty); None
        before a run."""
        return self.views.answer(self.session(session_id))

    def accept(self, session_id: str, trajectory_id: int, user: str | None = None) -> CorrectionRecord:
        """Put a trajectory into the answer whatever its score (all frames of its crop)."""
        return self.editor.accept(self.session(session_id), trajectory_id, user)

    def reject(self, session_id: str, trajectory_id: int, user: str | None = None) -> CorrectionRecord:
        """Take a trajectory out of the answer whatever its score."""
        return self.editor.reject(self.session(session_id), trajectory_id, user)

    def draw(self, session_id: str, frame: int, mask: np.ndarray,
             user: str | None = None) -> CorrectionRecord:
        """Add the pixels of `mask` (bool [H, W] at the video's size) to frame `frame`'s answer."""
        return self.editor.paint(self.session(session_id), CorrectionKind.DRAW, frame, mask, user)

    def erase(self, session_id: str, frame: int, mask: np.ndarray,
              user: str | None = None) -> CorrectionRecord:
        """Remove the pixels of `mask` from frame `frame`'s answer."""
        return self.editor.paint(self.session(session_id), CorrectionKind.ERASE, frame, mask, user)

    def painted(self, session_id: str, editor_value: dict | None) -> np.ndarray:
        """bool [H, W] at the video's size from a `gr.ImageEditor` value (numpy layers)."""
        info = require_video(self.session(session_id)).info
        value = editor_value or {}
        return painted_mask(value.get("layers") or [], value.get("composite"), value.get("background"),
                            info.height, info.width)

    def undo(self, session_id: str, user: str | None = None) -> CorrectionRecord:
        """Take back this tab's last correction on the run (it stays in the store, marked undone)."""
        return self.editor.undo(self.session(session_id), user)

    def resume_undo(self, session_id: str, ids) -> None:
        """After a page reload: Undo takes back the reloaded tab's corrections `ids` again (newest last),
        those still in force on the run on screen; anything else in `ids` is dropped."""
        session = self.session(session_id)
        if session.run is None:
            return
        active = {c.id for c in self.store.corrections(session.run.run_id) if c.active}
        session.undo_stack = [i for i in ids if isinstance(i, int) and i in active]

    def reselect(self, session_id: str, threshold: float, user: str | None = None) -> CurrentRun:
        """Select again at `threshold` from the cached scores (no model call); stored as a correction."""
        return self.editor.reselect(self.session(session_id), threshold, user)

    # -- views for the panels -------------------------------------------------------------------
    def run_summary(self, session_id: str) -> RunSummary | None:
        """The run on screen in a few numbers (None before a run)."""
        run = self.session(session_id).run
        return None if run is None else run_summary(run)

    def viewer_view(self, session_id: str, index: int) -> ViewerView:
        """Everything the viewer shows at frame `index` (clipped to the video)."""
        return self.views.viewer(self.session(session_id), index)

    def correction_view(self, session_id: str, index: int) -> CorrectionView:
        """Everything the correction panel shows at frame `index` (clipped to the video)."""
        return self.views.correction(self.session(session_id), index)

    # -- history and files ----------------------------------------------------------------------
    def history(self, session_id: str) -> list[HistoryRow]:
        """Runs of the session's video, newest first ([] before a video is loaded)."""
        return self.files.history(self.session(session_id))

    def export_zip(self, session_id: str, fmt: str, all_videos: bool = False) -> Path:
        """The corrected answers of this video (or of every video in the store) as a dataset zip."""
        return self.files.export_zip(self.session(session_id), fmt, all_videos)

    def overlay_video(self, session_id: str) -> Path:
        return self.files.overlay_video(self.session(session_id))

    def masks_zip(self, session_id: str) -> Path:
        return self.files.masks_zip(self.session(session_id))

    def scores(self, session_id: str) -> dict:
        return self.files.scores(self.session(session_id))

    def api_segment(self, video_path: str | Path, expression: str, crop_size: int | None = None,
                    threshold: float | None = None, user: str | None = None, name: str | None = None
                    ) -> ApiOutput:
        """One call for scripts: load, segment (stored as a run), and write the three outputs."""
        session_id = self.new_api_session()
        try:
            self.open_video(session_id, video_path, name=name, file_name=name)
            outcome = self.segment(session_id, expression, self.settings(crop_size, threshold), user=user)
            return ApiOutput(overlay_video=self.overlay_video(session_id),
                             masks_zip=self.masks_zip(session_id), scores=self.scores(session_id),
                             run_id=outcome.run.run_id)
        finally:
            self.close_session(session_id)

    def _user(self, user: str | None) -> str:
        return user.strip() if user and user.strip() else self.config.default_user


def _check_expression(expression: str) -> str:
    if isinstance(expression, str):
        expression = expression.strip()
    if not expression:
        raise InputError("type an expression first, e.g. \"the red circle moving left\"")
    return expression_text(expression)
