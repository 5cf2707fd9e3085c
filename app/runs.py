"""Model results and the runs they are stored as: results are shared by everyone who asks the same thing,
runs are each user's own (their corrections go on their run, never on another user's).

`ModelRunner` runs the model, one video at a time over the whole studio, and can be cancelled between
crops."""
from __future__ import annotations

import threading
from collections.abc import Callable

from app.cache import LRUCache, result_bytes
from app.config import StudioConfig
from app.session import CurrentRun, LoadedVideo, ResultKey, StudioSession
from derrvos_core.errors import DeRVOSError, InputError
from derrvos_core.model import SegmentationModel, SegmentCache
from derrvos_core.model.inference import last_result
from derrvos_core.result import SegmentationResult
from derrvos_core.settings import SegmentSettings
from derrvos_core.store import RunContext, Store
from derrvos_core.store.corrections import plan_answer

ProgressFn = Callable[[object], None]


class BusyError(DeRVOSError):
    """The model is running for someone else; it runs one video at a time."""


def load_plan(store: Store, run_id: int, key: ResultKey, result: SegmentationResult) -> CurrentRun:
    """The stored run with its stored corrections replayed: what the page and every export show."""
    corrections = store.corrections(run_id)
    return CurrentRun(run_id=run_id, key=key, result=result, corrections=corrections,
                      plan=plan_answer(result, corrections))


class RunBook:
    """Results by `ResultKey` (bounded by `config.result_cache_mb`), and each user's run of each key.

    A second user asking what a first one asked gets the first one's model result (no model call) saved
    as a run of their own.
    """

    def __init__(self, store: Store, config: StudioConfig):
        self.store = store
        self.config = config
        self.results: LRUCache[SegmentationResult] = LRUCache(int(config.result_cache_mb * 2 ** 20),
                                                              result_bytes)
        self._runs: dict[tuple[ResultKey, str], int] = {}
        self._lock = threading.Lock()

    def result(self, key: ResultKey) -> SegmentationResult | None:
        return self.results.get(key)

    def stored_result(self, video_id: int, key: ResultKey) -> SegmentationResult | None:
        """The newest stored run of the video with `key`'s expression, crop size, linking and model
        version, as the model gave it (corrections not applied), now also kept in `results`; None when
        the store has none. A result left memory when no tab showed its video any more, or the studio
        restarted: the same question is then answered from the store, not by the model again."""
        wanted = (key.expression, key.crop_size, key.model_version, key.link_crops)
        for record in reversed(self.store.runs(video_id=video_id)):
            if (record.expression, record.crop_size, record.model_version, record.link_crops) == wanted:
                result = self.store.load_run(record.id)
                self.results.put(key, result)
                return result
        return None

    def run_of(self, key: ResultKey, user: str) -> int | None:
        """The user's stored run of `key`, None when they have none (or it was deleted from the store)."""
        with self._lock:
            run_id = self._runs.get((key, user))
        if run_id is None:
            return None
        try:
            self.store.get_run(run_id)
        except InputError:
            return None
        return run_id

    def save(self, video: LoadedVideo, key: ResultKey, result: SegmentationResult, seconds: float,
             user: str) -> int:
        """Store `result` as a new run of `user` (StoreError when the store refuses: nothing saved)."""
        run_id = self.store.save_run(video.record, key.expression, result, key.model_version,
                                     RunContext(device=self.config.device), timings={"segment_s": seconds})
        self.remember(key, result, run_id, user)
        return run_id

    def remember(self, key: ResultKey, result: SegmentationResult, run_id: int, user: str) -> None:
        self.results.put(key, result)
        with self._lock:
            self._runs[(key, user)] = run_id

    def forget(self, shown: set[str]) -> int:
        """Drop results (and run ids) of videos no live session shows; returns the bytes freed."""
        with self._lock:
            self._runs = {k: v for k, v in self._runs.items() if k[0].video_hash in shown}
        return self.results.discard(lambda key: key.video_hash in shown)


class ModelRunner:
    """Runs a model on a session's video under the studio's one model lock.

    `segment_cache` (owned here, used under the lock only) keeps per-frame work between runs.
    """

    def __init__(self, segment_cache: SegmentCache):
        self.segment_cache = segment_cache
        self._lock = threading.Lock()
        self._busy_with = ""

    @property
    def idle(self) -> bool:
        return not self._lock.locked()

    def run(self, model: SegmentationModel, session: StudioSession, video: LoadedVideo, expression: str,
            settings: SegmentSettings, progress: ProgressFn | None) -> SegmentationResult | None:
        """The model's result, or None when the session's Cancel stopped it. BusyError when the model
        runs for another session. The caller marks the session `running` and clears its `cancel`
        (`StudioService.segment`, for the whole run, from before the model is reached)."""
        if not self._lock.acquire(blocking=False):
            raise BusyError(f"the model is busy with another run ({self._busy_with}); it runs one video at "
                            "a time, so try again when that run has finished")
        self._busy_with = f"{video.name!r}, \"{expression}\""

        def step(item) -> bool:
            if progress is not None:
                progress(item)
            return session.cancel.is_set()

        try:
            if session.cancel.is_set():  # cancelled before it reached the model: it does not start
                return None
            # the store's content hash keys the cache too: the upload is hashed once
            steps = model.segment_iter(str(video.path), expression, settings, self.segment_cache,
                                       video_key=video.record.content_hash)
            return last_result(steps, step)
        finally:
            self._busy_with = ""
            self._lock.release()

    def clear(self) -> bool:
        """Empty the segment cache (no session is left to reuse it); False, leaving it, while a run
        (an API call's) uses it."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            self.segment_cache.clear()
            return True
        finally:
            self._lock.release()

    @staticmethod
    def cancel(session: StudioSession) -> bool:
        """Ask the session's run to stop after the crop in progress (or not to start, when it has not
        reached the model yet); False if the session has no run asked for or running."""
        if session.running:
            session.cancel.set()
        return session.running
