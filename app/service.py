"""The service between the page and the model: sessions, caches, the model lock, and the store.

The UI calls only this class (one instance per running studio). It never returns Gradio objects and
raises `DeRVOSError`s whose messages are written for the person at the page.
"""
from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.cache import CachedResult, LRUCache, frame_bytes
from app.config import StudioConfig
from app.examples import Example, list_examples, make_example_video
from app.models import ModelShelf
from app.service_edits import EditMethods
from app.service_files import FileMethods
from app.session import CurrentRun, LoadedVideo, ResultKey, StudioSession
from derrvos_core.errors import DeRVOSError, InputError, VideoError
from derrvos_core.model import SegmentationModel, SegmentCache
from derrvos_core.model.inference import last_result
from derrvos_core.result import SegmentationResult
from derrvos_core.settings import ModelDefaults, SegmentSettings
from derrvos_core.store import RunContext, Store
from derrvos_core.store.corrections import plan_answer
from derrvos_core.store.videos import content_hash
from derrvos_core.video import open_video, probe

SESSION_IDLE_S = 6 * 3600
"""Sessions untouched for this long are dropped (their runs and corrections stay in the store)."""
DECODE_AHEAD = 8
"""Frames decoded per miss while scrubbing: the next frames are usually asked for next."""

ProgressFn = Callable[[object], None]


class BusyError(DeRVOSError):
    """The model is running for someone else; it runs one video at a time."""


@dataclass(frozen=True)
class PickedModel:
    """The model a tab now runs (`choose_model`, or an example that names one).

    Attributes:
        key, label: its picker entry; version: what runs and corrections are stored with.
        defaults: its recommended crop size and threshold (the settings panel jumps to them).
        changed: it differs from the tab's model before (its run on screen was put away).
    """

    key: str
    label: str
    version: str
    defaults: ModelDefaults
    changed: bool


@dataclass(frozen=True)
class RunOutcome:
    """What `segment` did.

    Attributes:
        run: the run now on screen (None when cancelled).
        cached: the result came from the cache (no model call).
        cancelled: Cancel stopped the run; nothing was stored.
        seconds: wall time of the call.
    """

    run: CurrentRun | None
    cached: bool
    cancelled: bool
    seconds: float


