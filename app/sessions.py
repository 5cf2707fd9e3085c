"""The studio's live sessions (one per browser tab or API call): made on first use, dropped when the tab
closes or after a long idle time, and what they alone held freed then."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

from app.session import StudioSession

SESSION_IDLE_S = 6 * 3600
"""Sessions untouched for this long are dropped (their runs and corrections stay in the store)."""

EndHook = Callable[[StudioSession, set[str]], None]
"""Called after a session ended with it and the content hashes of the videos other sessions still show."""


class SessionRegistry:
    """Thread-safe map of session id -> `StudioSession`.

    Args:
        first_model_key: the model new sessions run (a `ModelShelf` key).
        on_end: frees what an ended session held (its decoder, the caches of a video no one else shows).
        idle_s: sessions untouched this long (and not running) end at the next lookup.
    """

    def __init__(self, first_model_key: str, on_end: EndHook, idle_s: float = SESSION_IDLE_S):
        self._first_model_key = first_model_key
        self._on_end = on_end
        self._idle_s = idle_s
        self._sessions: dict[str, StudioSession] = {}
        self._lock = threading.Lock()

    def get(self, session_id: str) -> StudioSession:
        """The session of a tab, created on first use; idle ones end first."""
        now = time.monotonic()
        with self._lock:
            stale = [self._sessions.pop(k) for k, s in list(self._sessions.items())
                     if now - s.last_used > self._idle_s and not s.running]
            session = self._sessions.get(session_id)
            if session is None:
                session = self._sessions[session_id] = StudioSession(session_id, self._first_model_key)
            session.last_used = now
        for ended in stale:
            self._end(ended)
        return session

    def close(self, session_id: str) -> None:
        """End a session (its page was closed); a run in progress is cancelled."""
        with self._lock:
            session = self._sessions.pop(session_id, None)
        if session is not None:
            session.cancel.set()
            self._end(session)

    def shown_videos(self) -> set[str]:
        """Content hashes of the videos live sessions show."""
        with self._lock:
            return {s.video.record.content_hash for s in self._sessions.values() if s.video is not None}

    def __len__(self) -> int:
        return len(self._sessions)

    def _end(self, session: StudioSession) -> None:
        close_reader(session)
        session.run = session.unsaved = None
        self._on_end(session, self.shown_videos())


def close_reader(session: StudioSession) -> None:
    """Close the session's open decoder (a new video, or the session ended)."""
    with session.reader_lock:
        if session.reader is not None:
            session.reader.close()
            session.reader = None