class StudioService(EditMethods, FileMethods):
    """Owns the models (behind one lock), the per-tab sessions, the result and frame caches, and the store.

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
        self._sessions: dict[str, StudioSession] = {}
        self._sessions_lock = threading.Lock()
        self._model_lock = threading.Lock()
        self._busy_with = ""
        self._results: LRUCache[CachedResult] = LRUCache(config.result_cache_size)
        self._frames: LRUCache[np.ndarray] = LRUCache(config.frame_cache_mb * 2 ** 20, cost=frame_bytes)
        # used under the model lock only: one run at a time
        self.segment_cache = SegmentCache(max_bytes=int(config.segment_cache_mb * 2 ** 20))
        self._examples_lock = threading.Lock()

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
        """A run's settings from what a page or script gave (numbers as typed; None: the recommended
        ones of the session's model, or of the first model without a session)."""
        model = self.model if session_id is None else self.session_model(session_id)
        return model.defaults.settings(crop_size=None if crop_size is None else _whole(crop_size),
                                       threshold=None if threshold is None else _number(threshold),
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
            session.model_key, session.run, session.undo_stack = key, None, []
        return self._picked(key, changed)

    def _picked(self, key: str, changed: bool) -> PickedModel:
        model = self.models.get(key)
        return PickedModel(key, self.models.label(key), str(model.version), model.defaults, changed)

    # -- sessions -------------------------------------------------------------------------------
    def session(self, session_id: str) -> StudioSession:
        """The session of a tab, created on first use."""
        now = time.monotonic()
        with self._sessions_lock:
            stale = [k for k, s in self._sessions.items()
                     if now - s.last_used > SESSION_IDLE_S and not s.running]
            for key in stale:
                self._drop(self._sessions.pop(key))
            session = self._sessions.get(session_id)
            if session is None:
                session = self._sessions[session_id] = StudioSession(session_id, self.models.first_key)
            session.last_used = now
            return session

    def close_session(self, session_id: str) -> None:
        """Forget a tab (its page was closed); a run in progress is cancelled."""
        with self._sessions_lock:
            session = self._sessions.pop(session_id, None)
        if session is not None:
            session.cancel.set()
            self._drop(session)

    @staticmethod
    def _drop(session: StudioSession) -> None:
        with session.reader_lock:
            if session.reader is not None:
                session.reader.close()
                session.reader = None

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

        Raises InputError (too large) or VideoError (missing, empty, not a video, corrupt).
        """
        path = Path(path)
        name = name or path.name
        if not path.is_file():
            raise VideoError(f"{name}: no such file (upload it again)")
        size = path.stat().st_size
        if size > self.config.max_upload_bytes:
            raise InputError(f"{name} is {size / 2 ** 20:.0f} MB; this studio accepts videos up to "
                             f"{self.config.max_upload_mb:g} MB (launch.py --max-upload-mb)")
        try:
            info = probe(path)
        except VideoError as exc:
            # The reader names the temporary upload path; the user knows the file by its name.
            reason = str(exc).replace(str(path), name).removeprefix(f"{name}: ")
            raise VideoError(f"{name} is not a video this studio can read ({reason})") from exc
        digest = content_hash(path)
        kept = path if self._is_example(path) else self._keep_upload(path, digest)
        record = self.store.add_video(kept, fps=info.fps, num_frames=info.num_frames, height=info.height,
                                      width=info.width, content_hash_hex=digest)
        video = LoadedVideo(record=record, info=info, path=kept, name=name, file_name=file_name or path.name,
                            suggested_expressions=tuple(suggested_expressions))
        session = self.session(session_id)
        self._drop(session)
        session.video, session.run, session.undo_stack = video, None, []
        return video

    def _is_example(self, path: Path) -> bool:
        return any(path.resolve().is_relative_to(Path(folder).resolve())
                   for folder in (self.config.examples_dir, self._made_examples_dir))

    def _keep_upload(self, path: Path, digest: str) -> Path:
        """Copy an upload out of Gradio's temporary folder: the store refers to it for exports."""
        folder = Path(self.config.data_dir) / "videos"
        folder.mkdir(parents=True, exist_ok=True)
        kept = (folder / f"{digest[:16]}{path.suffix.lower()}").resolve()
        if not kept.exists():
            partial = kept.with_name(f".{kept.name}.partial")
            shutil.copyfile(path, partial)
            partial.replace(kept)
        return kept

    def frame(self, session_id: str, index: int) -> np.ndarray:
        """uint8 [H, W, 3] frame `index` of the session's video (cached; decodes a few ahead on a miss)."""
        session = self.session(session_id)
        video = self._require_video(session)
        index = int(np.clip(index, 0, video.info.num_frames - 1))
        key = (video.record.content_hash, index)
        cached = self._frames.get(key)
        if cached is not None:
            return cached
        with session.reader_lock:
            if session.reader is None:
                session.reader = open_video(video.path)
            stop = min(index + DECODE_AHEAD, video.info.num_frames)
            block = session.reader.read(index, stop)
        for offset, frame in enumerate(block):
            self._frames.put((video.record.content_hash, index + offset), frame)
        return block[0]

    # -- runs -----------------------------------------------------------------------------------
    def segment(self, session_id: str, expression: str, settings: SegmentSettings | None = None,
                user: str | None = None, progress: ProgressFn | None = None) -> RunOutcome:
        """Answer `expression` on the session's video: from the cache when the same (video, expression,
        crop size, linking, model) was answered before, else with the model, stored as a new run.
        `settings` None: the model's defaults (`settings()`).

        `progress(SegmentProgress)` is called after every crop. Cancel (`cancel`) stops between crops.
        Raises InputError (no video, empty expression, bad settings) or BusyError.
        """
        start = time.perf_counter()
        session = self.session(session_id)
        video = self._require_video(session)
        model = self.models.get(session.model_key)
        version = str(model.version)
        settings = self.settings(session_id=session_id) if settings is None else settings
        expression = _check_expression(expression)
        key = ResultKey(video.record.content_hash, expression, settings.crop_size, version, settings.link_crops)
        cached = self._cached(key)
        if cached is not None:
            run = self._show_run(session, cached.run_id, key, cached.result, settings.threshold, user)
            return RunOutcome(run, cached=True, cancelled=False, seconds=time.perf_counter() - start)
        result = self._run_model(model, session, video, expression, settings, progress)
        if result is None:
            return RunOutcome(None, cached=False, cancelled=True, seconds=time.perf_counter() - start)
        seconds = time.perf_counter() - start
        run_id = self.store.save_run(video.record, expression, result, version,
                                     RunContext(device=self.config.device),
                                     timings={"segment_s": seconds})
        self._results.put(key, CachedResult(result, run_id))
        run = self._show_run(session, run_id, key, result, None, user)
        return RunOutcome(run, cached=False, cancelled=False, seconds=time.perf_counter() - start)

    def cancel(self, session_id: str) -> bool:
        """Ask the session's run to stop after the crop in progress; False if none runs."""
        session = self.session(session_id)
        if session.running:
            session.cancel.set()
        return session.running

    def _cached(self, key: ResultKey) -> CachedResult | None:
        cached = self._results.get(key)
        if cached is None:
            return None
        try:
            self.store.get_run(cached.run_id)  # a run deleted from the store is not reused
        except InputError:
            return None
        return cached

    def _run_model(self, model: SegmentationModel, session: StudioSession, video: LoadedVideo,
                   expression: str, settings: SegmentSettings,
                   progress: ProgressFn | None) -> SegmentationResult | None:
        if session.running:
            raise BusyError("a run is already in progress in this tab: wait for it or press Cancel")
        if not self._model_lock.acquire(blocking=False):
            raise BusyError(f"the model is busy with another run ({self._busy_with}); it runs one video at "
                            "a time, so try again when that run has finished")
        session.running = True
        session.cancel.clear()
        self._busy_with = f"{video.name!r}, \"{expression}\""

        def step(item) -> bool:
            if progress is not None:
                progress(item)
            return session.cancel.is_set()

        try:
            # the store's content hash keys the cache too: the upload is hashed once
            steps = model.segment_iter(str(video.path), expression, settings, self.segment_cache,
                                       video_key=video.record.content_hash)
            return last_result(steps, step)
        finally:
            session.running = False
            self._busy_with = ""
            self._model_lock.release()

    def _show_run(self, session: StudioSession, run_id: int, key: ResultKey,
                  result: SegmentationResult, threshold: float | None, user: str | None) -> CurrentRun:
        """Make a stored run the session's run; a different `threshold` is recorded as a correction."""
        session.run = self._load_plan(run_id, key, result)
        session.undo_stack = []
        if threshold is not None and abs(threshold - session.run.threshold) > 1e-9:
            self.store.set_threshold(run_id, threshold, self._user(user))
            session.run = self._load_plan(run_id, key, result)
        return session.run

    def _load_plan(self, run_id: int, key: ResultKey, result: SegmentationResult) -> CurrentRun:
        corrections = self.store.corrections(run_id)
        plan = plan_answer(result, corrections)
        return CurrentRun(run_id=run_id, key=key, result=result, corrections=corrections, plan=plan,
                          threshold=plan.threshold)

    def reselect(self, session_id: str, threshold: float, user: str | None = None) -> CurrentRun:
        """Select again at `threshold` from the cached scores (no model call); stored as a correction
        so that exports follow what the page shows."""
        session = self.session(session_id)
        run = self._require_run(session)
        threshold = _check_threshold(threshold)
        if abs(threshold - run.threshold) > 1e-9:
            self.store.set_threshold(run.run_id, threshold, self._user(user))
            session.run = self._load_plan(run.run_id, run.key, run.result)
        return session.run

    # -- helpers --------------------------------------------------------------------------------
    def new_api_session(self) -> str:
        return f"api-{uuid.uuid4().hex}"

    def _user(self, user: str | None) -> str:
        return user.strip() if user and user.strip() else self.config.default_user

    @staticmethod
    def _require_video(session: StudioSession) -> LoadedVideo:
        if session.video is None:
            raise InputError("load a video first (upload one or pick a shipped example)")
        return session.video

    def _require_run(self, session: StudioSession) -> CurrentRun:
        self._require_video(session)
        if session.run is None:
            raise InputError("no run yet: type an expression and press Run (or reload one from the history)")
        return session.run


def _check_expression(expression: str) -> str:
    expression = (expression or "").strip()
    if not expression:
        raise InputError("type an expression first, e.g. \"the red circle moving left\"")
    return expression


def _whole(crop_size: float) -> int:
    """A crop size typed in a number box (a float there) as a whole number of frames."""
    try:
        return int(crop_size)
    except (TypeError, ValueError):
        raise InputError(f"crop size must be a whole number of frames, got {crop_size!r}") from None


def _number(threshold: float) -> float:
    try:
        return float(threshold)
    except (TypeError, ValueError):
        raise InputError(f"threshold must be a number in [0, 1], got {threshold!r}") from None


def _check_threshold(threshold: float) -> float:
    threshold = _number(threshold)
    if not 0.0 <= threshold <= 1.0:
        raise InputError(f"threshold must be in [0, 1], got {threshold}")
    return threshold
